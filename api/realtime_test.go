package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/activity"
	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/notification"
	"github.com/lokiz/lokiz/realtime"
	"github.com/lokiz/lokiz/session"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/views"
)

// wsEnv is an api with a running realtime hub behind a real HTTP server.
type wsEnv struct {
	*testEnv
	hub  *realtime.Hub
	srv  *httptest.Server
	base string // ws://host
}

// newWSEnv builds the api with its own hub (its own Redis subscription, as
// one api process has) and serves it on loopback.
func newWSEnv(t *testing.T, hubCfg realtime.Config, mutate ...func(*api.Config)) *wsEnv {
	t.Helper()
	store := dbtest.NewStore(t)
	return newWSEnvWithStore(t, store, hubCfg, nil, mutate...)
}

func newWSEnvWithStore(t testing.TB, store *db.Store, hubCfg realtime.Config, serverMut func(*http.Server), mutate ...func(*api.Config)) *wsEnv {
	t.Helper()
	return newWSEnvWithHubRedis(t, store, nil, hubCfg, serverMut, mutate...)
}

// newWSEnvWithHubRedis is newWSEnvWithStore with the hub on its own Redis
// client (nil: the api's).
func newWSEnvWithHubRedis(t testing.TB, store *db.Store, hubRedis *redis.Client, hubCfg realtime.Config, serverMut func(*http.Server), mutate ...func(*api.Config)) *wsEnv {
	t.Helper()
	cfg := testConfig()
	for _, m := range mutate {
		m(&cfg)
	}
	rdb := newRedis(t)
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	logger, logs := testkit.NewLogger()
	st := newLocalStorage(t, cfg)
	if hubRedis == nil {
		hubRedis = rdb
	}
	hub := realtime.New(hubRedis, store, hubCfg, logger)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hub.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	require.NoError(t, hub.WaitReady(wctx))
	srv, err := api.New(cfg, api.Deps{
		Store: store, Redis: rdb, Tasks: tasks.NewClient(qc).WithDeleter(asynq.NewInspectorFromRedisClient(rdb)),
		Logger: logger, Storage: st, StorageHandler: st.Handler(),
		Views: views.NewCounter(rdb, cfg.SecretKey, views.DedupeWindow), AIModels: testAIModels,
		Realtime: hub,
	})
	require.NoError(t, err)
	hs := httptest.NewUnstartedServer(srv.Handler())
	if serverMut != nil {
		serverMut(hs.Config)
	}
	hs.Start()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = hub.Shutdown(sctx)
		hs.Close()
	})
	te := &testEnv{t: t, store: store, rdb: rdb, srv: srv, h: srv.Handler(), logs: logs, config: cfg, storage: st, queue: qc,
		ip: fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), rand.IntN(256))}
	return &wsEnv{testEnv: te, hub: hub, srv: hs, base: "ws" + strings.TrimPrefix(hs.URL, "http")}
}

// dial opens the notification socket with query (token, since) and headers.
func (e *wsEnv) dial(query string, header http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, e.base+"/v1/notifications/ws?"+query, &websocket.DialOptions{HTTPHeader: header})
	if ws != nil {
		e.t.Cleanup(func() { _ = ws.CloseNow() })
	}
	return ws, resp, err
}

func (e *wsEnv) mustDial(token, since string) *websocket.Conn {
	e.t.Helper()
	q := "token=" + token
	if since != "" {
		q += "&since=" + since
	}
	ws, resp, err := e.dial(q, nil)
	require.NoError(e.t, err, "%v", resp)
	return ws
}

// readMsg reads the next message within d.
func readMsg(t testing.TB, ws *websocket.Conn, d time.Duration) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, b, err := ws.Read(ctx)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "%s", b)
	return m
}

// readUntilClosed reads until the socket closes and returns the close
// status, failing after d.
func readUntilClosed(t *testing.T, ws *websocket.Conn, d time.Duration) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		_, _, err := ws.Read(ctx)
		if err != nil {
			require.NoError(t, ctx.Err(), "the socket was not closed in time")
			return websocket.CloseStatus(err)
		}
	}
}

// deliver stores a system notification for recipient and publishes it as
// the worker does.
func (e *wsEnv) deliver(recipient uuid.UUID, msg string) notification.Notification {
	e.t.Helper()
	d, err := e.store.DeliverNotification(context.Background(), db.NewNotification{
		Type: db.NotificationSystem, RecipientID: recipient, Message: &msg})
	require.NoError(e.t, err)
	require.Empty(e.t, d.Skip)
	n := notification.Render(d.Notification, func(*string) *string { return nil })
	require.NoError(e.t, notification.Publish(context.Background(), e.rdb, recipient, n, d.UnreadCount))
	return n
}

func wsHandshakeHeaders() map[string]string {
	return map[string]string{
		"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
	}
}

// TestNotificationSocketRefusals: everything that refuses a socket does so
// at the handshake, in the error shape and as openapi.yaml says.
func TestNotificationSocketRefusals(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, realtime.Config{}, func(c *api.Config) { c.CORSOrigins = []string{"https://app.lokiz.test"} })
	token, id := e.register("ws_refused")
	_, otherID := e.register("ws_other")
	other := e.deliver(uuid.MustParse(otherID), "not yours")

	expired := e.signToken(jwt.MapClaims{"sub": id, "sid": uuid.NewString(),
		"iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(-time.Hour).Unix()})
	_, loggedOutID := e.register("ws_leaver")
	revoked := e.tokenFor(uuid.MustParse(loggedOutID))
	require.Equal(t, http.StatusNoContent, e.do(req{method: "POST", path: "/v1/auth/logout", token: revoked}).Status)

	_, enterpriseToken := e.enterpriseUser(t, nil)
	key, _ := e.newAPIKey(t, enterpriseToken, "socket bot")
	hs := wsHandshakeHeaders()
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range hs {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	for name, tc := range map[string]struct {
		path    string
		headers map[string]string
		status  int
		reason  string
	}{
		"NoToken":        {"/v1/notifications/ws", hs, http.StatusUnauthorized, ""},
		"BadToken":       {"/v1/notifications/ws?token=not-a-jwt", hs, http.StatusUnauthorized, ""},
		"BadHeader":      {"/v1/notifications/ws", with(map[string]string{"Authorization": "Bearer nope"}), http.StatusUnauthorized, ""},
		"Expired":        {"/v1/notifications/ws?token=" + expired, hs, http.StatusUnauthorized, "token_expired"},
		"Revoked":        {"/v1/notifications/ws?token=" + revoked, hs, http.StatusUnauthorized, "session_revoked"},
		"APIKeyQuery":    {"/v1/notifications/ws?token=" + key, hs, http.StatusForbidden, "api_key_not_allowed"},
		"APIKeyHeader":   {"/v1/notifications/ws", with(map[string]string{"Authorization": "Bearer " + key}), http.StatusForbidden, "api_key_not_allowed"},
		"BadOrigin":      {"/v1/notifications/ws?token=" + token, with(map[string]string{"Origin": "https://evil.test"}), http.StatusForbidden, "origin_not_allowed"},
		"NotAHandshake":  {"/v1/notifications/ws?token=" + token, nil, http.StatusBadRequest, "websocket_handshake_required"},
		"MalformedSince": {"/v1/notifications/ws?since=yesterday&token=" + token, hs, http.StatusUnprocessableEntity, ""},
		"NegativeSince":  {"/v1/notifications/ws?since=-3&token=" + token, hs, http.StatusUnprocessableEntity, ""},
		"OthersSince":    {"/v1/notifications/ws?since=" + other.ID.String() + "&token=" + token, hs, http.StatusNotFound, "since_not_found"},
		"UnknownSince":   {"/v1/notifications/ws?since=" + uuid.NewString() + "&token=" + token, hs, http.StatusNotFound, "since_not_found"},
	} {
		t.Run(name, func(t *testing.T) {
			res := e.do(req{method: "GET", path: tc.path, headers: tc.headers})
			require.Equal(t, tc.status, res.Status, "%s", res.Raw)
			if tc.reason != "" {
				require.Equal(t, tc.reason, res.Body["reason"], "%s", res.Raw)
			}
		})
	}
	require.Zero(t, e.hub.Len(), "no refused handshake holds a registration")

	// The allowed origin opens a socket; so does a request without Origin.
	ws, resp, err := e.dial("token="+token, http.Header{"Origin": {"https://app.lokiz.test"}})
	require.NoError(t, err, "%v", resp)
	require.Equal(t, "caught_up", readMsg(t, ws, 5*time.Second)["type"])
}

// TestNotificationSocketPush: a published notification reaches the socket
// (token in the header here), with the unread count; a read mark pushes the
// new count; a logout closes the socket with 4001 within seconds.
func TestNotificationSocketPush(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, realtime.Config{})
	token, id := e.register("ws_pushed")
	me := uuid.MustParse(id)
	ws, resp, err := e.dial("", http.Header{"Authorization": {"Bearer " + token}})
	require.NoError(t, err, "%v", resp)
	hello := readMsg(t, ws, 5*time.Second)
	require.Equal(t, map[string]any{"type": "caught_up", "replayed": float64(0), "unread_count": float64(0)}, hello)

	n := e.deliver(me, "hello there")
	got := readMsg(t, ws, 5*time.Second)
	require.Equal(t, "notification", got["type"])
	require.Equal(t, float64(1), got["unread_count"])
	require.Equal(t, n.ID.String(), got["notification"].(map[string]any)["id"])
	require.Equal(t, "hello there", got["notification"].(map[string]any)["message"])

	second := e.deliver(me, "second")
	require.Equal(t, float64(2), readMsg(t, ws, 5*time.Second)["unread_count"])

	// One mark, a batch, all: each pushes the count that follows.
	res := e.do(req{method: "PATCH", path: "/v1/notifications/" + n.ID.String() + "/read", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, map[string]any{"type": "unread_count", "unread_count": float64(1)}, readMsg(t, ws, 5*time.Second))
	res = e.do(req{method: "POST", path: "/v1/notifications/batch-mark-read", token: token,
		body: map[string]any{"notification_ids": []string{second.ID.String()}}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, map[string]any{"type": "unread_count", "unread_count": float64(0)}, readMsg(t, ws, 5*time.Second))
	e.deliver(me, "third")
	require.Equal(t, float64(1), readMsg(t, ws, 5*time.Second)["unread_count"])
	res = e.do(req{method: "PATCH", path: "/v1/notifications/read-all", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, map[string]any{"type": "unread_count", "unread_count": float64(0)}, readMsg(t, ws, 5*time.Second))

	// Another user's notification never reaches this socket.
	_, otherID := e.register("ws_bystander")
	e.deliver(uuid.MustParse(otherID), "not for you")

	// A second session of the same user, with its own socket.
	login := e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"username": "ws_pushed", "password": "password-ws_pushed"}})
	require.Equal(t, http.StatusOK, login.Status, "%s", login.Raw)
	other := e.mustDial(login.Body["access_token"].(string), "")
	readMsg(t, other, 5*time.Second)

	start := time.Now()
	require.Equal(t, http.StatusNoContent, e.do(req{method: "POST", path: "/v1/auth/logout", token: token}).Status)
	require.Equal(t, realtime.StatusSessionEnded, readUntilClosed(t, ws, 5*time.Second))
	require.Less(t, time.Since(start), 3*time.Second)
	// Exactly the ended session's sockets close: the other goes on.
	e.deliver(me, "after the logout")
	require.Equal(t, "after the logout", readMsg(t, other, 5*time.Second)["notification"].(map[string]any)["message"])
}

// TestNotificationSocketSessionRecheck: a session ended without an event
// (pub/sub is at most once) is still closed by the periodic re-check; so
// is a banned user's.
func TestNotificationSocketSessionRecheck(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, realtime.Config{SessionCheckInterval: 200 * time.Millisecond})
	token, id := e.register("ws_silent")
	ws := e.mustDial(token, "")
	readMsg(t, ws, 5*time.Second)
	_, err := e.store.RevokeUserSessions(context.Background(), uuid.MustParse(id), db.RevokeLogoutAll) // no event published
	require.NoError(t, err)
	require.Equal(t, realtime.StatusSessionEnded, readUntilClosed(t, ws, 5*time.Second))

	token2, id2 := e.register("ws_banned")
	ws2 := e.mustDial(token2, "")
	readMsg(t, ws2, 5*time.Second)
	_, err = e.store.Pool().Exec(context.Background(), "UPDATE users SET is_active = false WHERE id = $1", id2)
	require.NoError(t, err)
	require.Equal(t, realtime.StatusSessionEnded, readUntilClosed(t, ws2, 5*time.Second))
}

// TestNotificationSocketLimits: the per-user limit refuses the next socket
// with 429 at the handshake; the process limit with 503.
func TestNotificationSocketLimits(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, realtime.Config{MaxPerUser: 2, MaxConns: 3})
	token, _ := e.register("ws_greedy")
	e.mustDial(token, "")
	e.mustDial(token, "")
	_, resp, err := e.dial("token="+token, nil)
	require.Error(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))

	other, _ := e.register("ws_third")
	e.mustDial(other, "")
	another, _ := e.register("ws_fourth")
	_, resp, err = e.dial("token="+another, nil)
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the process holds WS_MAX_CONNS sockets")
}

// TestNotificationSocketSlowClient: a client that stops reading is
// disconnected once its send buffer overflows; the hub lets it go and
// memory does not grow with what is published after.
func TestNotificationSocketSlowClient(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, realtime.Config{SendBuffer: 4, WriteTimeout: 500 * time.Millisecond})
	token, id := e.register("ws_slow")
	ws := e.mustDial(token, "")
	readMsg(t, ws, 5*time.Second)
	// Large events fill the kernel's socket buffers; the client reads none.
	pad := strings.Repeat("x", 256<<10)
	for i := range 200 {
		raw := `{"type":"notification","notification":{"id":"` + uuid.NewString() + `","seq":` + strconv.Itoa(i+1) + `},"unread_count":1,"pad":"` + pad + `"}`
		require.NoError(t, e.rdb.Publish(context.Background(), notification.Channel(uuid.MustParse(id)), raw).Err())
		if e.hub.Len() == 0 {
			break
		}
	}
	require.Eventually(t, func() bool { return e.hub.Len() == 0 }, 15*time.Second, 20*time.Millisecond,
		"the slow socket was never dropped")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			require.NoError(t, ctx.Err(), "the client sees its socket end")
			break
		}
	}
}

// TestNotificationSocketShutdown: the hub's shutdown closes every socket
// with 1001 going away and refuses new ones with 503.
func TestNotificationSocketShutdown(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, realtime.Config{})
	token, _ := e.register("ws_leaving")
	ws := e.mustDial(token, "")
	readMsg(t, ws, 5*time.Second)
	var got websocket.StatusCode
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		got = readUntilClosed(t, ws, 10*time.Second)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.hub.Shutdown(ctx))
	wg.Wait()
	require.Equal(t, websocket.StatusGoingAway, got)
	_, resp, err := e.dial("token="+token, nil)
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

// TestNotificationSocketOutlivesServerTimeouts: the http server's write
// and read timeouts (60 s in cmd/lokiz) do not cut a socket.
func TestNotificationSocketOutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	e := newWSEnvWithStore(t, dbtest.NewStore(t), realtime.Config{}, func(s *http.Server) {
		s.WriteTimeout, s.ReadTimeout = 500*time.Millisecond, 500*time.Millisecond
	})
	token, id := e.register("ws_patient")
	ws := e.mustDial(token, "")
	readMsg(t, ws, 5*time.Second)
	time.Sleep(1500 * time.Millisecond)
	e.deliver(uuid.MustParse(id), "still here")
	require.Equal(t, "still here", readMsg(t, ws, 5*time.Second)["notification"].(map[string]any)["message"])
}

// TestNotificationSocketCatchUp: ?since= replays what was missed in seq
// order, then goes live; events published inside the seam (after the
// socket registered, before and after the catch-up read) arrive exactly
// once; an older version of a replayed item is skipped, a newer one is
// sent; an id stands for its seq; past the cap, one resync.
func TestNotificationSocketCatchUp(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, realtime.Config{})
	token, id := e.register("ws_returning")
	me := uuid.MustParse(id)
	seen := e.deliver(me, "seen before")
	missed := []notification.Notification{e.deliver(me, "missed 1"), e.deliver(me, "missed 2")}

	seamCh := make(chan []notification.Notification, 1)
	api.SetAfterSocketRegister(e.testEnv.srv, func() {
		// Stored and published after registration: the catch-up reads them
		// and the hub buffers them too.
		seamCh <- []notification.Notification{e.deliver(me, "seam 1"), e.deliver(me, "seam 2")}
		// A stale version of a replayed item (lower seq) and a newer one
		// (a group that grew): the first is skipped, the second sent.
		stale := missed[0]
		stale.Seq--
		require.NoError(t, notification.Publish(context.Background(), e.rdb, me, stale, 9))
		grown := missed[1]
		grown.Seq += 1000
		grown.Message = "missed 2, grown"
		require.NoError(t, notification.Publish(context.Background(), e.rdb, me, grown, 9))
		time.Sleep(300 * time.Millisecond) // let the hub buffer them before the read
	})
	ws := e.mustDial(token, strconv.FormatInt(seen.Seq, 10))
	api.SetAfterSocketRegister(e.testEnv.srv, nil)
	seam := <-seamCh
	after := e.deliver(me, "live")

	type item struct {
		id       string
		seq      float64
		msg      string
		replayed bool
	}
	var got []item
	caughtUp := -1
	for len(got) < 6 {
		m := readMsg(t, ws, 5*time.Second)
		if m["type"] == "caught_up" {
			caughtUp = len(got)
			require.Equal(t, float64(4), m["replayed"])
			continue
		}
		require.Equal(t, "notification", m["type"], "%v", m)
		n := m["notification"].(map[string]any)
		r, _ := m["replayed"].(bool)
		got = append(got, item{n["id"].(string), n["seq"].(float64), n["message"].(string), r})
	}
	require.Equal(t, 4, caughtUp)
	want := []item{
		{missed[0].ID.String(), float64(missed[0].Seq), "missed 1", true},
		{missed[1].ID.String(), float64(missed[1].Seq), "missed 2", true},
		{seam[0].ID.String(), float64(seam[0].Seq), "seam 1", true},
		{seam[1].ID.String(), float64(seam[1].Seq), "seam 2", true},
		{missed[1].ID.String(), float64(missed[1].Seq + 1000), "missed 2, grown", false},
		{after.ID.String(), float64(after.Seq), "live", false},
	}
	require.Equal(t, want, got, "replay in seq order, seam deduplicated, then live")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, extra, err := ws.Read(ctx)
	require.Error(t, err, "nothing more: no duplicate (%s)", extra)

	// An id stands for its current seq.
	ws2 := e.mustDial(token, missed[1].ID.String())
	m := readMsg(t, ws2, 5*time.Second)
	require.Equal(t, seam[0].ID.String(), m["notification"].(map[string]any)["id"])

	// More than the cap missed: one resync, then caught_up.
	for i := range api.ReplayLimit {
		e.deliver(me, "flood "+strconv.Itoa(i))
	}
	ws3 := e.mustDial(token, strconv.FormatInt(seen.Seq, 10))
	require.Equal(t, "resync", readMsg(t, ws3, 5*time.Second)["type"])
	cu := readMsg(t, ws3, 5*time.Second)
	require.Equal(t, "caught_up", cu["type"])
	require.Equal(t, float64(0), cu["replayed"])
}

// TestNotificationSocketCrossHub: two api servers, each with its own hub
// and Redis client (two replicas): a socket on one receives what is
// published because of an action on the other, and a logout on the other
// closes it.
func TestNotificationSocketCrossHub(t *testing.T) {
	t.Parallel()
	store := dbtest.NewStore(t)
	a := newWSEnvWithStore(t, store, realtime.Config{}, nil)
	b := newWSEnvWithStore(t, store, realtime.Config{}, nil)
	token, id := a.register("ws_replica")
	ws := a.mustDial(token, "")
	readMsg(t, ws, 5*time.Second)
	b.deliver(uuid.MustParse(id), "from b")
	require.Equal(t, "from b", readMsg(t, ws, 5*time.Second)["notification"].(map[string]any)["message"])
	require.Equal(t, http.StatusOK, b.do(req{method: "PATCH", path: "/v1/notifications/read-all", token: token}).Status)
	require.Equal(t, "unread_count", readMsg(t, ws, 5*time.Second)["type"])
	require.Equal(t, http.StatusNoContent, b.do(req{method: "POST", path: "/v1/auth/logout", token: token}).Status)
	require.Equal(t, realtime.StatusSessionEnded, readUntilClosed(t, ws, 5*time.Second))
}

// TestNotificationSocketRedisReconnect: when the hub's Redis subscription
// is cut, it reconnects, re-checks every held session at once (a session
// revoked meanwhile, whose event was lost, is closed with 4001) and tells
// the other sockets to resync; pushes flow again afterwards.
func TestNotificationSocketRedisReconnect(t *testing.T) {
	t.Parallel()
	name := "lokiz-hub-test-" + strings.ReplaceAll(uuid.NewString(), "-", "")
	hubRedis := redis.NewClient(&redis.Options{Addr: testkit.RedisAddr(), DB: redisDB, ClientName: name})
	t.Cleanup(func() { _ = hubRedis.Close() })
	e := newWSEnvWithHubRedis(t, dbtest.NewStore(t), hubRedis, realtime.Config{SessionCheckInterval: time.Hour}, nil)
	keepToken, keepID := e.register("ws_keeper")
	goneToken, goneID := e.register("ws_gone")
	keep := e.mustDial(keepToken, "")
	gone := e.mustDial(goneToken, "")
	readMsg(t, keep, 5*time.Second)
	readMsg(t, gone, 5*time.Second)

	// Revoked while the hub is cut off: no event reaches it.
	_, err := e.store.RevokeUserSessions(context.Background(), uuid.MustParse(goneID), db.RevokeLogoutAll)
	require.NoError(t, err)
	list, err := e.rdb.ClientList(context.Background()).Result()
	require.NoError(t, err)
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "name="+name+" ") && strings.Contains(line, "cmd=psubscribe") || strings.Contains(line, "name="+name+" ") && strings.Contains(line, "psub=1") {
			for _, f := range strings.Fields(line) {
				if id, ok := strings.CutPrefix(f, "id="); ok {
					require.NoError(t, e.rdb.Do(context.Background(), "CLIENT", "KILL", "ID", id).Err())
					killed++
				}
			}
		}
	}
	require.Equal(t, 1, killed, "the hub's subscription connection: %s", list)

	require.Equal(t, realtime.StatusSessionEnded, readUntilClosed(t, gone, 10*time.Second))
	require.Equal(t, "resync", readMsg(t, keep, 10*time.Second)["type"])
	e.deliver(uuid.MustParse(keepID), "after the cut")
	require.Equal(t, "after the cut", readMsg(t, keep, 5*time.Second)["notification"].(map[string]any)["message"])
}

// TestNotificationSocketPingAndExpiry: a client that answers pings stays
// connected across many of them; one that never reads (so never pongs) is
// dropped after the pong deadline; a socket closes with 4002 when its
// access token expires.
func TestNotificationSocketPingAndExpiry(t *testing.T) {
	t.Parallel()
	// The pong deadline leaves the reading client room on a loaded machine
	// (at 300 ms a CI run under load dropped the ponging socket too).
	e := newWSEnv(t, realtime.Config{PingInterval: 100 * time.Millisecond, PongTimeout: 1500 * time.Millisecond})
	token, id := e.register("ws_pinged")
	alive := e.mustDial(token, "")
	readMsg(t, alive, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan map[string]any, 1)
	go func() {
		for {
			_, b, err := alive.Read(ctx) // reading answers the pings
			if err != nil {
				return
			}
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			got <- m
		}
	}()

	silentToken, _ := e.register("ws_silent_peer")
	e.mustDial(silentToken, "") // never read: never pongs
	require.Eventually(t, func() bool { return e.hub.Len() == 1 }, 15*time.Second, 20*time.Millisecond,
		"the peer that does not pong is dropped")
	time.Sleep(time.Second) // ten pings; the hub's quiet Redis receive also timed out ten times
	require.True(t, e.hub.Ready(), "a quiet subscription is pinged, not taken for lost")
	e.deliver(uuid.MustParse(id), "still alive")
	select {
	case m := <-got:
		require.Equal(t, "still alive", m["notification"].(map[string]any)["message"])
	case <-time.After(5 * time.Second):
		t.Fatal("the ponging socket was dropped")
	}

	// A token that expires in a second.
	_, shortID := e.register("ws_short_token")
	_, hash := session.NewRefreshToken()
	sess, err := e.store.CreateSession(context.Background(), db.NewSessionParams{
		UserID: uuid.MustParse(shortID), RefreshHash: hash, ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	short := e.signToken(jwt.MapClaims{"sub": shortID, "sid": sess.ID.String(),
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Second).Unix()})
	ws := e.mustDial(short, "")
	readMsg(t, ws, 5*time.Second)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	go func() {
		// Answer pings until the close arrives.
		for {
			if _, _, err := ws.Read(ctx2); err != nil {
				got <- map[string]any{"close": float64(websocket.CloseStatus(err))}
				return
			}
		}
	}()
	select {
	case m := <-got:
		require.Equal(t, float64(realtime.StatusTokenExpired), m["close"])
	case <-time.After(5 * time.Second):
		t.Fatal("the socket outlived its token")
	}
}

// TestNotificationSocketCountsActivity: a user who only opens the
// notification socket, with the token in the query (no other request), is
// counted as active today; a refused handshake counts no one.
func TestNotificationSocketCountsActivity(t *testing.T) {
	t.Parallel()
	prefix := "test:" + uuid.NewString() + ":"
	e := newWSEnv(t, realtime.Config{}, func(c *api.Config) {
		c.ActivityPrefix = prefix
		c.CORSOrigins = []string{"https://app.lokiz.test"}
	})
	token, _ := e.register("ws_only_socket")
	refusedToken, _ := e.register("ws_refused_origin")
	tracker := activity.New(activity.Config{Redis: e.rdb, Store: e.store, Prefix: prefix})
	dau := func() int64 {
		t.Helper()
		api.ActivityOf(e.testEnv.srv).Wait()
		counts, err := tracker.Counts(context.Background(), time.Now())
		require.NoError(t, err)
		return counts.DAU
	}
	require.Zero(t, dau(), "registering counts no one")

	_, resp, err := e.dial("token="+refusedToken, http.Header{"Origin": {"https://evil.test"}})
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Zero(t, dau(), "a refused handshake counts no one")

	ws := e.mustDial(token, "")
	require.Equal(t, "caught_up", readMsg(t, ws, 5*time.Second)["type"])
	require.Equal(t, int64(1), dau(), "the socket's user is active today")
}

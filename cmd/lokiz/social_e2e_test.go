package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/notification"
)

// TestNotificationJourney: an action in the api becomes a task, the worker
// of a real `lokiz dev` writes the notification and publishes it on the
// recipient's Redis channel, and the api lists it; a setting turned off
// means no notification at all. Then the WebSocket journeys: on the dev
// api (socketJourney) and across two `lokiz api` processes
// (crossReplicaJourney), all sharing this journey's Redis database and the
// dev process's worker.
func TestNotificationJourney(t *testing.T) {
	t.Parallel()
	const redisIndex = 11
	dbURL := dbtest.NewEmptyDB(t)
	apiAddr, dashAddr := freeAddr(t), freeAddr(t)
	vars := map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": fmt.Sprintf("redis://127.0.0.1:6379/%d", redisIndex),
		"HTTP_ADDR": apiAddr, "DASHBOARD_ADDR": dashAddr, "PUBLIC_BASE_URL": "http://" + apiAddr,
		"SECRET_KEY": strings.Repeat("n", 40), "BCRYPT_COST": "4", "WORKER_CONCURRENCY": "2",
		"SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json", "STORAGE_DIR": t.TempDir(),
		// groupSocketJourney registers 21 users from one address.
		"AUTH_RATE_LIMIT": "100",
	}
	c := startDev(t, vars)
	logs, call, register := c.logs, c.call, c.register
	aliceToken, alice := register("alice_n")
	bobToken, bob := register("bob_n")

	pool, err := db.Open(context.Background(), dbURL, db.PoolOptions{MaxConns: 2})
	require.NoError(t, err)
	defer pool.Close()
	video := dbtest.Video(t, db.NewStore(pool), dbtest.VideoOpts{Owner: uuid.MustParse(alice), NoMedia: true}).ID

	rdb := redis.NewClient(&redis.Options{Addr: testkit.RedisAddr(), DB: redisIndex})
	defer rdb.Close()
	sub := rdb.Subscribe(context.Background(), notification.Channel(uuid.MustParse(alice)))
	defer sub.Close()
	_, err = sub.Receive(context.Background()) // the subscription is live
	require.NoError(t, err)

	status, _ := call("POST", "/v1/likes/videos/"+video.String(), bobToken, nil)
	require.Equal(t, http.StatusCreated, status)
	select {
	case msg := <-sub.Channel():
		var event map[string]any
		require.NoError(t, json.Unmarshal([]byte(msg.Payload), &event))
		require.Equal(t, "notification", event["type"])
		require.Equal(t, "like", event["notification"].(map[string]any)["type"])
		require.Equal(t, float64(1), event["unread_count"])
	case <-time.After(20 * time.Second):
		t.Fatalf("no message on alice's channel; logs:\n%s", logs)
	}
	status, list := call("GET", "/v1/notifications", aliceToken, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, float64(1), list["unread_count"])
	first := list["notifications"].([]any)[0].(map[string]any)
	require.Equal(t, bob, first["actor"].(map[string]any)["id"])

	// Follows turned off: bob's follow produces no notification.
	status, _ = call("PATCH", "/v1/notifications/settings", aliceToken, map[string]any{"follows": false})
	require.Equal(t, http.StatusOK, status)
	notifies := func() int {
		n := 0
		for _, l := range logs.Lines(t, "task processed") {
			if l["task_type"] == "notify:deliver" {
				n++
			}
		}
		return n
	}
	processed := notifies()
	status, _ = call("POST", "/v1/follows/users/"+alice, bobToken, nil)
	require.Equal(t, http.StatusCreated, status)
	require.Eventually(t, func() bool { return notifies() > processed }, 20*time.Second, 50*time.Millisecond,
		"the follow's notify task never ran; logs:\n%s", logs)
	_, list = call("GET", "/v1/notifications", aliceToken, nil)
	require.Len(t, list["notifications"], 1, "a disabled type writes nothing")

	// Unliking removes the like's notification.
	status, _ = call("DELETE", "/v1/likes/videos/"+video.String(), bobToken, nil)
	require.Equal(t, http.StatusOK, status)
	_, list = call("GET", "/v1/notifications", aliceToken, nil)
	require.Empty(t, list["notifications"])

	socketJourney(t, c, pool)
	groupSocketJourney(t, c, pool)
	crossReplicaJourney(t, c, vars, pool)
}

// groupSocketJourney: 20 likes of one video from 20 users arrive on the
// owner's socket as one growing group: every event names the same item,
// each growth once (counts 1 to 20, in whatever order the two workers
// finish them), and the unread count stays 1; the list then shows that one
// item with count 20 and the latest three actors.
func groupSocketJourney(t *testing.T, c *devClient, pool *pgxpool.Pool) {
	ownerToken, owner := c.register("gina_ws")
	video := dbtest.Video(t, db.NewStore(pool), dbtest.VideoOpts{Owner: uuid.MustParse(owner), NoMedia: true}).ID.String()
	ws := dialSocket(t, c.base, ownerToken, "")
	require.Equal(t, "caught_up", readSocket(t, ws, c.logs)["type"])

	const fans = 20
	for i := range fans {
		token, _ := c.register(fmt.Sprintf("fan%02d_ws", i))
		status, out := c.call("POST", "/v1/likes/videos/"+video, token, nil)
		require.Equal(t, http.StatusCreated, status, "%v", out)
	}
	var groupID any
	counts := map[float64]bool{}
	for range fans {
		ev := readSocket(t, ws, c.logs)
		require.Equal(t, "notification", ev["type"], "%v", ev)
		n := ev["notification"].(map[string]any)
		require.Equal(t, "like", n["type"], "%v", ev)
		if groupID == nil {
			groupID = n["id"]
		}
		require.Equal(t, groupID, n["id"], "every like grows the same item")
		require.Equal(t, float64(1), ev["unread_count"], "a growing group is one unread item")
		require.False(t, counts[n["count"].(float64)], "count %v pushed twice", n["count"])
		counts[n["count"].(float64)] = true
	}
	for i := 1; i <= fans; i++ {
		require.True(t, counts[float64(i)], "count %d was pushed", i)
	}
	status, list := c.call("GET", "/v1/notifications", ownerToken, nil)
	require.Equal(t, http.StatusOK, status)
	items := list["notifications"].([]any)
	require.Len(t, items, 1, "%v", list)
	item := items[0].(map[string]any)
	require.Equal(t, groupID, item["id"])
	require.Equal(t, float64(fans), item["count"])
	require.Len(t, item["actors"], 3)
	require.Contains(t, item["message"], "and 19 others liked your video")
	require.NoError(t, ws.Close(websocket.StatusNormalClosure, ""))
}

// socketJourney: two users, one socket on the dev api; a like, a follow
// and a comment from the other user arrive on the socket in order with the
// unread count; a read mark pushes the count; a logout closes the socket
// with 4001.
func socketJourney(t *testing.T, c *devClient, pool *pgxpool.Pool) {
	daveToken, dave := c.register("dave_ws")
	erinToken, _ := c.register("erin_ws")
	video := dbtest.Video(t, db.NewStore(pool), dbtest.VideoOpts{Owner: uuid.MustParse(dave), NoMedia: true}).ID.String()
	ws := dialSocket(t, c.base, daveToken, "")
	require.Equal(t, "caught_up", readSocket(t, ws, c.logs)["type"])

	steps := []struct {
		method, path, typ string
		body              any
	}{
		{"POST", "/v1/likes/videos/" + video, "like", nil},
		{"POST", "/v1/follows/users/" + dave, "follow", nil},
		{"POST", "/v1/comments/videos/" + video, "comment", map[string]any{"content": "nice clip"}},
	}
	var lastSeq float64
	for i, step := range steps {
		status, out := c.call(step.method, step.path, erinToken, step.body)
		require.Equal(t, http.StatusCreated, status, "%s: %v", step.typ, out)
		ev := readSocket(t, ws, c.logs)
		require.Equal(t, "notification", ev["type"], "%v", ev)
		n := ev["notification"].(map[string]any)
		require.Equal(t, step.typ, n["type"], "%v", ev)
		require.Equal(t, float64(i+1), ev["unread_count"], "%v", ev)
		require.Greater(t, n["seq"].(float64), lastSeq, "seq grows")
		lastSeq = n["seq"].(float64)
	}
	status, _ := c.call("PATCH", "/v1/notifications/read-all", daveToken, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"type": "unread_count", "unread_count": float64(0)}, readSocket(t, ws, c.logs))

	// A reconnect with since replays only what came after.
	ws2 := dialSocket(t, c.base, daveToken, fmt.Sprint(int64(lastSeq)-1))
	ev := readSocket(t, ws2, c.logs)
	require.Equal(t, "comment", ev["notification"].(map[string]any)["type"])
	require.Equal(t, true, ev["replayed"])
	require.Equal(t, "caught_up", readSocket(t, ws2, c.logs)["type"])

	status, _ = c.call("POST", "/v1/auth/logout", daveToken, nil)
	require.Equal(t, http.StatusNoContent, status)
	for _, s := range []*websocket.Conn{ws, ws2} {
		require.Equal(t, websocket.StatusCode(4001), socketCloseStatus(t, s), "a logout closes the socket")
	}
}

// crossReplicaJourney runs two real `lokiz api` processes (the built
// binary) beside the dev process, whose worker delivers: a socket on api A
// receives the notification of a like sent to api B; stopping api A closes
// its socket with 1001 going away.
func crossReplicaJourney(t *testing.T, c *devClient, vars map[string]string, pool *pgxpool.Pool) {
	apiA, addrA := startAPIProcess(t, vars)
	_, addrB := startAPIProcess(t, vars)
	b := &devClient{t: t, base: "http://" + addrB, client: c.client, logs: c.logs}
	ownerToken, owner := b.register("owner_xr")
	fanToken, _ := b.register("fan_xr")
	video := dbtest.Video(t, db.NewStore(pool), dbtest.VideoOpts{Owner: uuid.MustParse(owner), NoMedia: true}).ID.String()

	ws := dialSocket(t, "http://"+addrA, ownerToken, "")
	require.Equal(t, "caught_up", readSocket(t, ws, c.logs)["type"])
	status, _ := b.call("POST", "/v1/likes/videos/"+video, fanToken, nil)
	require.Equal(t, http.StatusCreated, status)
	ev := readSocket(t, ws, c.logs)
	require.Equal(t, "like", ev["notification"].(map[string]any)["type"], "%v", ev)
	require.Equal(t, float64(1), ev["unread_count"])

	require.NoError(t, apiA.Process.Signal(syscall.SIGTERM))
	require.Equal(t, websocket.StatusGoingAway, socketCloseStatus(t, ws), "a stopping api says going away")
}

// startAPIProcess runs the built binary's `lokiz api` on a loopback
// address of its own until the test ends, and returns it with that address
// once it is ready. The process binds the address itself, so another
// listener may take it first (releasedAddr): then the start is retried on
// a new address.
func startAPIProcess(t *testing.T, vars map[string]string) (*exec.Cmd, string) {
	t.Helper()
	for range 3 {
		addr := releasedAddr(t)
		cmd := exec.Command(binPath, "api")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LOKIZ_ENV=development", "HTTP_ADDR=" + addr,
			"PUBLIC_BASE_URL=http://" + addr, "LOG_LEVEL=warn"}
		for _, k := range []string{"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "BCRYPT_COST", "STORAGE_DIR", "AUTH_RATE_LIMIT"} {
			cmd.Env = append(cmd.Env, k+"="+vars[k])
		}
		out := &testkit.LogBuffer{} // safe to read while the process writes
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(t, cmd.Start())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var exited bool
		var exitErr error
		require.Eventually(t, func() bool {
			select {
			case exitErr = <-done:
				exited = true
				return true
			default:
			}
			resp, err := http.Get("http://" + addr + "/ready")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, 30*time.Second, 100*time.Millisecond, "lokiz api never became ready: %s", out)
		if exited {
			require.Contains(t, out.String(), "address already in use", "lokiz api exited at start (%v): %s", exitErr, out)
			continue // the port was taken before the process bound it
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-done:
				require.NoError(t, err, "lokiz api exits cleanly; output:\n%s", out.String())
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Errorf("lokiz api did not stop; output:\n%s", out.String())
			}
		})
		return cmd, addr
	}
	t.Fatal("lokiz api: its address was taken three times")
	return nil, ""
}

// dialSocket opens the notification socket of base (http://host) with the
// token in the query, as a browser does.
func dialSocket(t *testing.T, base, token, since string) *websocket.Conn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/v1/notifications/ws?token=" + token
	if since != "" {
		u += "&since=" + since
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, u, nil)
	require.NoError(t, err, "%v", resp)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

// readSocket reads the next message within 20 s.
func readSocket(t *testing.T, ws *websocket.Conn, logs *testkit.LogBuffer) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, b, err := ws.Read(ctx)
	require.NoError(t, err, "logs:\n%s", logs)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// socketCloseStatus reads until the socket closes (within 10 s) and
// returns the close code.
func socketCloseStatus(t *testing.T, ws *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			require.NoError(t, ctx.Err(), "the socket was not closed in time")
			return websocket.CloseStatus(err)
		}
	}
}

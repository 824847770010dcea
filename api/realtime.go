package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/notification"
	"github.com/lokiz/lokiz/realtime"
)

// ReplayLimit is the most notifications a catch-up (?since=) sends; past
// it the socket sends one resync event instead and the client refetches
// the list.
const ReplayLimit = 100

// replayEvent is a notification sent by the catch-up: the push shape plus
// replayed=true.
type replayEvent struct {
	notification.Event
	Replayed bool `json:"replayed"`
}

// caughtUpEvent ends the catch-up (sent on every socket, since or not):
// how many notifications were replayed and the unread count now.
type caughtUpEvent struct {
	Type        string `json:"type"`
	Replayed    int    `json:"replayed"`
	UnreadCount int64  `json:"unread_count"`
}

// resyncEvent: more was missed than the catch-up sends; refetch the list.
type resyncEvent struct {
	Type        string `json:"type"`
	UnreadCount int64  `json:"unread_count"`
}

// notificationSocket serves WS /v1/notifications/ws. Everything that can
// refuse the socket is decided before the upgrade, as an HTTP answer in the
// error shape: a bad, expired or revoked token (401), an API key or an
// Origin not in CORS_ALLOWED_ORIGINS (403), a malformed since (422) or an
// unknown one (404), the per-user limit (429) and the per-process limit or a
// draining process (503). The socket is registered with the hub before
// the catch-up is read, so nothing published in between is lost (see
// realtime.Conn.Serve for the seam).
func (s *Server) notificationSocket(c *gin.Context) {
	ctx := c.Request.Context()
	if s.hub == nil || s.draining.Load() || !s.hub.Ready() {
		s.writeError(c, &lokiz.Error{Code: lokiz.EUNAVAILABLE, RetryAfter: 2, Reason: "realtime_unavailable",
			Message: "Realtime notifications are not available on this server right now; retry shortly"})
		return
	}
	if err := checkWebSocketRequest(c.Request); err != nil {
		s.writeError(c, err)
		return
	}
	if origin := c.GetHeader("Origin"); origin != "" && !slices.Contains(s.cfg.CORSOrigins, "*") && !slices.Contains(s.cfg.CORSOrigins, origin) {
		s.writeError(c, &lokiz.Error{Code: lokiz.EFORBIDDEN, Reason: "origin_not_allowed",
			Message: "This origin may not open a notification socket"})
		return
	}
	me, err := s.socketCaller(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	since, replay, err := s.socketSince(c, me.ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	conn, err := s.hub.Register(me.ID, me.SessionID, me.ExpiresAt)
	if err != nil {
		s.writeError(c, socketRegisterError(err, s.hub.Config()))
		return
	}
	// From here on the hub buffers this user's live events for conn: the
	// catch-up read now overlaps them instead of leaving a gap.
	if hook := s.afterSocketRegister.Load(); hook != nil {
		(*hook)() // tests: publish inside the seam
	}
	first, seen, err := s.socketCatchUp(c, me.ID, since, replay)
	if err != nil {
		conn.Release()
		s.writeError(c, err)
		return
	}
	// The server's read and write timeouts were set for a request; a socket
	// lives on (the hub pings it).
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	ws, err := websocket.Accept(c.Writer, c.Request, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // the Origin was checked above against CORS_ALLOWED_ORIGINS
	})
	if err != nil {
		conn.Release()
		s.log.WarnContext(ctx, "websocket upgrade failed", "error", err, "request_id", requestID(c))
		return
	}
	// A user who only holds a socket is active too. The token may have
	// come in the query, which authenticate (and its count) never saw.
	s.touchActivity(me.ID)
	// The socket runs on its own goroutine: the request's goroutine (and
	// its stack, gin context and buffers) ends here, which keeps an idle
	// socket's memory small; the access log records the handshake.
	go conn.Serve(context.WithoutCancel(ctx), ws, first, seen)
}

// socketCaller authenticates a socket: the Authorization header, else the
// token query parameter (browsers cannot set headers on a WebSocket).
// Only access tokens open sockets: an API key is for programs calling the
// REST routes, and a socket is tied to a session so that a logout can close
// it.
func (s *Server) socketCaller(c *gin.Context) (caller, error) {
	var u caller
	var err error
	if c.GetHeader("Authorization") != "" {
		u, err = s.authenticate(c)
	} else if tok := socketQueryToken(c); tok != "" {
		u, err = s.authenticateBearer(c, tok)
	} else {
		err = lokiz.Errorf(lokiz.EUNAUTHORIZED, "Not authenticated: send Authorization: Bearer <token> or ?token=")
	}
	if err != nil {
		return caller{}, err
	}
	if u.APIKeyID != uuid.Nil {
		return caller{}, &lokiz.Error{Code: lokiz.EFORBIDDEN, Reason: "api_key_not_allowed",
			Message: "API keys cannot open notification sockets; use an access token"}
	}
	return u, nil
}

// socketSince parses ?since=: a seq (integer ≥ 0) or the id of one of the
// caller's notifications, which stands for its current seq. replay is false
// without since.
func (s *Server) socketSince(c *gin.Context, me uuid.UUID) (since int64, replay bool, err error) {
	seq, id, set, err := socketSinceParam(c)
	if err != nil || id == nil {
		return seq, set, err
	}
	seq, err = s.store.NotificationSeqOfUser(c.Request.Context(), db.NotificationSeqOfUserParams{ID: *id, UserID: me})
	if db.IsNotFound(err) {
		return 0, false, &lokiz.Error{Code: lokiz.ENOTFOUND, Reason: "since_not_found",
			Message: "Notification not found: reconnect with a seq, or without since after refetching the list"}
	}
	if err != nil {
		return 0, false, err
	}
	return seq, true, nil
}

// socketCatchUp reads what the socket sends first: with since, the
// caller's notifications after it in seq order (or one resync event when
// more than ReplayLimit were missed); always, a caught_up event with the
// unread count. seen maps each replayed id to its seq, for the seam.
func (s *Server) socketCatchUp(c *gin.Context, me uuid.UUID, since int64, replay bool) ([][]byte, map[uuid.UUID]int64, error) {
	ctx := c.Request.Context()
	var rows []db.NotificationView
	if replay {
		var err error
		rows, err = s.store.NotificationsSinceSeq(ctx, db.NotificationsSinceSeqParams{UserID: me, Since: since, Lim: ReplayLimit + 1})
		if err != nil {
			return nil, nil, err
		}
	}
	counts, err := s.store.NotificationCountsByUser(ctx, me)
	if err != nil {
		return nil, nil, err
	}
	var first [][]byte
	var seen map[uuid.UUID]int64
	replayed := 0
	switch {
	case len(rows) > ReplayLimit:
		b, _ := json.Marshal(resyncEvent{Type: "resync", UnreadCount: counts.Unread})
		first = append(first, b)
	case len(rows) > 0:
		seen = make(map[uuid.UUID]int64, len(rows))
		for _, r := range rows {
			b, err := json.Marshal(replayEvent{Event: notification.Event{
				Type: notification.EventType, Notification: s.renderNotification(c, r), UnreadCount: counts.Unread,
			}, Replayed: true})
			if err != nil {
				return nil, nil, err
			}
			first = append(first, b)
			seen[r.ID] = r.Seq
		}
		replayed = len(rows)
	}
	b, _ := json.Marshal(caughtUpEvent{Type: "caught_up", Replayed: replayed, UnreadCount: counts.Unread})
	return append(first, b), seen, nil
}

func socketRegisterError(err error, cfg realtime.Config) error {
	switch {
	case errors.Is(err, realtime.ErrUserLimit):
		return &lokiz.Error{Code: lokiz.ERATELIMITED, RetryAfter: 30, Reason: "too_many_sockets",
			Message: "Too many open notification sockets for this account (at most " + strconv.Itoa(cfg.MaxPerUser) + " per server); close one first"}
	case errors.Is(err, realtime.ErrProcessLimit):
		return &lokiz.Error{Code: lokiz.EUNAVAILABLE, RetryAfter: 5, Reason: "server_full",
			Message: "This server holds as many notification sockets as it may; retry shortly"}
	}
	return &lokiz.Error{Code: lokiz.EUNAVAILABLE, RetryAfter: 2, Reason: "realtime_unavailable",
		Message: "Realtime notifications are not available on this server right now; retry shortly"}
}

// checkWebSocketRequest answers a request that is not a WebSocket
// handshake in the error shape (the library would answer text/plain).
func checkWebSocketRequest(r *http.Request) error {
	hasToken := func(header, token string) bool {
		for _, v := range r.Header.Values(header) {
			for _, part := range strings.Split(v, ",") {
				if strings.EqualFold(strings.TrimSpace(part), token) {
					return true
				}
			}
		}
		return false
	}
	bad := func(msg string) error {
		return &lokiz.Error{Code: lokiz.EINVALID, Reason: "websocket_handshake_required", Message: msg}
	}
	switch {
	case !r.ProtoAtLeast(1, 1):
		return bad("A WebSocket handshake needs HTTP/1.1")
	case !hasToken("Connection", "upgrade") || !hasToken("Upgrade", "websocket"):
		return bad("This route is a WebSocket: send Connection: Upgrade and Upgrade: websocket")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return bad("Only WebSocket version 13 is supported")
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return bad("Send exactly one Sec-WebSocket-Key")
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(k) != 16 {
		return bad("Sec-WebSocket-Key must be 16 bytes in base64")
	}
	return nil
}

// Package realtime is the WebSocket hub of an api process: one Redis
// subscription per process fans the notification events the worker (and
// the api's read marks) publish out to the sockets this process holds, and
// revocation events close the sockets of ended sessions.
//
// One Hub per api process: it holds ONE pattern subscription on
// notification.ChannelPrefix+"*" and one subscription on session.Channel,
// whatever the number of sockets, and a registry user → sockets. The api's
// handler authenticates, Registers a Conn (which starts buffering live events
// at once), reads the catch-up from Postgres, upgrades, and hands the socket
// to Conn.Serve with the catch-up messages; Serve sends them, then the
// buffered events (skipping those the catch-up already carried), then live
// events as they come.
//
// Close codes sent by the hub (documented in README.md and openapi.yaml):
//
//   - 1001 going away: the process is shutting down; reconnect (another
//     replica answers) with ?since=.
//   - 4001 session ended: logout, password change, ban, account deletion;
//     do not reconnect with the same token.
//   - 4002 token expired: refresh the access token, reconnect with ?since=.
//   - 4008 too slow: the send buffer overflowed; reconnect with ?since=.
//   - 1008 policy violation: the client sent a data message (clients only
//     listen).
package realtime

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/lokiz/lokiz/notification"
	"github.com/lokiz/lokiz/session"
)

// Close codes of the hub (see the package comment).
const (
	StatusSessionEnded websocket.StatusCode = 4001
	StatusTokenExpired websocket.StatusCode = 4002
	StatusTooSlow      websocket.StatusCode = 4008
)

// Defaults of Config.
const (
	DefaultMaxPerUser           = 5
	DefaultMaxConns             = 20000
	DefaultSendBuffer           = 64
	DefaultPingInterval         = 30 * time.Second
	DefaultPongTimeout          = 10 * time.Second
	DefaultWriteTimeout         = 10 * time.Second
	DefaultSessionCheckInterval = 30 * time.Second
)

// Config holds the hub's limits. Zero fields take the defaults above.
type Config struct {
	// MaxPerUser caps one user's sockets on this process (WS_MAX_PER_USER).
	MaxPerUser int
	// MaxConns caps the sockets of this process (WS_MAX_CONNS).
	MaxConns int
	// SendBuffer is how many events may wait for one socket; one more and
	// the socket is closed with StatusTooSlow (WS_SEND_BUFFER).
	SendBuffer int
	// PingInterval is the time between pings; PongTimeout how long a pong
	// may take before the socket is dropped.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// WriteTimeout bounds one message write.
	WriteTimeout time.Duration
	// SessionCheckInterval is how often every held session is re-read from
	// Postgres (revocation events are at most once).
	SessionCheckInterval time.Duration
}

func (c Config) withDefaults() Config {
	c.MaxPerUser = cmp.Or(c.MaxPerUser, DefaultMaxPerUser)
	c.MaxConns = cmp.Or(c.MaxConns, DefaultMaxConns)
	c.SendBuffer = cmp.Or(c.SendBuffer, DefaultSendBuffer)
	c.PingInterval = cmp.Or(c.PingInterval, DefaultPingInterval)
	c.PongTimeout = cmp.Or(c.PongTimeout, DefaultPongTimeout)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, DefaultWriteTimeout)
	c.SessionCheckInterval = cmp.Or(c.SessionCheckInterval, DefaultSessionCheckInterval)
	return c
}

// SessionChecker tells which of the given sessions are still live (not
// revoked, user active). *db.Store implements it.
type SessionChecker interface {
	SessionsLive(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error)
}

// Errors of Register.
var (
	// ErrUserLimit: the user already holds MaxPerUser sockets here.
	ErrUserLimit = errors.New("realtime: too many sockets for this user")
	// ErrProcessLimit: this process holds MaxConns sockets.
	ErrProcessLimit = errors.New("realtime: this process holds its most sockets")
	// ErrUnavailable: the hub is shutting down or not subscribed to Redis.
	ErrUnavailable = errors.New("realtime: not accepting sockets")
)

// sessionCheckBatch is how many sessions one re-check query names.
const sessionCheckBatch = 1000

// Hub is the per-process registry of sockets and its Redis subscription.
type Hub struct {
	cfg      Config
	rdb      redis.UniversalClient
	sessions SessionChecker
	log      *slog.Logger

	mu         sync.Mutex
	users      map[uuid.UUID]map[*Conn]struct{}
	total      int
	subscribed bool
	closing    bool
	empty      chan struct{} // closed and replaced when total drops to 0 while closing
}

// New returns a hub; Run subscribes and must be running for Register to
// accept sockets.
func New(rdb redis.UniversalClient, sessions SessionChecker, cfg Config, logger *slog.Logger) *Hub {
	return &Hub{
		cfg: cfg.withDefaults(), rdb: rdb, sessions: sessions,
		log:   logger.With("component", "realtime"),
		users: map[uuid.UUID]map[*Conn]struct{}{},
		empty: make(chan struct{}),
	}
}

// Config returns the hub's limits with defaults applied.
func (h *Hub) Config() Config { return h.cfg }

// Len is the number of sockets registered now.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

// Register reserves a socket for userID's session and starts buffering the
// user's live events for it, before the caller reads the catch-up. The
// caller must either Serve the Conn or Release it.
func (h *Hub) Register(userID, sessionID uuid.UUID, expiresAt time.Time) (*Conn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closing || !h.subscribed:
		return nil, ErrUnavailable
	case h.total >= h.cfg.MaxConns:
		return nil, ErrProcessLimit
	case len(h.users[userID]) >= h.cfg.MaxPerUser:
		return nil, ErrUserLimit
	}
	c := &Conn{
		hub: h, UserID: userID, SessionID: sessionID, expiresAt: expiresAt,
		wake: make(chan struct{}, 1), closing: make(chan struct{}),
	}
	if h.users[userID] == nil {
		h.users[userID] = map[*Conn]struct{}{}
	}
	h.users[userID][c] = struct{}{}
	h.total++
	return c, nil
}

func (h *Hub) remove(c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	conns := h.users[c.UserID]
	if _, ok := conns[c]; !ok {
		return
	}
	delete(conns, c)
	if len(conns) == 0 {
		delete(h.users, c.UserID)
	}
	h.total--
	if h.total == 0 && h.closing {
		close(h.empty)
		h.empty = make(chan struct{})
	}
}

// all returns every registered socket.
func (h *Hub) all() []*Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Conn, 0, h.total)
	for _, conns := range h.users {
		for c := range conns {
			out = append(out, c)
		}
	}
	return out
}

func (h *Hub) userConns(userID uuid.UUID) []*Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	conns := h.users[userID]
	if len(conns) == 0 {
		return nil
	}
	out := make([]*Conn, 0, len(conns))
	for c := range conns {
		out = append(out, c)
	}
	return out
}

// Shutdown refuses new sockets, closes every socket with 1001 going away
// and waits until they are gone or ctx ends.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	empty := h.empty
	n := h.total
	h.mu.Unlock()
	for _, c := range h.all() {
		c.closeWith(websocket.StatusGoingAway, "server shutting down; reconnect with since")
	}
	if n == 0 {
		return nil
	}
	select {
	case <-empty:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run holds the hub's Redis subscriptions until ctx ends: the pattern of
// every user's notification channel and the revocation channel. It also
// re-checks every held session each SessionCheckInterval, and after a lost
// Redis connection comes back it re-checks them at once and tells every
// socket to resync (events published meanwhile were lost).
func (h *Hub) Run(ctx context.Context) error {
	ps := h.rdb.PSubscribe(ctx, notification.ChannelPrefix+"*")
	defer ps.Close()
	// A blocked receive does not watch ctx; closing the subscription ends it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	if err := ps.Subscribe(ctx, session.Channel); err != nil {
		return err
	}
	go h.checkSessionsLoop(ctx)
	lost := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, h.cfg.PingInterval)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Quiet channel: prove the connection is alive.
				if perr := ps.Ping(ctx); perr == nil {
					continue
				}
			}
			if !lost {
				h.log.WarnContext(ctx, "redis subscription lost; reconnecting", "error", err)
			}
			lost = true
			h.setSubscribed(false)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" && m.Kind != "psubscribe" {
				continue
			}
			if m.Kind == "psubscribe" {
				h.setSubscribed(true)
			}
			if lost && m.Kind == "psubscribe" {
				lost = false
				h.log.InfoContext(ctx, "redis subscription restored; re-checking sessions")
				h.afterReconnect(ctx)
			}
		case *redis.Message:
			h.dispatch(ctx, m)
		}
	}
}

func (h *Hub) setSubscribed(v bool) {
	h.mu.Lock()
	h.subscribed = v
	h.mu.Unlock()
}

// Ready reports whether the hub is subscribed and accepting sockets.
func (h *Hub) Ready() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subscribed && !h.closing
}

// WaitReady waits until the hub is subscribed, at most until ctx ends.
func (h *Hub) WaitReady(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !h.Ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// resyncMessage tells a client that events may have been lost and the list
// should be refetched.
var resyncMessage = []byte(`{"type":"resync"}`)

func (h *Hub) afterReconnect(ctx context.Context) {
	for _, c := range h.all() {
		c.push(event{payload: resyncMessage})
	}
	h.checkSessions(ctx)
}

func (h *Hub) dispatch(ctx context.Context, m *redis.Message) {
	if m.Channel == session.Channel {
		ev, err := session.ParseRevoked(m.Payload)
		if err != nil {
			h.log.WarnContext(ctx, "bad revocation event", "error", err)
			return
		}
		ended := make(map[uuid.UUID]bool, len(ev.SessionIDs))
		for _, id := range ev.SessionIDs {
			ended[id] = true
		}
		for _, c := range h.userConns(ev.UserID) {
			if ended[c.SessionID] {
				c.closeWith(StatusSessionEnded, "session ended: "+ev.Reason)
			}
		}
		return
	}
	userID, err := uuid.Parse(strings.TrimPrefix(m.Channel, notification.ChannelPrefix))
	if err != nil {
		return
	}
	conns := h.userConns(userID)
	if len(conns) == 0 {
		return
	}
	ev := event{payload: []byte(m.Payload)}
	var head struct {
		Type         string `json:"type"`
		Notification struct {
			ID  uuid.UUID `json:"id"`
			Seq int64     `json:"seq"`
		} `json:"notification"`
	}
	if err := json.Unmarshal(ev.payload, &head); err == nil && head.Type == notification.EventType {
		ev.id, ev.seq = head.Notification.ID, head.Notification.Seq
	}
	for _, c := range conns {
		c.push(ev)
	}
}

func (h *Hub) checkSessionsLoop(ctx context.Context) {
	t := time.NewTicker(h.cfg.SessionCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.checkSessions(ctx)
		}
	}
}

// checkSessions closes the sockets whose session is no longer live, in
// batched queries.
func (h *Hub) checkSessions(ctx context.Context) {
	conns := h.all()
	if len(conns) == 0 || h.sessions == nil {
		return
	}
	bySession := map[uuid.UUID][]*Conn{}
	for _, c := range conns {
		bySession[c.SessionID] = append(bySession[c.SessionID], c)
	}
	ids := make([]uuid.UUID, 0, len(bySession))
	for id := range bySession {
		ids = append(ids, id)
	}
	for start := 0; start < len(ids); start += sessionCheckBatch {
		batch := ids[start:min(start+sessionCheckBatch, len(ids))]
		live, err := h.sessions.SessionsLive(ctx, batch)
		if err != nil {
			h.log.WarnContext(ctx, "re-check sessions", "error", err)
			return
		}
		alive := make(map[uuid.UUID]bool, len(live))
		for _, id := range live {
			alive[id] = true
		}
		for _, id := range batch {
			if !alive[id] {
				for _, c := range bySession[id] {
					c.closeWith(StatusSessionEnded, "session ended")
				}
			}
		}
	}
}

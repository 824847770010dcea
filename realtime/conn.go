package realtime

import (
	"context"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
)

// event is one message for a socket. id and seq are set for notification
// events (the catch-up seam compares them), zero otherwise.
type event struct {
	payload []byte
	id      uuid.UUID
	seq     int64
}

// Conn is one registered socket: its owner, its session and the bounded
// queue of events waiting to be written.
type Conn struct {
	hub       *Hub
	UserID    uuid.UUID
	SessionID uuid.UUID
	expiresAt time.Time

	mu       sync.Mutex
	queue    []event
	overflow bool
	wake     chan struct{} // one token: the queue has something

	closeOnce   sync.Once
	closing     chan struct{}
	closeCode   websocket.StatusCode
	closeReason string
}

// push queues ev without ever blocking: a full queue marks the socket as
// too slow, and it is closed.
func (c *Conn) push(ev event) {
	c.mu.Lock()
	if len(c.queue) >= c.hub.cfg.SendBuffer {
		c.overflow = true
		c.queue = nil
	} else if !c.overflow {
		c.queue = append(c.queue, ev)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// take empties the queue.
func (c *Conn) take() (evs []event, overflow bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	evs, c.queue = c.queue, nil
	return evs, c.overflow
}

// closeWith asks Serve to close the socket with code; the first call wins.
func (c *Conn) closeWith(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeReason = code, reason
		close(c.closing)
	})
}

// Release gives up a registration that was never served (the handshake
// failed before the upgrade).
func (c *Conn) Release() { c.hub.remove(c) }

// Serve runs the socket until it closes: it writes first (the catch-up),
// then the events buffered since Register, skipping a notification the
// catch-up already carried at the same or a higher seq (seen: id → seq),
// then live events; it pings every PingInterval, drops a peer that does not
// pong within PongTimeout, and closes the socket when its session ends, its
// token expires, its queue overflows or the hub shuts down. ctx must outlive
// the request (the hijacked request's context is not to be used).
func (c *Conn) Serve(ctx context.Context, ws *websocket.Conn, first [][]byte, seen map[uuid.UUID]int64) {
	defer c.hub.remove(c)
	defer ws.CloseNow() //nolint:errcheck // after a close handshake this is a no-op
	cfg := c.hub.cfg
	ws.SetReadLimit(1024) // clients send nothing but control frames
	readCtx := ws.CloseRead(ctx)

	write := func(p []byte) bool {
		wctx, cancel := context.WithTimeout(ctx, cfg.WriteTimeout)
		defer cancel()
		return ws.Write(wctx, websocket.MessageText, p) == nil
	}
	for _, p := range first {
		if !write(p) {
			return
		}
	}
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-readCtx.Done():
			return // the peer closed, or sent what it must not
		case <-ctx.Done():
			_ = ws.Close(websocket.StatusGoingAway, "server shutting down")
			return
		case <-c.closing:
			_ = ws.Close(c.closeCode, c.closeReason)
			return
		case <-c.wake:
			evs, overflow := c.take()
			if overflow {
				_ = ws.Close(StatusTooSlow, "too slow: send buffer overflowed; reconnect with since")
				return
			}
			for _, ev := range evs {
				if ev.seq != 0 && seen != nil {
					if s, ok := seen[ev.id]; ok && s >= ev.seq {
						continue // the catch-up already sent this version
					}
				}
				if !write(ev.payload) {
					return
				}
			}
		case now := <-ping.C:
			if !c.expiresAt.IsZero() && now.After(c.expiresAt) {
				_ = ws.Close(StatusTokenExpired, "access token expired; refresh it and reconnect with since")
				return
			}
			// The pong is awaited aside, so that events and closes are not
			// held up by a slow peer; no pong in time drops the connection
			// (the read side then ends and so does this loop).
			go func() {
				pctx, cancel := context.WithTimeout(ctx, cfg.PongTimeout)
				defer cancel()
				if ws.Ping(pctx) != nil {
					_ = ws.CloseNow()
				}
			}()
		}
	}
}

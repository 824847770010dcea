// Package session is what the api and a realtime hub share about sessions:
// how refresh tokens are made and hashed, and the Redis channel on which
// every revocation is published.
//
// A session ends (logout, logout-all, password change, refresh-token reuse,
// ban, account deletion) in Postgres first: the auth check reads the session
// with its user on every request, so a revoked session's access tokens are
// refused at once whatever happens here. Then one Revoked event names the
// ended sessions on Channel, so a process that holds something open for a
// session (a WebSocket) can close it without polling. Pub/sub delivers at
// most once: a subscriber that was disconnected must re-check its sessions
// with the auth query (db.Queries.SessionAuth) when it reconnects, and
// should re-check them now and then anyway (on its ping).
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Channel is the Redis pub/sub channel of revocations, one for all users.
const Channel = "lokiz:sessions:revoked"

// Revoked is the event published when sessions end.
type Revoked struct {
	UserID     uuid.UUID   `json:"user_id"`
	SessionIDs []uuid.UUID `json:"session_ids"`
	// Reason is one of the db.Revoke* values.
	Reason    string    `json:"reason"`
	RevokedAt time.Time `json:"revoked_at"`
}

// Publish announces ev on Channel. It does nothing when ev names no session.
func Publish(ctx context.Context, rdb redis.UniversalClient, ev Revoked) error {
	if len(ev.SessionIDs) == 0 {
		return nil
	}
	if ev.RevokedAt.IsZero() {
		ev.RevokedAt = time.Now().UTC()
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode revocation: %w", err)
	}
	if err := rdb.Publish(ctx, Channel, b).Err(); err != nil {
		return fmt.Errorf("publish revocation: %w", err)
	}
	return nil
}

// ParseRevoked decodes a message received on Channel.
func ParseRevoked(payload string) (Revoked, error) {
	var ev Revoked
	if err := json.Unmarshal([]byte(payload), &ev); err != nil {
		return Revoked{}, fmt.Errorf("decode revocation: %w", err)
	}
	return ev, nil
}

// NewRefreshToken returns a new opaque refresh token (32 random bytes,
// base64url) and the hash under which it is stored.
func NewRefreshToken() (token string, hash []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashRefreshToken(token)
}

// HashRefreshToken is the SHA-256 of a refresh token, its stored form. The
// token is 256 random bits, so a fast hash is enough: there is nothing to
// guess.
func HashRefreshToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

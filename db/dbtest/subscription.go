package dbtest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz/db"
)

// SetSubscription gives a user a tier until expiresAt (nil: no expiry), as
// if a subscription had been paid for, or had run out when expiresAt is in
// the past; it fails t on error.
func SetSubscription(t testing.TB, store *db.Store, user uuid.UUID, tier string, expiresAt *time.Time) {
	t.Helper()
	tag, err := store.Pool().Exec(context.Background(),
		"UPDATE users SET subscription_tier = $2, subscription_expires_at = $3 WHERE id = $1", user, tier, expiresAt)
	if err != nil {
		t.Fatalf("dbtest: set subscription of %s: %v", user, err)
	}
	if tag.RowsAffected() != 1 {
		t.Fatalf("dbtest: set subscription: no user %s", user)
	}
}

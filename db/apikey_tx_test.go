package db_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// testKey is a key's stored parts, made here: db must not import package
// apikey (depguard's "api" prefix rule covers it).
type testKey struct {
	LookupID string
	Hash     []byte
}

func newTestKey() testKey {
	id, secret := make([]byte, 8), make([]byte, 32)
	_, _ = rand.Read(id)
	_, _ = rand.Read(secret)
	h := sha256.Sum256(secret)
	return testKey{LookupID: hex.EncodeToString(id), Hash: h[:]}
}

func newKeyParams(user uuid.UUID, maxLive int) (db.NewAPIKeyParams, testKey) {
	k := newTestKey()
	return db.NewAPIKeyParams{UserID: user, Name: "ci", LookupID: k.LookupID, SecretHash: k.Hash, MaxLive: maxLive, Now: time.Now()}, k
}

func TestCreateAPIKeyNeedsEnterprise(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	p, _ := newKeyParams(u.ID, 5)
	_, err := store.CreateAPIKey(ctx, p)
	require.Equal(t, lokiz.EFORBIDDEN, lokiz.ErrorCode(err))
	require.Contains(t, lokiz.ErrorMessage(err), "enterprise")

	past := time.Now().Add(-time.Minute)
	dbtest.SetSubscription(t, store, u.ID, lokiz.TierEnterprise, &past)
	_, err = store.CreateAPIKey(ctx, p)
	require.Equal(t, lokiz.EFORBIDDEN, lokiz.ErrorCode(err), "an expired enterprise tier is free")

	dbtest.SetSubscription(t, store, u.ID, lokiz.TierEnterprise, nil)
	key, err := store.CreateAPIKey(ctx, p)
	require.NoError(t, err)
	require.Equal(t, u.ID, key.UserID)
}

// The cap of live keys holds when creations race: the user's row is locked
// while the keys are counted.
func TestCreateAPIKeyCapUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	dbtest.SetSubscription(t, store, u.ID, lokiz.TierEnterprise, nil)

	const maxLive, tries = 3, 10
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []db.APIKey
		refused int
	)
	for range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, _ := newKeyParams(u.ID, maxLive)
			k, err := store.CreateAPIKey(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "%v", err)
				refused++
				return
			}
			created = append(created, k)
		}()
	}
	wg.Wait()
	require.Len(t, created, maxLive)
	require.Equal(t, tries-maxLive, refused)

	// A revoked key frees its place.
	_, err := store.RevokeAPIKey(ctx, u.ID, created[0].ID)
	require.NoError(t, err)
	p, _ := newKeyParams(u.ID, maxLive)
	_, err = store.CreateAPIKey(ctx, p)
	require.NoError(t, err)
	keys, err := store.ListAPIKeys(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, keys, maxLive+1)
}

func TestRevokeAPIKeyOwnerOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	other := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	dbtest.SetSubscription(t, store, owner.ID, lokiz.TierEnterprise, nil)
	p, k := newKeyParams(owner.ID, 5)
	key, err := store.CreateAPIKey(ctx, p)
	require.NoError(t, err)

	_, err = store.RevokeAPIKey(ctx, other.ID, key.ID)
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
	_, err = store.AuthenticateAPIKey(ctx, k.LookupID, k.Hash, time.Now())
	require.NoError(t, err, "another user's revoke leaves the key working")

	first, err := store.RevokeAPIKey(ctx, owner.ID, key.ID)
	require.NoError(t, err)
	require.NotNil(t, first.RevokedAt)
	again, err := store.RevokeAPIKey(ctx, owner.ID, key.ID)
	require.NoError(t, err)
	require.True(t, first.RevokedAt.Equal(*again.RevokedAt), "a second revoke keeps the first time")

	_, err = store.AuthenticateAPIKey(ctx, k.LookupID, k.Hash, time.Now())
	require.Equal(t, "api_key_revoked", reasonOf(err))
}

func reasonOf(err error) string {
	if le, ok := err.(*lokiz.Error); ok {
		return le.Reason
	}
	return ""
}

func TestAuthenticateAPIKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	u := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	dbtest.SetSubscription(t, store, u.ID, lokiz.TierEnterprise, nil)
	p, k := newKeyParams(u.ID, 5)
	key, err := store.CreateAPIKey(ctx, p)
	require.NoError(t, err)
	require.Nil(t, key.LastUsedAt)

	got, err := store.AuthenticateAPIKey(ctx, k.LookupID, k.Hash, time.Now())
	require.NoError(t, err)
	require.Equal(t, db.APIKeyCaller{UserID: u.ID, Role: u.Role, KeyID: key.ID}, got)

	lastUsed := func() time.Time {
		keys, err := store.ListAPIKeys(ctx, u.ID)
		require.NoError(t, err)
		require.NotNil(t, keys[0].LastUsedAt)
		return *keys[0].LastUsedAt
	}
	first := lastUsed()
	_, err = store.AuthenticateAPIKey(ctx, k.LookupID, k.Hash, time.Now())
	require.NoError(t, err)
	require.True(t, first.Equal(lastUsed()), "a use within a minute writes nothing")
	_, err = store.AuthenticateAPIKey(ctx, k.LookupID, k.Hash, time.Now().Add(2*time.Minute))
	require.NoError(t, err)
	// The stored time is the database's now(), which the query compares.
	require.True(t, first.Equal(lastUsed()), "the write is guarded by the database's clock as well")

	// Wrong secret, unknown lookup id.
	other := newTestKey()
	_, err = store.AuthenticateAPIKey(ctx, k.LookupID, other.Hash, time.Now())
	require.Equal(t, "invalid_api_key", reasonOf(err))
	_, err = store.AuthenticateAPIKey(ctx, other.LookupID, other.Hash, time.Now())
	require.Equal(t, "invalid_api_key", reasonOf(err))

	// The tier ends at its expiry.
	soon := time.Now().Add(time.Hour)
	dbtest.SetSubscription(t, store, u.ID, lokiz.TierEnterprise, &soon)
	_, err = store.AuthenticateAPIKey(ctx, k.LookupID, k.Hash, time.Now())
	require.NoError(t, err)
	_, err = store.AuthenticateAPIKey(ctx, k.LookupID, k.Hash, soon)
	require.Equal(t, "api_access_ended", reasonOf(err))
	require.Equal(t, lokiz.EUNAUTHORIZED, lokiz.ErrorCode(err))
	dbtest.SetSubscription(t, store, u.ID, lokiz.TierPro, nil)
	_, err = store.AuthenticateAPIKey(ctx, k.LookupID, k.Hash, time.Now())
	require.Equal(t, "api_access_ended", reasonOf(err))

	// A banned owner.
	dbtest.SetSubscription(t, store, u.ID, lokiz.TierEnterprise, nil)
	_, _, err = store.AdminBanUser(ctx, db.Actor{}, db.BanParams{UserID: u.ID, Reason: "test"})
	require.NoError(t, err)
	_, err = store.AuthenticateAPIKey(ctx, k.LookupID, k.Hash, time.Now())
	require.Equal(t, "account_disabled", reasonOf(err))
}

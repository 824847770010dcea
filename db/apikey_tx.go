package db

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
)

// APIKeyListMax is the most keys ListAPIKeys returns, newest first.
const APIKeyListMax = 100

// NewAPIKeyParams describe a key being created: LookupID and SecretHash
// come from package apikey; MaxLive caps the user's keys not revoked.
type NewAPIKeyParams struct {
	UserID     uuid.UUID
	Name       string
	LookupID   string
	SecretHash []byte
	MaxLive    int
	Now        time.Time
}

// CreateAPIKey stores a new key of an active enterprise user, in one
// transaction that locks the user's row: the tier is read and the live keys
// are counted with no other creation of this user's keys in between, so
// the cap holds however many requests race. A user whose tier is not
// enterprise at p.Now is refused (forbidden, reason enterprise_required);
// one at the cap too (conflict, reason api_key_limit).
func (s *Store) CreateAPIKey(ctx context.Context, p NewAPIKeyParams) (APIKey, error) {
	var key APIKey
	err := s.InTx(ctx, func(q *Queries) error {
		u, err := q.APIKeyUserForUpdate(ctx, p.UserID)
		if err != nil {
			return err
		}
		if !u.IsActive {
			return lokiz.Errorf(lokiz.ENOTFOUND, "user not found")
		}
		if tier := lokiz.ActiveTier(u.SubscriptionTier, u.SubscriptionExpiresAt, p.Now); tier != lokiz.TierEnterprise {
			return &lokiz.Error{Code: lokiz.EFORBIDDEN, Reason: "enterprise_required",
				Message: fmt.Sprintf("API keys are part of the %s tier; your tier is %s", lokiz.TierEnterprise, tier)}
		}
		n, err := q.APIKeyCountLive(ctx, p.UserID)
		if err != nil {
			return err
		}
		if int(n) >= p.MaxLive {
			return &lokiz.Error{Code: lokiz.ECONFLICT, Reason: "api_key_limit",
				Message: fmt.Sprintf("You already have %d active API keys, the most allowed; revoke one first", n)}
		}
		key, err = q.APIKeyCreate(ctx, APIKeyCreateParams{
			ID: NewID(), UserID: p.UserID, Name: p.Name, LookupID: p.LookupID, SecretHash: p.SecretHash,
		})
		return err
	})
	if err != nil {
		return APIKey{}, fmt.Errorf("create api key: %w", translate(err, "user"))
	}
	return key, nil
}

// ListAPIKeys returns a user's keys, live and revoked, newest first, at
// most APIKeyListMax.
func (s *Store) ListAPIKeys(ctx context.Context, userID uuid.UUID) ([]APIKey, error) {
	keys, err := s.APIKeyListOfUser(ctx, APIKeyListOfUserParams{UserID: userID, Lim: APIKeyListMax})
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes a key of userID and returns it; revoking it again
// changes nothing. Another user's key, like a key that does not exist, is
// not_found.
func (s *Store) RevokeAPIKey(ctx context.Context, userID, keyID uuid.UUID) (APIKey, error) {
	key, err := s.APIKeyRevokeOwn(ctx, APIKeyRevokeOwnParams{ID: keyID, UserID: userID})
	if err != nil {
		return APIKey{}, fmt.Errorf("revoke api key: %w", translate(err, "API key"))
	}
	return key, nil
}

// APIKeyCaller is the user a key authenticates, and the key.
type APIKeyCaller struct {
	UserID uuid.UUID
	Role   string
	KeyID  uuid.UUID
}

// Refusals of a presented key (401).
var (
	errAPIKeyInvalid  = &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Message: "Invalid API key", Reason: "invalid_api_key"}
	errAPIKeyRevoked  = &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Message: "This API key has been revoked", Reason: "api_key_revoked"}
	errAPIKeyDisabled = &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Message: "This account has been disabled", Reason: "account_disabled"}
	errAPIKeyTier     = &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Reason: "api_access_ended",
		Message: "API access is part of the enterprise tier, which this key's account no longer has"}
)

// AuthenticateAPIKey resolves a presented key, found by its lookup id, to
// its user, with one query: secretHash (the SHA-256 of the presented
// token) must equal the stored hash, compared in constant time; the key
// must not be revoked; its user must be active and of the enterprise tier
// at now. Any failure is unauthorized, with a reason. A use is recorded in
// last_used_at at most once a minute: the write happens only when the
// stored time is older than that, so most requests only read.
func (s *Store) AuthenticateAPIKey(ctx context.Context, lookupID string, secretHash []byte, now time.Time) (APIKeyCaller, error) {
	row, err := s.APIKeyAuth(ctx, lookupID)
	if IsNotFound(err) {
		return APIKeyCaller{}, errAPIKeyInvalid
	} else if err != nil {
		return APIKeyCaller{}, fmt.Errorf("load api key: %w", err)
	}
	switch {
	case subtle.ConstantTimeCompare(row.SecretHash, secretHash) != 1:
		return APIKeyCaller{}, errAPIKeyInvalid
	case row.Revoked:
		return APIKeyCaller{}, errAPIKeyRevoked
	case !row.IsActive:
		return APIKeyCaller{}, errAPIKeyDisabled
	case lokiz.ActiveTier(row.SubscriptionTier, row.SubscriptionExpiresAt, now) != lokiz.TierEnterprise:
		return APIKeyCaller{}, errAPIKeyTier
	}
	if row.LastUsedAt == nil || now.Sub(*row.LastUsedAt) >= time.Minute {
		if err := s.APIKeyTouch(ctx, row.ID); err != nil {
			return APIKeyCaller{}, fmt.Errorf("record api key use: %w", err)
		}
	}
	return APIKeyCaller{UserID: row.UserID, Role: row.Role, KeyID: row.ID}, nil
}

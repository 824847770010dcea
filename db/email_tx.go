package db

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
)

// Purposes of email_tokens.
const (
	TokenVerifyEmail   = "verify_email"
	TokenPasswordReset = "password_reset"
)

// Refusals of a mailed token (400, with a reason clients may branch on).
var (
	ErrEmailTokenInvalid = &lokiz.Error{Code: lokiz.EINVALID, Message: "This link is not valid", Reason: "invalid_token"}
	ErrEmailTokenUsed    = &lokiz.Error{Code: lokiz.EINVALID, Message: "This link was already used", Reason: "token_used"}
	ErrEmailTokenExpired = &lokiz.Error{Code: lokiz.EINVALID, Message: "This link has expired", Reason: "token_expired"}
)

// CreateEmailToken stores the hash of a token mailed to email.
func (s *Store) CreateEmailToken(ctx context.Context, userID uuid.UUID, purpose, email string, hash []byte, expiresAt time.Time) error {
	err := s.EmailTokenCreate(ctx, EmailTokenCreateParams{
		ID: NewID(), UserID: userID, Purpose: purpose, TokenHash: hash, Email: email, ExpiresAt: expiresAt,
	})
	if err != nil {
		return fmt.Errorf("create email token: %w", err)
	}
	return nil
}

// useEmailToken finds the live token with hash and purpose, locks it and
// marks it used; a token that is unknown, used, expired, or for an address
// its user no longer has (or a user that is disabled) is refused.
func useEmailToken(ctx context.Context, q *Queries, hash []byte, purpose string) (EmailToken, User, error) {
	tok, err := q.EmailTokenForUpdate(ctx, EmailTokenForUpdateParams{TokenHash: hash, Purpose: purpose})
	if IsNotFound(err) {
		return tok, User{}, ErrEmailTokenInvalid
	} else if err != nil {
		return tok, User{}, err
	}
	switch {
	case tok.UsedAt != nil:
		return tok, User{}, ErrEmailTokenUsed
	case !tok.ExpiresAt.After(time.Now()):
		return tok, User{}, ErrEmailTokenExpired
	}
	// The user's row lock serializes verifications (and their welcome
	// grant) and resets of one user.
	u, err := q.UserLockForEmail(ctx, tok.UserID)
	if err != nil {
		return tok, User{}, err
	}
	if u.Email != tok.Email || !u.IsActive || u.DeletedAt != nil {
		return tok, User{}, ErrEmailTokenInvalid
	}
	if err := q.EmailTokenUse(ctx, tok.ID); err != nil {
		return tok, User{}, err
	}
	return tok, u, nil
}

// WelcomeKey is the ledger idempotency key of a user's welcome credits,
// granted at registration or, with WELCOME_CREDITS_AFTER_VERIFICATION, at
// the first verification: the one key makes the grant happen once whichever
// path (or both) runs, however often.
func WelcomeKey(userID uuid.UUID) string { return "signup:" + userID.String() }

// VerifyEmail uses a verification token: the user's address is marked
// verified and, with grantWelcome, the welcome credits are granted (once
// per user, by WelcomeKey). The token works once.
func (s *Store) VerifyEmail(ctx context.Context, hash []byte, grantWelcome bool) (User, error) {
	var (
		user   User
		refuse error
	)
	err := s.InTx(ctx, func(q *Queries) error {
		refuse = nil
		_, u, err := useEmailToken(ctx, q, hash, TokenVerifyEmail)
		if lokiz.ErrorCode(err) == lokiz.EINVALID {
			refuse = err
			return nil
		} else if err != nil {
			return err
		}
		if err := q.UserSetEmailVerified(ctx, UserSetEmailVerifiedParams{ID: u.ID, Email: u.Email}); err != nil {
			return err
		}
		if grantWelcome {
			if _, _, err := applyCredits(ctx, q, CreditChange{
				UserID: u.ID, Type: lokiz.CreditBonus, Delta: lokiz.InitialCredits,
				Description: "Welcome bonus", IdempotencyKey: WelcomeKey(u.ID),
			}); err != nil {
				return err
			}
		}
		user, err = q.UserGetByID(ctx, u.ID)
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("verify email: %w", err)
	}
	return user, refuse
}

// ResetPassword uses a reset token: the password becomes newHash, every
// other reset link of the user stops working and every session ends, in
// one transaction. It returns the user and the sessions it ended, for the
// revocation event.
func (s *Store) ResetPassword(ctx context.Context, hash []byte, newHash string) (User, []uuid.UUID, error) {
	var (
		user    User
		revoked []uuid.UUID
		refuse  error
	)
	err := s.InTx(ctx, func(q *Queries) error {
		refuse, revoked = nil, nil
		_, u, err := useEmailToken(ctx, q, hash, TokenPasswordReset)
		if lokiz.ErrorCode(err) == lokiz.EINVALID {
			refuse = err
			return nil
		} else if err != nil {
			return err
		}
		if _, err := q.UserSetPassword(ctx, UserSetPasswordParams{ID: u.ID, HashedPassword: newHash}); err != nil {
			return err
		}
		if err := q.EmailTokensUseAllOfUser(ctx, EmailTokensUseAllOfUserParams{UserID: u.ID, Purpose: TokenPasswordReset}); err != nil {
			return err
		}
		// A reset is a password change: the sessions end with that reason.
		reason := RevokePasswordChange
		if revoked, err = q.SessionRevokeAllOfUser(ctx, SessionRevokeAllOfUserParams{UserID: u.ID, Reason: &reason}); err != nil {
			return err
		}
		user = u
		return nil
	})
	if err != nil {
		return User{}, nil, fmt.Errorf("reset password: %w", err)
	}
	return user, revoked, refuse
}

package db

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
)

// Reasons a session ends (sessions.revoked_reason).
const (
	RevokeLogout         = "logout"
	RevokeLogoutAll      = "logout_all"
	RevokePasswordChange = "password_change"
	RevokeRefreshReuse   = "refresh_reuse"
	RevokeBan            = "ban"
	RevokeAccountDeleted = "account_deleted"
)

// NewSessionParams describe a session being opened: RefreshHash is the
// SHA-256 of its first refresh token, which stops working at ExpiresAt.
type NewSessionParams struct {
	UserID      uuid.UUID
	RefreshHash []byte
	ExpiresAt   time.Time
	UserAgent   string
	IP          string
}

func (p NewSessionParams) create(ctx context.Context, q *Queries) (Session, error) {
	var ua, ip *string
	if p.UserAgent != "" {
		s := truncate(p.UserAgent, 500)
		ua = &s
	}
	if p.IP != "" {
		s := truncate(p.IP, 100)
		ip = &s
	}
	return q.SessionCreate(ctx, SessionCreateParams{
		ID: NewID(), UserID: p.UserID, ExpiresAt: p.ExpiresAt, RefreshHash: p.RefreshHash, UserAgent: ua, Ip: ip,
	})
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// CreateSession opens a session (register, login).
func (s *Store) CreateSession(ctx context.Context, p NewSessionParams) (Session, error) {
	sess, err := p.create(ctx, s.Queries)
	if err != nil {
		return Session{}, fmt.Errorf("create session: %w", err)
	}
	return sess, nil
}

// RevokeSession ends one session of userID. It returns the ids it revoked:
// none when the session was already revoked or is not userID's.
func (s *Store) RevokeSession(ctx context.Context, userID, sessionID uuid.UUID, reason string) ([]uuid.UUID, error) {
	ids, err := s.SessionRevokeOwn(ctx, SessionRevokeOwnParams{ID: sessionID, UserID: userID, Reason: &reason})
	if err != nil {
		return nil, fmt.Errorf("revoke session: %w", err)
	}
	return ids, nil
}

// RevokeUserSessions ends every live session of a user, for logout-all and
// for an admin's ban (which sets is_active=false in the same breath). It
// returns the sessions it ended, for the revocation event.
func (s *Store) RevokeUserSessions(ctx context.Context, userID uuid.UUID, reason string) ([]uuid.UUID, error) {
	ids, err := s.SessionRevokeAllOfUser(ctx, SessionRevokeAllOfUserParams{UserID: userID, Reason: &reason})
	if err != nil {
		return nil, fmt.Errorf("revoke sessions of user: %w", err)
	}
	return ids, nil
}

// ChangePassword stores a new password hash, ends every session of the user
// (the one asking included) and opens a fresh one, in one transaction: no
// token issued before the change works after it.
func (s *Store) ChangePassword(ctx context.Context, userID uuid.UUID, newHash string, sess NewSessionParams) (User, Session, []uuid.UUID, error) {
	var (
		user    User
		created Session
		revoked []uuid.UUID
	)
	err := s.InTx(ctx, func(q *Queries) error {
		n, err := q.UserSetPassword(ctx, UserSetPasswordParams{ID: userID, HashedPassword: newHash})
		if err != nil {
			return err
		}
		if n == 0 {
			return lokiz.Errorf(lokiz.ENOTFOUND, "User not found")
		}
		reason := RevokePasswordChange
		if revoked, err = q.SessionRevokeAllOfUser(ctx, SessionRevokeAllOfUserParams{UserID: userID, Reason: &reason}); err != nil {
			return err
		}
		sess.UserID = userID
		if created, err = sess.create(ctx, q); err != nil {
			return err
		}
		user, err = q.UserGetByID(ctx, userID)
		return err
	})
	if err != nil {
		return User{}, Session{}, nil, fmt.Errorf("change password: %w", translate(err, "user"))
	}
	return user, created, revoked, nil
}

// Refresh outcomes that are not errors of the database.
var (
	errRefreshUnknown = &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Message: "Invalid refresh token", Reason: "invalid_refresh_token"}
	errRefreshExpired = &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Message: "Refresh token has expired", Reason: "refresh_token_expired"}
	errRefreshRevoked = &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Message: "This session has ended", Reason: "session_revoked"}
	errRefreshReused  = &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Message: "Refresh token was already used; the session has been ended", Reason: "refresh_token_reused"}
	errRefreshUser    = &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Message: "This account has been disabled", Reason: "account_disabled"}
)

// RefreshResult is a rotated session, or the session that a reused token
// revoked (Revoked non-empty, with the error).
type RefreshResult struct {
	Session Session
	User    User
	// Revoked names the session a reused refresh token ended, and
	// RevokedUserID its user, for the revocation event.
	Revoked       []uuid.UUID
	RevokedUserID uuid.UUID
}

// RotateRefresh exchanges the refresh token hashing to oldHash for the one
// hashing to newHash, valid until expiresAt. The old hash is recorded as
// used; presenting a used hash again revokes its session (whoever holds the
// other copy of the token, the session is compromised) and is refused. An
// expired, revoked or unknown token, or a disabled user, is refused (401).
func (s *Store) RotateRefresh(ctx context.Context, oldHash, newHash []byte, expiresAt time.Time) (RefreshResult, error) {
	var (
		res    RefreshResult
		refuse error
	)
	err := s.InTx(ctx, func(q *Queries) error {
		res, refuse = RefreshResult{}, nil
		sess, err := q.SessionByRefreshForUpdate(ctx, oldHash)
		if IsNotFound(err) {
			sid, err := q.SessionByUsedRefresh(ctx, oldHash)
			if IsNotFound(err) {
				refuse = errRefreshUnknown
				return nil
			} else if err != nil {
				return err
			}
			reason := RevokeRefreshReuse
			rows, err := q.SessionRevoke(ctx, SessionRevokeParams{ID: sid, Reason: &reason})
			if err != nil {
				return err
			}
			for _, r := range rows {
				res.Revoked = append(res.Revoked, r.ID)
				res.RevokedUserID = r.UserID
			}
			refuse = errRefreshReused
			return nil
		} else if err != nil {
			return err
		}
		switch {
		case sess.RevokedAt != nil:
			refuse = errRefreshRevoked
			return nil
		case !sess.ExpiresAt.After(time.Now()):
			refuse = errRefreshExpired
			return nil
		}
		user, err := q.UserGetByID(ctx, sess.UserID)
		if err != nil {
			return err
		}
		if !user.IsActive {
			refuse = errRefreshUser
			return nil
		}
		if err := q.SessionRefreshUsedAdd(ctx, SessionRefreshUsedAddParams{RefreshHash: oldHash, SessionID: sess.ID}); err != nil {
			return err
		}
		rotated, err := q.SessionRotate(ctx, SessionRotateParams{ID: sess.ID, NewHash: newHash, ExpiresAt: expiresAt})
		if err != nil {
			return err
		}
		res.Session, res.User = rotated, user
		return nil
	})
	if err != nil {
		return RefreshResult{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	return res, refuse
}

// DeleteAccount is the synchronous part of an account deletion, in one
// transaction: the user is marked deleted and inactive, with its username
// and email freed and its profile text cleared (db/queries/account.sql,
// UserMarkDeleted); every session ends; every video is soft-deleted, so it
// leaves feeds, search, profiles and inboxes at once. Comments and likes
// disappear from reads with the inactive author. The account:erase task
// erases the rest. A second call finds nothing to delete: not_found.
func (s *Store) DeleteAccount(ctx context.Context, userID uuid.UUID) (revoked []uuid.UUID, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		if _, err := q.UserMarkDeleted(ctx, userID); err != nil {
			return err
		}
		reason := RevokeAccountDeleted
		if revoked, err = q.SessionRevokeAllOfUser(ctx, SessionRevokeAllOfUserParams{UserID: userID, Reason: &reason}); err != nil {
			return err
		}
		_, err := q.VideosSoftDeleteOfUser(ctx, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete account: %w", translate(err, "user"))
	}
	return revoked, nil
}

package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
)

// Audit actions (admin_audit_log.action).
const (
	AuditAdminCreate    = "admin.create"
	AuditRoleGrant      = "role.grant"
	AuditRoleRevoke     = "role.revoke"
	AuditUserBan        = "user.ban"
	AuditUserUnban      = "user.unban"
	AuditVideoRemove    = "video.remove"
	AuditVideoRestore   = "video.restore"
	AuditCommentRemove  = "comment.remove"
	AuditCommentRestore = "comment.restore"
	AuditReportReview   = "report.review"
	AuditReportResolve  = "report.resolve"
	AuditReportDismiss  = "report.dismiss"
)

// AuditActions are the actions the audit log holds.
var AuditActions = []string{AuditAdminCreate, AuditRoleGrant, AuditRoleRevoke,
	AuditUserBan, AuditUserUnban, AuditVideoRemove, AuditVideoRestore,
	AuditCommentRemove, AuditCommentRestore, AuditReportReview, AuditReportResolve, AuditReportDismiss}

// Audit target types (admin_audit_log.target_type).
const (
	AuditTargetUser    = "user"
	AuditTargetVideo   = "video"
	AuditTargetComment = "comment"
	AuditTargetReport  = "report"
)

// AuditTargetTypes are the target types the log accepts (its CHECK).
var AuditTargetTypes = []string{AuditTargetUser, AuditTargetVideo, AuditTargetComment, AuditTargetReport}

// Actor is who takes an admin action: AdminID is nil for the command line
// (`lokiz admin ...`) and for the scheduler's lift of an expired ban.
type Actor struct {
	AdminID   *uuid.UUID
	RequestID string
}

// AuditEntry is one admin action, written by audit in the transaction of
// the action itself, so there is no action without its row and no row
// without its action.
type AuditEntry struct {
	Action     string
	TargetType string
	TargetID   uuid.UUID
	Reason     string
	Before     any
	After      any
}

func audit(ctx context.Context, q *Queries, a Actor, e AuditEntry) error {
	raw := func(v any) (json.RawMessage, error) {
		if v == nil {
			return nil, nil
		}
		return json.Marshal(v)
	}
	before, err := raw(e.Before)
	if err != nil {
		return fmt.Errorf("audit before: %w", err)
	}
	after, err := raw(e.After)
	if err != nil {
		return fmt.Errorf("audit after: %w", err)
	}
	var reason, rid *string
	if e.Reason != "" {
		reason = &e.Reason
	}
	if a.RequestID != "" {
		rid = &a.RequestID
	}
	_, err = q.AuditInsert(ctx, AuditInsertParams{
		ID: NewID(), AdminID: a.AdminID, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID,
		Reason: reason, Before: before, After: after, RequestID: rid,
	})
	if err != nil {
		return fmt.Errorf("write audit row: %w", err)
	}
	return nil
}

// CreateAdmin registers an account with the admin role and writes its
// audit row (admin.create, actor the command line) in the same transaction.
func (s *Store) CreateAdmin(ctx context.Context, p RegisterUserParams) (User, error) {
	p.Role = lokiz.RoleAdmin
	return s.registerUser(ctx, p, func(q *Queries, u User) error {
		return audit(ctx, q, Actor{}, AuditEntry{
			Action: AuditAdminCreate, TargetType: AuditTargetUser, TargetID: u.ID,
			After: map[string]any{"username": u.Username, "role": u.Role},
		})
	})
}

// SetRoleByUsername gives the user role (lokiz.RoleAdmin or RoleUser) from
// the command line, with its audit row (role.grant or role.revoke). It
// reports whether the role changed; an unchanged role writes no row. A
// deleted or unknown user is not_found.
func (s *Store) SetRoleByUsername(ctx context.Context, username, role string) (User, bool, error) {
	if !lokiz.ValidRole(role) {
		return User{}, false, lokiz.Errorf(lokiz.EINVALID, "unknown role %q", role)
	}
	var (
		user    User
		changed bool
	)
	err := s.InTx(ctx, func(q *Queries) error {
		u, err := q.UserGetByUsernameForAdmin(ctx, username)
		if err != nil {
			return err
		}
		if u.Role == role {
			user = u
			return nil
		}
		if _, err := q.UserSetRole(ctx, UserSetRoleParams{ID: u.ID, Role: role}); err != nil {
			return err
		}
		action := AuditRoleGrant
		if role != lokiz.RoleAdmin {
			action = AuditRoleRevoke
		}
		before := u.Role
		u.Role, user, changed = role, u, true
		user.Role = role
		return audit(ctx, q, Actor{}, AuditEntry{
			Action: action, TargetType: AuditTargetUser, TargetID: u.ID,
			Before: map[string]any{"role": before}, After: map[string]any{"role": role},
		})
	})
	if err != nil {
		return User{}, false, fmt.Errorf("set role: %w", translate(err, "user"))
	}
	return user, changed, nil
}

// banState is a user's ban as the audit log records it.
type banState struct {
	IsActive    bool       `json:"is_active"`
	BannedAt    *time.Time `json:"banned_at"`
	BanReason   *string    `json:"ban_reason"`
	BannedUntil *time.Time `json:"banned_until"`
}

func banStateOf(u User) banState {
	return banState{IsActive: u.IsActive, BannedAt: u.BannedAt, BanReason: u.BanReason, BannedUntil: u.BannedUntil}
}

// Errors of bans, each with a reason clients may branch on.
var (
	ErrBanSelf       = &lokiz.Error{Code: lokiz.EFORBIDDEN, Reason: "cannot_ban_self", Message: "Administrators cannot ban themselves"}
	ErrBanAdmin      = &lokiz.Error{Code: lokiz.EFORBIDDEN, Reason: "cannot_ban_admin", Message: "An administrator cannot be banned; revoke the role first (lokiz admin revoke)"}
	ErrAlreadyBanned = &lokiz.Error{Code: lokiz.ECONFLICT, Reason: "already_banned", Message: "The user is already banned"}
	ErrNotBanned     = &lokiz.Error{Code: lokiz.ECONFLICT, Reason: "not_banned", Message: "The user is not banned"}
)

// BanParams describe a ban: Until nil bans without end.
type BanParams struct {
	UserID uuid.UUID
	Reason string
	Until  *time.Time
}

// AdminBanUser bans a user: is_active false (so the one visibility rule
// hides their videos, comments and likes at once), the ban's description,
// every session ended, and the audit row, in one transaction. It returns
// the user after the ban and the sessions it ended, for the revocation
// event. An admin cannot ban themselves nor another admin (the role is
// revoked first, on the command line).
func (s *Store) AdminBanUser(ctx context.Context, a Actor, p BanParams) (User, []uuid.UUID, error) {
	var (
		user    User
		revoked []uuid.UUID
	)
	err := s.InTx(ctx, func(q *Queries) error {
		var err error
		user, revoked, err = banUserTx(ctx, q, a, p)
		return err
	})
	if err != nil {
		return User{}, nil, fmt.Errorf("ban user: %w", translate(err, "user"))
	}
	return user, revoked, nil
}

// banUserTx is AdminBanUser inside the caller's transaction (a report's
// resolution bans through it too).
func banUserTx(ctx context.Context, q *Queries, a Actor, p BanParams) (User, []uuid.UUID, error) {
	if a.AdminID != nil && *a.AdminID == p.UserID {
		return User{}, nil, ErrBanSelf
	}
	// UserSetActive first: it locks the user's videos, then the user's
	// row, the order the videos' triggers need. The row read after it
	// is locked by this transaction, so the checks below see the
	// state the ban replaces; any failure rolls everything back.
	n, err := q.UserSetActive(ctx, UserSetActiveParams{ID: p.UserID, IsActive: false})
	if err != nil {
		return User{}, nil, err
	}
	if n == 0 {
		return User{}, nil, lokiz.Errorf(lokiz.ENOTFOUND, "User not found")
	}
	u, err := q.UserGetByID(ctx, p.UserID)
	if err != nil {
		return User{}, nil, err
	}
	switch {
	case u.DeletedAt != nil:
		return User{}, nil, lokiz.Errorf(lokiz.ENOTFOUND, "User not found")
	case u.Role == lokiz.RoleAdmin:
		return User{}, nil, ErrBanAdmin
	case u.BannedAt != nil:
		return User{}, nil, ErrAlreadyBanned
	}
	before := banStateOf(u)
	before.IsActive = true // not deleted and not banned: it was active
	now := time.Now()
	reason := p.Reason
	if err := q.UserSetBan(ctx, UserSetBanParams{ID: u.ID, BannedAt: &now, BanReason: &reason, BannedUntil: p.Until}); err != nil {
		return User{}, nil, err
	}
	rr := RevokeBan
	revoked, err := q.SessionRevokeAllOfUser(ctx, SessionRevokeAllOfUserParams{UserID: u.ID, Reason: &rr})
	if err != nil {
		return User{}, nil, err
	}
	user, err := q.UserGetByID(ctx, u.ID)
	if err != nil {
		return User{}, nil, err
	}
	return user, revoked, audit(ctx, q, a, AuditEntry{
		Action: AuditUserBan, TargetType: AuditTargetUser, TargetID: u.ID, Reason: p.Reason,
		Before: before, After: banStateOf(user),
	})
}

// AdminUnbanUser lifts a ban: is_active true (the user's content comes back
// everywhere), the ban's description cleared, and the audit row, in one
// transaction. A user who is not banned is a conflict; a deleted one is
// not_found (an unban never revives an erased account).
func (s *Store) AdminUnbanUser(ctx context.Context, a Actor, userID uuid.UUID, reason string) (User, error) {
	user, err := s.unban(ctx, a, userID, reason, nil)
	if err != nil {
		return User{}, fmt.Errorf("unban user: %w", translate(err, "user"))
	}
	return user, nil
}

// errBanNotExpired stops the lift of a ban that changed since it was found.
var errBanNotExpired = errors.New("ban not expired")

func (s *Store) unban(ctx context.Context, a Actor, userID uuid.UUID, reason string, expiredAt *time.Time) (User, error) {
	var user User
	err := s.InTx(ctx, func(q *Queries) error {
		n, err := q.UserSetActive(ctx, UserSetActiveParams{ID: userID, IsActive: true})
		if err != nil {
			return err
		}
		if n == 0 {
			return lokiz.Errorf(lokiz.ENOTFOUND, "User not found")
		}
		u, err := q.UserGetByID(ctx, userID)
		if err != nil {
			return err
		}
		switch {
		case u.DeletedAt != nil:
			return lokiz.Errorf(lokiz.ENOTFOUND, "User not found")
		case u.BannedAt == nil:
			return ErrNotBanned
		case expiredAt != nil && (u.BannedUntil == nil || u.BannedUntil.After(*expiredAt)):
			return errBanNotExpired
		}
		before := banStateOf(u)
		before.IsActive = false
		if err := q.UserSetBan(ctx, UserSetBanParams{ID: u.ID}); err != nil {
			return err
		}
		if user, err = q.UserGetByID(ctx, u.ID); err != nil {
			return err
		}
		return audit(ctx, q, a, AuditEntry{
			Action: AuditUserUnban, TargetType: AuditTargetUser, TargetID: u.ID, Reason: reason,
			Before: before, After: banStateOf(user),
		})
	})
	return user, err
}

// LiftExpiredBan lifts the ban of userID when its banned_until is at or
// before now (the login of a user whose timed ban ended, and the
// scheduler's sweep), with an audit row whose actor is none. It reports
// whether it lifted; a ban without end, not yet over, or already lifted is
// left as it is.
func (s *Store) LiftExpiredBan(ctx context.Context, userID uuid.UUID, now time.Time) (bool, error) {
	_, err := s.unban(ctx, Actor{}, userID, "ban expired", &now)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, errBanNotExpired), errors.Is(err, ErrNotBanned), lokiz.ErrorCode(err) == lokiz.ENOTFOUND:
		return false, nil
	default:
		return false, fmt.Errorf("lift expired ban: %w", err)
	}
}

// LiftExpiredBans lifts every timed ban over at now, at most limit, and
// returns how many it lifted.
func (s *Store) LiftExpiredBans(ctx context.Context, now time.Time, limit int32) (int, error) {
	ids, err := s.UsersBanExpired(ctx, UsersBanExpiredParams{Now: &now, Lim: limit})
	if err != nil {
		return 0, fmt.Errorf("find expired bans: %w", err)
	}
	n := 0
	for _, id := range ids {
		ok, err := s.LiftExpiredBan(ctx, id, now)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// Errors of removals.
var (
	ErrAlreadyRemoved = &lokiz.Error{Code: lokiz.ECONFLICT, Reason: "already_removed", Message: "The video is already removed"}
	ErrNotRemoved     = &lokiz.Error{Code: lokiz.ECONFLICT, Reason: "not_removed", Message: "The video is not removed"}
	ErrNotRemovable   = &lokiz.Error{Code: lokiz.ECONFLICT, Reason: "video_not_completed",
		Message: "Only a completed video can be removed; others are seen by their owner only"}
)

type videoModState struct {
	Status    string     `json:"status"`
	RemovedAt *time.Time `json:"removed_at"`
}

// AdminRemoveVideo removes a completed video: status removed and
// removed_at (video_listed then hides it from every list, count and
// search, and video_visible from everyone but its owner), the owner's
// system notification carrying the reason, and the audit row, in one
// transaction. It returns the video and the notification's id, for the
// push (nil only if the insert met an identical stored row). A deleted or
// unknown video is not_found.
func (s *Store) AdminRemoveVideo(ctx context.Context, a Actor, videoID uuid.UUID, reason string) (Video, *uuid.UUID, error) {
	v, note, err := s.moderateVideo(ctx, a, videoID, reason, true)
	if err != nil {
		return Video{}, nil, fmt.Errorf("remove video: %w", translate(err, "video"))
	}
	return v, note, nil
}

// AdminRestoreVideo reverses a removal: the video is completed again, with
// the audit row, in one transaction.
func (s *Store) AdminRestoreVideo(ctx context.Context, a Actor, videoID uuid.UUID, reason string) (Video, error) {
	v, _, err := s.moderateVideo(ctx, a, videoID, reason, false)
	if err != nil {
		return Video{}, fmt.Errorf("restore video: %w", translate(err, "video"))
	}
	return v, nil
}

func (s *Store) moderateVideo(ctx context.Context, a Actor, videoID uuid.UUID, reason string, remove bool) (Video, *uuid.UUID, error) {
	var (
		out  Video
		note *uuid.UUID
	)
	err := s.InTx(ctx, func(q *Queries) error {
		var err error
		out, note, err = moderateVideoTx(ctx, q, a, videoID, reason, remove)
		return err
	})
	return out, note, err
}

// moderateVideoTx removes or restores a video inside the caller's
// transaction (a report's resolution removes through it too); see
// AdminRemoveVideo.
func moderateVideoTx(ctx context.Context, q *Queries, a Actor, videoID uuid.UUID, reason string, remove bool) (Video, *uuid.UUID, error) {
	v, err := q.VideoGetForModeration(ctx, videoID)
	if err != nil {
		return Video{}, nil, err
	}
	before := videoModState{Status: v.Status, RemovedAt: v.RemovedAt}
	action, status := AuditVideoRestore, lokiz.VideoCompleted
	var removedAt *time.Time
	switch {
	case remove && v.Status == lokiz.VideoRemoved:
		return Video{}, nil, ErrAlreadyRemoved
	case remove && v.Status != lokiz.VideoCompleted:
		return Video{}, nil, ErrNotRemovable
	case !remove && v.Status != lokiz.VideoRemoved:
		return Video{}, nil, ErrNotRemoved
	case remove:
		now := time.Now()
		action, status, removedAt = AuditVideoRemove, lokiz.VideoRemoved, &now
	}
	if err := q.VideoSetRemoved(ctx, VideoSetRemovedParams{ID: v.ID, Status: status, RemovedAt: removedAt}); err != nil {
		return Video{}, nil, err
	}
	var note *uuid.UUID
	if remove {
		msg := "Your video was removed by a moderator: " + reason
		if note, err = insertSystemNote(ctx, q, v.UserID, &v.ID, msg); err != nil {
			return Video{}, nil, err
		}
	}
	out, err := q.VideoGetByID(ctx, v.ID)
	if err != nil {
		return Video{}, nil, err
	}
	return out, note, audit(ctx, q, a, AuditEntry{
		Action: action, TargetType: AuditTargetVideo, TargetID: v.ID, Reason: reason,
		Before: before, After: videoModState{Status: out.Status, RemovedAt: out.RemovedAt},
	})
}

// insertSystemNote stores a system notification for user in the caller's
// transaction and returns its id, for the push once committed (nil only if
// the insert met an identical stored row).
func insertSystemNote(ctx context.Context, q *Queries, user uuid.UUID, video *uuid.UUID, msg string) (*uuid.UUID, error) {
	id, err := q.NotificationInsert(ctx, NotificationInsertParams{
		ID: NewID(), UserID: user, Type: NotificationSystem, VideoID: video, Message: &msg,
	})
	switch {
	case err == nil:
		return &id, nil
	case IsNotFound(err): // no row: an identical notification is stored
		return nil, nil
	default:
		return nil, err
	}
}

// WithVideoMediaLock calls fn with video id as it is now, while no other
// WithVideoMediaLock of the same video runs (a transaction-scoped advisory
// lock), so the moves of one video's objects, which follow the video's
// state (worker/video_media.go), run one at a time and each after reading
// that state. No row is locked: a removal, restore or ban committed while
// fn runs is not blocked, and its own task runs after this one. A video
// that does not exist is not_found.
func (s *Store) WithVideoMediaLock(ctx context.Context, id uuid.UUID, fn func(v Video) error) error {
	return s.InTx(ctx, func(q *Queries) error {
		if err := q.VideoMediaLock(ctx, id); err != nil {
			return fmt.Errorf("lock media of video %s: %w", id, err)
		}
		v, err := q.VideoGetByID(ctx, id)
		if err != nil {
			return fmt.Errorf("load video %s: %w", id, translate(err, "video"))
		}
		return fn(v)
	})
}

// MediaWithheld reports whether v's media must not be served: v was
// removed by a moderator, or its author is banned (VideoMediaWithheld in
// SQL, for the local storage handler's lookup).
func (v Video) MediaWithheld() bool {
	return v.Status == lokiz.VideoRemoved || !v.AuthorActive
}

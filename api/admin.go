package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/notification"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
)

// requireAdmin guards /v1/admin/*. It runs after requireSession, which
// answers 401 to an anonymous caller and 403 to an API key; any signed-in
// user who is not an admin gets 403 here. The role is read with the session
// on every request (authenticate), so a revoked role takes effect on the
// next request, not when the access token expires. No route changes a
// role: admins are made and unmade by `lokiz admin` on the command line.
func (s *Server) requireAdmin(c *gin.Context) {
	if mustUser(c).Role != lokiz.RoleAdmin {
		s.writeError(c, &lokiz.Error{Code: lokiz.EFORBIDDEN, Reason: "admin_only",
			Message: "Only administrators may use this route"})
		return
	}
	c.Next()
}

// actor is the admin taking an action in this request, for the audit row.
func actor(c *gin.Context) db.Actor {
	id := mustUser(c).ID
	return db.Actor{AdminID: &id, RequestID: requestID(c)}
}

// maxReasonLen bounds the reason of an admin action.
const maxReasonLen = 1000

func validateReason(reason *string) []lokiz.FieldError {
	*reason = strings.TrimSpace(*reason)
	switch n := len([]rune(*reason)); {
	case n == 0:
		return []lokiz.FieldError{fieldErr("is required", "body", "reason")}
	case n > maxReasonLen:
		return []lokiz.FieldError{fieldErr("must be at most 1000 characters", "body", "reason")}
	}
	return nil
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

func (r *reasonRequest) validate() []lokiz.FieldError { return validateReason(&r.Reason) }

type banRequest struct {
	Reason string     `json:"reason"`
	Until  *time.Time `json:"until"`
}

func (r *banRequest) validate() []lokiz.FieldError {
	errs := validateReason(&r.Reason)
	if r.Until != nil && !r.Until.After(time.Now()) {
		errs = append(errs, fieldErr("must be in the future", "body", "until"))
	}
	return errs
}

// banStateResponse is a user's standing after a ban or an unban.
type banStateResponse struct {
	ID          uuid.UUID  `json:"id"`
	Username    string     `json:"username"`
	IsActive    bool       `json:"is_active"`
	BannedAt    *time.Time `json:"banned_at"`
	BanReason   *string    `json:"ban_reason"`
	BannedUntil *time.Time `json:"banned_until"`
}

func banStateOf(u db.User) banStateResponse {
	return banStateResponse{ID: u.ID, Username: u.Username, IsActive: u.IsActive,
		BannedAt: u.BannedAt, BanReason: u.BanReason, BannedUntil: u.BannedUntil}
}

// banUser bans a user (admins only): their content leaves every read at
// once (the one visibility rule), their sessions end in the same
// transaction, and their open sockets are told to close.
func (s *Server) banUser(c *gin.Context) {
	id, err := pathUUID(c, "id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	var req banRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	u, revoked, err := s.store.AdminBanUser(ctx, actor(c), db.BanParams{UserID: id, Reason: req.Reason, Until: req.Until})
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.publishRevoked(ctx, u.ID, revoked, db.RevokeBan)
	s.syncUserMedia(ctx, u)
	c.JSON(http.StatusOK, banStateOf(u))
}

// unbanUser lifts a ban (admins only).
func (s *Server) unbanUser(c *gin.Context) {
	id, err := pathUUID(c, "id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	var req reasonRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	u, err := s.store.AdminUnbanUser(c.Request.Context(), actor(c), id, req.Reason)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.syncUserMedia(c.Request.Context(), u)
	c.JSON(http.StatusOK, banStateOf(u))
}

type moderationStateResponse struct {
	ID        uuid.UUID  `json:"id"`
	Status    string     `json:"status"`
	RemovedAt *time.Time `json:"removed_at"`
}

// removeVideo removes a video (admins only); the owner's notification is
// pushed to their open sockets once the removal is committed.
func (s *Server) removeVideo(c *gin.Context) {
	s.moderateVideo(c, func(ctx context.Context, a db.Actor, id uuid.UUID, reason string) (db.Video, error) {
		v, note, err := s.store.AdminRemoveVideo(ctx, a, id, reason)
		if err == nil && note != nil {
			s.pushNotification(c, v.UserID, *note)
		}
		return v, err
	})
}

// restoreVideo reverses a removal (admins only).
func (s *Server) restoreVideo(c *gin.Context) { s.moderateVideo(c, s.store.AdminRestoreVideo) }

func (s *Server) moderateVideo(c *gin.Context, act func(context.Context, db.Actor, uuid.UUID, string) (db.Video, error)) {
	id, err := pathUUID(c, "id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	var req reasonRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	v, err := act(c.Request.Context(), actor(c), id, req.Reason)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.syncVideoMedia(c.Request.Context(), v)
	c.JSON(http.StatusOK, moderationStateResponse{ID: v.ID, Status: v.Status, RemovedAt: v.RemovedAt})
}

// syncVideoMedia and syncUserMedia enqueue the move of a video's objects
// (or of every video of a user) to where its state now says, after a
// removal, restore, ban or lift is committed: on S3, the bucket itself then
// refuses every URL issued for a withheld object (worker/video_media.go).
// The local backend also refuses them at once, by lookup
// (withholdRemovedMedia). The change is committed and answered whatever
// happens here: a failed enqueue is logged as an error, and the objects
// stay where they are until the next change of the video or user.
func (s *Server) syncVideoMedia(ctx context.Context, v db.Video) {
	if err := s.tasks.Enqueue(ctx, tasks.NewVideoMediaSyncTask(v.ID, v.UpdatedAt)); err != nil {
		s.log.ErrorContext(ctx, "media sync not enqueued", "video_id", v.ID, "error", err)
	}
}

func (s *Server) syncUserMedia(ctx context.Context, u db.User) {
	if err := s.tasks.Enqueue(ctx, tasks.NewUserMediaSyncTask(u.ID, u.UpdatedAt)); err != nil {
		s.log.ErrorContext(ctx, "media sync not enqueued", "user_id", u.ID, "error", err)
	}
}

// pushNotification sends a stored notification to its recipient's open
// sockets. The row is the record; like the worker's push, this is at most
// once, so a failure is logged, not answered.
func (s *Server) pushNotification(c *gin.Context, recipient, id uuid.UUID) {
	ctx := context.WithoutCancel(c.Request.Context())
	v, err := s.store.NotificationGetForUser(ctx, db.NotificationGetForUserParams{ID: id, UserID: recipient})
	if err == nil {
		var counts db.NotificationCountsByUserRow
		if counts, err = s.store.NotificationCountsByUser(ctx, recipient); err == nil {
			err = notification.Publish(ctx, s.rdb, recipient, s.renderNotification(c, v), counts.Unread)
		}
	}
	if err != nil {
		s.log.WarnContext(ctx, "push notification", "error", err, "user_id", recipient, "notification_id", id)
	}
}

type auditEntryResponse struct {
	ID         uuid.UUID       `json:"id"`
	AdminID    *uuid.UUID      `json:"admin_id"`
	Action     string          `json:"action"`
	TargetType string          `json:"target_type"`
	TargetID   uuid.UUID       `json:"target_id"`
	Reason     *string         `json:"reason"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
	RequestID  *string         `json:"request_id"`
	CreatedAt  time.Time       `json:"created_at"`
}

// auditFilter reads the audit log's filters: admin_id and target_id
// (UUIDs), action and target_type (known words), and the time range [from,
// to) (RFC 3339, to after from).
func auditFilter(c *gin.Context) (db.AuditListParams, []lokiz.FieldError) {
	var params db.AuditListParams
	var errs []lokiz.FieldError
	uuidParam := func(name string) *uuid.UUID {
		raw := c.Query(name)
		if raw == "" {
			return nil
		}
		id, err := uuid.Parse(raw)
		if err != nil {
			errs = append(errs, fieldErr("must be a UUID", "query", name))
			return nil
		}
		return &id
	}
	wordParam := func(name string, allowed []string) *string {
		raw := c.Query(name)
		if raw == "" {
			return nil
		}
		if !slices.Contains(allowed, raw) {
			errs = append(errs, fieldErr(oneOf(allowed), "query", name))
			return nil
		}
		return &raw
	}
	params.AdminID, params.TargetID = uuidParam("admin_id"), uuidParam("target_id")
	params.FromAt, params.ToAt = timeParam(c, "from", &errs), timeParam(c, "to", &errs)
	params.Action = wordParam("action", db.AuditActions)
	params.TargetType = wordParam("target_type", db.AuditTargetTypes)
	if params.FromAt != nil && params.ToAt != nil && !params.ToAt.After(*params.FromAt) {
		errs = append(errs, fieldErr("must be after from", "query", "to"))
	}
	return params, errs
}

// listAudit pages the audit log, newest first (admins only), filtered by
// admin_id, action, target_type, target_id and a [from, to) time range.
func (s *Server) listAudit(c *gin.Context) {
	p, err := parsePage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	params, errs := auditFilter(c)
	params.CursorAt, params.CursorID, params.Lim = p.cursorAt(), p.cursorID(), int32(p.Size+1)
	if len(errs) > 0 {
		s.writeError(c, lokiz.ValidationError(errs...))
		return
	}
	rows, err := s.store.AuditList(c.Request.Context(), params)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, next, more := pageOf(rows, p.Size, func(r db.AdminAuditLog) cursor { return cursor{At: r.CreatedAt, ID: r.ID} })
	out := make([]auditEntryResponse, len(rows))
	for i, r := range rows {
		out[i] = auditEntryResponse{ID: r.ID, AdminID: r.AdminID, Action: r.Action, TargetType: r.TargetType,
			TargetID: r.TargetID, Reason: r.Reason, Before: r.Before, After: r.After, RequestID: r.RequestID, CreatedAt: r.CreatedAt}
	}
	c.JSON(http.StatusOK, gin.H{"entries": out, "next_cursor": next, "has_more": more, "page_size": p.Size})
}

// withholdRemovedMedia wraps the storage handler: a GET or HEAD of an
// object of a removed video, or of a banned author's video, is 404, so a
// media URL handed out before the removal stops working at once. Only the
// keys derived from a video's id are looked up (one primary-key read).
// The video:media_sync that the change enqueues (syncVideoMedia, syncUserMedia) then moves the
// objects themselves, as it does on S3, where no request passes here.
func (s *Server) withholdRemovedMedia(next http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
			if id, ok := storage.VideoIDOfKey(strings.TrimPrefix(c.Param("key"), "/")); ok {
				withheld, err := s.store.VideoMediaWithheld(c.Request.Context(), id)
				if err != nil && !db.IsNotFound(err) {
					s.writeError(c, err)
					return
				}
				if withheld {
					s.writeError(c, lokiz.Errorf(lokiz.ENOTFOUND, "Not found"))
					return
				}
			}
		}
		next.ServeHTTP(c.Writer, c.Request)
	}
}

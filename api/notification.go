package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/notification"
)

// notificationMaxBatch is the most notifications one mark-read call names.
const notificationMaxBatch = 100

// notificationListResponse is NotificationListResponse plus has_more.
type notificationListResponse struct {
	Notifications []notification.Notification `json:"notifications"`
	Total         int64                       `json:"total"`
	UnreadCount   int64                       `json:"unread_count"`
	Page          int                         `json:"page"`
	PageSize      int                         `json:"page_size"`
	HasMore       bool                        `json:"has_more"`
}

type unreadCountResponse struct {
	UnreadCount int64 `json:"unread_count"`
}

type markReadResponse struct {
	Updated     int64 `json:"updated"`
	UnreadCount int64 `json:"unread_count"`
}

// renderNotification renders a stored notification with this api's media
// URLs. The video's thumbnail gets a private URL: the video may be private
// (an AI result), and a notification is for its recipient only.
func (s *Server) renderNotification(c *gin.Context, v db.NotificationView) notification.Notification {
	ctx := c.Request.Context()
	return notification.Render(v, func(key *string) *string {
		if key != nil && v.VideoThumbnailKey != nil && *key == *v.VideoThumbnailKey {
			return s.privateMediaURL(ctx, key)
		}
		return s.mediaURL(ctx, key)
	})
}

func (s *Server) listNotifications(c *gin.Context) {
	ctx := c.Request.Context()
	me := mustUser(c).ID
	page, size, err := offsetPage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	offset := (page - 1) * size
	rows, err := s.store.NotificationListByUser(ctx, db.NotificationListByUserParams{
		UserID: me, Lim: int32(size), Off: int32(offset),
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	counts, err := s.store.NotificationCountsByUser(ctx, me)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]notification.Notification, len(rows))
	for i, r := range rows {
		out[i] = s.renderNotification(c, r)
	}
	c.JSON(http.StatusOK, notificationListResponse{
		Notifications: out, Total: counts.Total, UnreadCount: counts.Unread,
		Page: page, PageSize: size, HasMore: int64(offset+len(rows)) < counts.Total,
	})
}

func (s *Server) notificationUnreadCount(c *gin.Context) {
	ctx := c.Request.Context()
	counts, err := s.store.NotificationCountsByUser(ctx, mustUser(c).ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, unreadCountResponse{UnreadCount: counts.Unread})
}

var errNotificationNotFound = lokiz.Errorf(lokiz.ENOTFOUND, "Notification not found")

// markNotificationRead marks one of the caller's notifications read
// (idempotent) and answers it; anyone else's is not found.
func (s *Server) markNotificationRead(c *gin.Context) {
	ctx := c.Request.Context()
	me := mustUser(c).ID
	id, err := pathUUID(c, "notification_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	n, err := s.store.NotificationMarkRead(ctx, db.NotificationMarkReadParams{ID: id, UserID: me})
	if err != nil {
		s.writeError(c, err)
		return
	}
	if n == 0 {
		s.writeError(c, errNotificationNotFound)
		return
	}
	v, err := s.store.NotificationGetForUser(ctx, db.NotificationGetForUserParams{ID: id, UserID: me})
	if db.IsNotFound(err) {
		err = errNotificationNotFound
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	// The mark is idempotent and does not say whether the row was unread:
	// the count is published either way.
	if counts, err := s.store.NotificationCountsByUser(ctx, me); err == nil {
		s.publishUnreadCount(ctx, me, counts.Unread)
	} else {
		s.log.WarnContext(ctx, "count unread notifications for the push", "error", err)
	}
	c.JSON(http.StatusOK, s.renderNotification(c, v))
}

// publishUnreadCount tells the user's open sockets, on every replica, the
// unread count after a read mark. The mark is stored; a lost push only
// delays the badge until the client refetches, so a failure is logged.
func (s *Server) publishUnreadCount(ctx context.Context, userID uuid.UUID, unread int64) {
	if err := notification.PublishUnreadCount(context.WithoutCancel(ctx), s.rdb, userID, unread); err != nil {
		s.log.WarnContext(ctx, "publish unread count", "error", err, "user_id", userID)
	}
}

func (s *Server) markAllNotificationsRead(c *gin.Context) {
	ctx := c.Request.Context()
	me := mustUser(c).ID
	n, err := s.store.NotificationMarkAllRead(ctx, me)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.answerMarkRead(c, n)
}

// answerMarkRead answers how many rows changed and the unread count after,
// and pushes the count to the caller's sockets when it changed.
func (s *Server) answerMarkRead(c *gin.Context, updated int64) {
	me := mustUser(c).ID
	counts, err := s.store.NotificationCountsByUser(c.Request.Context(), me)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if updated > 0 {
		s.publishUnreadCount(c.Request.Context(), me, counts.Unread)
	}
	c.JSON(http.StatusOK, markReadResponse{Updated: updated, UnreadCount: counts.Unread})
}

type batchMarkReadRequest struct {
	NotificationIDs *[]string `json:"notification_ids"`
}

func (r *batchMarkReadRequest) validate() []lokiz.FieldError {
	switch {
	case r.NotificationIDs == nil:
		return []lokiz.FieldError{fieldErr("is required", "body", "notification_ids")}
	case len(*r.NotificationIDs) > notificationMaxBatch:
		return []lokiz.FieldError{fieldErr("at most 100 ids per request", "body", "notification_ids")}
	}
	_, errs := parseUUIDs(*r.NotificationIDs, "notification_ids")
	return errs
}

// batchMarkNotificationsRead marks up to 100 of the caller's notifications
// read; updated counts only the caller's that were unread. Ids of others'
// notifications and unknown ids are ignored.
func (s *Server) batchMarkNotificationsRead(c *gin.Context) {
	ctx := c.Request.Context()
	var body batchMarkReadRequest
	if err := bindJSON(c, &body); err != nil {
		s.writeError(c, err)
		return
	}
	ids, _ := parseUUIDs(*body.NotificationIDs, "notification_ids") // validated
	var n int64
	if len(ids) > 0 {
		var err error
		n, err = s.store.NotificationMarkReadBatch(ctx, db.NotificationMarkReadBatchParams{UserID: mustUser(c).ID, IDs: ids})
		if err != nil {
			s.writeError(c, err)
			return
		}
	}
	s.answerMarkRead(c, n)
}

// notificationSettingsResponse: every toggle; updated_at is null until the
// user first changes one.
type notificationSettingsResponse struct {
	Likes     bool       `json:"likes"`
	Comments  bool       `json:"comments"`
	Follows   bool       `json:"follows"`
	Glitches  bool       `json:"glitches"`
	AIJobs    bool       `json:"ai_jobs"`
	Email     bool       `json:"email"`
	UpdatedAt *time.Time `json:"updated_at"`
}

func toNotificationSettingsResponse(st db.NotificationSetting) notificationSettingsResponse {
	out := notificationSettingsResponse{
		Likes: st.Likes, Comments: st.Comments, Follows: st.Follows,
		Glitches: st.Glitches, AIJobs: st.AIJob, Email: st.Email,
	}
	if !st.UpdatedAt.IsZero() {
		out.UpdatedAt = utc(&st.UpdatedAt)
	}
	return out
}

func (s *Server) getNotificationSettings(c *gin.Context) {
	ctx := c.Request.Context()
	st, err := s.store.NotificationSettingsOf(ctx, mustUser(c).ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toNotificationSettingsResponse(st))
}

// updateNotificationSettingsRequest: an absent toggle is unchanged; null is
// not a toggle.
type updateNotificationSettingsRequest struct {
	Likes    Optional[bool] `json:"likes"`
	Comments Optional[bool] `json:"comments"`
	Follows  Optional[bool] `json:"follows"`
	Glitches Optional[bool] `json:"glitches"`
	AIJobs   Optional[bool] `json:"ai_jobs"`
	Email    Optional[bool] `json:"email"`
}

func (r *updateNotificationSettingsRequest) validate() []lokiz.FieldError {
	var errs []lokiz.FieldError
	for _, f := range []struct {
		name string
		v    Optional[bool]
	}{
		{"likes", r.Likes}, {"comments", r.Comments}, {"follows", r.Follows},
		{"glitches", r.Glitches}, {"ai_jobs", r.AIJobs}, {"email", r.Email},
	} {
		if f.v.Set && f.v.Null {
			errs = append(errs, fieldErr("must be a boolean", "body", f.name))
		}
	}
	return errs
}

func (s *Server) updateNotificationSettings(c *gin.Context) {
	ctx := c.Request.Context()
	var body updateNotificationSettingsRequest
	if err := bindJSON(c, &body); err != nil {
		s.writeError(c, err)
		return
	}
	st, err := s.store.NotificationSettingsUpdate(ctx, db.NotificationSettingsUpdateParams{
		UserID: mustUser(c).ID,
		Likes:  body.Likes.Ptr(), Comments: body.Comments.Ptr(), Follows: body.Follows.Ptr(),
		Glitches: body.Glitches.Ptr(), AIJob: body.AIJobs.Ptr(), Email: body.Email.Ptr(),
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toNotificationSettingsResponse(st))
}

package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/studio"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/views"
)

// videoResponse is the reference's VideoResponse plus the fields the
// contract adds (status, is_public, share_count, title, dimensions, tags).
type videoResponse struct {
	ID              uuid.UUID       `json:"id"`
	User            lokiz.UserBasic `json:"user"`
	VideoURL        *string         `json:"video_url"`
	ThumbnailURL    *string         `json:"thumbnail_url"`
	DurationSeconds float64         `json:"duration_seconds"`
	Title           *string         `json:"title"`
	Caption         string          `json:"caption"`
	Hashtags        []string        `json:"hashtags"`
	Status          string          `json:"status"`
	FailureReason   *string         `json:"failure_reason"`
	IsPublic        bool            `json:"is_public"`
	Width           *int32          `json:"width"`
	Height          *int32          `json:"height"`
	ViewCount       int64           `json:"view_count"`
	LikeCount       int32           `json:"like_count"`
	CommentCount    int32           `json:"comment_count"`
	GlitchCount     int32           `json:"glitch_count"`
	ShareCount      int32           `json:"share_count"`
	OriginalVideoID *uuid.UUID      `json:"original_video_id"`
	// The AI label (issue 15 §3): a video made by an AI job says so, with
	// the job's type and the video the job read (null for a template or
	// music job, or when that video is gone).
	AIGenerated   bool       `json:"ai_generated"`
	AIJobType     *string    `json:"ai_job_type"`
	SourceVideoID *uuid.UUID `json:"source_video_id"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// videoRows renders videos with their authors: one Redis call for the
// unflushed views and one query for the hashtags and the AI jobs that made
// them, whatever the count.
func (s *Server) videoResponses(ctx context.Context, vs []db.Video, authors []db.User) ([]videoResponse, error) {
	out := make([]videoResponse, len(vs))
	if len(vs) == 0 {
		return out, nil
	}
	ids := make([]uuid.UUID, len(vs))
	for i, v := range vs {
		ids[i] = v.ID
	}
	pending := s.pendingViews(ctx, ids)
	extraRows, err := s.store.VideoTagsAndOrigins(ctx, ids)
	if err != nil {
		return nil, err
	}
	extras := make(map[uuid.UUID]db.VideoTagsAndOriginsRow, len(extraRows))
	for _, r := range extraRows {
		extras[r.VideoID] = r
	}
	for i, v := range vs {
		a := authors[i]
		img := s.mediaURL(ctx, a.ProfileImageKey)
		ex := extras[v.ID]
		ht := ex.Hashtags
		if ht == nil {
			ht = []string{}
		}
		out[i] = videoResponse{
			ID:       v.ID,
			User:     lokiz.UserBasic{ID: a.ID, Username: a.Username, DisplayName: a.DisplayName, ProfileImageURL: img, ProfileImage: img},
			VideoURL: s.videoMediaURL(ctx, v, v.ObjectKey), ThumbnailURL: s.videoMediaURL(ctx, v, v.ThumbnailKey),
			DurationSeconds: v.DurationSeconds, Title: v.Title, Caption: v.Caption, Hashtags: ht,
			Status: v.Status, FailureReason: v.FailureReason, IsPublic: v.IsPublic, Width: v.Width, Height: v.Height,
			ViewCount: v.ViewCount + pending[v.ID], LikeCount: v.LikeCount, CommentCount: v.CommentCount,
			GlitchCount: v.GlitchCount, ShareCount: v.ShareCount, OriginalVideoID: v.OriginalVideoID,
			CreatedAt: v.CreatedAt.UTC(), UpdatedAt: v.UpdatedAt.UTC(),
		}
		if ex.AiJobType != nil {
			out[i].AIGenerated, out[i].AIJobType, out[i].SourceVideoID = true, ex.AiJobType, ex.AiSourceVideoID
		}
	}
	return out, nil
}

// pendingViews returns the views not yet flushed per video; when Redis does
// not answer, counts a few seconds stale beat a failed response.
func (s *Server) pendingViews(ctx context.Context, ids []uuid.UUID) map[uuid.UUID]int64 {
	pending, err := s.views.Pending(ctx, ids...)
	if err != nil {
		s.log.WarnContext(ctx, "pending views unavailable", "error", err)
		return map[uuid.UUID]int64{}
	}
	return pending
}

func (s *Server) videoResponse(ctx context.Context, v db.Video, author db.User) (videoResponse, error) {
	out, err := s.videoResponses(ctx, []db.Video{v}, []db.User{author})
	if err != nil {
		return videoResponse{}, err
	}
	return out[0], nil
}

var errVideoNotFound = lokiz.Errorf(lokiz.ENOTFOUND, "Video not found")

// ownVideo loads the caller's own (not deleted) video; anyone else's is 404.
func (s *Server) ownVideo(c *gin.Context) (db.Video, db.User, error) {
	ctx := c.Request.Context()
	id, err := pathUUID(c, "video_id")
	if err != nil {
		return db.Video{}, db.User{}, err
	}
	me := mustUser(c)
	v, err := s.store.VideoGetOwned(ctx, db.VideoGetOwnedParams{ID: id, UserID: me.ID})
	if db.IsNotFound(err) {
		return db.Video{}, db.User{}, errVideoNotFound
	} else if err != nil {
		return db.Video{}, db.User{}, err
	}
	u, err := s.store.UserByID(ctx, me.ID)
	return v, u, err
}

type videoUploadRequest struct {
	ContentType string   `json:"content_type"`
	Filename    string   `json:"filename"`
	Caption     *string  `json:"caption" text:"multiline"`
	Title       *string  `json:"title"`
	IsPublic    *bool    `json:"is_public"`
	SizeBytes   *int64   `json:"size_bytes"`
	Duration    *float64 `json:"duration_seconds"`
}

func (r *videoUploadRequest) validate() []lokiz.FieldError {
	var errs []lokiz.FieldError
	if r.ContentType == "" && r.Filename != "" {
		// The original API took only a file name: infer the type from it.
		switch strings.ToLower(path.Ext(r.Filename)) {
		case ".mp4", ".m4v":
			r.ContentType = "video/mp4"
		case ".mov":
			r.ContentType = "video/quicktime"
		case ".webm":
			r.ContentType = "video/webm"
		}
	}
	if r.ContentType == "" {
		r.ContentType = "video/mp4"
	}
	if !slices.Contains(lokiz.VideoUploadTypes, r.ContentType) {
		errs = append(errs, fieldErr(oneOf(lokiz.VideoUploadTypes), "body", "content_type"))
	}
	if r.Caption != nil {
		if msg := lokiz.ValidateCaption(*r.Caption); msg != "" {
			errs = append(errs, fieldErr(msg, "body", "caption"))
		}
	}
	if r.Title != nil {
		if msg := lokiz.ValidateTitle(*r.Title); msg != "" {
			errs = append(errs, fieldErr(msg, "body", "title"))
		}
	}
	if r.Duration != nil && (*r.Duration < 0 || math.IsNaN(*r.Duration)) {
		errs = append(errs, fieldErr("must not be negative", "body", "duration_seconds"))
	}
	return errs
}

type videoUploadResponse struct {
	uploadResponse
	VideoID uuid.UUID `json:"video_id"`
	// VideoUploadURL is the original API's name for upload_url.
	VideoUploadURL string `json:"video_upload_url"`
	// VideoURL downloads the uploaded file until the video is finalized.
	VideoURL *string `json:"video_url"`
}

// createVideoUpload creates the video in `uploading` and answers where to
// PUT the file.
func (s *Server) createVideoUpload(c *gin.Context) {
	ctx := c.Request.Context()
	var req videoUploadRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	maxBytes, errs := s.uploadSize(req.SizeBytes, s.cfg.VideoMaxBytes)
	if len(errs) > 0 {
		s.writeError(c, lokiz.ValidationError(errs...))
		return
	}
	if err := s.chargeUploadBytes(c, maxBytes); err != nil {
		s.writeError(c, err)
		return
	}
	key, err := storage.NewUploadKey(req.ContentType)
	if err != nil {
		s.writeError(c, err)
		return
	}
	caption := ""
	if req.Caption != nil {
		caption = *req.Caption
	}
	public := req.IsPublic == nil || *req.IsPublic
	v, err := s.store.VideoCreateUpload(ctx, db.VideoCreateUploadParams{
		ID: db.NewID(), UserID: mustUser(c).ID, Title: req.Title, Caption: caption, IsPublic: public,
		UploadKey: &key, ContentType: &req.ContentType, UploadMaxBytes: &maxBytes,
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	up, err := s.presign(c, key, req.ContentType, maxBytes)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, videoUploadResponse{uploadResponse: up, VideoID: v.ID, VideoUploadURL: up.UploadURL, VideoURL: s.privateMediaURL(ctx, &key)})
}

// completeVideoRequest carries the client's hints; the worker's probe of
// the file is the truth. Floats are accepted for every number.
type completeVideoRequest struct {
	Width          *float64 `json:"width"`
	Height         *float64 `json:"height"`
	ActualDuration *float64 `json:"actual_duration"`
	Caption        *string  `json:"caption" text:"multiline"`
	IsPublic       *bool    `json:"is_public"`
}

func (r *completeVideoRequest) validate() []lokiz.FieldError {
	var errs []lokiz.FieldError
	dim := func(v *float64, name string) {
		if v != nil && (*v < 0 || *v > 16384 || math.IsNaN(*v)) {
			errs = append(errs, fieldErr("must be from 0 to 16384", "body", name))
		}
	}
	dim(r.Width, "width")
	dim(r.Height, "height")
	if r.ActualDuration != nil && (*r.ActualDuration < 0 || *r.ActualDuration > 86400 || math.IsNaN(*r.ActualDuration)) {
		errs = append(errs, fieldErr("must be from 0 to 86400 seconds", "body", "actual_duration"))
	}
	if r.Caption != nil {
		if msg := lokiz.ValidateCaption(*r.Caption); msg != "" {
			errs = append(errs, fieldErr(msg, "body", "caption"))
		}
	}
	return errs
}

func roundDim(v *float64) *int32 {
	if v == nil || *v < 1 {
		return nil
	}
	n := int32(math.Round(*v))
	return &n
}

// completeVideo hands an uploaded file to the worker
// (studio.CompleteVideo): 202 with the video in processing. Again while
// processing: 202 again (the task id dedupes); once completed: 200 with the
// video.
func (s *Server) completeVideo(c *gin.Context) {
	ctx := c.Request.Context()
	var req completeVideoRequest
	if c.Request.ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			s.writeError(c, err)
			return
		}
	}
	v, author, err := s.ownVideo(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	v, started, err := s.studio.CompleteVideo(ctx, v, studio.VideoCompletion{ClientWidth: roundDim(req.Width),
		ClientHeight: roundDim(req.Height), ClientDuration: req.ActualDuration, Caption: req.Caption, IsPublic: req.IsPublic})
	var resp videoResponse
	if err == nil {
		resp, err = s.videoResponse(ctx, v, author)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	status := http.StatusOK
	if started {
		status = http.StatusAccepted
	}
	c.JSON(status, resp)
}

func (s *Server) getVideo(c *gin.Context) {
	ctx := c.Request.Context()
	id, err := pathUUID(c, "video_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	row, err := s.store.VideoGetVisible(ctx, db.VideoGetVisibleParams{ID: id, ViewerID: optionalUserID(c)})
	if db.IsNotFound(err) {
		s.writeError(c, errVideoNotFound)
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	resp, err := s.videoResponse(ctx, row.Video, row.User)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, resp)
}

type updateVideoRequest struct {
	Caption  *string          `json:"caption" text:"multiline"`
	Title    Optional[string] `json:"title"`
	IsPublic *bool            `json:"is_public"`
}

func (r *updateVideoRequest) validate() []lokiz.FieldError {
	var errs []lokiz.FieldError
	if r.Caption != nil {
		if msg := lokiz.ValidateCaption(*r.Caption); msg != "" {
			errs = append(errs, fieldErr(msg, "body", "caption"))
		}
	}
	if t := r.Title.Ptr(); t != nil {
		if msg := lokiz.ValidateTitle(*t); msg != "" {
			errs = append(errs, fieldErr(msg, "body", "title"))
		}
	}
	return errs
}

func (s *Server) updateVideo(c *gin.Context) {
	ctx := c.Request.Context()
	var req updateVideoRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	v, author, err := s.ownVideo(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	v, err = s.store.UpdateVideo(ctx, db.VideoUpdateParams{
		ID: v.ID, UserID: v.UserID, Caption: req.Caption, SetTitle: req.Title.Set, Title: req.Title.Ptr(), IsPublic: req.IsPublic,
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	resp, err := s.videoResponse(ctx, v, author)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, resp)
}

type deleteVideoResponse struct {
	ID          uuid.UUID `json:"id"`
	Message     string    `json:"message"`
	GlitchCount int32     `json:"glitch_count"`
	DeletedAt   time.Time `json:"deleted_at"`
}

func (s *Server) deleteVideo(c *gin.Context) {
	ctx := c.Request.Context()
	id, err := pathUUID(c, "video_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	v, err := s.store.DeleteVideo(ctx, id, mustUser(c).ID)
	if lokiz.ErrorCode(err) == lokiz.ENOTFOUND {
		s.writeError(c, errVideoNotFound)
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	// Committed first, then enqueued: the purge deletes the objects within
	// seconds, so every URL ever issued for them stops working. If Redis
	// fails here, the videos:purge sweep catches the video within minutes.
	if err := s.tasks.Enqueue(ctx, tasks.NewVideoPurgeTask(v.ID)); err != nil {
		s.log.WarnContext(ctx, "purge deferred to the sweep", "video_id", v.ID, "error", err)
	}
	c.JSON(http.StatusOK, deleteVideoResponse{ID: v.ID, Message: "Video marked as deleted", GlitchCount: v.GlitchCount, DeletedAt: v.DeletedAt.UTC()})
}

type videoListResponse struct {
	Videos     []videoResponse `json:"videos"`
	NextCursor *string         `json:"next_cursor"`
	HasMore    bool            `json:"has_more"`
	PageSize   int             `json:"page_size"`
}

type videoRow struct {
	Video db.Video
	User  db.User
}

// videoPage is the one renderer of a page of videos (the public, user,
// liked, bookmarked and hashtag lists): rows were fetched with limit
// p.Size+1, parts gives a row's video and author, key its cursor.
func videoPage[T any](ctx context.Context, s *Server, rows []T, p pageParams,
	parts func(T) (db.Video, db.User), key func(T) cursor,
) (videoListResponse, error) {
	rows, next, more := pageOf(rows, p.Size, key)
	vs := make([]db.Video, len(rows))
	us := make([]db.User, len(rows))
	for i, r := range rows {
		vs[i], us[i] = parts(r)
	}
	out, err := s.videoResponses(ctx, vs, us)
	if err != nil {
		return videoListResponse{}, err
	}
	return videoListResponse{Videos: out, NextCursor: next, HasMore: more, PageSize: p.Size}, nil
}

// respondVideoList renders rows, fetched with limit p.Size+1, as a page of
// videos, or the error when rendering fails.
func respondVideoList[T any](c *gin.Context, s *Server, rows []T, p pageParams,
	parts func(T) (db.Video, db.User), key func(T) cursor,
) {
	page, err := videoPage(c.Request.Context(), s, rows, p, parts, key)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, page)
}

// byCreation is the cursor of a list in creation order of its videos.
func byCreation(r videoRow) cursor { return cursor{At: r.Video.CreatedAt, ID: r.Video.ID} }

func videoRowParts(r videoRow) (db.Video, db.User) { return r.Video, r.User }

// listVideos is the public list, newest first.
func (s *Server) listVideos(c *gin.Context) {
	p, err := parsePage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, err := s.store.VideoListVisible(c.Request.Context(), db.VideoListVisibleParams{
		ViewerID: optionalUserID(c), CursorAt: p.cursorAt(), CursorID: p.cursorID(), Lim: int32(p.Size + 1)})
	if err != nil {
		s.writeError(c, err)
		return
	}
	list := make([]videoRow, len(rows))
	for i, r := range rows {
		list[i] = videoRow(r)
	}
	respondVideoList(c, s, list, p, videoRowParts, byCreation)
}

// listUserVideos serves /users/{id}/videos and, for the caller, /videos/me.
func (s *Server) listUserVideos(c *gin.Context, userID uuid.UUID) {
	ctx := c.Request.Context()
	p, err := parsePage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	status, err := videoStatusParam(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	viewer := optionalUserID(c)
	if viewer == nil || *viewer != userID {
		if _, err := s.visibleUser(ctx, userID, viewer); err != nil {
			s.writeError(c, err)
			return
		}
	}
	rows, err := s.store.VideoListByUser(ctx, db.VideoListByUserParams{
		UserID: userID, ViewerID: viewer, Status: status, CursorAt: p.cursorAt(), CursorID: p.cursorID(), Lim: int32(p.Size + 1)})
	if err != nil {
		s.writeError(c, err)
		return
	}
	list := make([]videoRow, len(rows))
	for i, r := range rows {
		list[i] = videoRow(r)
	}
	respondVideoList(c, s, list, p, videoRowParts, byCreation)
}

func (s *Server) listMyVideos(c *gin.Context) { s.listUserVideos(c, mustUser(c).ID) }

func (s *Server) listVideosOfUser(c *gin.Context) {
	id, err := pathUUID(c, "user_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.listUserVideos(c, id)
}

type batchVideosRequest struct {
	VideoIDs []string `json:"video_ids"`
	ids      []uuid.UUID
}

func (r *batchVideosRequest) validate() []lokiz.FieldError {
	ids, errs := parseIDBatch(r.VideoIDs, "video_ids", maxBatch)
	r.ids = ids
	return errs
}

type videoCounts struct {
	ViewCount    int64 `json:"view_count"`
	LikeCount    int32 `json:"like_count"`
	CommentCount int32 `json:"comment_count"`
	GlitchCount  int32 `json:"glitch_count"`
	ShareCount   int32 `json:"share_count"`
}

// batchVideoMetadata answers the counters of up to 100 visible videos;
// invisible and unknown ids are omitted.
func (s *Server) batchVideoMetadata(c *gin.Context) {
	ctx := c.Request.Context()
	var req batchVideosRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	out := map[string]videoCounts{}
	if len(req.ids) > 0 {
		rows, err := s.store.VideoBatchMetadata(ctx, db.VideoBatchMetadataParams{IDs: req.ids, ViewerID: optionalUserID(c)})
		if err != nil {
			s.writeError(c, err)
			return
		}
		ids := make([]uuid.UUID, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		pending := s.pendingViews(ctx, ids)
		for _, r := range rows {
			out[r.ID.String()] = videoCounts{ViewCount: r.ViewCount + pending[r.ID], LikeCount: r.LikeCount,
				CommentCount: r.CommentCount, GlitchCount: r.GlitchCount, ShareCount: r.ShareCount}
		}
	}
	c.JSON(http.StatusOK, gin.H{"videos": out})
}

type viewRequest struct {
	Source      string `json:"source"`
	WatchTimeMS *int64 `json:"watch_time_ms"`
}

func (r *viewRequest) validate() []lokiz.FieldError {
	var errs []lokiz.FieldError
	if !views.ValidSource(r.Source) {
		errs = append(errs, fieldErr(oneOf(views.Sources), "body", "source"))
	}
	if r.WatchTimeMS != nil && (*r.WatchTimeMS < 0 || *r.WatchTimeMS > 24*3600*1000) {
		errs = append(errs, fieldErr("must be from 0 to 86400000", "body", "watch_time_ms"))
	}
	return errs
}

type viewResponse struct {
	Counted   bool  `json:"counted"`
	ViewCount int64 `json:"view_count"`
}

// recordView counts a view (CONTRACT.md §3): one Postgres read for
// visibility and one Redis round trip for dedupe and counting.
func (s *Server) recordView(c *gin.Context) {
	ctx := c.Request.Context()
	var req viewRequest
	if c.Request.ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			s.writeError(c, err)
			return
		}
	}
	id, err := pathUUID(c, "video_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	viewer := optionalUserID(c)
	target, err := s.store.VideoViewTarget(ctx, db.VideoViewTargetParams{ID: id, ViewerID: viewer})
	if db.IsNotFound(err) {
		s.writeError(c, errVideoNotFound)
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	if viewer != nil && *viewer == target.UserID {
		// The owner's views never count; still show the current figure.
		pending := s.pendingViews(ctx, []uuid.UUID{id})
		c.JSON(http.StatusOK, viewResponse{Counted: false, ViewCount: target.ViewCount + pending[id]})
		return
	}
	var watch int64
	if req.WatchTimeMS != nil {
		// One view watches the video at most once over: a longer report
		// (a loop, a paused tab) counts as the whole video, so the average
		// watch percentage stays within 100.
		watch = *req.WatchTimeMS
		if d := int64(math.Ceil(target.DurationSeconds * 1000)); d > 0 {
			watch = min(watch, d)
		}
	}
	var country string
	if s.cfg.TrustedCountryHeader != "" {
		country = c.GetHeader(s.cfg.TrustedCountryHeader)
	}
	ip := c.ClientIP()
	counted, pending, err := s.views.Record(ctx, views.View{
		VideoID: id, Viewer: s.views.ViewerID(viewer, ip, c.Request.UserAgent()), Source: req.Source, WatchTimeMS: watch,
		Country: country, Client: ip, Limit: s.cfg.ViewRateLimit, AnonPerIP: s.cfg.ViewAnonPerIP,
	})
	var limited *views.RateLimitedError
	if errors.As(err, &limited) {
		secs := int(math.Ceil(limited.RetryAfter.Seconds()))
		s.writeError(c, &lokiz.Error{Code: lokiz.ERATELIMITED, RetryAfter: max(secs, 1),
			Message: fmt.Sprintf("Too many views; try again in %d seconds", max(secs, 1))})
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, viewResponse{Counted: counted, ViewCount: target.ViewCount + pending})
}

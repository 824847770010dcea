package dbtest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// DefaultPassword is the password of every user CreateUser makes.
const DefaultPassword = "correct-horse-battery"

var (
	userSeq      atomic.Int64
	passwordHash = func() string {
		h, err := bcrypt.GenerateFromPassword([]byte(DefaultPassword), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		return string(h)
	}()
)

// UserOpts customises CreateUser; zero values get unique defaults.
type UserOpts struct {
	Username string
	Email    string
	Role     string
}

// CreateUser registers a user (with the initial credits ledger row) and
// fails t on error. Its password is DefaultPassword.
func CreateUser(t testing.TB, store *db.Store, opts UserOpts) db.User {
	t.Helper()
	n := userSeq.Add(1)
	if opts.Username == "" {
		opts.Username = fmt.Sprintf("user%d_%s", n, randomHex(3))
	}
	if opts.Email == "" {
		opts.Email = opts.Username + "@example.com"
	}
	u, err := store.RegisterUser(context.Background(), db.RegisterUserParams{
		Username: opts.Username, Email: opts.Email, HashedPassword: passwordHash, Role: opts.Role,
	})
	if err != nil {
		t.Fatalf("dbtest: create user %s: %v", opts.Username, err)
	}
	return u
}

// VideoOpts describes the video Video inserts. The zero value (but Owner)
// is a completed, public, live video of 3.5 s created now, with its media
// keys set as a finalized upload has them (NoMedia leaves them unset).
type VideoOpts struct {
	ID              uuid.UUID // default a new id
	Owner           uuid.UUID // required
	Status          string    // default "completed"
	Private         bool      // is_public = false
	Deleted         bool      // soft-deleted, deleted_at = CreatedAt
	CreatedAt       time.Time // default now
	Title           string
	Caption         string
	DurationSeconds float64    // default 3.5
	OriginalVideoID *uuid.UUID // a glitch of that video
	NoMedia         bool       // no object, thumbnail, duration or size, as before an upload
	LikeCount       int32      // the counter as stored, without like rows
	ViewCount       int64      // likewise the other counters
	CommentCount    int32
	ShareCount      int32
	GlitchCount     int32
	UploadKey       string    // where the client PUTs the file (uploading, processing)
	OriginalKey     string    // the untouched upload beside a transcode
	ProcessingAt    time.Time // when processing began (default unset)
}

// Video inserts a video row directly (no upload, no processing) and returns
// it; it fails t on error. Its object key is videos/<id>.mp4 and its
// thumbnail key thumbnails/<id>.jpg, 320x240.
func Video(t testing.TB, store *db.Store, o VideoOpts) db.Video {
	t.Helper()
	if o.Owner == uuid.Nil {
		t.Fatalf("dbtest: Video needs an Owner")
	}
	if o.Status == "" {
		o.Status = "completed"
	}
	if o.CreatedAt.IsZero() {
		o.CreatedAt = time.Now()
	}
	if o.DurationSeconds == 0 {
		o.DurationSeconds = 3.5
	}
	var deletedAt *time.Time
	if o.Deleted {
		deletedAt = &o.CreatedAt
	}
	var title *string
	if o.Title != "" {
		title = &o.Title
	}
	id := o.ID
	if id == uuid.Nil {
		id = db.NewID()
	}
	var processingAt *time.Time
	if !o.ProcessingAt.IsZero() {
		processingAt = &o.ProcessingAt
	}
	objectKey, thumbnailKey := "videos/"+id.String()+".mp4", "thumbnails/"+id.String()+".jpg"
	var width, height *int32
	if o.NoMedia {
		objectKey, thumbnailKey, o.DurationSeconds = "", "", 0
	} else {
		w, h := int32(320), int32(240)
		width, height = &w, &h
	}
	ctx := context.Background()
	_, err := store.Pool().Exec(ctx, `INSERT INTO videos
		(id, user_id, status, is_public, deleted_at, created_at, title, caption, original_video_id,
		 object_key, thumbnail_key, duration_seconds, width, height, like_count,
		 view_count, comment_count, share_count, glitch_count, upload_key, original_key, processing_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, nullif($10, ''), nullif($11, ''), $12, $13, $14, $15,
		 $16, $17, $18, $19, nullif($20, ''), nullif($21, ''), $22)`,
		id, o.Owner, o.Status, !o.Private, deletedAt, o.CreatedAt, title, o.Caption, o.OriginalVideoID,
		objectKey, thumbnailKey, o.DurationSeconds, width, height, o.LikeCount,
		o.ViewCount, o.CommentCount, o.ShareCount, o.GlitchCount, o.UploadKey, o.OriginalKey, processingAt)
	if err != nil {
		t.Fatalf("dbtest: insert video: %v", err)
	}
	v, err := store.VideoGetByID(ctx, id)
	if err != nil {
		t.Fatalf("dbtest: read video back: %v", err)
	}
	return v
}

// CommentOpts describes the comment Comment inserts.
type CommentOpts struct {
	Author    uuid.UUID // required
	Video     uuid.UUID // required
	Content   string    // default "nice"
	CreatedAt time.Time // default now
}

// Comment inserts a comment as the api does (the video's comment_count
// follows) and returns its id; it fails t on error.
func Comment(t testing.TB, store *db.Store, o CommentOpts) uuid.UUID {
	t.Helper()
	if o.Author == uuid.Nil || o.Video == uuid.Nil {
		t.Fatalf("dbtest: Comment needs an Author and a Video")
	}
	if o.Content == "" {
		o.Content = "nice"
	}
	ctx := context.Background()
	c, err := store.CommentCreate(ctx, db.CommentCreateParams{ID: db.NewID(), UserID: o.Author, VideoID: o.Video, Content: o.Content})
	if err != nil {
		t.Fatalf("dbtest: create comment: %v", err)
	}
	if !o.CreatedAt.IsZero() {
		if _, err := store.Pool().Exec(ctx, "UPDATE comments SET created_at = $2 WHERE id = $1", c.ID, o.CreatedAt); err != nil {
			t.Fatalf("dbtest: date comment: %v", err)
		}
	}
	return c.ID
}

// AIJobOpts describes the job AIJob creates.
type AIJobOpts struct {
	ID        uuid.UUID // default a new id
	User      uuid.UUID // required
	Type      string    // default lokiz.JobMusic
	Status    string    // default pending; a terminal status gets completed_at = now
	Credits   int32     // charged through Store.CreateAIJob, so the ledger agrees
	Input     json.RawMessage
	PresetID  string
	VideoID   *uuid.UUID      // the result video
	Output    json.RawMessage // output_data as the provider left it
	OutputKey string          // the stored result file
}

// AIJob creates a job through Store.CreateAIJob (its credits spent, with the
// ledger row) and then moves it to o.Status directly, without refund or
// glitch edge; it returns the job as stored and fails t on error.
func AIJob(t testing.TB, store *db.Store, o AIJobOpts) db.AIJob {
	t.Helper()
	if o.User == uuid.Nil {
		t.Fatalf("dbtest: AIJob needs a User")
	}
	if o.Type == "" {
		o.Type = lokiz.JobMusic
	}
	if o.Input == nil {
		o.Input = json.RawMessage(`{}`)
	}
	var preset *string
	if o.PresetID != "" {
		preset = &o.PresetID
	}
	if o.ID == uuid.Nil {
		o.ID = db.NewID()
	}
	ctx := context.Background()
	job, err := store.CreateAIJob(ctx, db.AIJobCreateParams{
		ID: o.ID, UserID: o.User, JobType: o.Type, InputData: o.Input, CreditsUsed: o.Credits,
		PresetID: preset, Queue: "ai",
	})
	if err != nil {
		t.Fatalf("dbtest: create AI job: %v", err)
	}
	if (o.Status == "" || o.Status == lokiz.JobPending) && o.VideoID == nil && o.Output == nil && o.OutputKey == "" {
		return job
	}
	if o.Status == "" {
		o.Status = lokiz.JobPending
	}
	_, err = store.Pool().Exec(ctx, `UPDATE ai_jobs SET status = $2, video_id = $3,
		output_data = coalesce($4, output_data), output_key = nullif($5, ''),
		completed_at = CASE WHEN $2 IN ('completed', 'failed', 'canceled') THEN now() END WHERE id = $1`,
		job.ID, o.Status, o.VideoID, o.Output, o.OutputKey)
	if err != nil {
		t.Fatalf("dbtest: set AI job status: %v", err)
	}
	job, err = store.AIJobGet(ctx, job.ID)
	if err != nil {
		t.Fatalf("dbtest: read AI job back: %v", err)
	}
	return job
}

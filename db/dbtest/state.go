package dbtest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// The fixtures below set up social state and the states only the worker,
// moderation or the passing of time reach. Where a business transaction
// makes the state (a block, a credit spend), they go through it; the rest
// write the rows directly, so the SQL lives here and not in the tests.

// FollowOpts describes the follow Follow makes.
type FollowOpts struct {
	Follower  uuid.UUID // required
	Following uuid.UUID // required
}

// Follow makes o.Follower follow o.Following, without a notification and
// without the block check the api makes first (a repeat is a no-op); it
// fails t on error.
func Follow(t testing.TB, store *db.Store, o FollowOpts) {
	t.Helper()
	if o.Follower == uuid.Nil || o.Following == uuid.Nil {
		t.Fatalf("dbtest: Follow needs a Follower and a Following")
	}
	if _, err := store.FollowAdd(context.Background(), db.FollowAddParams{ID: db.NewID(), FollowerID: o.Follower, FollowingID: o.Following}); err != nil {
		t.Fatalf("dbtest: follow: %v", err)
	}
}

// BlockOpts describes the block Block makes.
type BlockOpts struct {
	Blocker uuid.UUID // required
	Blocked uuid.UUID // required
}

// Block makes o.Blocker block o.Blocked through Store.BlockUser, so the
// follows between them end as they do in the api; it fails t on error.
func Block(t testing.TB, store *db.Store, o BlockOpts) {
	t.Helper()
	if o.Blocker == uuid.Nil || o.Blocked == uuid.Nil {
		t.Fatalf("dbtest: Block needs a Blocker and a Blocked")
	}
	if _, _, err := store.BlockUser(context.Background(), o.Blocker, o.Blocked); err != nil {
		t.Fatalf("dbtest: block: %v", err)
	}
}

// LikeOpts describes the like Like makes.
type LikeOpts struct {
	User  uuid.UUID // required
	Video uuid.UUID // required
}

// Like makes o.User like o.Video as the api does (the video's like_count
// follows), without a notification; a repeat is a no-op. It fails t on
// error.
func Like(t testing.TB, store *db.Store, o LikeOpts) {
	t.Helper()
	if o.User == uuid.Nil || o.Video == uuid.Nil {
		t.Fatalf("dbtest: Like needs a User and a Video")
	}
	if _, err := store.LikeAdd(context.Background(), db.LikeAddParams{ID: db.NewID(), UserID: o.User, VideoID: o.Video}); err != nil {
		t.Fatalf("dbtest: like: %v", err)
	}
}

// GlitchEdgeOpts describes the edge GlitchEdge records.
type GlitchEdgeOpts struct {
	Source uuid.UUID // required: the original video
	Glitch uuid.UUID // required: the video made from it
	Type   string    // the glitch type: animate (default), replace or sticker_to_reality
}

// GlitchEdge records that o.Glitch was made from o.Source, as a completed
// glitch job does (the source's glitch_count follows by trigger), without
// the job; it fails t on error.
func GlitchEdge(t testing.TB, store *db.Store, o GlitchEdgeOpts) {
	t.Helper()
	if o.Source == uuid.Nil || o.Glitch == uuid.Nil {
		t.Fatalf("dbtest: GlitchEdge needs a Source and a Glitch")
	}
	if o.Type == "" {
		o.Type = "animate"
	}
	n, err := store.GlitchEdgeCreate(context.Background(), db.GlitchEdgeCreateParams{
		ID: db.NewID(), OriginalVideoID: o.Source, GlitchVideoID: o.Glitch, GlitchType: o.Type,
	})
	if err != nil || n != 1 {
		t.Fatalf("dbtest: glitch edge %s -> %s: %d rows, %v", o.Source, o.Glitch, n, err)
	}
}

// UserChange is what SetUser changes on a user row; nil fields are left
// alone.
type UserChange struct {
	// Active false is the flag a ban sets, without the session revocation
	// of Store.AdminBanUser: the state a request meets when a ban lands between
	// two of them.
	Active                *bool
	DisplayName           *string
	SubscriptionTier      *string
	SubscriptionExpiresAt *time.Time
}

// SetUser changes a user row directly and fails t on error or when there
// is no such user.
func SetUser(t testing.TB, store *db.Store, id uuid.UUID, c UserChange) {
	t.Helper()
	tag, err := store.Pool().Exec(context.Background(), `UPDATE users SET
		is_active               = coalesce($2, is_active),
		display_name            = coalesce($3, display_name),
		subscription_tier       = coalesce($4, subscription_tier),
		subscription_expires_at = coalesce($5, subscription_expires_at),
		updated_at = now()
		WHERE id = $1`, id, c.Active, c.DisplayName, c.SubscriptionTier, c.SubscriptionExpiresAt)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("dbtest: set user %s: %v (%d rows)", id, err, tag.RowsAffected())
	}
}

// SkewCredits adds by to the stored balance of user (of every user when
// user is uuid.Nil) without a ledger row: the corruption the credits audit
// exists to find. It fails t on error.
func SkewCredits(t testing.TB, store *db.Store, user uuid.UUID, by int32) {
	t.Helper()
	_, err := store.Pool().Exec(context.Background(),
		"UPDATE users SET credits = credits + $2 WHERE $1::uuid IS NULL OR id = $1", uuidOrNil(user), by)
	if err != nil {
		t.Fatalf("dbtest: skew credits: %v", err)
	}
}

// BackdateDailyClaim moves user's daily credit claims back by age, with
// their idempotency keys (which carry the UTC day) and the user's
// last_daily_credit_claim, as if they had been claimed then. It fails t on
// error.
func BackdateDailyClaim(t testing.TB, store *db.Store, user uuid.UUID, age time.Duration) {
	t.Helper()
	ctx := context.Background()
	rows, err := store.Pool().Query(ctx,
		"SELECT id, created_at FROM credit_transactions WHERE user_id = $1 AND transaction_type = $2", user, lokiz.CreditDaily)
	if err != nil {
		t.Fatalf("dbtest: backdate daily claim: %v", err)
	}
	type claim struct {
		id uuid.UUID
		at time.Time
	}
	var claims []claim
	for rows.Next() {
		var c claim
		if err := rows.Scan(&c.id, &c.at); err != nil {
			t.Fatalf("dbtest: backdate daily claim: %v", err)
		}
		claims = append(claims, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("dbtest: backdate daily claim: %v", err)
	}
	for _, c := range claims {
		at := c.at.Add(-age)
		_, err := store.Pool().Exec(ctx, "UPDATE credit_transactions SET created_at = $2, idempotency_key = $3 WHERE id = $1",
			c.id, at, "daily:"+user.String()+":"+lokiz.ClaimDay(at))
		if err != nil {
			t.Fatalf("dbtest: backdate daily claim: %v", err)
		}
	}
	_, err = store.Pool().Exec(ctx, "UPDATE users SET last_daily_credit_claim = last_daily_credit_claim - $2::interval WHERE id = $1", user, age.String())
	if err != nil {
		t.Fatalf("dbtest: backdate daily claim: %v", err)
	}
}

// VideoChange is what SetVideo changes on a video row, the states the
// worker and moderation reach; nil fields are left alone.
type VideoChange struct {
	// Status "removed" also sets removed_at (moderation's removal); any
	// other status clears it (a restore).
	Status          *string
	Public          *bool
	Deleted         *bool // soft-deleted now, or restored
	DurationSeconds *float64
	UploadMaxBytes  *int64
}

// SetVideo changes a video row directly and fails t on error or when there
// is no such video.
func SetVideo(t testing.TB, store *db.Store, id uuid.UUID, c VideoChange) {
	t.Helper()
	tag, err := store.Pool().Exec(context.Background(), `UPDATE videos SET
		status           = coalesce($2, status),
		removed_at       = CASE WHEN $2::text IS NULL THEN removed_at WHEN $2 = 'removed' THEN coalesce(removed_at, now()) END,
		is_public        = coalesce($3, is_public),
		deleted_at       = CASE WHEN $4::bool IS NULL THEN deleted_at WHEN $4 THEN coalesce(deleted_at, now()) END,
		duration_seconds = coalesce($5, duration_seconds),
		upload_max_bytes = coalesce($6, upload_max_bytes),
		updated_at = now()
		WHERE id = $1`, id, c.Status, c.Public, c.Deleted, c.DurationSeconds, c.UploadMaxBytes)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("dbtest: set video %s: %v (%d rows)", id, err, tag.RowsAffected())
	}
}

// VideoCounts are amounts AddVideoCounts adds to a video's stored counters.
type VideoCounts struct {
	Views int64
	Likes int32
}

// AddVideoCounts raises a video's stored counters without the rows they
// count (views arrive in batches; a like row is not needed to move a
// ranking). It fails t on error.
func AddVideoCounts(t testing.TB, store *db.Store, id uuid.UUID, c VideoCounts) {
	t.Helper()
	_, err := store.Pool().Exec(context.Background(),
		"UPDATE videos SET view_count = view_count + $2, like_count = like_count + $3 WHERE id = $1", id, c.Views, c.Likes)
	if err != nil {
		t.Fatalf("dbtest: add video counts: %v", err)
	}
}

// EraseVideo deletes a video row for good, as nothing in the product does
// (purges keep the row): the state of a job or report whose video is gone
// entirely. It fails t on error.
func EraseVideo(t testing.TB, store *db.Store, id uuid.UUID) {
	t.Helper()
	if _, err := store.Pool().Exec(context.Background(), "DELETE FROM videos WHERE id = $1", id); err != nil {
		t.Fatalf("dbtest: erase video: %v", err)
	}
}

// BackdateTagUses moves the uses of hashtag name (its video_hashtags rows)
// back by age, out of or into a trending window. It fails t on error.
func BackdateTagUses(t testing.TB, store *db.Store, name string, age time.Duration) {
	t.Helper()
	_, err := store.Pool().Exec(context.Background(), `UPDATE video_hashtags SET created_at = created_at - $2::interval
		WHERE hashtag_id = (SELECT id FROM hashtags WHERE name = $1)`, name, age.String())
	if err != nil {
		t.Fatalf("dbtest: backdate tag uses: %v", err)
	}
}

// KeywordSearchBackdate describes what BackdateKeywordSearches moves.
type KeywordSearchBackdate struct {
	User    uuid.UUID // required
	Keyword string    // the normalized query; default every one of User's
	Days    int       // required: how many days back
}

// BackdateKeywordSearches moves the day a user last searched a keyword
// (search_keyword_users) back by o.Days; the keyword day counts follow by
// trigger. It fails t on error.
func BackdateKeywordSearches(t testing.TB, store *db.Store, o KeywordSearchBackdate) {
	t.Helper()
	if o.User == uuid.Nil || o.Days == 0 {
		t.Fatalf("dbtest: BackdateKeywordSearches needs a User and Days")
	}
	_, err := store.Pool().Exec(context.Background(),
		`UPDATE search_keyword_users SET day = day - $2::int WHERE user_id = $1 AND ($3 = '' OR normalized = $3)`, o.User, o.Days, o.Keyword)
	if err != nil {
		t.Fatalf("dbtest: backdate keyword searches: %v", err)
	}
}

// KeywordDayOpts describes the keyword count KeywordDay stores.
type KeywordDayOpts struct {
	Keyword string // required: the normalized query
	DaysAgo int    // UTC days before today; 0 is today
	Users   int32  // how many searched it that day; default 1
}

// KeywordDay stores a day's count of searchers of a keyword directly, for
// days no test can wait for. It fails t on error.
func KeywordDay(t testing.TB, store *db.Store, o KeywordDayOpts) {
	t.Helper()
	if o.Keyword == "" {
		t.Fatalf("dbtest: KeywordDay needs a Keyword")
	}
	if o.Users == 0 {
		o.Users = 1
	}
	_, err := store.Pool().Exec(context.Background(), `INSERT INTO search_keyword_days (normalized, day, users)
		VALUES ($1, (now() AT TIME ZONE 'UTC')::date - $2::int, $3)`, o.Keyword, o.DaysAgo, o.Users)
	if err != nil {
		t.Fatalf("dbtest: keyword day: %v", err)
	}
}

// ExpireSession ends a session's lifetime now, as time would. It fails t
// on error.
func ExpireSession(t testing.TB, store *db.Store, id uuid.UUID) {
	t.Helper()
	tag, err := store.Pool().Exec(context.Background(), "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1", id)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("dbtest: expire session %s: %v (%d rows)", id, err, tag.RowsAffected())
	}
}

// AccountDeletionBackdate describes what BackdateAccountDeletion moves.
type AccountDeletionBackdate struct {
	Age    time.Duration // how long ago the account was deleted
	Erased bool          // the account:erase task has run (erased_at = now)
}

// BackdateAccountDeletion moves a deleted account's deleted_at back by
// o.Age and marks it erased or not. It fails t on error.
func BackdateAccountDeletion(t testing.TB, store *db.Store, user uuid.UUID, o AccountDeletionBackdate) {
	t.Helper()
	tag, err := store.Pool().Exec(context.Background(), `UPDATE users SET deleted_at = now() - $2::interval,
		erased_at = CASE WHEN $3 THEN now() END WHERE id = $1 AND deleted_at IS NOT NULL`, user, o.Age.String(), o.Erased)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("dbtest: backdate deletion of %s: %v (%d rows; is it deleted?)", user, err, tag.RowsAffected())
	}
}

// ImageOpts describes the image row Image inserts.
type ImageOpts struct {
	User        uuid.UUID // required
	ObjectKey   string    // default images/<id>.png
	ContentType string    // default image/png
	MaxBytes    int64     // default 100
	CreatedAt   time.Time // default now
}

// Image inserts an image upload slot (nothing uploaded yet) and returns
// it; it fails t on error.
func Image(t testing.TB, store *db.Store, o ImageOpts) db.Image {
	t.Helper()
	if o.User == uuid.Nil {
		t.Fatalf("dbtest: Image needs a User")
	}
	id := db.NewID()
	if o.ObjectKey == "" {
		o.ObjectKey = "images/" + id.String() + ".png"
	}
	if o.ContentType == "" {
		o.ContentType = "image/png"
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 100
	}
	if o.CreatedAt.IsZero() {
		o.CreatedAt = time.Now()
	}
	var img db.Image
	err := store.Pool().QueryRow(context.Background(), `INSERT INTO images (id, user_id, object_key, content_type, max_bytes, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, id, o.User, o.ObjectKey, o.ContentType, o.MaxBytes, o.CreatedAt).Scan(&img.ID)
	if err != nil {
		t.Fatalf("dbtest: insert image: %v", err)
	}
	img, err = store.ImageGetByKey(context.Background(), o.ObjectKey)
	if err != nil {
		t.Fatalf("dbtest: read image back: %v", err)
	}
	return img
}

// FrameCaptureOpts describes the frame capture FrameCapture inserts.
type FrameCaptureOpts struct {
	ID         uuid.UUID // default a new id
	User       uuid.UUID // required
	Video      uuid.UUID // required
	Timestamps []float64 // default {1}
	Status     string    // default pending; any other gets completed_at = CreatedAt
	FrameKeys  []string
	CreatedAt  time.Time // default now
}

// FrameCapture inserts a frame capture in any state and returns it; it
// fails t on error.
func FrameCapture(t testing.TB, store *db.Store, o FrameCaptureOpts) db.FrameCapture {
	t.Helper()
	if o.User == uuid.Nil || o.Video == uuid.Nil {
		t.Fatalf("dbtest: FrameCapture needs a User and a Video")
	}
	if o.ID == uuid.Nil {
		o.ID = db.NewID()
	}
	if o.Timestamps == nil {
		o.Timestamps = []float64{1}
	}
	if o.Status == "" {
		o.Status = "pending"
	}
	if o.FrameKeys == nil {
		o.FrameKeys = []string{}
	}
	if o.CreatedAt.IsZero() {
		o.CreatedAt = time.Now()
	}
	ctx := context.Background()
	_, err := store.Pool().Exec(ctx, `INSERT INTO frame_captures (id, user_id, video_id, timestamps, status, frame_keys, created_at, completed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $5 <> 'pending' THEN $7::timestamptz END)`,
		o.ID, o.User, o.Video, o.Timestamps, o.Status, o.FrameKeys, o.CreatedAt)
	if err != nil {
		t.Fatalf("dbtest: insert frame capture: %v", err)
	}
	fc, err := store.FrameCaptureGet(ctx, o.ID)
	if err != nil {
		t.Fatalf("dbtest: read frame capture back: %v", err)
	}
	return fc
}

// BackdateFrameRequeue moves a frame capture's last requeue back by age,
// as if the reconciler had requeued it then. It fails t on error.
func BackdateFrameRequeue(t testing.TB, store *db.Store, id uuid.UUID, age time.Duration) {
	t.Helper()
	_, err := store.Pool().Exec(context.Background(), "UPDATE frame_captures SET requeued_at = now() - $2::interval WHERE id = $1", id, age.String())
	if err != nil {
		t.Fatalf("dbtest: backdate frame requeue: %v", err)
	}
}

// UncompleteAIJob puts a completed job back as it was before its
// completion committed (processing, no glitch edge), for tests of a
// completion that crashed half-way. The stored result, credits and the
// counters are left as they are. It fails t on error.
func UncompleteAIJob(t testing.TB, store *db.Store, id uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	if _, err := store.Pool().Exec(ctx, `UPDATE ai_jobs SET status = 'processing', completed_at = NULL WHERE id = $1`, id); err != nil {
		t.Fatalf("dbtest: uncomplete AI job: %v", err)
	}
	if _, err := store.Pool().Exec(ctx, `DELETE FROM video_glitches WHERE glitch_video_id = $1`, id); err != nil {
		t.Fatalf("dbtest: uncomplete AI job: %v", err)
	}
}

func uuidOrNil(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

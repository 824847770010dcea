package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/pb33f/libopenapi"
	oasvalidator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/views"
)

// notifyRedisDB is the Redis database of the notification tests.
const notifyRedisDB = 10

var (
	notifySpecOnce sync.Once
	notifySpec     oasvalidator.Validator
	notifySpecErr  error
)

// notificationSpec is api/openapi.yaml as a response validator.
func notificationSpec(t *testing.T) oasvalidator.Validator {
	t.Helper()
	notifySpecOnce.Do(func() {
		doc := string(openapiYAML)
		d, err := libopenapi.NewDocument([]byte(doc))
		if err != nil {
			notifySpecErr = err
			return
		}
		v, errs := oasvalidator.NewValidator(d)
		if len(errs) > 0 {
			notifySpecErr = fmt.Errorf("build validator: %v", errs)
			return
		}
		if ok, verrs := v.ValidateDocument(); !ok {
			msgs := make([]string, 0, len(verrs))
			for _, e := range verrs {
				msgs = append(msgs, e.Message+": "+e.Reason)
			}
			notifySpecErr = fmt.Errorf("spliced openapi is not valid: %s", strings.Join(msgs, "; "))
			return
		}
		notifySpec = v
	})
	require.NoError(t, notifySpecErr)
	return notifySpec
}

type notifyEnv struct {
	t     *testing.T
	store *db.Store
	srv   *Server
	h     http.Handler
}

func newNotifyEnv(t *testing.T) *notifyEnv {
	t.Helper()
	cfg := Config{
		Env: "development", Version: "test", PublicBaseURL: "http://localhost:8000", CORSOrigins: []string{"*"},
		SecretKey: "test-secret-key-test-secret-key-0123456789", TokenTTL: time.Hour, BcryptCost: bcrypt.MinCost,
		AuthRateLimit: 1000, AuthRateWindow: time.Minute, UploadURLTTL: time.Hour, MediaURLTTL: time.Hour,
		VideoMaxBytes: 50 << 20, ImageMaxBytes: 5 << 20, ViewRateLimit: 100000,
	}
	store := dbtest.NewStore(t)
	rdb := testkit.Redis(t, notifyRedisDB)
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: cfg.PublicBaseURL, SecretKey: cfg.SecretKey})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	logger, _ := testkit.NewLogger()
	srv, err := New(cfg, Deps{
		Store: store, Redis: rdb, Tasks: tasks.NewClient(qc), Logger: logger, Storage: st,
		Views: views.NewCounter(rdb, cfg.SecretKey, views.DedupeWindow),
	})
	require.NoError(t, err)
	return &notifyEnv{t: t, store: store, srv: srv, h: srv.Handler()}
}

// user creates an account and a token for it.
func (e *notifyEnv) user() (db.User, string) {
	e.t.Helper()
	u := dbtest.CreateUser(e.t, e.store, dbtest.UserOpts{})
	tok, _, err := e.srv.tokens.issue(u.ID)
	require.NoError(e.t, err)
	return u, tok
}

type notifyResponse struct {
	Status int
	Header http.Header
	Raw    string
	Body   map[string]any
}

// do sends one request and validates the response against the spec.
func (e *notifyEnv) do(method, path, token string, body any) notifyResponse {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		r = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, r)
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	res := notifyResponse{Status: rec.Code, Header: rec.Header(), Raw: rec.Body.String()}
	require.True(e.t, strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json"), res.Raw)
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &res.Body), res.Raw)
	if rec.Code >= 400 {
		require.NotEmpty(e.t, res.Body["detail"], res.Raw)
		require.NotEmpty(e.t, res.Body["code"], res.Raw)
	}
	resp := &http.Response{StatusCode: rec.Code, Header: rec.Header(), Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Request: req}
	if ok, errs := notificationSpec(e.t).ValidateHttpResponse(req, resp); !ok {
		msgs := make([]string, 0, len(errs))
		for _, err := range errs {
			m := err.Message + ": " + err.Reason
			for _, se := range err.SchemaValidationErrors {
				m += " [" + se.FieldPath + ": " + se.Reason + "]"
			}
			msgs = append(msgs, m)
		}
		e.t.Fatalf("%s %s → %d does not match the spec:\n  %s\nbody: %s", method, path, rec.Code, strings.Join(msgs, "\n  "), res.Raw)
	}
	return res
}

func (e *notifyEnv) exec(sql string, args ...any) {
	e.t.Helper()
	_, err := e.store.Pool().Exec(context.Background(), sql, args...)
	require.NoError(e.t, err)
}

// seed makes actor like owner's video and follow owner, and delivers both
// notifications; it returns the video id and the two notifications, newest
// (the follow) first.
func (e *notifyEnv) seed(owner, actor db.User) (uuid.UUID, []db.NotificationView) {
	e.t.Helper()
	ctx := context.Background()
	videoID := db.NewID()
	e.exec(`INSERT INTO videos (id, user_id, caption, status) VALUES ($1, $2, 'my cat', 'completed')`, videoID, owner.ID)
	e.exec(`INSERT INTO likes (id, user_id, video_id) VALUES ($1, $2, $3)`, db.NewID(), actor.ID, videoID)
	e.exec(`INSERT INTO follows (id, follower_id, following_id) VALUES ($1, $2, $3)`, db.NewID(), actor.ID, owner.ID)
	like, err := e.store.DeliverNotification(ctx, db.NewNotification{Type: db.NotificationLike, RecipientID: owner.ID, ActorID: &actor.ID, VideoID: &videoID})
	require.NoError(e.t, err)
	follow, err := e.store.DeliverNotification(ctx, db.NewNotification{Type: db.NotificationFollow, RecipientID: owner.ID, ActorID: &actor.ID})
	require.NoError(e.t, err)
	require.True(e.t, like.Inserted && follow.Inserted)
	return videoID, []db.NotificationView{follow.Notification, like.Notification}
}

func actorJSON(u db.User) map[string]any {
	return map[string]any{"id": u.ID.String(), "username": u.Username, "display_name": *u.DisplayName,
		"profile_image_url": nil, "profile_image": nil}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func TestNotificationRoutes(t *testing.T) {
	t.Parallel()

	t.Run("RequireAuth", func(t *testing.T) {
		t.Parallel()
		e := newNotifyEnv(t)
		for _, r := range []struct{ method, path string }{
			{"GET", "/v1/notifications"}, {"GET", "/v1/notifications/"}, {"GET", "/v1/notifications/unread-count"},
			{"PATCH", "/v1/notifications/" + uuid.NewString() + "/read"}, {"PATCH", "/v1/notifications/read-all"},
			{"POST", "/v1/notifications/batch-mark-read"}, {"GET", "/v1/notifications/settings"},
			{"PATCH", "/v1/notifications/settings"},
		} {
			res := e.do(r.method, r.path, "", nil)
			require.Equal(t, http.StatusUnauthorized, res.Status, "%s %s", r.method, r.path)
			require.Contains(t, res.Header.Get("WWW-Authenticate"), "Bearer")
		}
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		e := newNotifyEnv(t)
		owner, tok := e.user()
		actor, _ := e.user()

		res := e.do("GET", "/v1/notifications/", tok, nil)
		require.Equal(t, http.StatusOK, res.Status)
		require.Equal(t, map[string]any{"notifications": []any{}, "total": float64(0), "unread_count": float64(0),
			"page": float64(1), "page_size": float64(20), "has_more": false}, res.Body)

		videoID, ns := e.seed(owner, actor)
		followJSON := map[string]any{
			"id": ns[0].ID.String(), "type": "follow", "actor": actorJSON(actor), "video": nil, "target_id": nil,
			"message": *actor.DisplayName + " started following you", "is_read": false, "created_at": stamp(ns[0].CreatedAt),
		}
		likeJSON := map[string]any{
			"id": ns[1].ID.String(), "type": "like", "actor": actorJSON(actor),
			"video":     map[string]any{"id": videoID.String(), "thumbnail_url": nil, "caption": "my cat"},
			"target_id": videoID.String(), "message": *actor.DisplayName + " liked your video",
			"is_read": false, "created_at": stamp(ns[1].CreatedAt),
		}
		res = e.do("GET", "/v1/notifications", tok, nil)
		require.Equal(t, http.StatusOK, res.Status)
		require.Equal(t, map[string]any{"notifications": []any{followJSON, likeJSON}, "total": float64(2),
			"unread_count": float64(2), "page": float64(1), "page_size": float64(20), "has_more": false}, res.Body)

		res = e.do("GET", "/v1/notifications?page=1&page_size=1", tok, nil)
		require.Equal(t, map[string]any{"notifications": []any{followJSON}, "total": float64(2),
			"unread_count": float64(2), "page": float64(1), "page_size": float64(1), "has_more": true}, res.Body)
		res = e.do("GET", "/v1/notifications?page=2&page_size=1", tok, nil)
		require.Equal(t, map[string]any{"notifications": []any{likeJSON}, "total": float64(2),
			"unread_count": float64(2), "page": float64(2), "page_size": float64(1), "has_more": false}, res.Body)

		// Someone else sees none of them.
		_, otherTok := e.user()
		res = e.do("GET", "/v1/notifications", otherTok, nil)
		require.Equal(t, float64(0), res.Body["total"])

		// A block hides the actor's notifications from list and counts.
		e.exec(`INSERT INTO blocks (id, blocker_id, blocked_id) VALUES ($1, $2, $3)`, db.NewID(), owner.ID, actor.ID)
		res = e.do("GET", "/v1/notifications", tok, nil)
		require.Equal(t, map[string]any{"notifications": []any{}, "total": float64(0), "unread_count": float64(0),
			"page": float64(1), "page_size": float64(20), "has_more": false}, res.Body)
	})

	t.Run("ListValidation", func(t *testing.T) {
		t.Parallel()
		e := newNotifyEnv(t)
		_, tok := e.user()
		for _, q := range []string{"page=0", "page=abc", "page_size=0", "page_size=101", "page=100001"} {
			res := e.do("GET", "/v1/notifications?"+q, tok, nil)
			require.Equal(t, http.StatusUnprocessableEntity, res.Status, q)
			require.Equal(t, "validation_error", res.Body["code"], q)
		}
	})

	t.Run("ReadOneAndCounts", func(t *testing.T) {
		t.Parallel()
		e := newNotifyEnv(t)
		owner, tok := e.user()
		actor, actorTok := e.user()
		_, ns := e.seed(owner, actor)

		res := e.do("GET", "/v1/notifications/unread-count", tok, nil)
		require.Equal(t, map[string]any{"unread_count": float64(2)}, res.Body)

		for range 2 { // idempotent
			res = e.do("PATCH", "/v1/notifications/"+ns[0].ID.String()+"/read", tok, nil)
			require.Equal(t, http.StatusOK, res.Status, res.Raw)
			require.Equal(t, map[string]any{
				"id": ns[0].ID.String(), "type": "follow", "actor": actorJSON(actor), "video": nil, "target_id": nil,
				"message": *actor.DisplayName + " started following you", "is_read": true, "created_at": stamp(ns[0].CreatedAt),
			}, res.Body)
		}
		res = e.do("GET", "/v1/notifications/unread-count", tok, nil)
		require.Equal(t, map[string]any{"unread_count": float64(1)}, res.Body)

		res = e.do("PATCH", "/v1/notifications/"+ns[1].ID.String()+"/read", actorTok, nil)
		require.Equal(t, http.StatusNotFound, res.Status, "someone else's notification")
		require.Equal(t, "Notification not found", res.Body["detail"])
		res = e.do("PATCH", "/v1/notifications/"+uuid.NewString()+"/read", tok, nil)
		require.Equal(t, http.StatusNotFound, res.Status)
		res = e.do("PATCH", "/v1/notifications/not-a-uuid/read", tok, nil)
		require.Equal(t, http.StatusUnprocessableEntity, res.Status)

		res = e.do("PATCH", "/v1/notifications/read-all", tok, nil)
		require.Equal(t, map[string]any{"updated": float64(1), "unread_count": float64(0)}, res.Body)
		res = e.do("PATCH", "/v1/notifications/read-all", tok, nil)
		require.Equal(t, map[string]any{"updated": float64(0), "unread_count": float64(0)}, res.Body)
	})

	t.Run("BatchMarkRead", func(t *testing.T) {
		t.Parallel()
		e := newNotifyEnv(t)
		owner, tok := e.user()
		actor, actorTok := e.user()
		_, ns := e.seed(owner, actor)

		res := e.do("POST", "/v1/notifications/batch-mark-read", actorTok, map[string]any{"notification_ids": []string{ns[0].ID.String()}})
		require.Equal(t, map[string]any{"updated": float64(0), "unread_count": float64(0)}, res.Body, "others' ids are ignored")
		res = e.do("POST", "/v1/notifications/batch-mark-read", tok, map[string]any{
			"notification_ids": []string{ns[0].ID.String(), uuid.NewString()}})
		require.Equal(t, map[string]any{"updated": float64(1), "unread_count": float64(1)}, res.Body)
		res = e.do("POST", "/v1/notifications/batch-mark-read", tok, map[string]any{
			"notification_ids": []string{ns[0].ID.String(), ns[1].ID.String()}})
		require.Equal(t, map[string]any{"updated": float64(1), "unread_count": float64(0)}, res.Body, "only unread ones count")
		res = e.do("POST", "/v1/notifications/batch-mark-read", tok, map[string]any{"notification_ids": []string{}})
		require.Equal(t, map[string]any{"updated": float64(0), "unread_count": float64(0)}, res.Body)

		tooMany := make([]string, 101)
		for i := range tooMany {
			tooMany[i] = uuid.NewString()
		}
		for name, body := range map[string]any{
			"TooMany": map[string]any{"notification_ids": tooMany},
			"BadID":   map[string]any{"notification_ids": []string{"nope"}},
			"Missing": map[string]any{},
			"NotList": map[string]any{"notification_ids": "x"},
			"Empty":   "",
			"Broken":  "{",
		} {
			res := e.do("POST", "/v1/notifications/batch-mark-read", tok, body)
			require.Equal(t, http.StatusUnprocessableEntity, res.Status, name)
			require.Equal(t, "validation_error", res.Body["code"], name)
		}
	})

	t.Run("Settings", func(t *testing.T) {
		t.Parallel()
		e := newNotifyEnv(t)
		_, tok := e.user()
		res := e.do("GET", "/v1/notifications/settings", tok, nil)
		require.Equal(t, map[string]any{"likes": true, "comments": true, "follows": true, "glitches": true,
			"ai_jobs": true, "email": true, "updated_at": nil}, res.Body)

		res = e.do("PATCH", "/v1/notifications/settings", tok, map[string]any{"likes": false, "email": false, "unknown": 1})
		require.Equal(t, http.StatusOK, res.Status, res.Raw)
		updatedAt, ok := res.Body["updated_at"].(string)
		require.True(t, ok, res.Raw)
		_, err := time.Parse(time.RFC3339Nano, updatedAt)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"likes": false, "comments": true, "follows": true, "glitches": true,
			"ai_jobs": true, "email": false, "updated_at": updatedAt}, res.Body)

		res = e.do("PATCH", "/v1/notifications/settings", tok, map[string]any{"likes": true, "ai_jobs": false})
		require.Equal(t, false, res.Body["email"], "absent toggles are unchanged")
		require.Equal(t, true, res.Body["likes"])
		require.Equal(t, false, res.Body["ai_jobs"])
		res = e.do("GET", "/v1/notifications/settings", tok, nil)
		require.Equal(t, false, res.Body["ai_jobs"])

		for name, body := range map[string]any{
			"String": map[string]any{"likes": "no"},
			"Number": map[string]any{"email": 0},
			"Null":   map[string]any{"follows": nil},
			"Array":  "[]",
			"Empty":  "",
		} {
			res := e.do("PATCH", "/v1/notifications/settings", tok, body)
			require.Equal(t, http.StatusUnprocessableEntity, res.Status, name)
			require.Equal(t, "validation_error", res.Body["code"], name)
		}
	})
}

package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/goccy/go-yaml"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/payments/paymenttest"
	"github.com/lokiz/lokiz/realtime"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/views"
)

// The six kinds of caller the authorization matrix sends every operation as.
const (
	idAnonymous = "anonymous"
	idOther     = "other"
	idOwner     = "owner"
	idAdmin     = "admin"
	idBanned    = "banned"
	idRevoked   = "revoked"
)

var matrixIdentities = []string{idAnonymous, idOther, idOwner, idAdmin, idBanned, idRevoked}

// accessClasses are the values of x-lokiz-access (defined in the document's
// x-lokiz-access-classes).
var accessClasses = []string{"public", "open", "user", "owner", "owner_or_admin", "admin", "webhook", "signed"}

// specOperation is one operation of api/openapi.yaml with its access class.
type specOperation struct {
	ID, Method, Path, Access string
}

// specOperations reads every operation of api/openapi.yaml.
func specOperations(t *testing.T) ([]specOperation, map[string]string) {
	t.Helper()
	var doc struct {
		Classes map[string]string                    `yaml:"x-lokiz-access-classes"`
		Paths   map[string]map[string]map[string]any `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(api.OpenAPIYAML(), &doc))
	var ops []specOperation
	for path, item := range doc.Paths {
		for method, op := range item {
			switch method {
			case "get", "put", "post", "patch", "delete", "head", "options":
			default:
				continue
			}
			id, _ := op["operationId"].(string)
			access, _ := op["x-lokiz-access"].(string)
			ops = append(ops, specOperation{ID: id, Method: strings.ToUpper(method), Path: path, Access: access})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].ID < ops[j].ID })
	return ops, doc.Classes
}

// account is one identity: a user and its access token.
type account struct {
	id       uuid.UUID
	token    string
	email    string
	password string
}

// matrixWorld is everything the matrix's requests point at: the identities
// and the owner's resources of every kind.
type matrixWorld struct {
	e      *testEnv
	wsBase string
	seq    atomic.Int64

	owner, other, admin, banned, revoked account
	// target is a bystander the social routes aim at (follow, block), so
	// a block by one cell never hides the owner from another.
	target account

	publicVideo, privateVideo, removedVideo    string
	targetVideo, targetComment                 string
	draft, job, capture, comment, notification string
	order, apiKey, apiKeySecret                string
	packageID                                  string
	// ownerRefresh is the owner's refresh token from its sign-up: a
	// secret, like the owner's e-mail, no answer to anyone else may hold.
	ownerRefresh string
}

// cell is one request of the matrix: an operation sent as one identity.
type cell struct {
	w   *matrixWorld
	t   *testing.T
	e   *testEnv
	who string
	// as is the account the request is sent as (zero for anonymous).
	as account
}

func (c *cell) name(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, c.w.seq.Add(1))
}

// freshUser makes a user through the store (password dbtest.DefaultPassword).
func (c *cell) freshUser(role string) account {
	u := dbtest.CreateUser(c.t, c.e.store, dbtest.UserOpts{Username: c.name("mx_fresh"), Role: role})
	return account{id: u.ID, token: c.e.tokenFor(u.ID), email: u.Email, password: dbtest.DefaultPassword}
}

// video makes a fresh public video of the owner.
func (c *cell) video() string { return c.e.video(c.w.owner.id.String(), dbtest.VideoOpts{}) }

// comment makes a fresh comment of the owner's on their public video.
func (c *cell) comment() uuid.UUID {
	return dbtest.Comment(c.t, c.e.store, dbtest.CommentOpts{Author: c.w.owner.id, Video: uuid.MustParse(c.w.publicVideo), Content: "matrix"})
}

// report files a fresh report of a fresh video of the owner's, by a fresh
// user, and returns its id.
func (c *cell) report() string {
	v := uuid.MustParse(c.video())
	r, _, err := c.e.store.FileReport(context.Background(), db.ReportFiling{ReporterID: c.freshUser(lokiz.RoleUser).id,
		VideoID: &v, ReportType: "spam"})
	require.NoError(c.t, err)
	return r.ID.String()
}

func (c *cell) ownerDraft() (id, updatedAt string) {
	res := c.e.do(req{method: "POST", path: "/v1/videos/draft", token: c.w.owner.token, body: map[string]any{"title": "matrix"}})
	require.Equal(c.t, http.StatusCreated, res.Status, "%s", res.Raw)
	return res.Body["id"].(string), res.Body["updated_at"].(string)
}

// matrixRow says how one operation is sent. build returns the request
// (its token is the cell's unless it sets one); it may make fresh
// resources for a destructive operation. send replaces e.do for routes
// that are not plain JSON (the WebSocket).
type matrixRow struct {
	build func(c *cell) req
	send  func(c *cell) int
	// freshCaller: the owner, other and admin cells act as a fresh account
	// of their kind, for operations that end sessions or the account, or
	// change what the identity may see (blocks).
	freshCaller bool
	// ok lists the statuses an allowed caller must get; empty means any
	// status below 500 that is not 401 or 403.
	ok []int
	// refusedTier: 403 with this reason is what an allowed caller gets
	// without the tier the route needs (API keys are for enterprise users).
	refusedTier map[string]string
	// notOwner lists the statuses the other user and the admin must get on
	// a user route whose request names the owner's private resource (in
	// the body or the path): the route is theirs to call, the resource is
	// not theirs to touch.
	notOwner []int
}

// matrixRows are the operations by operationId. Each row names the owner's
// resources through w, read when the cell runs.
func matrixRows() map[string]matrixRow {
	get := func(p func(w *matrixWorld) string) func(c *cell) req {
		return func(c *cell) req { return req{path: p(c.w)} }
	}
	withBody := func(p func(w *matrixWorld) string, body func(c *cell) any) func(c *cell) req {
		return func(c *cell) req { return req{path: p(c.w), body: body(c)} }
	}
	static := func(p string) func(w *matrixWorld) string { return func(*matrixWorld) string { return p } }
	body := func(b any) func(*cell) any { return func(*cell) any { return b } }
	pv := func(format string) func(w *matrixWorld) string {
		return func(w *matrixWorld) string { return fmt.Sprintf(format, w.publicVideo) }
	}
	owner := func(format string) func(w *matrixWorld) string {
		return func(w *matrixWorld) string { return fmt.Sprintf(format, w.owner.id) }
	}
	target := func(format string) func(w *matrixWorld) string {
		return func(w *matrixWorld) string { return fmt.Sprintf(format, w.target.id) }
	}
	comment := func(format string) func(w *matrixWorld) string {
		return func(w *matrixWorld) string { return fmt.Sprintf(format, w.comment) }
	}
	created := []int{http.StatusOK, http.StatusCreated, http.StatusAccepted, http.StatusNoContent}
	enterprise := map[string]string{idOther: "enterprise_required", idAdmin: "enterprise_required"}
	return map[string]matrixRow{
		// Service routes, registration and the mailed-token routes: the
		// header is not read.
		"getRoot":    {build: get(static("/"))},
		"getHealth":  {build: get(static("/health"))},
		"getReady":   {build: get(static("/ready"))},
		"getOpenAPI": {build: get(static("/openapi.json"))},
		"getDocs":    {build: get(static("/docs"))},
		"register": {build: func(c *cell) req {
			n := c.name("mx_reg")
			return req{path: "/v1/auth/register", body: map[string]any{"username": n, "email": n + "@example.com", "password": "password-" + n}}
		}},
		"login": {build: withBody(static("/v1/auth/login"), func(c *cell) any {
			return map[string]any{"email": c.w.owner.email, "password": c.w.owner.password}
		})},
		"refreshToken": {build: withBody(static("/v1/auth/refresh"), func(c *cell) any {
			res := c.e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": c.w.owner.email, "password": c.w.owner.password}})
			require.Equal(c.t, http.StatusOK, res.Status, "%s", res.Raw)
			return map[string]any{"refresh_token": res.Body["refresh_token"]}
		})},
		"verifyEmail": {build: withBody(static("/v1/auth/verify-email"), func(c *cell) any {
			u := c.freshUser(lokiz.RoleUser)
			return map[string]any{"token": c.e.mailToken(c.t, u.id, db.TokenVerifyEmail, time.Hour)}
		})},
		"requestPasswordReset": {build: withBody(static("/v1/auth/password-reset/request"), func(c *cell) any {
			return map[string]any{"email": c.name("mx_reset") + "@example.com"}
		})},
		"resetPassword": {build: withBody(static("/v1/auth/password-reset"), func(c *cell) any {
			u := c.freshUser(lokiz.RoleUser)
			return map[string]any{"token": c.e.mailToken(c.t, u.id, db.TokenPasswordReset, time.Hour), "new_password": "a-new-password-1"}
		})},
		"unsubscribePage": {build: get(static("/v1/email/unsubscribe?token=not-a-token"))},
		"unsubscribe":     {build: get(static("/v1/email/unsubscribe?token=not-a-token"))},

		// The storage backend's signed URLs: no signature, no object.
		"downloadObject": {build: func(c *cell) req {
			return req{path: "/storage/" + c.w.privateVideo + ".mp4"}
		}},
		"uploadObject": {build: func(c *cell) req {
			return req{path: "/storage/" + uuid.NewString() + ".mp4", body: "not a video"}
		}},

		// Providers' callbacks, unsigned.
		"stripeWebhook":    {build: withBody(static("/v1/webhooks/stripe"), body(map[string]any{"id": "evt_1", "type": "checkout.session.completed"}))},
		"tossWebhook":      {build: withBody(static("/v1/webhooks/toss"), body(map[string]any{"eventType": "PAYMENT_STATUS_CHANGED"}))},
		"replicateWebhook": {build: withBody(static("/v1/webhooks/replicate"), body(map[string]any{"id": "p1", "status": "succeeded"}))},

		// The caller's own account.
		"getAuthMe":     {build: get(static("/v1/auth/me")), ok: []int{http.StatusOK}},
		"updateAuthMe":  {build: withBody(static("/v1/auth/me"), body(map[string]any{"bio": "matrix"})), ok: []int{http.StatusOK}},
		"getUsersMe":    {build: get(static("/v1/users/me")), ok: []int{http.StatusOK}},
		"updateUsersMe": {build: withBody(static("/v1/users/me"), body(map[string]any{"bio": "matrix"})), ok: []int{http.StatusOK}},
		"getMyStats":    {build: get(static("/v1/users/me/stats")), ok: []int{http.StatusOK}},
		"logout":        {build: get(static("/v1/auth/logout")), freshCaller: true, ok: created},
		"logoutAll":     {build: get(static("/v1/auth/logout-all")), freshCaller: true, ok: created},
		"changePassword": {build: withBody(static("/v1/auth/password"), func(c *cell) any {
			return map[string]any{"current_password": c.as.password, "new_password": "a-new-password-2"}
		}), freshCaller: true, ok: created},
		"deleteUsersMe": {build: withBody(static("/v1/users/me"), func(c *cell) any {
			return map[string]any{"password": c.as.password}
		}), freshCaller: true, ok: created},
		"requestEmailVerification": {build: get(static("/v1/auth/verify-email/request")), freshCaller: true, ok: created},

		// Profiles and lists anyone may read.
		"getUser":        {build: get(owner("/v1/users/%s")), ok: []int{http.StatusOK}},
		"batchUserInfo":  {build: withBody(static("/v1/users/batch-info"), func(c *cell) any { return map[string]any{"user_ids": []string{c.w.owner.id.String()}} }), ok: []int{http.StatusOK}},
		"listUserVideos": {build: get(owner("/v1/users/%s/videos")), ok: []int{http.StatusOK}},
		"listVideos":     {build: get(static("/v1/videos")), ok: []int{http.StatusOK}},
		"listMyVideos":   {build: get(static("/v1/videos/me")), ok: []int{http.StatusOK}},
		"batchVideoMetadata": {build: withBody(static("/v1/videos/batch-metadata"), func(c *cell) any {
			return map[string]any{"video_ids": []string{c.w.publicVideo, c.w.privateVideo, c.w.removedVideo}}
		}), ok: []int{http.StatusOK}},
		// The owner's private video: the owner sees it, others get 404.
		"getVideo":         {build: func(c *cell) req { return req{path: "/v1/videos/" + c.w.privateVideo} }},
		"recordView":       {build: withBody(pv("/v1/videos/%s/view"), body(map[string]any{"watch_time_ms": 1000}))},
		"listFollowers":    {build: get(owner("/v1/follows/users/%s/followers")), ok: []int{http.StatusOK}},
		"listFollowing":    {build: get(owner("/v1/follows/users/%s/following")), ok: []int{http.StatusOK}},
		"shareVideo":       {build: withBody(pv("/v1/videos/%s/share"), body(map[string]any{"platform": "copy_link"}))},
		"shareVideoLegacy": {build: withBody(pv("/v1/shares/videos/%s"), body(map[string]any{"platform": "copy_link"}))},
		"shareCount":       {build: get(pv("/v1/videos/%s/share-count")), ok: []int{http.StatusOK}},
		"shareCountLegacy": {build: get(pv("/v1/shares/videos/%s/count")), ok: []int{http.StatusOK}},
		"listComments":     {build: get(pv("/v1/comments/videos/%s")), ok: []int{http.StatusOK}},
		"trendingHashtags": {build: get(static("/v1/hashtags/trending")), ok: []int{http.StatusOK}},
		"hashtagVideos":    {build: get(static("/v1/hashtags/matrix/videos")), ok: []int{http.StatusOK}},
		"hashtagBatchStats": {build: withBody(static("/v1/hashtags/batch-stats"),
			body(map[string]any{"hashtag_names": []string{"matrix"}})), ok: []int{http.StatusOK}},
		"creditPackages":    {build: get(static("/v1/credits/packages")), ok: []int{http.StatusOK}},
		"listGlitches":      {build: get(pv("/v1/glitch/videos/%s/glitches")), ok: []int{http.StatusOK}},
		"glitchSource":      {build: get(pv("/v1/glitch/videos/%s/source"))},
		"glitchTree":        {build: get(pv("/v1/glitch/videos/%s/tree")), ok: []int{http.StatusOK}},
		"glitchPresets":     {build: get(static("/v1/presets/glitch")), ok: []int{http.StatusOK}},
		"musicPresets":      {build: get(static("/v1/presets/music")), ok: []int{http.StatusOK}},
		"subscriptionPlans": {build: get(static("/v1/subscriptions/plans")), ok: []int{http.StatusOK}},
		"searchAll":         {build: get(static("/v1/search?q=matrix")), ok: []int{http.StatusOK}},
		"searchUsers":       {build: get(static("/v1/search/users?q=mx")), ok: []int{http.StatusOK}},
		"searchVideos":      {build: get(static("/v1/search/videos?q=matrix")), ok: []int{http.StatusOK}},
		"autocomplete":      {build: get(static("/v1/search/autocomplete?q=ma")), ok: []int{http.StatusOK}},
		"feed":              {build: get(static("/v1/videos/feed")), ok: []int{http.StatusOK}},
		"forYouFeed":        {build: get(static("/v1/feed/for-you")), ok: []int{http.StatusOK}},
		"prefetch":          {build: get(static("/v1/videos/prefetch")), ok: []int{http.StatusOK}},
		"followingFeed":     {build: get(static("/v1/feed/following")), ok: []int{http.StatusOK}},

		// Uploads.
		"createImageUpload": {build: withBody(static("/v1/images/upload-url"), body(map[string]any{"content_type": "image/png", "size_bytes": 1024})), ok: []int{http.StatusOK}},
		"createVideoUpload": {build: withBody(static("/v1/videos/upload-url"), body(map[string]any{"filename": "matrix.mp4", "size_bytes": 2048})), ok: []int{http.StatusOK}},

		// The owner's videos.
		"updateVideo": {build: withBody(pv("/v1/videos/%s"), body(map[string]any{"caption": "matrix #matrix"})), ok: []int{http.StatusOK}},
		"deleteVideo": {build: func(c *cell) req { return req{path: "/v1/videos/" + c.video()} }, ok: created},
		"completeVideo": {build: func(c *cell) req {
			// An upload that never arrived: the owner is past the
			// ownership check and told the file is missing.
			v := c.e.video(c.w.owner.id.String(), dbtest.VideoOpts{Status: "uploading", NoMedia: true, UploadKey: "uploads/" + uuid.NewString() + ".mp4"})
			return req{path: "/v1/videos/" + v + "/complete", body: map[string]any{}}
		}},
		"getVideoStats": {build: get(pv("/v1/videos/%s/stats")), ok: []int{http.StatusOK}},

		// Likes, follows, blocks, bookmarks.
		"likeVideo":   {build: get(pv("/v1/likes/videos/%s")), ok: created},
		"unlikeVideo": {build: get(pv("/v1/likes/videos/%s")), ok: created},
		"checkLike":   {build: get(pv("/v1/likes/videos/%s/check")), ok: []int{http.StatusOK}},
		"checkLikes": {build: withBody(static("/v1/likes/check-batch"), func(c *cell) any {
			return map[string]any{"video_ids": []string{c.w.publicVideo, c.w.privateVideo}}
		}), ok: []int{http.StatusOK}},
		"listLikedVideos": {build: get(owner("/v1/users/%s/liked-videos")), ok: []int{http.StatusOK}},
		"follow":          {build: get(target("/v1/follows/users/%s")), ok: created},
		"unfollow":        {build: get(target("/v1/follows/users/%s")), ok: created},
		"checkFollow":     {build: get(owner("/v1/follows/users/%s/check")), ok: []int{http.StatusOK}},
		"checkFollows": {build: withBody(static("/v1/follows/check-batch"), func(c *cell) any {
			return map[string]any{"user_ids": []string{c.w.owner.id.String()}}
		}), ok: []int{http.StatusOK}},
		// Blocks by fresh callers: the cells run in parallel, and a block
		// of the bystander by a shared identity would hide the bystander's
		// video and comment from that identity's other cells (reportVideo,
		// report, follow) while it lasts.
		"blockUser":         {build: get(target("/v1/blocks/users/%s")), freshCaller: true, ok: created},
		"unblockUser":       {build: get(target("/v1/blocks/users/%s")), freshCaller: true, ok: created},
		"listBlocks":        {build: get(static("/v1/blocks")), ok: []int{http.StatusOK}},
		"blockUserLegacy":   {build: withBody(static("/v1/moderation/block"), func(c *cell) any { return map[string]any{"blocked_user_id": c.w.target.id} }), freshCaller: true, ok: created},
		"unblockUserLegacy": {build: get(target("/v1/moderation/block/%s")), freshCaller: true, ok: created},
		"listBlocksLegacy":  {build: get(static("/v1/moderation/blocks")), ok: []int{http.StatusOK}},
		"isBlocked":         {build: get(owner("/v1/moderation/is-blocked/%s")), ok: []int{http.StatusOK}},
		"bookmark":          {build: get(pv("/v1/bookmarks/videos/%s")), ok: created},
		"unbookmark":        {build: get(pv("/v1/bookmarks/videos/%s")), ok: created},
		"checkBookmark":     {build: get(pv("/v1/bookmarks/videos/%s/check")), ok: []int{http.StatusOK}},
		"listBookmarks":     {build: get(static("/v1/bookmarks")), ok: []int{http.StatusOK}},

		// Comments.
		"createComment": {build: withBody(pv("/v1/comments/videos/%s"), body(map[string]any{"content": "matrix"})), ok: created},
		"updateComment": {build: withBody(comment("/v1/comments/%s"), body(map[string]any{"content": "matrix edit"})), ok: []int{http.StatusOK}},
		"deleteComment": {build: func(c *cell) req {
			// A comment of the owner's on someone else's video, so the
			// video's owner's right to delete it plays no part.
			v := c.e.video(c.w.target.id.String(), dbtest.VideoOpts{})
			id := dbtest.Comment(c.t, c.e.store, dbtest.CommentOpts{Author: c.w.owner.id, Video: uuid.MustParse(v)})
			return req{path: "/v1/comments/" + id.String()}
		}, ok: created},
		"batchComments": {build: withBody(static("/v1/comments/batch-info"), func(c *cell) any {
			return map[string]any{"comment_ids": []string{c.w.comment}}
		}), ok: []int{http.StatusOK}},
		"likeComment":      {build: get(comment("/v1/comments/comments/%s/like")), ok: created},
		"unlikeComment":    {build: get(comment("/v1/comments/comments/%s/like")), ok: created},
		"checkCommentLike": {build: get(comment("/v1/comments/comments/%s/like/check")), ok: []int{http.StatusOK}},

		// Reports.
		// Reports of a bystander's video (one's own is refused, self_report).
		"reportVideo": {build: withBody(func(w *matrixWorld) string { return "/v1/videos/" + w.targetVideo + "/report" },
			body(map[string]any{"report_type": "spam", "reason": "matrix"})), ok: created},
		"report": {build: withBody(static("/v1/moderation/report"), func(c *cell) any {
			return map[string]any{"reported_comment_id": c.w.targetComment, "report_type": "spam", "reason": "matrix"}
		}), ok: created},
		"listMyReports": {build: get(static("/v1/moderation/reports")), ok: []int{http.StatusOK}},

		// Notifications.
		"listNotifications":          {build: get(static("/v1/notifications")), ok: []int{http.StatusOK}},
		"getNotificationUnreadCount": {build: get(static("/v1/notifications/unread-count")), ok: []int{http.StatusOK}},
		"notificationSocket":         {send: sendSocket, ok: []int{http.StatusSwitchingProtocols}},
		"markNotificationRead": {build: func(c *cell) req {
			return req{path: "/v1/notifications/" + c.w.notification + "/read"}
		}, ok: created},
		"markAllNotificationsRead": {build: get(static("/v1/notifications/read-all")), ok: created},
		"batchMarkNotificationsRead": {build: withBody(static("/v1/notifications/batch-mark-read"), func(c *cell) any {
			return map[string]any{"notification_ids": []string{c.w.notification}}
		}), ok: created},
		"getNotificationSettings":    {build: get(static("/v1/notifications/settings")), ok: []int{http.StatusOK}},
		"updateNotificationSettings": {build: withBody(static("/v1/notifications/settings"), body(map[string]any{"likes": true})), ok: []int{http.StatusOK}},

		// Credits, payments and subscriptions.
		"creditBalance": {build: get(static("/v1/credits/balance")), ok: []int{http.StatusOK}},
		"creditHistory": {build: get(static("/v1/credits/history")), ok: []int{http.StatusOK}},
		"dailyStatus":   {build: get(static("/v1/credits/daily-status")), ok: []int{http.StatusOK}},
		"dailyClaim":    {build: get(static("/v1/credits/daily-claim"))},
		"purchaseCredits": {build: withBody(static("/v1/credits/purchase"), func(c *cell) any {
			return map[string]any{"package_id": c.w.packageID, "provider": "toss"}
		}), ok: created},
		"getPaymentOrder": {build: func(c *cell) req { return req{path: "/v1/payments/orders/" + c.w.order} }, ok: []int{http.StatusOK}},
		// The owner's order named in the body: confirming it is a Toss
		// call, refused for a dev order before any provider is asked.
		"tossConfirm": {build: withBody(static("/v1/payments/toss/confirm"), func(c *cell) any {
			return map[string]any{"paymentKey": "pk_matrix", "orderId": c.w.order, "amount": 1}
		}), notOwner: []int{http.StatusNotFound}},
		"subscribe":          {build: withBody(static("/v1/subscriptions/subscribe"), body(map[string]any{"plan": "pro", "provider": "toss"}))},
		"tossBilling":        {build: withBody(static("/v1/subscriptions/toss/billing"), body(map[string]any{"authKey": "", "customerKey": "", "plan": "pro"}))},
		"mySubscription":     {build: get(static("/v1/subscriptions/me")), ok: []int{http.StatusOK}},
		"cancelSubscription": {build: get(static("/v1/subscriptions/cancel"))},

		// Drafts.
		"createDraft": {build: withBody(static("/v1/videos/draft"), body(map[string]any{"title": "matrix"})), ok: created},
		"listDrafts":  {build: get(static("/v1/videos/drafts")), ok: []int{http.StatusOK}},
		"getDraft":    {build: func(c *cell) req { return req{path: "/v1/videos/drafts/" + c.w.draft} }, ok: []int{http.StatusOK}},
		"saveDraft": {build: func(c *cell) req {
			id, at := c.ownerDraft()
			return req{path: "/v1/videos/drafts/" + id, body: map[string]any{"updated_at": at, "title": "matrix saved"}}
		}, ok: []int{http.StatusOK}},
		"deleteDraft": {build: func(c *cell) req {
			id, _ := c.ownerDraft()
			return req{path: "/v1/videos/drafts/" + id}
		}, ok: created},

		// The studio and frames.
		// The owner's private video: the studio opens it for its owner only.
		"studioTimeline": {build: func(c *cell) req { return req{path: "/v1/studio/videos/" + c.w.privateVideo + "/timeline"} },
			ok: []int{http.StatusOK}, notOwner: []int{http.StatusNotFound}},
		"studioPreview": {build: get(pv("/v1/studio/videos/%s/preview?start_time=0&end_time=1"))},
		"studioSelectRange": {build: withBody(pv("/v1/studio/videos/%s/select-range"),
			body(map[string]any{"start_time": 0, "end_time": 1}))},
		// Frames of the owner's private video: its owner's to capture.
		"captureFrames": {build: withBody(static("/v1/ai/capture-frames"), func(c *cell) any {
			return map[string]any{"video_id": c.w.privateVideo, "timestamps": []float64{1}}
		}), notOwner: []int{http.StatusNotFound}},
		"captureFrame": {build: withBody(static("/v1/ai/capture-frame"), func(c *cell) any {
			return map[string]any{"video_id": c.w.privateVideo, "timestamp": 1}
		}), notOwner: []int{http.StatusNotFound}},
		"getCapture": {build: func(c *cell) req { return req{path: "/v1/ai/capture-frames/" + c.w.capture} }, ok: []int{http.StatusOK}},

		// AI jobs: bodies that fail validation once the caller is through.
		"aiTemplate":         {build: withBody(static("/v1/ai/template"), body(map[string]any{"image_url": "", "template": "", "prompt": ""}))},
		"aiGlitchAnimate":    {build: withBody(static("/v1/ai/glitch/animate"), body(map[string]any{"template_video_id": "", "user_image_url": ""}))},
		"aiGlitchReplace":    {build: withBody(static("/v1/ai/glitch/replace"), body(map[string]any{"template_video_id": "", "user_image_url": ""}))},
		"aiStickerToReality": {build: withBody(static("/v1/ai/sticker-to-reality"), body(map[string]any{"video_id": "", "user_image_url": "", "start_time": 0, "end_time": 0, "prompt": ""}))},
		"aiMusic":            {build: withBody(static("/v1/ai/music"), body(map[string]any{"prompt": ""}))},
		"listAIJobs":         {build: get(static("/v1/ai/jobs")), ok: []int{http.StatusOK}},
		"getAIJob":           {build: func(c *cell) req { return req{path: "/v1/ai/jobs/" + c.w.job} }, ok: []int{http.StatusOK}},
		"cancelAIJob": {build: func(c *cell) req {
			j := dbtest.AIJob(c.t, c.e.store, dbtest.AIJobOpts{User: c.w.owner.id})
			return req{path: "/v1/ai/jobs/" + j.ID.String()}
		}, ok: created},
		"batchAIJobStatus": {build: withBody(static("/v1/ai/jobs/batch-status"), func(c *cell) any {
			return map[string]any{"job_ids": []string{c.w.job}}
		}), ok: []int{http.StatusOK}},

		// Search history.
		"listSearchHistory":  {build: get(static("/v1/search/history")), ok: []int{http.StatusOK}},
		"addSearchHistory":   {build: withBody(static("/v1/search/history"), body(map[string]any{"query": "matrix"})), ok: []int{http.StatusOK}},
		"clearSearchHistory": {build: get(static("/v1/search/history/clear")), freshCaller: true, ok: created},
		"deleteSearchHistory": {build: func(c *cell) req {
			return req{path: "/v1/search/history/" + c.w.ownerHistory(c)}
		}, ok: created},

		// API keys (enterprise users only).
		"createAPIKey": {build: withBody(static("/v1/api-keys"), body(map[string]any{"name": "matrix"})), ok: created, refusedTier: enterprise},
		"listAPIKeys":  {build: get(static("/v1/api-keys")), ok: []int{http.StatusOK}},
		"revokeAPIKey": {build: func(c *cell) req {
			_, id := c.e.newAPIKey(c.t, c.w.owner.token, c.name("mx_key"))
			return req{path: "/v1/api-keys/" + id}
		}, ok: created},

		// Admin routes, each on a target of its own.
		"listAdminAudit":  {build: get(static("/v1/admin/audit")), ok: []int{http.StatusOK}},
		"adminStats":      {build: get(static("/v1/admin/stats")), ok: []int{http.StatusOK}},
		"adminListUsers":  {build: get(static("/v1/admin/users")), ok: []int{http.StatusOK}},
		"adminListVideos": {build: get(static("/v1/admin/videos")), ok: []int{http.StatusOK}},
		"banUser": {build: func(c *cell) req {
			return req{path: "/v1/admin/users/" + c.freshUser(lokiz.RoleUser).id.String() + "/ban", body: map[string]any{"reason": "matrix"}}
		}, ok: []int{http.StatusOK}},
		"unbanUser": {build: func(c *cell) req {
			u := c.freshUser(lokiz.RoleUser)
			_, _, err := c.e.store.AdminBanUser(context.Background(), db.Actor{AdminID: &c.w.admin.id}, db.BanParams{UserID: u.id, Reason: "matrix"})
			require.NoError(c.t, err)
			return req{path: "/v1/admin/users/" + u.id.String() + "/unban", body: map[string]any{"reason": "matrix"}}
		}, ok: []int{http.StatusOK}},
		"removeVideo": {build: func(c *cell) req {
			return req{path: "/v1/admin/videos/" + c.video() + "/remove", body: map[string]any{"reason": "matrix"}}
		}, ok: []int{http.StatusOK}},
		"adminListReports":    {build: get(static("/v1/admin/reports")), ok: []int{http.StatusOK}},
		"listReportsOriginal": {build: get(static("/v1/reports")), ok: []int{http.StatusOK}},
		"adminGetReport": {build: func(c *cell) req {
			return req{path: "/v1/admin/reports/" + c.report()}
		}, ok: []int{http.StatusOK}},
		"adminDecideReport": {build: func(c *cell) req {
			return req{path: "/v1/admin/reports/" + c.report(), body: map[string]any{"status": "dismissed", "reason": "matrix"}}
		}, ok: []int{http.StatusOK}},
		"adminRemoveComment": {build: func(c *cell) req {
			return req{path: "/v1/admin/comments/" + c.comment().String() + "/remove", body: map[string]any{"reason": "matrix"}}
		}, ok: []int{http.StatusOK}},
		"adminRestoreComment": {build: func(c *cell) req {
			id := c.comment()
			_, _, err := c.e.store.AdminRemoveComment(context.Background(), db.Actor{AdminID: &c.w.admin.id}, id, "matrix")
			require.NoError(c.t, err)
			return req{path: "/v1/admin/comments/" + id.String() + "/restore", body: map[string]any{"reason": "matrix"}}
		}, ok: []int{http.StatusOK}},
		"restoreVideo": {build: func(c *cell) req {
			v := c.video()
			_, _, err := c.e.store.AdminRemoveVideo(context.Background(), db.Actor{AdminID: &c.w.admin.id}, uuid.MustParse(v), "matrix")
			require.NoError(c.t, err)
			return req{path: "/v1/admin/videos/" + v + "/restore", body: map[string]any{"reason": "matrix"}}
		}, ok: []int{http.StatusOK}},
	}
}

// ownerHistory adds a search to the owner's history and returns its id.
func (w *matrixWorld) ownerHistory(c *cell) string {
	q := c.name("matrixq")
	res := c.e.do(req{method: "POST", path: "/v1/search/history", token: w.owner.token, body: map[string]any{"query": q}})
	require.Equal(c.t, http.StatusOK, res.Status, "%s", res.Raw)
	for _, h := range res.Body["history"].([]any) {
		h := h.(map[string]any)
		if h["query"] == q {
			return h["id"].(string)
		}
	}
	c.t.Fatalf("the new search %q is not in the owner's history: %s", q, res.Raw)
	return ""
}

// sendSocket opens the notification socket as the cell's identity: a
// live token is upgraded (101), anything else is refused at the
// handshake.
func sendSocket(c *cell) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if c.as.token != "" {
		h.Set("Authorization", "Bearer "+c.as.token)
	}
	ws, resp, err := websocket.Dial(ctx, c.w.wsBase+"/v1/notifications/ws", &websocket.DialOptions{HTTPHeader: h})
	if ws != nil {
		_ = ws.Close(websocket.StatusNormalClosure, "")
	}
	if err != nil && resp == nil {
		c.t.Fatalf("dial the notification socket as %s: %v", c.who, err)
	}
	return resp.StatusCode
}

// newMatrixEnv is the api with every optional part on, so no route answers
// 503 for want of it: the realtime hub behind a real listener, billing with
// the development checkout and Stripe and Toss clients (which the unsigned
// webhooks never reach), a Replicate webhook secret and mail.
func newMatrixEnv(t *testing.T) (*testEnv, string) {
	t.Helper()
	cfg := testConfig()
	cfg.ReplicateWebhookSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("authz-matrix-replicate-secret"))
	cfg.EmailEnabled = true
	store := dbtest.NewStore(t)
	rdb := newRedis(t)
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	tc := tasks.NewClient(qc).WithDeleter(asynq.NewInspectorFromRedisClient(rdb))
	logger, logs := testkit.NewLogger()
	st := newLocalStorage(t, cfg)

	stripe, err := payments.NewStripe(payments.StripeConfig{SecretKey: paymenttest.StripeTestKey, WebhookSecret: paymenttest.StripeWebhookSecret,
		APIBase: "http://127.0.0.1:9", SuccessURL: "https://lokiz.test/ok", CancelURL: "https://lokiz.test/cancel"})
	require.NoError(t, err)
	toss, err := payments.NewToss(payments.TossConfig{SecretKey: "test_sk_matrix", ClientKey: "test_ck_matrix",
		BaseURL: "http://127.0.0.1:9", WebhookToken: "authz-matrix-toss-token"})
	require.NoError(t, err)
	provs := payments.Providers{Dev: payments.NewDevCheckout(cfg.PublicBaseURL), Stripe: stripe, Toss: toss}
	b, err := billing.New(store, tc, provs, billing.Config{CustomerKeySecret: cfg.SecretKey}, logger)
	require.NoError(t, err)

	hub := realtime.New(rdb, store, realtime.Config{}, logger)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hub.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	require.NoError(t, hub.WaitReady(wctx))

	srv, err := api.New(cfg, api.Deps{
		Store: store, Redis: rdb, Tasks: tc, Logger: logger, Storage: st, StorageHandler: st.Handler(),
		Views: views.NewCounter(rdb, cfg.SecretKey, views.DedupeWindow), AIModels: testAIModels,
		Billing: b, Realtime: hub,
	})
	require.NoError(t, err)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = hub.Shutdown(sctx)
		hs.Close()
	})
	e := &testEnv{t: t, store: store, rdb: rdb, srv: srv, h: srv.Handler(), logs: logs, config: cfg, storage: st, queue: qc,
		ip: fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), rand.IntN(256))}
	return e, "ws" + strings.TrimPrefix(hs.URL, "http")
}

// newMatrixWorld makes the identities and the owner's resources.
func newMatrixWorld(t *testing.T, e *testEnv, wsBase string) *matrixWorld {
	t.Helper()
	ctx := context.Background()
	w := &matrixWorld{e: e, wsBase: wsBase}
	signup := func(name string) account {
		res := e.do(req{method: "POST", path: "/v1/auth/register", body: map[string]any{
			"username": name, "email": name + "@example.com", "password": "password-" + name}})
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
		if name == "mx_owner" {
			w.ownerRefresh = res.Body["refresh_token"].(string)
		}
		return account{id: uuid.MustParse(res.Body["user"].(map[string]any)["id"].(string)), token: res.Body["access_token"].(string),
			email: name + "@example.com", password: "password-" + name}
	}
	w.owner = signup("mx_owner")
	w.other = signup("mx_other")
	w.target = signup("mx_target")
	w.banned = signup("mx_banned")
	w.revoked = signup("mx_revoked")
	adminID, adminToken := e.adminToken(t)
	w.admin = account{id: adminID, token: adminToken}

	// Banned through the admin path after its token was issued; revoked by
	// its own logout.
	_, _, err := e.store.AdminBanUser(ctx, db.Actor{AdminID: &adminID}, db.BanParams{UserID: w.banned.id, Reason: "matrix"})
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, e.do(req{method: "POST", path: "/v1/auth/logout", token: w.revoked.token}).Status)

	// The owner is an enterprise user (API keys) with one resource of
	// every kind.
	dbtest.SetSubscription(t, e.store, w.owner.id, lokiz.TierEnterprise, nil)
	owner := w.owner.id.String()
	w.publicVideo = e.video(owner, dbtest.VideoOpts{Caption: "matrix #matrix"})
	w.privateVideo = e.video(owner, dbtest.VideoOpts{Private: true, Caption: "matrix private"})
	w.removedVideo = e.video(owner, dbtest.VideoOpts{Caption: "matrix removed"})
	_, _, err = e.store.AdminRemoveVideo(ctx, db.Actor{AdminID: &adminID}, uuid.MustParse(w.removedVideo), "matrix")
	require.NoError(t, err)
	w.targetVideo = e.video(w.target.id.String(), dbtest.VideoOpts{})
	w.targetComment = dbtest.Comment(t, e.store, dbtest.CommentOpts{Author: w.target.id, Video: uuid.MustParse(w.targetVideo)}).String()
	// Through the api, so the video's hashtag exists.
	res := e.do(req{method: "PATCH", path: "/v1/videos/" + w.publicVideo, token: w.owner.token, body: map[string]any{"caption": "matrix #matrix"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	w.comment = dbtest.Comment(t, e.store, dbtest.CommentOpts{Author: w.owner.id, Video: uuid.MustParse(w.publicVideo), Content: "matrix comment"}).String()
	w.job = dbtest.AIJob(t, e.store, dbtest.AIJobOpts{User: w.owner.id}).ID.String()
	w.capture = dbtest.FrameCapture(t, e.store, dbtest.FrameCaptureOpts{User: w.owner.id, Video: uuid.MustParse(w.publicVideo)}).ID.String()
	msg := "matrix notification"
	d, err := e.store.DeliverNotification(ctx, db.NewNotification{Type: db.NotificationSystem, RecipientID: w.owner.id, Message: &msg})
	require.NoError(t, err)
	w.notification = d.Notification.ID.String()

	res = e.do(req{method: "POST", path: "/v1/videos/draft", token: w.owner.token, body: map[string]any{"title": "matrix"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	w.draft = res.Body["id"].(string)

	res = e.do(req{method: "GET", path: "/v1/credits/packages"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	w.packageID = firstPackageID(t, res)
	res = e.do(req{method: "POST", path: "/v1/credits/purchase", token: w.owner.token, body: map[string]any{"package_id": w.packageID, "provider": "toss"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	w.order = res.Body["order_id"].(string)

	w.apiKeySecret, w.apiKey = e.newAPIKey(t, w.owner.token, "matrix key")
	res = e.do(req{method: "POST", path: "/v1/moderation/report", token: w.owner.token,
		body: map[string]any{"reported_user_id": w.target.id, "report_type": "spam", "reason": "matrix"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	return w
}

func firstPackageID(t *testing.T, res response) string {
	t.Helper()
	for _, k := range []string{"packages", "items"} {
		if list, ok := res.Body[k].([]any); ok && len(list) > 0 {
			return list[0].(map[string]any)["id"].(string)
		}
	}
	t.Fatalf("no credit package in %s", res.Raw)
	return ""
}

// privateKeys are fields no answer about someone else may carry:
// credentials, sessions, keys and payment provider references.
// privateUserKeys are private in a user object (one with a username):
// contact, balance and ban details.
var (
	privateKeys = []string{
		"password", "hashed_password", "password_hash", "access_token", "refresh_token", "refresh_hash",
		"session_id", "sid", "key", "key_hash", "secret", "provider_payment_id", "provider_ref", "payment_key",
		"paymentKey", "customer_key", "customerKey", "billing_key", "stripe_customer_id", "provider_session_id",
	}
	privateUserKeys = []string{"email", "credits", "balance", "banned_until", "ban_reason", "email_verified", "language"}
)

// findKeys returns the paths of the private keys anywhere in v.
func findKeys(v any, at string, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		_, user := v["username"]
		for k, x := range v {
			if slices.Contains(privateKeys, k) || (user && slices.Contains(privateUserKeys, k)) {
				*out = append(*out, at+"."+k)
			}
			findKeys(x, at+"."+k, out)
		}
	case []any:
		for i, x := range v {
			findKeys(x, fmt.Sprintf("%s[%d]", at, i), out)
		}
	}
}

// TestAuthorizationMatrix sends every operation of api/openapi.yaml as each
// of six identities (signed out, another user, the owner of the resources
// the path names, an administrator, a banned user, a signed-out session)
// and holds each answer to the operation's x-lokiz-access class. It also
// checks that every route the router serves under /v1 is in the document,
// and that no answer to anyone but the owner carries the owner's private
// fields.
func TestAuthorizationMatrix(t *testing.T) {
	start := time.Now()
	ops, classes := specOperations(t)
	for _, c := range accessClasses {
		require.NotEmpty(t, classes[c], "api/openapi.yaml x-lokiz-access-classes defines %q", c)
	}
	for c := range classes {
		require.Contains(t, accessClasses, c, "x-lokiz-access-classes defines %q, which the matrix does not know", c)
	}

	e, wsBase := newMatrixEnv(t)
	w := newMatrixWorld(t, e, wsBase)
	rows := matrixRows()

	// The document and the matrix agree operation by operation.
	var problems []string
	inSpec := map[string]bool{}
	for _, op := range ops {
		inSpec[op.ID] = true
		switch {
		case op.Access == "":
			problems = append(problems, fmt.Sprintf("%s %s (operationId %s) has no x-lokiz-access class", op.Method, op.Path, op.ID))
		case !slices.Contains(accessClasses, op.Access):
			problems = append(problems, fmt.Sprintf("%s %s (operationId %s) has x-lokiz-access %q, not one of %v", op.Method, op.Path, op.ID, op.Access, accessClasses))
		}
		if _, ok := rows[op.ID]; !ok {
			problems = append(problems, fmt.Sprintf("%s %s (operationId %s) has no row in matrixRows (api/authz_matrix_test.go)", op.Method, op.Path, op.ID))
		}
	}
	for id := range rows {
		if !inSpec[id] {
			problems = append(problems, fmt.Sprintf("matrixRows has a row %q that is no operation of api/openapi.yaml", id))
		}
	}
	// Every /v1 route the router serves is in the document.
	specRoutes := map[string]bool{}
	for _, op := range ops {
		specRoutes[op.Method+" "+op.Path] = true
	}
	param := regexp.MustCompile(`[:*]([a-z_]+)`)
	for _, r := range e.srv.Routes() {
		if !strings.HasPrefix(r.Path, "/v1/") {
			continue
		}
		p := param.ReplaceAllString(r.Path, "{$1}")
		if !specRoutes[r.Method+" "+p] {
			problems = append(problems, fmt.Sprintf("the router serves %s %s, which api/openapi.yaml does not describe", r.Method, p))
		}
	}
	sort.Strings(problems)
	require.Empty(t, problems, "the contract and the matrix disagree:\n  %s", strings.Join(problems, "\n  "))

	ids := map[string]account{idOther: w.other, idOwner: w.owner, idAdmin: w.admin, idBanned: w.banned, idRevoked: w.revoked}
	ownerSecrets := []string{w.owner.email, w.ownerRefresh, w.apiKeySecret}
	var cells atomic.Int64
	t.Run("ops", func(t *testing.T) {
		for _, op := range ops {
			row := rows[op.ID]
			t.Run(op.ID, func(t *testing.T) {
				t.Parallel()
				ce := *e
				ce.t = t
				openFirst := 0
				for _, who := range matrixIdentities {
					c := &cell{w: w, t: t, e: &ce, who: who, as: ids[who]}
					if row.freshCaller {
						switch who {
						case idOwner, idOther:
							c.as = c.freshUser(lokiz.RoleUser)
						case idAdmin:
							c.as = c.freshUser(lokiz.RoleAdmin)
						}
					}
					checkCell(t, c, op, row, ownerSecrets, &openFirst)
					cells.Add(1)
				}
			})
		}
	})
	// The owner's private and removed videos, read by each identity: each
	// is the owner's alone (CONTRACT.md §2: one's own video is always
	// visible), and a removed one's media is withheld even from its owner.
	t.Run("hidden videos", func(t *testing.T) {
		ce := *e
		ce.t = t
		want := map[string]map[string]int{
			w.privateVideo: {idAnonymous: 404, idOther: 404, idOwner: 200, idAdmin: 404, idBanned: 401, idRevoked: 401},
			w.removedVideo: {idAnonymous: 404, idOther: 404, idOwner: 200, idAdmin: 404, idBanned: 401, idRevoked: 401},
		}
		for video, byWho := range want {
			for _, who := range matrixIdentities {
				res := ce.do(req{method: "GET", path: "/v1/videos/" + video, token: ids[who].token})
				require.Equal(t, byWho[who], res.Status, "GET /v1/videos/%s as %s: %s", video, who, res.Raw)
				if video == w.removedVideo && res.Status == http.StatusOK {
					require.Equal(t, "removed", res.Body["status"], "%s", res.Raw)
					require.Nil(t, res.Body["video_url"], "a removed video's media is withheld, so no URL is handed out: %s", res.Raw)
					require.Nil(t, res.Body["thumbnail_url"], "%s", res.Raw)
				}
			}
		}
	})
	if !t.Failed() {
		t.Logf("authz matrix: %d operations × %d identities = %d cells, all passed (%s)",
			len(ops), len(matrixIdentities), cells.Load(), time.Since(start).Round(time.Millisecond))
		fmt.Printf("authz matrix: %d operations × %d identities = %d cells, all passed\n", len(ops), len(matrixIdentities), cells.Load())
	}
}

// checkCell sends one operation as one identity and checks the answer.
func checkCell(t *testing.T, c *cell, op specOperation, row matrixRow, ownerSecrets []string, openFirst *int) {
	t.Helper()
	var res response
	if row.send != nil {
		res.Status = row.send(c)
	} else {
		r := row.build(c)
		r.method = op.Method
		if r.token == "" {
			r.token = c.as.token
		}
		res = c.e.do(r)
	}
	where := fmt.Sprintf("%s %s (%s, x-lokiz-access %s) as %s → %d: %s", op.Method, op.Path, op.ID, op.Access, c.who, res.Status, res.Raw)
	allowed := func() {
		if want, ok := row.refusedTier[c.who]; ok && res.Status == http.StatusForbidden {
			require.Equal(t, want, reason(res), where)
			return
		}
		if len(row.notOwner) > 0 && (c.who == idOther || c.who == idAdmin) {
			require.Contains(t, row.notOwner, res.Status, "the owner's resource is refused to someone else: %s", where)
			return
		}
		if len(row.ok) > 0 {
			require.Contains(t, row.ok, res.Status, "an allowed caller gets one of %v: %s", row.ok, where)
			return
		}
		require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, res.Status, "an allowed caller is not refused: %s", where)
		require.Less(t, res.Status, 500, where)
	}
	refused401 := func() {
		require.Equal(t, http.StatusUnauthorized, res.Status, "no token, a banned user's or a signed-out session's is 401: %s", where)
	}
	switch op.Access {
	case "open":
		// The header is not read: the same answer for everyone.
		require.Less(t, res.Status, 500, where)
		require.NotEqual(t, http.StatusForbidden, res.Status, where)
		if *openFirst == 0 {
			*openFirst = res.Status
		}
		require.Equal(t, *openFirst, res.Status, "an open route answers every caller alike: %s", where)
	case "webhook":
		require.Contains(t, []int{http.StatusBadRequest, http.StatusUnauthorized}, res.Status, "an unsigned webhook is 400 or 401: %s", where)
	case "signed":
		require.Equal(t, http.StatusForbidden, res.Status, "an unsigned storage URL is 403: %s", where)
	case "public":
		switch c.who {
		case idBanned, idRevoked:
			refused401()
		default:
			allowed()
		}
	case "user":
		switch c.who {
		case idAnonymous, idBanned, idRevoked:
			refused401()
		default:
			allowed()
		}
	case "owner", "owner_or_admin":
		switch {
		case c.who == idAnonymous || c.who == idBanned || c.who == idRevoked:
			refused401()
		case c.who == idOwner || (c.who == idAdmin && op.Access == "owner_or_admin"):
			allowed()
		default:
			require.Contains(t, []int{http.StatusForbidden, http.StatusNotFound}, res.Status, "someone else is 403 or 404: %s", where)
		}
	case "admin":
		switch c.who {
		case idAnonymous, idBanned, idRevoked:
			refused401()
		case idAdmin:
			allowed()
		default:
			require.Equal(t, http.StatusForbidden, res.Status, "a user who is not an admin is 403: %s", where)
		}
	default:
		t.Fatalf("unknown access class: %s", where)
	}

	// No answer to anyone but the owner carries the owner's secrets; no
	// answer about someone else carries a private field. The open routes
	// answer whoever holds the credential in the body, and admin routes
	// show administrators what they are for.
	if c.who == idOwner || op.Access == "open" || (c.who == idAdmin && op.Access == "admin") {
		return
	}
	for _, s := range ownerSecrets {
		require.NotContains(t, string(res.Raw), s, "the owner's secret reaches %s: %s", c.who, where)
	}
	if op.Access == "public" || op.Access == "owner" || op.Access == "owner_or_admin" {
		var found []string
		var v any
		if json.Unmarshal(res.Raw, &v) == nil {
			findKeys(v, "$", &found)
		}
		require.Empty(t, found, "private fields in an answer to %s: %s", c.who, where)
	}
}

package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// defaultAdminStatsTTL is how long GET /v1/admin/stats answers from its
// cache (ADMIN_STATS_CACHE_TTL).
const defaultAdminStatsTTL = 30 * time.Second

// statsCache holds the last GET /v1/admin/stats answer of this process.
// One request computes it at a time (the others wait for it), so an expiry
// under load costs one computation, not one per request.
type statsCache struct {
	mu   sync.Mutex
	at   time.Time
	body []byte
}

// windowCount is a count over the last day and the last 7 days.
type windowCount struct {
	Day  int64 `json:"day"`
	Week int64 `json:"week"`
}

type creditTypeStats struct {
	Type         string `json:"type"`
	Transactions int64  `json:"transactions"`
	Granted      int64  `json:"granted"`
	Used         int64  `json:"used"`
}

type aiTypeStats struct {
	JobType     string           `json:"job_type,omitempty"`
	Total       int64            `json:"total"`
	ByStatus    map[string]int64 `json:"by_status"`
	SuccessRate *float64         `json:"success_rate"`
	P50Seconds  *float64         `json:"p50_seconds"`
	P95Seconds  *float64         `json:"p95_seconds"`
}

type queueStats struct {
	Queue          string  `json:"queue"`
	Size           int     `json:"size"`
	Pending        int     `json:"pending"`
	Active         int     `json:"active"`
	Scheduled      int     `json:"scheduled"`
	Retry          int     `json:"retry"`
	Archived       int     `json:"archived"`
	ProcessedToday int     `json:"processed_today"`
	FailedToday    int     `json:"failed_today"`
	LatencySeconds float64 `json:"latency_seconds"`
	Paused         bool    `json:"paused"`
}

// platformStats is the answer of GET /v1/admin/stats.
type platformStats struct {
	TotalUsers     int64            `json:"total_users"`
	NewUsers       windowCount      `json:"new_users"`
	TotalVideos    int64            `json:"total_videos"`
	NewVideos      windowCount      `json:"new_videos"`
	DAU            int64            `json:"dau"`
	WAU            int64            `json:"wau"`
	MAU            int64            `json:"mau"`
	Users          map[string]int64 `json:"users"`
	VideosByStatus map[string]int64 `json:"videos_by_status"`
	Credits        struct {
		Granted int64             `json:"granted"`
		Used    int64             `json:"used"`
		ByType  []creditTypeStats `json:"by_type"`
	} `json:"credits"`
	AIJobs struct {
		aiTypeStats
		ByType []aiTypeStats `json:"by_type"`
	} `json:"ai_jobs"`
	Queues          []queueStats `json:"queues"`
	QueueFailed     int          `json:"queue_failed_today"`
	QueueArchived   int          `json:"queue_archived"`
	OpenReports     int64        `json:"open_reports"`
	GeneratedAt     time.Time    `json:"generated_at"`
	CacheTTLSeconds float64      `json:"cache_ttl_seconds"`
}

// adminStats answers GET /v1/admin/stats (admins only) from a cache of
// AdminStatsTTL.
func (s *Server) adminStats(c *gin.Context) {
	ctx := c.Request.Context()
	s.statsCache.mu.Lock()
	defer s.statsCache.mu.Unlock()
	now := time.Now()
	if s.statsCache.body == nil || now.Sub(s.statsCache.at) >= s.cfg.AdminStatsTTL {
		st, err := s.platformStats(ctx, now)
		if err != nil {
			s.writeError(c, err)
			return
		}
		body, err := json.Marshal(st)
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.statsCache.at, s.statsCache.body = now, body
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/json; charset=utf-8", s.statsCache.body)
}

func rate(ok, bad int64) *float64 {
	if ok+bad == 0 {
		return nil
	}
	r := float64(ok) / float64(ok+bad)
	return &r
}

// platformStats counts everything once. "day" is the last 24 hours and
// "week" the last 7 days before now; totals leave out deleted users and
// videos (users.status and videos_by_status say how many of each state).
func (s *Server) platformStats(ctx context.Context, now time.Time) (platformStats, error) {
	var st platformStats
	daySince, weekSince := now.Add(-24*time.Hour), now.Add(-7*24*time.Hour)
	uc, err := s.store.PlatformUserCounts(ctx, db.PlatformUserCountsParams{DaySince: daySince, WeekSince: weekSince})
	if err != nil {
		return st, err
	}
	st.TotalUsers, st.NewUsers = uc.Total, windowCount{Day: uc.NewDay, Week: uc.NewWeek}
	st.Users = map[string]int64{"active": uc.Active, "banned": uc.Banned, "deleted": uc.Deleted, "admins": uc.Admins}

	vc, err := s.store.PlatformVideoCounts(ctx, db.PlatformVideoCountsParams{DaySince: daySince, WeekSince: weekSince})
	if err != nil {
		return st, err
	}
	st.VideosByStatus = map[string]int64{}
	for _, r := range vc {
		st.TotalVideos += r.Total
		st.NewVideos.Day += r.NewDay
		st.NewVideos.Week += r.NewWeek
		st.VideosByStatus[r.Status] = r.Total
	}

	counts, err := s.activity.Counts(ctx, now)
	if err != nil {
		return st, err
	}
	st.DAU, st.WAU, st.MAU = counts.DAU, counts.WAU, counts.MAU

	credits, err := s.store.PlatformCreditTotals(ctx)
	if err != nil {
		return st, err
	}
	st.Credits.ByType = []creditTypeStats{}
	for _, r := range credits {
		st.Credits.Granted += r.Granted
		st.Credits.Used += r.Used
		st.Credits.ByType = append(st.Credits.ByType, creditTypeStats{Type: r.TransactionType, Transactions: r.Transactions, Granted: r.Granted, Used: r.Used})
	}

	if err := s.aiJobStats(ctx, &st); err != nil {
		return st, err
	}
	if err := s.queueStats(ctx, &st); err != nil {
		return st, err
	}
	if st.OpenReports, err = s.store.PlatformOpenReports(ctx); err != nil {
		return st, err
	}
	st.GeneratedAt = now.UTC()
	st.CacheTTLSeconds = s.cfg.AdminStatsTTL.Seconds()
	return st, nil
}

// aiJobStats fills ai_jobs: counts by type and status; the success rate is
// completed / (completed + failed), canceled and open jobs left out; the
// durations are those of completed jobs.
func (s *Server) aiJobStats(ctx context.Context, st *platformStats) error {
	rows, err := s.store.PlatformAIJobCounts(ctx)
	if err != nil {
		return err
	}
	durations, err := s.store.PlatformAIJobDurations(ctx)
	if err != nil {
		return err
	}
	all := aiTypeStats{ByStatus: map[string]int64{}}
	byType := map[string]*aiTypeStats{}
	for _, t := range lokiz.JobTypes {
		byType[t] = &aiTypeStats{JobType: t, ByStatus: map[string]int64{}}
	}
	for _, r := range rows {
		t := byType[r.JobType]
		if t == nil {
			t = &aiTypeStats{JobType: r.JobType, ByStatus: map[string]int64{}}
			byType[r.JobType] = t
		}
		t.Total += r.Jobs
		t.ByStatus[r.Status] += r.Jobs
		all.Total += r.Jobs
		all.ByStatus[r.Status] += r.Jobs
	}
	for _, d := range durations {
		t := &all
		if d.JobType != "" {
			t = byType[d.JobType]
		}
		if t != nil {
			p50, p95 := d.P50Seconds, d.P95Seconds
			t.P50Seconds, t.P95Seconds = &p50, &p95
		}
	}
	all.SuccessRate = rate(all.ByStatus[lokiz.JobCompleted], all.ByStatus[lokiz.JobFailed])
	st.AIJobs.aiTypeStats = all
	st.AIJobs.ByType = []aiTypeStats{}
	for _, t := range byType {
		t.SuccessRate = rate(t.ByStatus[lokiz.JobCompleted], t.ByStatus[lokiz.JobFailed])
		st.AIJobs.ByType = append(st.AIJobs.ByType, *t)
	}
	slices.SortFunc(st.AIJobs.ByType, func(a, b aiTypeStats) int { return strings.Compare(a.JobType, b.JobType) })
	return nil
}

// queueStats reads every asynq queue: its depth by state, and today's
// processed and failed counts (asynq resets them daily, UTC).
func (s *Server) queueStats(ctx context.Context, st *platformStats) error {
	queues, err := s.inspector.Queues(ctx)
	if err != nil {
		return err
	}
	st.Queues = []queueStats{}
	for _, q := range queues {
		st.Queues = append(st.Queues, queueStats{
			Queue: q.Queue, Size: q.Size, Pending: q.Pending, Active: q.Active, Scheduled: q.Scheduled,
			Retry: q.Retry, Archived: q.Archived, ProcessedToday: q.ProcessedToday, FailedToday: q.FailedToday,
			LatencySeconds: q.Latency.Seconds(), Paused: q.Paused,
		})
		st.QueueFailed += q.FailedToday
		st.QueueArchived += q.Archived
	}
	return nil
}

// The filters of the admin lists.
var (
	adminUserStatuses  = []string{"active", "banned", "deleted"}
	adminUserRoles     = []string{lokiz.RoleUser, lokiz.RoleAdmin}
	adminUserTiers     = []string{lokiz.TierFree, lokiz.TierBasic, lokiz.TierPro, lokiz.TierEnterprise}
	adminVideoStatuses = []string{"uploading", "processing", "completed", "failed", "removed", "deleted"}
)

// enumParam reads an optional query parameter that must be one of allowed.
func enumParam(c *gin.Context, name string, allowed []string, errs *[]lokiz.FieldError) *string {
	v := c.Query(name)
	if v == "" {
		return nil
	}
	if !slices.Contains(allowed, v) {
		*errs = append(*errs, fieldErr(oneOf(allowed), "query", name))
	}
	return &v
}

// timeParam reads an optional RFC 3339 time from the query, adding a
// field error to errs when it is not one.
func timeParam(c *gin.Context, name string, errs *[]lokiz.FieldError) *time.Time {
	raw := c.Query(name)
	if raw == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		*errs = append(*errs, fieldErr("must be an RFC 3339 time", "query", name))
		return nil
	}
	return &t
}

// adminUser is a user as an admin sees it: state included.
type adminUser struct {
	ID                    uuid.UUID  `json:"id"`
	Username              string     `json:"username"`
	Email                 string     `json:"email"`
	DisplayName           *string    `json:"display_name"`
	Role                  string     `json:"role"`
	Status                string     `json:"status"`
	IsActive              bool       `json:"is_active"`
	EmailVerified         bool       `json:"email_verified"`
	Credits               int32      `json:"credits"`
	SubscriptionTier      string     `json:"subscription_tier"`
	SubscriptionExpiresAt *time.Time `json:"subscription_expires_at"`
	CreatedAt             time.Time  `json:"created_at"`
	DeletedAt             *time.Time `json:"deleted_at"`
}

func userStatus(u db.User) string {
	switch {
	case u.DeletedAt != nil:
		return "deleted"
	case !u.IsActive:
		return "banned"
	default:
		return "active"
	}
}

// adminUsers answers GET /v1/admin/users (admins only): every user, newest
// first; q is a username or e-mail prefix.
func (s *Server) adminUsers(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := parsePage(c)
	var errs []lokiz.FieldError
	if err != nil {
		s.writeError(c, err)
		return
	}
	status := enumParam(c, "status", adminUserStatuses, &errs)
	role := enumParam(c, "role", adminUserRoles, &errs)
	tier := enumParam(c, "tier", adminUserTiers, &errs)
	q := adminUserQuery(c, &errs)
	if len(errs) > 0 {
		s.writeError(c, lokiz.ValidationError(errs...))
		return
	}
	rows, err := s.store.AdminUsers(ctx, db.AdminUsersParams{Q: q, Status: status, Role: role, Tier: tier,
		CursorAt: p.cursorAt(), CursorID: p.cursorID(), Lim: int32(p.Size + 1)})
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, next, more := pageOf(rows, p.Size, func(u db.User) cursor { return cursor{At: u.CreatedAt, ID: u.ID} })
	out := make([]adminUser, len(rows))
	for i, u := range rows {
		out[i] = adminUser{ID: u.ID, Username: u.Username, Email: u.Email, DisplayName: u.DisplayName, Role: u.Role,
			Status: userStatus(u), IsActive: u.IsActive, EmailVerified: u.EmailVerifiedAt != nil, Credits: u.Credits,
			SubscriptionTier: u.SubscriptionTier, SubscriptionExpiresAt: utc(u.SubscriptionExpiresAt),
			CreatedAt: u.CreatedAt.UTC(), DeletedAt: utc(u.DeletedAt)}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"users": out, "next_cursor": next, "has_more": more, "page_size": p.Size})
}

// adminVideo is a video as an admin sees it: any state, with its owner's.
type adminVideo struct {
	videoResponse
	OwnerStatus string     `json:"owner_status"`
	RemovedAt   *time.Time `json:"removed_at"`
	DeletedAt   *time.Time `json:"deleted_at"`
}

// adminVideos answers GET /v1/admin/videos (admins only): every video,
// private, removed, failed and deleted ones included, newest first; q is a
// substring of the caption or title.
func (s *Server) adminVideos(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := parsePage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var errs []lokiz.FieldError
	status := enumParam(c, "status", adminVideoStatuses, &errs)
	owner := uuidParam(c, "owner_id", &errs)
	q := adminVideoQuery(c, &errs)
	if len(errs) > 0 {
		s.writeError(c, lokiz.ValidationError(errs...))
		return
	}
	rows, err := s.store.AdminVideos(ctx, db.AdminVideosParams{Q: q, Status: status, OwnerID: owner,
		CursorAt: p.cursorAt(), CursorID: p.cursorID(), Lim: int32(p.Size + 1)})
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, next, more := pageOf(rows, p.Size, func(r db.AdminVideosRow) cursor { return cursor{At: r.Video.CreatedAt, ID: r.Video.ID} })
	vs, authors := make([]db.Video, len(rows)), make([]db.User, len(rows))
	for i, r := range rows {
		vs[i], authors[i] = r.Video, r.User
	}
	rendered, err := s.videoResponses(ctx, vs, authors)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]adminVideo, len(rows))
	for i, r := range rows {
		out[i] = adminVideo{videoResponse: rendered[i], OwnerStatus: userStatus(r.User),
			RemovedAt: utc(r.Video.RemovedAt), DeletedAt: utc(r.Video.DeletedAt)}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"videos": out, "next_cursor": next, "has_more": more, "page_size": p.Size})
}

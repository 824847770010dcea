package api

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// statsDays is how many UTC days the by-day series cover, today included.
const statsDays = 30

// unknownBucket names what a demographic cannot tell: no trusted country
// header, no age or gender in any profile (the users table has neither).
const unknownBucket = "unknown"

type dayViews struct {
	Date  string `json:"date"`
	Views int64  `json:"views"`
}

type dayLikes struct {
	Date  string `json:"date"`
	Likes int64  `json:"likes"`
}

type dayComments struct {
	Date     string `json:"date"`
	Comments int64  `json:"comments"`
}

// dailySeries is the three by-day series, oldest day first, every day
// present.
type dailySeries struct {
	ViewsByDay    []dayViews    `json:"views_by_day"`
	LikesByDay    []dayLikes    `json:"likes_by_day"`
	CommentsByDay []dayComments `json:"comments_by_day"`
}

type trafficSources struct {
	Feed     int64 `json:"feed"`
	Search   int64 `json:"search"`
	Profile  int64 `json:"profile"`
	Share    int64 `json:"share"`
	External int64 `json:"external"`
	Other    int64 `json:"other"`
}

type watchStats struct {
	TotalWatchTimeMS       int64    `json:"total_watch_time_ms"`
	ViewsWithWatchTime     int64    `json:"views_with_watch_time"`
	AverageWatchTimeMS     *int64   `json:"average_watch_time_ms"`
	AverageWatchPercentage *float64 `json:"average_watch_percentage"`
}

type demographics struct {
	Countries map[string]int64 `json:"countries"`
	AgeGroups map[string]int64 `json:"age_groups"`
	Genders   map[string]int64 `json:"genders"`
}

type videoStatsResponse struct {
	VideoID       uuid.UUID `json:"video_id"`
	From          string    `json:"from"`
	To            string    `json:"to"`
	TotalViews    int64     `json:"total_views"`
	PendingViews  int64     `json:"pending_views"`
	TotalLikes    int64     `json:"total_likes"`
	TotalComments int64     `json:"total_comments"`
	dailySeries
	TrafficSources trafficSources `json:"traffic_sources"`
	Watch          watchStats     `json:"watch"`
	Demographics   demographics   `json:"demographics"`
}

// statsWindow is the first and last UTC day of the series.
func statsWindow() (first, last time.Time) {
	now := time.Now().UTC()
	last = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	return last.AddDate(0, 0, -(statsDays - 1)), last
}

// series reads the zero-filled by-day series of ids.
func (s *Server) series(ctx context.Context, ids []uuid.UUID) (dailySeries, time.Time, time.Time, error) {
	first, last := statsWindow()
	rows, err := s.store.StatsDaily(ctx, db.StatsDailyParams{First: first, Last: last, VideoIDs: ids})
	if err != nil {
		return dailySeries{}, first, last, err
	}
	out := dailySeries{
		ViewsByDay: make([]dayViews, 0, len(rows)), LikesByDay: make([]dayLikes, 0, len(rows)),
		CommentsByDay: make([]dayComments, 0, len(rows)),
	}
	for _, r := range rows {
		d := r.Day.Format(time.DateOnly)
		out.ViewsByDay = append(out.ViewsByDay, dayViews{Date: d, Views: r.Views})
		out.LikesByDay = append(out.LikesByDay, dayLikes{Date: d, Likes: r.Likes})
		out.CommentsByDay = append(out.CommentsByDay, dayComments{Date: d, Comments: r.Comments})
	}
	return out, first, last, nil
}

// getVideoStats is a video's analytics (issue 15 §5). Its owner and admins
// may read them; anyone else signed in gets 403 when the video is visible
// to them and 404 when it is not (a hidden video's existence is not told).
// The series, sources, watch time and demographics are of flushed views
// (VIEW_FLUSH_INTERVAL behind); total_views adds the views not yet
// flushed (pending_views).
func (s *Server) getVideoStats(c *gin.Context) {
	ctx := c.Request.Context()
	id, err := pathUUID(c, "video_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	me := mustUser(c)
	v, err := s.store.VideoStatsTarget(ctx, db.VideoStatsTargetParams{ID: id, ViewerID: me.ID})
	if db.IsNotFound(err) {
		s.writeError(c, errVideoNotFound)
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	if v.UserID != me.ID && me.Role != lokiz.RoleAdmin {
		if !v.Visible {
			s.writeError(c, errVideoNotFound)
			return
		}
		s.writeError(c, &lokiz.Error{Code: lokiz.EFORBIDDEN, Reason: "not_video_owner",
			Message: "Only the video's owner and administrators may see its stats"})
		return
	}
	ids := []uuid.UUID{id}
	series, first, last, err := s.series(ctx, ids)
	if err != nil {
		s.writeError(c, err)
		return
	}
	tot, err := s.store.StatsViewTotals(ctx, ids)
	if err != nil {
		s.writeError(c, err)
		return
	}
	countries, err := s.store.StatsCountries(ctx, ids)
	if err != nil {
		s.writeError(c, err)
		return
	}
	pending := s.pendingViews(ctx, ids)[id]

	watch := watchStats{TotalWatchTimeMS: tot.WatchTimeMs, ViewsWithWatchTime: tot.WatchViews}
	if tot.WatchViews > 0 {
		avg := tot.WatchTimeMs / tot.WatchViews
		watch.AverageWatchTimeMS = &avg
		if v.DurationSeconds > 0 {
			pct := float64(tot.WatchTimeMs) / (float64(tot.WatchViews) * v.DurationSeconds * 1000) * 100
			pct = math.Round(min(pct, 100)*10) / 10
			watch.AverageWatchPercentage = &pct
		}
	}
	byCountry := map[string]int64{}
	var known int64
	for _, r := range countries {
		byCountry[r.Country] = r.Views
		known += r.Views
	}
	if unknown := tot.Views - known; unknown > 0 {
		byCountry[unknownBucket] = unknown
	}
	// No profile has an age or a gender: every flushed view is unknown.
	unknownOnly := func() map[string]int64 {
		m := map[string]int64{}
		if tot.Views > 0 {
			m[unknownBucket] = tot.Views
		}
		return m
	}
	c.JSON(http.StatusOK, videoStatsResponse{
		VideoID: id, From: first.Format(time.DateOnly), To: last.Format(time.DateOnly),
		TotalViews: v.ViewCount + pending, PendingViews: pending,
		TotalLikes: int64(v.LikeCount), TotalComments: int64(v.CommentCount),
		dailySeries: series,
		TrafficSources: trafficSources{Feed: tot.Feed, Search: tot.Search, Profile: tot.Profile,
			Share: tot.Share, External: tot.External, Other: tot.Other},
		Watch:        watch,
		Demographics: demographics{Countries: byCountry, AgeGroups: unknownOnly(), Genders: unknownOnly()},
	})
}

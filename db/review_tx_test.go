package db_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// reviewBundle is an admin, a reported author with a video and a comment,
// and reporters.
type reviewBundle struct {
	store   *db.Store
	admin   db.Actor
	author  db.User
	video   db.Video
	comment uuid.UUID
}

func newReviewBundle(t *testing.T) *reviewBundle {
	t.Helper()
	store := dbtest.NewStore(t)
	admin := dbtest.CreateUser(t, store, dbtest.UserOpts{Role: lokiz.RoleAdmin})
	author := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	v := dbtest.Video(t, store, dbtest.VideoOpts{Owner: author.ID})
	c := dbtest.Comment(t, store, dbtest.CommentOpts{Author: author.ID, Video: v.ID, Content: "rude words"})
	return &reviewBundle{store: store, admin: db.Actor{AdminID: &admin.ID, RequestID: "req-test"}, author: author, video: v, comment: c}
}

// report files a report of the bundle's target by a new user.
func (b *reviewBundle) report(t *testing.T, f db.ReportFiling) db.Report {
	t.Helper()
	f.ReporterID = dbtest.CreateUser(t, b.store, dbtest.UserOpts{}).ID
	if f.ReportType == "" {
		f.ReportType = "spam"
	}
	r, created, err := b.store.FileReport(context.Background(), f)
	require.NoError(t, err)
	require.True(t, created)
	return r
}

func (b *reviewBundle) commentCount(t *testing.T) int32 {
	t.Helper()
	v, err := b.store.VideoGetByID(context.Background(), b.video.ID)
	require.NoError(t, err)
	return v.CommentCount
}

// TestCommentRemovalKeepsCountsTrue: a removed comment leaves the video's
// count, its day's figure, the list and the viewer's read; a ban and an
// unban of its author leave it out; a restore brings it back; deleting a
// removed comment moves nothing. 409 for the repeated step.
func TestCommentRemovalKeepsCountsTrue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newReviewBundle(t)
	other := dbtest.Comment(t, b.store, dbtest.CommentOpts{Author: b.author.ID, Video: b.video.ID})
	viewer := dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
	require.Equal(t, int32(2), b.commentCount(t))
	listed := func() int {
		rows, err := b.store.CommentsOfVideo(ctx, db.CommentsOfVideoParams{VideoID: b.video.ID, ViewerID: &viewer.ID, Lim: 10})
		require.NoError(t, err)
		return len(rows)
	}

	c, notes, err := b.store.AdminRemoveComment(ctx, b.admin, b.comment, "harassment")
	require.NoError(t, err)
	require.NotNil(t, c.RemovedAt)
	require.Equal(t, "harassment", *c.RemovedReason)
	require.Len(t, notes, 1)
	require.Equal(t, b.author.ID, notes[0].UserID)
	require.Equal(t, int32(1), b.commentCount(t))
	require.Equal(t, 1, listed())
	_, err = b.store.CommentForViewer(ctx, db.CommentForViewerParams{ID: b.comment, ViewerID: viewer.ID})
	require.True(t, db.IsNotFound(err), "a removed comment cannot be read, liked or reported")
	requireCountsTrue(t, b.store)
	requireEngagementTrue(t, b.store)
	_, _, err = b.store.AdminRemoveComment(ctx, b.admin, b.comment, "again")
	require.ErrorIs(t, err, db.ErrCommentAlreadyRemoved)

	_, _, err = b.store.AdminBanUser(ctx, b.admin, db.BanParams{UserID: b.author.ID, Reason: "r"})
	require.NoError(t, err)
	require.Equal(t, int32(0), b.commentCount(t))
	requireCountsTrue(t, b.store)
	requireEngagementTrue(t, b.store)
	_, err = b.store.AdminUnbanUser(ctx, b.admin, b.author.ID, "r")
	require.NoError(t, err)
	require.Equal(t, int32(1), b.commentCount(t), "the unban brings back the comment that is not removed only")
	requireCountsTrue(t, b.store)
	requireEngagementTrue(t, b.store)

	c, err = b.store.AdminRestoreComment(ctx, b.admin, b.comment, "appeal")
	require.NoError(t, err)
	require.Nil(t, c.RemovedAt)
	require.Equal(t, int32(2), b.commentCount(t))
	require.Equal(t, 2, listed())
	requireCountsTrue(t, b.store)
	requireEngagementTrue(t, b.store)
	_, err = b.store.AdminRestoreComment(ctx, b.admin, b.comment, "again")
	require.ErrorIs(t, err, db.ErrCommentNotRemoved)

	_, _, err = b.store.AdminRemoveComment(ctx, b.admin, other, "spam")
	require.NoError(t, err)
	_, err = b.store.CommentDelete(ctx, other)
	require.NoError(t, err)
	require.Equal(t, int32(1), b.commentCount(t), "deleting a removed comment moves nothing")
	requireCountsTrue(t, b.store)
	requireEngagementTrue(t, b.store)

	_, _, err = b.store.AdminRemoveComment(ctx, b.admin, uuid.New(), "x")
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
	rows := auditRows(t, b.store, b.comment)
	require.Len(t, rows, 2)
	require.Equal(t, db.AuditCommentRestore, rows[0].Action)
	require.Equal(t, db.AuditCommentRemove, rows[1].Action)
	require.Equal(t, db.AuditTargetComment, rows[1].TargetType)
}

// TestDecideReportTransitions: the steps the workflow allows and refuses.
func TestDecideReportTransitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newReviewBundle(t)
	decide := func(r db.Report, status, action string) error {
		_, err := b.store.DecideReport(ctx, b.admin, db.ReportDecision{ReportID: r.ID, Status: status, Action: action, Note: "n"})
		return err
	}
	at := func(t *testing.T, status string) db.Report {
		t.Helper()
		r := b.report(t, db.ReportFiling{UserID: &b.author.ID})
		if status == db.ReportPending {
			return r
		}
		require.NoError(t, decide(r, db.ReportReviewing, ""))
		if status != db.ReportReviewing {
			require.NoError(t, decide(r, status, ""))
		}
		return r
	}
	for _, tt := range []struct {
		from, to string
		reason   string // "" allowed
	}{
		{db.ReportPending, db.ReportReviewing, ""},
		{db.ReportPending, db.ReportResolved, ""},
		{db.ReportPending, db.ReportDismissed, ""},
		{db.ReportReviewing, db.ReportResolved, ""},
		{db.ReportReviewing, db.ReportDismissed, ""},
		{db.ReportReviewing, db.ReportReviewing, "already_reviewing"},
		{db.ReportResolved, db.ReportReviewing, "report_closed"},
		{db.ReportResolved, db.ReportResolved, "report_closed"},
		{db.ReportResolved, db.ReportDismissed, "report_closed"},
		{db.ReportDismissed, db.ReportReviewing, "report_closed"},
		{db.ReportDismissed, db.ReportResolved, "report_closed"},
		{db.ReportDismissed, db.ReportDismissed, "report_closed"},
	} {
		t.Run(tt.from+"To"+tt.to, func(t *testing.T) {
			r := at(t, tt.from)
			err := decide(r, tt.to, "")
			if tt.reason == "" {
				require.NoError(t, err)
				got, err := b.store.ReportByID(ctx, r.ID)
				require.NoError(t, err)
				require.Equal(t, tt.to, got.Status)
				require.Equal(t, *b.admin.AdminID, *got.ReviewerID)
				require.NotNil(t, got.ReviewedAt)
				return
			}
			require.Equal(t, lokiz.ECONFLICT, lokiz.ErrorCode(err), "%v", err)
			var le *lokiz.Error
			require.True(t, errors.As(err, &le))
			require.Equal(t, tt.reason, le.Reason)
		})
	}

	// Actions that do not fit the target, and a dismissal with an action.
	userReport := b.report(t, db.ReportFiling{UserID: &b.author.ID})
	videoReport := b.report(t, db.ReportFiling{VideoID: &b.video.ID})
	for _, tt := range []struct {
		r              db.Report
		status, action string
	}{
		{userReport, db.ReportResolved, db.ActionRemoveVideo},
		{userReport, db.ReportResolved, db.ActionRemoveComment},
		{videoReport, db.ReportResolved, db.ActionRemoveComment},
		{videoReport, db.ReportDismissed, db.ActionRemoveVideo},
	} {
		err := decide(tt.r, tt.status, tt.action)
		require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err), "%s %s: %v", tt.status, tt.action, err)
	}
	_, err := b.store.DecideReport(ctx, b.admin, db.ReportDecision{ReportID: uuid.New(), Status: db.ReportResolved, Note: "n"})
	require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
}

// TestDecideReportActions: each action runs through the admin code path in
// the decision's transaction, closes every open report of the target with
// one audit row each, and tells each reporter the outcome without naming
// the reported party.
func TestDecideReportActions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type note struct {
		Message                     *string
		ActorID, VideoID, CommentID *uuid.UUID
	}
	notes := func(t *testing.T, store *db.Store, user uuid.UUID) []note {
		t.Helper()
		rows, err := store.Pool().Query(ctx, `SELECT message, actor_id, video_id, comment_id FROM notifications WHERE user_id = $1`, user)
		require.NoError(t, err)
		defer rows.Close()
		var out []note
		for rows.Next() {
			var n note
			require.NoError(t, rows.Scan(&n.Message, &n.ActorID, &n.VideoID, &n.CommentID))
			out = append(out, n)
		}
		return out
	}
	requireToldWithoutDetail := func(t *testing.T, b *reviewBundle, r db.Report, want string) {
		t.Helper()
		got := notes(t, b.store, r.ReporterID)
		require.Len(t, got, 1)
		msg := *got[0].Message
		require.Contains(t, msg, want)
		for _, secret := range []string{b.author.Username, b.author.ID.String(), b.video.ID.String(), b.comment.String(), "rude"} {
			require.NotContains(t, msg, secret)
		}
		require.Nil(t, got[0].ActorID)
		require.Nil(t, got[0].VideoID)
		require.Nil(t, got[0].CommentID)
	}

	t.Run("RemoveVideo", func(t *testing.T) {
		t.Parallel()
		b := newReviewBundle(t)
		first := b.report(t, db.ReportFiling{VideoID: &b.video.ID})
		second := b.report(t, db.ReportFiling{VideoID: &b.video.ID, ReportType: "violence"})
		unrelated := b.report(t, db.ReportFiling{UserID: &b.author.ID})
		out, err := b.store.DecideReport(ctx, b.admin, db.ReportDecision{ReportID: second.ID, Status: db.ReportResolved,
			Action: db.ActionRemoveVideo, Note: "graphic violence"})
		require.NoError(t, err)
		require.Equal(t, second.ID, out.Report.ID)
		require.Len(t, out.Closed, 2)
		require.Len(t, out.Pushes, 3, "two reporters and the owner")
		v, err := b.store.VideoGetByID(ctx, b.video.ID)
		require.NoError(t, err)
		require.Equal(t, lokiz.VideoRemoved, v.Status)
		for _, r := range []db.Report{first, second} {
			got, err := b.store.ReportByID(ctx, r.ID)
			require.NoError(t, err)
			require.Equal(t, db.ReportResolved, got.Status)
			require.Equal(t, db.ActionRemoveVideo, *got.ResolutionAction)
			require.NotNil(t, got.ResolvedAt)
			requireToldWithoutDetail(t, b, r, "took action")
			rows := auditRows(t, b.store, r.ID)
			require.Len(t, rows, 1)
			require.Equal(t, db.AuditReportResolve, rows[0].Action)
			require.Equal(t, "req-test", *rows[0].RequestID)
		}
		got, err := b.store.ReportByID(ctx, unrelated.ID)
		require.NoError(t, err)
		require.Equal(t, db.ReportPending, got.Status, "another target's report stays open")
		rows := auditRows(t, b.store, b.video.ID)
		require.Len(t, rows, 1)
		require.Equal(t, db.AuditVideoRemove, rows[0].Action)
		owner := notes(t, b.store, b.author.ID)
		require.Len(t, owner, 1)
		require.Contains(t, *owner[0].Message, "graphic violence", "the owner is told why")
	})

	t.Run("RemoveComment", func(t *testing.T) {
		t.Parallel()
		b := newReviewBundle(t)
		r := b.report(t, db.ReportFiling{CommentID: &b.comment})
		_, err := b.store.DecideReport(ctx, b.admin, db.ReportDecision{ReportID: r.ID, Status: db.ReportResolved,
			Action: db.ActionRemoveComment, Note: "insult"})
		require.NoError(t, err)
		require.Equal(t, int32(0), b.commentCount(t))
		requireCountsTrue(t, b.store)
		requireToldWithoutDetail(t, b, r, "took action")
		require.Len(t, auditRows(t, b.store, b.comment), 1)
	})

	t.Run("BanCommentAuthor", func(t *testing.T) {
		t.Parallel()
		b := newReviewBundle(t)
		r := b.report(t, db.ReportFiling{CommentID: &b.comment})
		// The comment is deleted: the ban still finds its author (snapshot).
		_, err := b.store.CommentDelete(ctx, b.comment)
		require.NoError(t, err)
		_, err = b.store.DecideReport(ctx, b.admin, db.ReportDecision{ReportID: r.ID, Status: db.ReportResolved,
			Action: db.ActionRemoveComment, Note: "x"})
		require.ErrorIs(t, err, db.ErrTargetGone)
		out, err := b.store.DecideReport(ctx, b.admin, db.ReportDecision{ReportID: r.ID, Status: db.ReportResolved,
			Action: db.ActionBanUser, Note: "serial abuse"})
		require.NoError(t, err)
		require.Equal(t, b.author.ID, *out.Banned)
		u, err := b.store.UserByID(ctx, b.author.ID)
		require.NoError(t, err)
		require.False(t, u.IsActive)
		require.Equal(t, "serial abuse", *u.BanReason)
		require.Equal(t, db.AuditUserBan, auditRows(t, b.store, b.author.ID)[0].Action)
	})

	t.Run("BanVideoOwnerAndDismiss", func(t *testing.T) {
		t.Parallel()
		b := newReviewBundle(t)
		r := b.report(t, db.ReportFiling{VideoID: &b.video.ID})
		_, err := b.store.DecideReport(ctx, b.admin, db.ReportDecision{ReportID: r.ID, Status: db.ReportResolved, Action: db.ActionBanUser, Note: "x"})
		require.NoError(t, err)
		u, err := b.store.UserByID(ctx, b.author.ID)
		require.NoError(t, err)
		require.False(t, u.IsActive, "ban_user on a video report bans its owner")

		other := dbtest.CreateUser(t, b.store, dbtest.UserOpts{})
		d := b.report(t, db.ReportFiling{UserID: &other.ID})
		_, err = b.store.DecideReport(ctx, b.admin, db.ReportDecision{ReportID: d.ID, Status: db.ReportDismissed, Note: "fine"})
		require.NoError(t, err)
		got := notes(t, b.store, d.ReporterID)
		require.Len(t, got, 1)
		require.Contains(t, *got[0].Message, "found no violation")
		require.NotContains(t, *got[0].Message, other.Username)
	})
}

// TestDecideReportIsOneTransaction: a failure after the action (here the
// audit row of the report's resolution, refused by a trigger the test
// installs) rolls back the removal, its audit row, its notification and
// the report's state.
func TestDecideReportIsOneTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newReviewBundle(t)
	r := b.report(t, db.ReportFiling{VideoID: &b.video.ID})
	_, err := b.store.Pool().Exec(ctx, `
		CREATE FUNCTION test_refuse_resolution() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'induced failure'; END $$;
		CREATE TRIGGER test_refuse_resolution BEFORE INSERT ON admin_audit_log
			FOR EACH ROW WHEN (NEW.action = 'report.resolve') EXECUTE FUNCTION test_refuse_resolution();`)
	require.NoError(t, err)
	_, err = b.store.DecideReport(ctx, b.admin, db.ReportDecision{ReportID: r.ID, Status: db.ReportResolved,
		Action: db.ActionRemoveVideo, Note: "x"})
	require.ErrorContains(t, err, "induced failure")

	v, err := b.store.VideoGetByID(ctx, b.video.ID)
	require.NoError(t, err)
	require.Equal(t, lokiz.VideoCompleted, v.Status, "the removal is rolled back")
	require.Empty(t, auditRows(t, b.store, b.video.ID), "and its audit row")
	got, err := b.store.ReportByID(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, db.ReportPending, got.Status)
	var n int
	require.NoError(t, b.store.Pool().QueryRow(ctx, `SELECT count(*) FROM notifications`).Scan(&n))
	require.Zero(t, n)
}

// TestDecideReportConcurrently: two admins resolving one report, or two
// reports of one target, at once: exactly one decision wins, the other is
// 409 report_closed (no deadlock, no double action).
func TestDecideReportConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, sameReport := range []bool{true, false} {
		for range 3 { // a few rounds: the race has to be met, not assumed
			b := newReviewBundle(t)
			second := dbtest.CreateUser(t, b.store, dbtest.UserOpts{Role: lokiz.RoleAdmin})
			admins := []db.Actor{b.admin, {AdminID: &second.ID}}
			r1 := b.report(t, db.ReportFiling{VideoID: &b.video.ID})
			r2 := b.report(t, db.ReportFiling{VideoID: &b.video.ID})
			ids := []uuid.UUID{r1.ID, r2.ID}
			if sameReport {
				ids[1] = r1.ID
			}
			errs := make([]error, 2)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = b.store.DecideReport(ctx, admins[i], db.ReportDecision{ReportID: ids[i], Status: db.ReportResolved,
						Action: db.ActionRemoveVideo, Note: "n"})
				}()
			}
			close(start)
			wg.Wait()
			won := 0
			for _, err := range errs {
				if err == nil {
					won++
				} else {
					require.ErrorIs(t, err, db.ErrReportClosed, "the loser is told the report is closed")
				}
			}
			require.Equal(t, 1, won, "same report %v: %v", sameReport, errs)
			require.Len(t, auditRows(t, b.store, b.video.ID), 1, "one removal")
			for _, id := range []uuid.UUID{r1.ID, r2.ID} {
				require.Len(t, auditRows(t, b.store, id), 1, "one resolution row per report")
			}
		}
	}
}

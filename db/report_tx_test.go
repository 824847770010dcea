package db_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

func TestFileReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type testBundle struct {
		store     *db.Store
		me, other db.User
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		store := dbtest.NewStore(t)
		return &testBundle{store: store,
			me: dbtest.CreateUser(t, store, dbtest.UserOpts{}), other: dbtest.CreateUser(t, store, dbtest.UserOpts{})}
	}
	filing := func(b *testBundle) db.ReportFiling {
		return db.ReportFiling{ReporterID: b.me.ID, ReportType: "spam"}
	}

	t.Run("FilesOnceAndAnswersTheOpenReport", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		v := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.other.ID})
		f := filing(b)
		f.VideoID = &v.ID
		r, created, err := b.store.FileReport(ctx, f)
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, v.ID, *r.ReportedVideoID)
		again, created, err := b.store.FileReport(ctx, f)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, r.ID, again.ID)

		// A comment's report keeps its text.
		c := dbtest.Comment(t, b.store, dbtest.CommentOpts{Author: b.other.ID, Video: v.ID, Content: "rude"})
		f = filing(b)
		f.CommentID = &c
		r, created, err = b.store.FileReport(ctx, f)
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, "rude", *r.ReportedCommentContent)
	})

	t.Run("SelfReport", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		v := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.me.ID})
		c := dbtest.Comment(t, b.store, dbtest.CommentOpts{Author: b.me.ID, Video: v.ID})
		for name, set := range map[string]func(*db.ReportFiling){
			"your own account": func(f *db.ReportFiling) { f.UserID = &b.me.ID },
			"your own video":   func(f *db.ReportFiling) { f.VideoID = &v.ID },
			"your own comment": func(f *db.ReportFiling) { f.CommentID = &c },
		} {
			f := filing(b)
			set(&f)
			_, _, err := b.store.FileReport(ctx, f)
			var le *lokiz.Error
			require.ErrorAs(t, err, &le)
			require.Equal(t, db.ReasonSelfReport, le.Reason)
			require.Equal(t, "You cannot report "+name, le.Message)
		}
	})

	t.Run("TargetNotVisible", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		private := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.other.ID, Private: true})
		f := filing(b)
		f.VideoID = &private.ID
		_, _, err := b.store.FileReport(ctx, f)
		require.Equal(t, "Video not found", lokiz.ErrorMessage(err))

		_, _, err = b.store.BlockUser(ctx, b.other.ID, b.me.ID)
		require.NoError(t, err)
		f = filing(b)
		f.UserID = &b.other.ID
		_, _, err = b.store.FileReport(ctx, f)
		require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
		require.Equal(t, "User not found", lokiz.ErrorMessage(err), "blocked either way")

		f = filing(b)
		f.CommentID = ptrTo(uuid.New())
		_, _, err = b.store.FileReport(ctx, f)
		require.Equal(t, "Comment not found", lokiz.ErrorMessage(err))
	})

	t.Run("OneTarget", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, _, err := b.store.FileReport(ctx, filing(b))
		require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err))
		f := filing(b)
		f.UserID, f.VideoID = &b.other.ID, ptrTo(uuid.New())
		_, _, err = b.store.FileReport(ctx, f)
		require.Equal(t, "Report one thing at a time", lokiz.ErrorMessage(err))
	})
}

func ptrTo[T any](v T) *T { return &v }

package db_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// BenchmarkEngagementTrigger measures what the per-day engagement triggers
// of migration 00029 (engagement_likes, engagement_comments: an upsert into
// video_daily_engagement per inserted row, an update per deleted one) add
// to a like and to a comment. One op is a like then its unlike (LikeAdd,
// LikeRemove) or a comment then its deletion (CommentCreate,
// CommentDelete), each statement in its own transaction as in the api, on
// one connection with synchronous_commit off (see below).
// trigger=on and trigger=off run in the same run on the same private
// database; off disables the table's trigger (ALTER TABLE … DISABLE
// TRIGGER) and enables it again after. Each variant of each op has its own
// 40 users × 40 videos, taken in turn, so none finds another's rows.
//
// Results and the command: docs/benchmarks.md ("Per-day engagement
// triggers").
func BenchmarkEngagementTrigger(b *testing.B) {
	ctx := context.Background()
	store := dbtest.NewStore(b)
	const side = 40
	type pair struct{ users, videos []uuid.UUID }
	newPair := func() pair {
		owner := dbtest.CreateUser(b, store, dbtest.UserOpts{})
		var p pair
		for range side {
			p.users = append(p.users, dbtest.CreateUser(b, store, dbtest.UserOpts{}).ID)
			p.videos = append(p.videos, dbtest.Video(b, store, dbtest.VideoOpts{Owner: owner.ID}).ID)
		}
		return p
	}
	// One connection without waiting for the WAL flush at commit: on this
	// shared disk the fsync of each commit (milliseconds, and very
	// uneven) would bury the trigger's own work, which is what is
	// measured; it is the same for both variants.
	conn, err := store.Pool().Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(conn.Release)
	if _, err := conn.Exec(ctx, "SET synchronous_commit = off"); err != nil {
		b.Fatal(err)
	}
	q := db.New(conn)
	exec := func(sql string) {
		b.Helper()
		if _, err := store.Pool().Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	ops := []struct {
		name, table, trigger string
		cycle                func(user, video uuid.UUID) error
	}{
		{"like", "likes", "engagement_likes", func(user, video uuid.UUID) error {
			if _, err := q.LikeAdd(ctx, db.LikeAddParams{ID: db.NewID(), UserID: user, VideoID: video}); err != nil {
				return err
			}
			_, err := q.LikeRemove(ctx, db.LikeRemoveParams{UserID: user, VideoID: video})
			return err
		}},
		{"comment", "comments", "engagement_comments", func(user, video uuid.UUID) error {
			c, err := q.CommentCreate(ctx, db.CommentCreateParams{ID: db.NewID(), UserID: user, VideoID: video, Content: "a comment"})
			if err != nil {
				return err
			}
			_, err = q.CommentDelete(ctx, c.ID)
			return err
		}},
	}
	for _, op := range ops {
		sets := map[bool]pair{true: newPair(), false: newPair()}
		for _, on := range []bool{true, false} {
			name := op.name + "/trigger=on"
			if !on {
				name = op.name + "/trigger=off"
			}
			b.Run(name, func(b *testing.B) {
				if !on {
					exec("ALTER TABLE " + op.table + " DISABLE TRIGGER " + op.trigger)
					b.Cleanup(func() { exec("ALTER TABLE " + op.table + " ENABLE TRIGGER " + op.trigger) })
				}
				set := sets[on]
				i := 0
				for b.Loop() {
					u, v := set.users[i%side], set.videos[(i/side)%side]
					i++
					if err := op.cycle(u, v); err != nil {
						b.Fatal(err)
					}
				}
				// The trigger ran (a row per video it touched) or did not.
				var rows int
				if err := store.Pool().QueryRow(ctx, "SELECT count(*) FROM video_daily_engagement WHERE video_id = ANY($1)",
					set.videos).Scan(&rows); err != nil {
					b.Fatal(err)
				}
				if on != (rows > 0) {
					b.Fatalf("trigger=%v but %d engagement rows", on, rows)
				}
			})
		}
	}
}

package db_test

import (
	"context"
	"testing"
	"time"

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
// trigger on and off run in the same run on the same private database,
// interleaved: one b.N round is a block of 200 cycles with the trigger and
// 200 without (ALTER TABLE … DISABLE/ENABLE TRIGGER between blocks, not
// timed; the order alternates by round), so load from elsewhere on the
// machine falls on both alike. It reports µs/cycle-on, µs/cycle-off and
// their ratio on/off; ns/op is a whole round and not the figure to read.
// Each variant of each op has its own 40 users × 40 videos, taken in turn,
// so neither finds the other's rows.
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
		b.Run(op.name, func(b *testing.B) {
			var took [2]time.Duration // [off, on]
			cycles := 0
			block := func(on bool) {
				b.Helper()
				verb := "DISABLE"
				if on {
					verb = "ENABLE"
				}
				exec("ALTER TABLE " + op.table + " " + verb + " TRIGGER " + op.trigger)
				set := sets[on]
				start := time.Now()
				for i := range engagementBlock {
					if err := op.cycle(set.users[i%side], set.videos[(i/side)%side]); err != nil {
						b.Fatal(err)
					}
				}
				took[btoi(on)] += time.Since(start)
			}
			b.Cleanup(func() { exec("ALTER TABLE " + op.table + " ENABLE TRIGGER " + op.trigger) })
			for round := range b.N {
				// Alternate which goes first, so neither always follows
				// the ALTER TABLE of the other or a burst of load.
				first := round%2 == 0
				block(first)
				block(!first)
				cycles += engagementBlock
			}
			on := float64(took[1].Microseconds()) / float64(cycles)
			off := float64(took[0].Microseconds()) / float64(cycles)
			b.ReportMetric(on, "µs/cycle-on")
			b.ReportMetric(off, "µs/cycle-off")
			b.ReportMetric(on/off, "on/off")
			// The trigger ran (a row per video it touched) or did not.
			for _, on := range []bool{true, false} {
				var rows int
				if err := store.Pool().QueryRow(ctx, "SELECT count(*) FROM video_daily_engagement WHERE video_id = ANY($1)",
					sets[on].videos).Scan(&rows); err != nil {
					b.Fatal(err)
				}
				if on != (rows > 0) {
					b.Fatalf("trigger=%v but %d engagement rows", on, rows)
				}
			}
		})
	}
}

// engagementBlock is how many cycles one variant runs before the other
// takes over (BenchmarkEngagementTrigger).
const engagementBlock = 200

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

package api_test

import (
	"fmt"
	"github.com/google/uuid"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
)

// TestSignedInFeedsCursorPropertyUnderChurn pages the following and the
// personalized feed with random page sizes while another goroutine keeps
// adding videos by the followed creators, likes and views: every video is
// served at most once, and for following every video that existed at the
// start is served (personalized ranks a snapshot of its candidates, which
// need not hold every old video).
func TestSignedInFeedsCursorPropertyUnderChurn(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/v1/feed/following", "/v1/videos/feed?algorithm=personalized"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			token, _ := e.register("churn_viewer")
			var authors []string
			for a := range 3 {
				_, author := e.register(fmt.Sprintf("churn_author%d", a))
				authors = append(authors, author)
				require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + author, token: token}).Status)
			}
			_, fan := e.register("churn_fan")
			base := time.Now().Add(-time.Hour)
			existing := map[string]bool{}
			var ids []string
			for i := range 36 {
				// Pairs share a timestamp so the id breaks ties.
				id := e.video(authors[i%3], dbtest.VideoOpts{CreatedAt: base.Add(time.Duration(i/2) * time.Second)})
				existing[id] = true
				ids = append(ids, id)
			}

			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					e.video(authors[i%3], dbtest.VideoOpts{})
					target := ids[rand.IntN(len(ids))]
					dbtest.Like(t, e.store, dbtest.LikeOpts{User: uuid.MustParse(fan), Video: uuid.MustParse(target)})
					dbtest.AddVideoCounts(t, e.store, uuid.MustParse(target), dbtest.VideoCounts{Views: 7, Likes: 1})
					time.Sleep(3 * time.Millisecond)
				}
			}()

			seen := map[string]int{}
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			next := fmt.Sprintf("%s%spage_size=%d", path, sep, 1+rand.IntN(7))
			for pages := 0; ; pages++ {
				require.Less(t, pages, 200)
				res := e.do(req{method: "GET", path: next, token: token})
				require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
				for _, v := range res.Body["videos"].([]any) {
					seen[v.(map[string]any)["id"].(string)]++
				}
				if res.Body["has_more"] != true {
					break
				}
				next = fmt.Sprintf("%s%spage_size=%d&cursor=%s", path, sep, 1+rand.IntN(7), url.QueryEscape(res.Body["next_cursor"].(string)))
			}
			close(stop)
			wg.Wait()
			require.NotEmpty(t, seen)
			for id, n := range seen {
				require.Equal(t, 1, n, "video %s served %d times", id, n)
			}
			if path == "/v1/feed/following" {
				for id := range existing {
					require.Equal(t, 1, seen[id], "video %s that existed at the start was missed", id)
				}
			}
		})
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/notification"
)

// TestNotificationJourney: an action in the api becomes a task, the worker
// of a real `lokiz dev` writes the notification and publishes it on the
// recipient's Redis channel, and the api lists it; a setting turned off
// means no notification at all.
func TestNotificationJourney(t *testing.T) {
	t.Parallel()
	const redisIndex = 11
	dbURL := dbtest.NewEmptyDB(t)
	apiAddr, dashAddr := freeAddr(t), freeAddr(t)
	vars := map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": fmt.Sprintf("redis://127.0.0.1:6379/%d", redisIndex),
		"HTTP_ADDR": apiAddr, "DASHBOARD_ADDR": dashAddr, "PUBLIC_BASE_URL": "http://" + apiAddr,
		"SECRET_KEY": strings.Repeat("n", 40), "BCRYPT_COST": "4", "WORKER_CONCURRENCY": "2",
		"SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json", "STORAGE_DIR": t.TempDir(),
	}
	c := startDev(t, vars)
	logs, call, register := c.logs, c.call, c.register
	aliceToken, alice := register("alice_n")
	bobToken, bob := register("bob_n")

	pool, err := db.Open(context.Background(), dbURL, db.PoolOptions{MaxConns: 2})
	require.NoError(t, err)
	defer pool.Close()
	video := dbtest.Video(t, db.NewStore(pool), dbtest.VideoOpts{Owner: uuid.MustParse(alice), NoMedia: true}).ID

	rdb := redis.NewClient(&redis.Options{Addr: testkit.RedisAddr(), DB: redisIndex})
	defer rdb.Close()
	sub := rdb.Subscribe(context.Background(), notification.Channel(uuid.MustParse(alice)))
	defer sub.Close()
	_, err = sub.Receive(context.Background()) // the subscription is live
	require.NoError(t, err)

	status, _ := call("POST", "/v1/likes/videos/"+video.String(), bobToken, nil)
	require.Equal(t, http.StatusCreated, status)
	select {
	case msg := <-sub.Channel():
		var event map[string]any
		require.NoError(t, json.Unmarshal([]byte(msg.Payload), &event))
		require.Equal(t, "notification", event["type"])
		require.Equal(t, "like", event["notification"].(map[string]any)["type"])
		require.Equal(t, float64(1), event["unread_count"])
	case <-time.After(20 * time.Second):
		t.Fatalf("no message on alice's channel; logs:\n%s", logs)
	}
	status, list := call("GET", "/v1/notifications", aliceToken, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, float64(1), list["unread_count"])
	first := list["notifications"].([]any)[0].(map[string]any)
	require.Equal(t, bob, first["actor"].(map[string]any)["id"])

	// Follows turned off: bob's follow produces no notification.
	status, _ = call("PATCH", "/v1/notifications/settings", aliceToken, map[string]any{"follows": false})
	require.Equal(t, http.StatusOK, status)
	notifies := func() int {
		n := 0
		for _, l := range logs.Lines(t, "task processed") {
			if l["task_type"] == "notify:deliver" {
				n++
			}
		}
		return n
	}
	processed := notifies()
	status, _ = call("POST", "/v1/follows/users/"+alice, bobToken, nil)
	require.Equal(t, http.StatusCreated, status)
	require.Eventually(t, func() bool { return notifies() > processed }, 20*time.Second, 50*time.Millisecond,
		"the follow's notify task never ran; logs:\n%s", logs)
	_, list = call("GET", "/v1/notifications", aliceToken, nil)
	require.Len(t, list["notifications"], 1, "a disabled type writes nothing")

	// Unliking removes the like's notification.
	status, _ = call("DELETE", "/v1/likes/videos/"+video.String(), bobToken, nil)
	require.Equal(t, http.StatusOK, status)
	_, list = call("GET", "/v1/notifications", aliceToken, nil)
	require.Empty(t, list["notifications"])

}

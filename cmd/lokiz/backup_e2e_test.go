package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
)

// TestBackupAndRestore fills a database and a media directory through the
// real api of `lokiz dev` (users, a video with its media, a like, credit
// ledger rows), backs them up with scripts/backup.sh, restores them with
// scripts/restore.sh into a fresh database and an empty directory, empties
// Redis, and finds through a `lokiz api` on the restored copy the same
// users, videos, likes, balances and ledgers, and the same media bytes.
//
// Not parallel: it empties its Redis database (account_e2e's, whose test
// runs in the parallel phase, after this one) between the two processes,
// which is the point: Redis needs no backup.
func TestBackupAndRestore(t *testing.T) {
	const redisIndex = 10
	secret := strings.Repeat("b", 40)
	vars := func(dbURL, dir string) map[string]string {
		addr := freeAddr(t)
		return map[string]string{
			"DATABASE_URL": dbURL, "REDIS_URL": fmt.Sprintf("redis://127.0.0.1:6379/%d", redisIndex),
			"HTTP_ADDR": addr, "DASHBOARD_ADDR": freeAddr(t), "PUBLIC_BASE_URL": "http://" + addr,
			"SECRET_KEY": secret, "BCRYPT_COST": "4", "WORKER_CONCURRENCY": "2",
			"SHUTDOWN_TIMEOUT": "5s", "LOG_FORMAT": "json", "STORAGE_DIR": dir, "LOKIZ_ENV": "development",
		}
	}
	origDB, origDir := dbtest.NewEmptyDB(t), t.TempDir()

	type user struct{ name, token, id string }
	var users []user
	var video string
	var before map[string]map[string]any
	var media []byte
	t.Run("Populate", func(t *testing.T) {
		c := startDev(t, vars(origDB, origDir))
		for _, name := range []string{"alice_bk", "bob_bk"} {
			token, id := c.register(name)
			users = append(users, user{name, token, id})
		}
		video = c.uploadVideo(users[0].token, "backed up #backup")
		status, out := c.call("POST", "/v1/likes/videos/"+video, users[1].token, nil)
		require.Equal(t, http.StatusCreated, status, "%v", out)
		for _, u := range users {
			status, out := c.call("POST", "/v1/credits/daily-claim", u.token, map[string]any{})
			require.Equal(t, http.StatusOK, status, "%v", out)
		}
		before = snapshot(t, c, users[0].token, users[1].token, users[0].id, users[1].id, video)
		require.EqualValues(t, 1, before["video"]["like_count"])
		require.NotEmpty(t, before["history:"+users[0].id]["transactions"], "the ledger has rows")
		require.Positive(t, before["balance:"+users[0].id]["balance"], "%v", before["balance:"+users[0].id])
		media = c.download(before["video"]["video_url"].(string))
	}) // `lokiz dev` stops here
	require.False(t, t.Failed())

	backupDir := filepath.Join(t.TempDir(), "backup")
	script(t, "backup.sh", map[string]string{"DATABASE_URL": origDB, "STORAGE_DIR": origDir}, backupDir)
	for _, f := range []string{"lokiz.dump", "media.tar.gz", "SHA256SUMS"} {
		require.FileExists(t, filepath.Join(backupDir, f))
	}

	restoredDB, restoredDir := dbtest.NewEmptyDB(t), filepath.Join(t.TempDir(), "media")
	script(t, "restore.sh", map[string]string{"DATABASE_URL": restoredDB, "STORAGE_DIR": restoredDir}, backupDir)
	// A second restore onto the now full database is refused.
	out, err := scriptCmd("restore.sh", map[string]string{"DATABASE_URL": restoredDB, "STORAGE_DIR": t.TempDir()}, backupDir).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "restore into an empty one")

	rdb := redis.NewClient(&redis.Options{Addr: testkit.RedisAddr(), DB: redisIndex})
	require.NoError(t, rdb.FlushDB(context.Background()).Err()) // Redis is not backed up
	require.NoError(t, rdb.Close())

	c := runRoleForTest(t, vars(restoredDB, restoredDir), "api", &testkit.LogBuffer{})
	after := snapshot(t, c, users[0].token, users[1].token, users[0].id, users[1].id, video)
	require.Equal(t, withoutURLs(before), withoutURLs(after))
	require.Equal(t, media, c.download(after["video"]["video_url"].(string)), "the media bytes are restored")
	for _, u := range users { // the accounts log in with their passwords
		status, out := c.call("POST", "/v1/auth/login", "", map[string]any{"username": u.name, "password": "password-" + u.name})
		require.Equal(t, http.StatusOK, status, "%v", out)
	}
}

// snapshot reads through the api what a restore must preserve.
func snapshot(t *testing.T, c *devClient, aliceToken, bobToken, alice, bob, video string) map[string]map[string]any {
	t.Helper()
	got := map[string]map[string]any{}
	get := func(key, path, token string) {
		status, out := c.call("GET", path, token, nil)
		require.Equal(t, http.StatusOK, status, "%s: %v", path, out)
		got[key] = out
	}
	get("video", "/v1/videos/"+video, bobToken)
	get("me:"+alice, "/v1/users/me", aliceToken)
	get("me:"+bob, "/v1/users/me", bobToken)
	get("profile:"+alice, "/v1/users/"+alice, bobToken)
	get("videos:"+alice, "/v1/users/"+alice+"/videos", bobToken)
	get("likes:"+bob, "/v1/users/"+bob+"/liked-videos", bobToken)
	get("liked:"+bob, "/v1/likes/videos/"+video+"/check", bobToken)
	for id, token := range map[string]string{alice: aliceToken, bob: bobToken} {
		get("balance:"+id, "/v1/credits/balance", token)
		get("history:"+id, "/v1/credits/history", token)
	}
	return got
}

// withoutURLs drops signed media URLs (their host, expiry and signature
// differ between the two processes) from a snapshot.
func withoutURLs(v any) any {
	switch v := v.(type) {
	case map[string]map[string]any:
		out := map[string]any{}
		for k, m := range v {
			out[k] = withoutURLs(m)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if s, ok := e.(string); ok && strings.HasPrefix(s, "http") {
				continue
			}
			out[k] = withoutURLs(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = withoutURLs(e)
		}
		return out
	}
	return v
}

func scriptCmd(name string, env map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join("..", "..", "scripts", name), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

func script(t *testing.T, name string, env map[string]string, args ...string) {
	t.Helper()
	out, err := scriptCmd(name, env, args...).CombinedOutput()
	require.NoError(t, err, "%s: %s", name, out)
}

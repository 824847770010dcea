package testproc

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// StartReplica makes a streaming replica of primary (a cluster from
// StartPostgres: wal_level replica and trust for replication connections
// from 127.0.0.1 are initdb's defaults) with pg_basebackup -R, and starts
// it as a hot standby on a free port. Stopped and removed at the end of
// the test.
func StartReplica(t *testing.T, primary *Postgres) *Postgres {
	t.Helper()
	root, err := os.MkdirTemp("", "lokiz-pg-replica")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "running as root needs the postgres OS user for pg_basebackup")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(root, uid, gid))
	}
	r := &Postgres{Dir: filepath.Join(root, "data"), Sock: root, Log: filepath.Join(root, "pg.log")}
	// -R writes primary_conninfo and standby.signal; -X stream copies the
	// WAL the backup needs; -c fast checkpoints at once.
	out, err := AsPostgres("pg_basebackup", "-R", "-X", "stream", "-c", "fast", "-D", r.Dir,
		"-h", "127.0.0.1", "-p", strconv.Itoa(primary.Port), "-U", "postgres").CombinedOutput()
	require.NoError(t, err, "pg_basebackup: %s", out)
	for attempt := 1; ; attempt++ {
		r.Port = FreePort(t)
		err = r.Launch()
		if err == nil {
			break
		}
		require.ErrorIs(t, err, ErrPortTaken)
		require.Less(t, attempt, 5, "replica: every port tried was taken")
	}
	t.Cleanup(func() { _ = r.Stop() })
	return r
}

// WaitReplayed waits until replica has replayed everything primary had
// written when it was called (database postgres on both).
func WaitReplayed(t *testing.T, primary, replica *Postgres) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc, err := pgx.Connect(ctx, primary.URL("postgres"))
	require.NoError(t, err)
	defer pc.Close(ctx)
	var lsn string
	require.NoError(t, pc.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn))
	rc, err := pgx.Connect(ctx, replica.URL("postgres"))
	require.NoError(t, err)
	defer rc.Close(ctx)
	for {
		var done bool
		err := rc.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&done)
		require.NoError(t, err, "replica replay position")
		if done {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the replica did not replay up to %s within 30s", lsn)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// SetReplay pauses (false) or resumes (true) the replica's WAL replay: a
// paused replica keeps receiving WAL but shows the data as it was.
func SetReplay(t *testing.T, replica *Postgres, on bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, replica.URL("postgres"))
	require.NoError(t, err)
	defer c.Close(ctx)
	fn := "pg_wal_replay_pause()"
	if on {
		fn = "pg_wal_replay_resume()"
	}
	_, err = c.Exec(ctx, "SELECT "+fn)
	require.NoError(t, err)
}

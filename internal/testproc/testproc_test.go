package testproc

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestStartMovesOffATakenPort: when the port FreePort picked is taken
// before the server binds it, redis-server and PostgreSQL are started on
// another one (and a restart on the new port works).
func TestStartMovesOffATakenPort(t *testing.T) {
	taker, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taker.Close()
	taken := taker.Addr().(*net.TCPAddr).Port
	picker := func() (func() int, *int) {
		n := 0
		return func() int {
			n++
			if n == 1 {
				return taken
			}
			return FreePort(t)
		}, &n
	}

	t.Run("Redis", func(t *testing.T) {
		pick, n := picker()
		r := StartRedisOn(t, pick)
		require.Equal(t, 2, *n, "the taken port was given up for a second one")
		require.NotEqual(t, taken, r.Port)
		r.Kill()
		r.Start(t) // a restart keeps the new port
		require.NoError(t, pingRedis(r.Port))
	})
	t.Run("Postgres", func(t *testing.T) {
		pick, n := picker()
		p := StartPostgresOn(t, pick)
		require.Equal(t, 2, *n)
		require.NotEqual(t, taken, p.Port)
		conn, err := pgx.Connect(context.Background(), p.URL("postgres"))
		require.NoError(t, err)
		var one int
		require.NoError(t, conn.QueryRow(context.Background(), "SELECT 1").Scan(&one))
		require.NoError(t, conn.Close(context.Background()))
	})
	t.Run("RedisRestartWaitsForItsPort", func(t *testing.T) {
		r := StartRedis(t)
		port := r.Port
		r.Kill()
		require.ErrorIs(t, func() error {
			// While another listener holds it, the start cannot take it.
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			require.NoError(t, err)
			defer ln.Close()
			return r.Launch()
		}(), ErrPortTaken)
		r.Start(t)
		require.Equal(t, port, r.Port)
		require.NoError(t, pingRedis(port))
	})
}

func pingRedis(port int) error {
	c := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer c.Close()
	return c.Ping(context.Background()).Err()
}

package testproc

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/internal/redisurl"
)

// TestSentinelSetAndCluster: the starters give a Sentinel set whose
// redis-sentinel:// URL reaches the master and a three-node Cluster whose
// redis-cluster:// URL spreads keys over the nodes.
func TestSentinelSetAndCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("Sentinel", func(t *testing.T) {
		t.Parallel()
		s := StartSentinelSet(t, SentinelOptions{})
		cfg, err := redisurl.Parse(s.URL(0))
		require.NoError(t, err)
		c := cfg.NewClient(4, time.Second)
		defer c.Close()
		require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
		require.Contains(t, s.MasterAddr(t), ":")
	})
	t.Run("Cluster", func(t *testing.T) {
		t.Parallel()
		cl := StartCluster(t, 3)
		cfg, err := redisurl.Parse(cl.URL())
		require.NoError(t, err)
		c := cfg.NewClient(4, time.Second)
		defer c.Close()
		for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
			require.NoError(t, c.Set(ctx, k, k, 0).Err())
		}
		// A multi-key command over slots of different nodes is refused:
		// the check the Cluster tests rely on is real.
		require.ErrorContains(t, c.MGet(ctx, "a", "b", "c").Err(), "CROSSSLOT")
		// The key pairs LOKIZ used together before their hash tags (see
		// docs/operations.md, Redis deployments) were refused: an MGET by
		// Redis, a MULTI by go-redis itself; the tagged ones are not.
		u := "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
		require.ErrorContains(t, c.MGet(ctx, "lokiz:foryou:latest:"+u, "lokiz:foryou:changed:"+u).Err(), "CROSSSLOT")
		require.NoError(t, c.MGet(ctx, "lokiz:foryou:{"+u+"}:latest", "lokiz:foryou:{"+u+"}:changed").Err())
		_, err = c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, "lokiz:trending:snapshot:s1", "x", 0)
			p.Set(ctx, "lokiz:trending:current", "s1", 0)
			return nil
		})
		require.ErrorIs(t, err, goredis.ErrCrossSlot)
	})
}

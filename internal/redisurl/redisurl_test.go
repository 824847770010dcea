package redisurl

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestParseForms(t *testing.T) {
	t.Parallel()
	t.Run("Single", func(t *testing.T) {
		c, err := Parse("redis://:s3cret@cache:6380/2?dial_timeout=3s")
		require.NoError(t, err)
		require.Equal(t, Single, c.Mode)
		require.Equal(t, "cache:6380", c.single.Addr)
		require.Equal(t, 2, c.single.DB)
		require.Equal(t, "s3cret", c.single.Password)
		require.Equal(t, 3*time.Second, c.single.DialTimeout)
		require.Equal(t, "single addr=cache:6380 db=2", c.String())
	})
	t.Run("Sentinel", func(t *testing.T) {
		c, err := Parse("redis-sentinel://app:p%40ss@s1:26379,s2:26380,s3/mymaster/3?sentinel_password=sp&read_timeout=2s")
		require.NoError(t, err)
		require.Equal(t, Sentinel, c.Mode)
		o := c.failover
		require.Equal(t, "mymaster", o.MasterName)
		require.Equal(t, []string{"s1:26379", "s2:26380", "s3:26379"}, o.SentinelAddrs)
		require.Equal(t, 3, o.DB)
		require.Equal(t, "app", o.Username)
		require.Equal(t, "p@ss", o.Password, "the authority's credentials are the data nodes'")
		require.Equal(t, "sp", o.SentinelPassword)
		require.Equal(t, "", o.SentinelUsername)
		require.Equal(t, 2*time.Second, o.ReadTimeout)
		require.Nil(t, o.TLSConfig)
		require.Equal(t, "sentinel master=mymaster db=3 sentinels=s1:26379,s2:26380,s3:26379", c.String())
		require.NotContains(t, c.String(), "p@ss")
	})
	t.Run("SentinelTLSNoDB", func(t *testing.T) {
		c, err := Parse("rediss-sentinel://s1:1,[::1]:2/m")
		require.NoError(t, err)
		require.Equal(t, 0, c.failover.DB)
		require.Equal(t, []string{"s1:1", "[::1]:2"}, c.failover.SentinelAddrs)
		require.NotNil(t, c.failover.TLSConfig)
		require.Empty(t, c.failover.Password)
	})
	t.Run("Cluster", func(t *testing.T) {
		c, err := Parse("redis-cluster://:pw@n1:7000,n2:7001,n3?max_retries=2")
		require.NoError(t, err)
		require.Equal(t, Cluster, c.Mode)
		require.Equal(t, []string{"n1:7000", "n2:7001", "n3:6379"}, c.cluster.Addrs)
		require.Equal(t, "pw", c.cluster.Password)
		require.Equal(t, 2, c.cluster.MaxRetries)
		require.Equal(t, "cluster nodes=n1:7000,n2:7001,n3:6379", c.String())
		for _, ok := range []string{"redis-cluster://n1:7000/", "redis-cluster://n1:7000/0", "rediss-cluster://n1:7000"} {
			_, err := Parse(ok)
			require.NoError(t, err, ok)
		}
	})
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"http://x":                                        "unknown scheme",
		"cache:6379":                                      "not a URL",
		"redis-sentinel://s1:26379,s2:26379":              "master's name",
		"redis-sentinel://s1:26379/m/x":                   "bad database number",
		"redis-sentinel://s1:26379/m/1/2":                 "master's name",
		"redis-sentinel://s1:26379,,s2/m":                 "empty address",
		"redis-sentinel://s1:notaport/m":                  "bad address",
		"redis-sentinel://s1/m?master_name=other":         "master_name",
		"redis-sentinel://s1/m?bogus=1":                   "bogus",
		"redis-cluster://n1:7000,n2:7001/1":               "only database 0",
		"redis-cluster://n1:7000?db=1":                    "db",
		"redis-cluster://n1:99999":                        "bad address",
		"redis-cluster://:hunter2@n1:7000?dial_timeout=x": "dial_timeout",
		"redis://:hunter2@cache:6379/x":                   "invalid database",
	} {
		_, err := Parse(raw)
		require.Error(t, err, raw)
		require.Contains(t, err.Error(), want, raw)
		require.NotContains(t, err.Error(), "hunter2", "a password never appears in an error")
	}
}

// TestNewClientTypes: each form builds the client type asynq and asynqmon
// take (asynqmon's Redis page switches on *redis.Client and
// *redis.ClusterClient), with the pool settings applied.
func TestNewClientTypes(t *testing.T) {
	t.Parallel()
	for raw, check := range map[string]func(redis.UniversalClient){
		"redis://127.0.0.1:1/0": func(c redis.UniversalClient) {
			require.IsType(t, &redis.Client{}, c)
			require.Equal(t, 7, c.(*redis.Client).Options().PoolSize)
			require.Equal(t, 250*time.Millisecond, c.(*redis.Client).Options().PoolTimeout)
		},
		"redis-sentinel://127.0.0.1:1/m": func(c redis.UniversalClient) {
			require.IsType(t, &redis.Client{}, c)
			require.Equal(t, 7, c.(*redis.Client).Options().PoolSize)
			require.Equal(t, 250*time.Millisecond, c.(*redis.Client).Options().PoolTimeout)
		},
		"redis-cluster://127.0.0.1:1": func(c redis.UniversalClient) {
			require.IsType(t, &redis.ClusterClient{}, c)
			require.Equal(t, 7, c.(*redis.ClusterClient).Options().PoolSize)
			require.Equal(t, 250*time.Millisecond, c.(*redis.ClusterClient).Options().PoolTimeout)
		},
	} {
		c, err := Parse(raw)
		require.NoError(t, err)
		rc := c.NewClient(7, 250*time.Millisecond)
		check(rc)
		require.NoError(t, rc.Close())
	}
}

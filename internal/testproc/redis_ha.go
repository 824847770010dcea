package testproc

// Redis Sentinel and Redis Cluster deployments made of private
// redis-server processes, for the tests that fail a master over or spread
// keys over several nodes.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// RedisCLI is Debian's redis-cli, which creates clusters.
const RedisCLI = "/usr/bin/redis-cli"

// SentinelSet is a master, its replicas and the sentinels that watch them.
type SentinelSet struct {
	Master    *Redis
	Replicas  []*Redis
	Sentinels []*Redis
	Name      string // the master's name in the sentinels
}

// SentinelOptions shapes StartSentinelSet.
type SentinelOptions struct {
	Replicas, Sentinels int           // default 1 and 3
	DownAfter           time.Duration // sentinel down-after-milliseconds; default 1s
	FailoverTimeout     time.Duration // sentinel failover-timeout; default 10s
}

// StartSentinelSet starts a master, its replicas (replicaof the master) and
// sentinels monitoring it with a quorum of a majority. The sentinels' config
// files are in t.TempDir() (a sentinel rewrites its own); every process is
// killed at cleanup.
func StartSentinelSet(t *testing.T, o SentinelOptions) *SentinelSet {
	t.Helper()
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Sentinels == 0 {
		o.Sentinels = 3
	}
	if o.DownAfter == 0 {
		o.DownAfter = time.Second
	}
	if o.FailoverTimeout == 0 {
		o.FailoverTimeout = 10 * time.Second
	}
	s := &SentinelSet{Name: "lokizmaster"}
	s.Master = StartRedis(t)
	for range o.Replicas {
		s.Replicas = append(s.Replicas, StartRedis(t, "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port)))
	}
	for _, r := range s.Replicas {
		waitFor(t, 20*time.Second, fmt.Sprintf("replica %d in sync", r.Port), func(c *goredis.Client) bool {
			info, err := c.Info(context.Background(), "replication").Result()
			return err == nil && strings.Contains(info, "master_link_status:up")
		}, r.Port)
	}
	quorum := o.Sentinels/2 + 1
	for range o.Sentinels {
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d %[3]d\n"+
			"sentinel down-after-milliseconds %[1]s %[4]d\n"+
			"sentinel failover-timeout %[1]s %[5]d\n"+
			"sentinel parallel-syncs %[1]s 1\n",
			s.Name, s.Master.Port, quorum, o.DownAfter.Milliseconds(), o.FailoverTimeout.Milliseconds())
		require.NoError(t, os.WriteFile(conf, []byte(body), 0o600))
		// The config file must be redis-server's first argument: it is
		// given through Conf, ahead of the common flags.
		r := &Redis{Conf: conf, Args: []string{"--sentinel", "--dir", dir}}
		t.Cleanup(r.Kill)
		for attempt := 1; ; attempt++ {
			r.Port = FreePort(t)
			err := r.Launch()
			if err == nil {
				break
			}
			require.ErrorIs(t, err, ErrPortTaken)
			require.Less(t, attempt, 5, "sentinel: every port tried was taken")
		}
		s.Sentinels = append(s.Sentinels, r)
	}
	// Every sentinel knows the replicas and the other sentinels before the
	// test may fail anything over.
	for _, sn := range s.Sentinels {
		sc := goredis.NewSentinelClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", sn.Port), MaxRetries: -1})
		require.Eventually(t, func() bool {
			f, err := sc.Master(context.Background(), s.Name).Result()
			return err == nil && f["num-slaves"] == strconv.Itoa(o.Replicas) && f["num-other-sentinels"] == strconv.Itoa(o.Sentinels-1)
		}, 30*time.Second, 50*time.Millisecond, "sentinel %d never saw the whole set", sn.Port)
		_ = sc.Close()
	}
	return s
}

// URL is the set's redis-sentinel:// URL for database db.
func (s *SentinelSet) URL(db int) string {
	addrs := make([]string, len(s.Sentinels))
	for i, sn := range s.Sentinels {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", sn.Port)
	}
	return fmt.Sprintf("redis-sentinel://%s/%s/%d", strings.Join(addrs, ","), s.Name, db)
}

// MasterAddr is the master's address as the first sentinel names it now.
func (s *SentinelSet) MasterAddr(t *testing.T) string {
	t.Helper()
	c := goredis.NewSentinelClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", s.Sentinels[0].Port)})
	defer c.Close()
	a, err := c.GetMasterAddrByName(context.Background(), s.Name).Result()
	require.NoError(t, err)
	return a[0] + ":" + a[1]
}

// Cluster is a Redis Cluster of masters without replicas.
type Cluster struct {
	Nodes []*Redis
}

// StartCluster starts n cluster-enabled redis-servers, each with its own
// nodes.conf in t.TempDir(), joins them with `redis-cli --cluster create`
// (the slots spread evenly) and waits until every node reports
// cluster_state:ok.
func StartCluster(t *testing.T, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	var addrs []string
	for range n {
		r := StartRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000", "--dir", t.TempDir())
		c.Nodes = append(c.Nodes, r)
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", r.Port))
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, RedisCLI, args...).CombinedOutput()
	require.NoError(t, err, "redis-cli --cluster create: %s", out)
	for _, r := range c.Nodes {
		waitFor(t, 30*time.Second, fmt.Sprintf("cluster node %d ok", r.Port), func(cl *goredis.Client) bool {
			info, err := cl.ClusterInfo(context.Background()).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)+"\r\n")
		}, r.Port)
	}
	return c
}

// URL is the cluster's redis-cluster:// URL (every node listed).
func (c *Cluster) URL() string {
	addrs := make([]string, len(c.Nodes))
	for i, r := range c.Nodes {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", r.Port)
	}
	return "redis-cluster://" + strings.Join(addrs, ",")
}

// waitFor polls ok on a client of the server on port until it holds.
func waitFor(t *testing.T, within time.Duration, what string, ok func(*goredis.Client) bool, port int) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
	defer c.Close()
	require.Eventually(t, func() bool { return ok(c) }, within, 50*time.Millisecond, "waiting for %s", what)
}

// Package redisurl reads REDIS_URL, the one setting that says where Redis
// is, in three forms, and builds the go-redis client for it. Every process
// role gets a redis.UniversalClient and need not know which form it is.
//
// A single server (a primary, or a managed endpoint that fails over behind
// one address), exactly as go-redis' redis.ParseURL reads it:
//
//	redis://[[user]:password@]host:port[/db][?option=value...]
//	rediss://...                        (TLS)
//
// A Sentinel set: the sentinels' addresses, then the master's name as the
// first path segment and an optional database number after it:
//
//	redis-sentinel://[[user]:password@]host1:port1,host2:port2,host3:port3/<master-name>[/db][?option=value...]
//	rediss-sentinel://...               (TLS to the sentinels and the data nodes)
//
// The user and password in the authority are the data nodes' (the master's
// and its replicas', as in redis://). Sentinels that require a password of
// their own take it from the query: sentinel_username, sentinel_password.
//
// A Cluster: any number of its nodes (the client discovers the rest); a
// Cluster has only database 0, so a path other than empty, "/" or "/0" is
// refused:
//
//	redis-cluster://[[user]:password@]host1:port1,host2:port2,...[?option=value...]
//	rediss-cluster://...                (TLS)
//
// The query takes go-redis' own URL options (dial_timeout, read_timeout,
// max_retries, ...; see redis.ParseURL, redis.ParseFailoverURL and
// redis.ParseClusterURL); an unknown one is an error. A port left out is
// 6379 (26379 for a sentinel).
package redisurl

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Mode is the kind of deployment a URL names.
type Mode string

const (
	Single   Mode = "single"
	Sentinel Mode = "sentinel"
	Cluster  Mode = "cluster"
)

// Config is a parsed REDIS_URL. Exactly one of the option pointers is set,
// the one Mode names.
type Config struct {
	Mode     Mode
	single   *redis.Options
	failover *redis.FailoverOptions
	cluster  *redis.ClusterOptions
}

// Parse reads raw in one of the three forms. Its errors never quote the
// URL (it may hold a password).
func Parse(raw string) (*Config, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("not a URL: want redis://, rediss://, redis-sentinel:// or redis-cluster://")
	}
	switch strings.ToLower(scheme) {
	case "redis", "rediss":
		o, err := redis.ParseURL(raw)
		if err != nil {
			return nil, scrub(err, raw)
		}
		return &Config{Mode: Single, single: o}, nil
	case "redis-sentinel", "rediss-sentinel":
		return parseSentinel(strings.HasPrefix(strings.ToLower(scheme), "rediss"), rest, raw)
	case "redis-cluster", "rediss-cluster":
		return parseCluster(strings.HasPrefix(strings.ToLower(scheme), "rediss"), rest, raw)
	}
	return nil, fmt.Errorf("unknown scheme %q: want redis://, rediss://, redis-sentinel:// or redis-cluster://", scheme)
}

// parts splits what follows "scheme://" into the userinfo, the host list,
// the path and the query. url.Parse does not take a comma-separated host
// list, so the authority is cut by hand: it ends at the first '/' or '?',
// and the userinfo ends at its last '@' (a password may hold one).
type parts struct {
	user  *url.Userinfo
	hosts []string
	path  string
	query url.Values
}

func split(rest, defaultPort string) (parts, error) {
	var p parts
	authority := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, rest = rest[:i], rest[i:]
	} else {
		rest = ""
	}
	path, rawQuery, _ := strings.Cut(rest, "?")
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		// url.Parse decodes the userinfo's percent-escapes for us.
		u, err := url.Parse("redis://" + authority[:i+1] + "x")
		if err != nil || u.User == nil {
			return p, errors.New("bad user or password (percent-encode reserved characters)")
		}
		p.user, authority = u.User, authority[i+1:]
	}
	for _, h := range strings.Split(authority, ",") {
		if h == "" {
			return p, errors.New("empty address in the host list")
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			host, port = h, defaultPort
			if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
				return p, fmt.Errorf("bad address %q", h)
			}
			host = strings.Trim(host, "[]")
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
			return p, fmt.Errorf("bad address %q", h)
		}
		p.hosts = append(p.hosts, net.JoinHostPort(host, port))
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return p, errors.New("bad query string")
	}
	p.path, p.query = path, q
	return p, nil
}

func parseSentinel(tlsOn bool, rest, raw string) (*Config, error) {
	p, err := split(rest, "26379")
	if err != nil {
		return nil, err
	}
	segs := strings.FieldsFunc(p.path, func(r rune) bool { return r == '/' })
	if len(segs) == 0 || len(segs) > 2 {
		return nil, errors.New("redis-sentinel:// wants the master's name as its path: redis-sentinel://host1:port1,host2:port2/<master-name>[/<db>]")
	}
	master, err := url.PathUnescape(segs[0])
	if err != nil || master == "" {
		return nil, errors.New("bad master name")
	}
	db := 0
	if len(segs) == 2 {
		if db, err = strconv.Atoi(segs[1]); err != nil || db < 0 {
			return nil, fmt.Errorf("bad database number %q", segs[1])
		}
	}
	// Hand the rest to go-redis' failover URL parser, whose own form
	// carries the sentinels' credentials in the userinfo and the data
	// nodes' in the query: ours is the other way round, like redis://.
	q := p.query
	sentUser, sentPass := q.Get("sentinel_username"), q.Get("sentinel_password")
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	for _, k := range []string{"master_name", "addr", "db", "username", "password"} {
		if q.Has(k) {
			return nil, fmt.Errorf("option %s is not taken in the query of redis-sentinel:// (it is part of the URL itself)", k)
		}
	}
	q.Set("master_name", master)
	for _, h := range p.hosts[1:] {
		q.Add("addr", h)
	}
	if p.user != nil {
		q.Set("username", p.user.Username())
		pw, _ := p.user.Password()
		q.Set("password", pw)
	}
	u := url.URL{Scheme: "redis", Host: p.hosts[0], Path: "/" + strconv.Itoa(db), RawQuery: q.Encode()}
	if sentUser != "" || sentPass != "" {
		u.User = url.UserPassword(sentUser, sentPass)
	}
	o, err := redis.ParseFailoverURL(u.String())
	if err != nil {
		return nil, scrub(err, raw, u.String())
	}
	if tlsOn {
		host, _, _ := net.SplitHostPort(p.hosts[0])
		o.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return &Config{Mode: Sentinel, failover: o}, nil
}

func parseCluster(tlsOn bool, rest, raw string) (*Config, error) {
	p, err := split(rest, "6379")
	if err != nil {
		return nil, err
	}
	if path := strings.Trim(p.path, "/"); path != "" && path != "0" {
		return nil, fmt.Errorf("redis-cluster:// takes no database number (%q): a Redis Cluster has only database 0", path)
	}
	q := p.query
	for _, k := range []string{"addr", "db", "username", "password"} {
		if q.Has(k) {
			return nil, fmt.Errorf("option %s is not taken in the query of redis-cluster:// (it is part of the URL itself)", k)
		}
	}
	for _, h := range p.hosts[1:] {
		q.Add("addr", h)
	}
	u := url.URL{Scheme: "redis", User: p.user, Host: p.hosts[0], RawQuery: q.Encode()}
	o, err := redis.ParseClusterURL(u.String())
	if err != nil {
		return nil, scrub(err, raw, u.String())
	}
	if tlsOn {
		host, _, _ := net.SplitHostPort(p.hosts[0])
		o.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return &Config{Mode: Cluster, cluster: o}, nil
}

// scrub keeps a parser's complaint but drops any URL it quotes.
func scrub(err error, urls ...string) error {
	msg := err.Error()
	for _, u := range urls {
		msg = strings.ReplaceAll(msg, u, "<REDIS_URL>")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = ue.Err.Error()
	}
	return errors.New(strings.TrimPrefix(msg, "redis: "))
}

// Addrs are the addresses the client starts from: the server, the
// sentinels or the cluster nodes given.
func (c *Config) Addrs() []string {
	switch c.Mode {
	case Sentinel:
		return append([]string(nil), c.failover.SentinelAddrs...)
	case Cluster:
		return append([]string(nil), c.cluster.Addrs...)
	}
	return []string{c.single.Addr}
}

// String describes the deployment for a log line, without credentials:
// "sentinel master=mymaster db=0 sentinels=a:26379,b:26379".
func (c *Config) String() string {
	switch c.Mode {
	case Sentinel:
		return fmt.Sprintf("sentinel master=%s db=%d sentinels=%s", c.failover.MasterName, c.failover.DB, strings.Join(c.Addrs(), ","))
	case Cluster:
		return "cluster nodes=" + strings.Join(c.Addrs(), ",")
	}
	return fmt.Sprintf("single addr=%s db=%d", c.single.Addr, c.single.DB)
}

// NewClient builds the client: a *redis.Client for a single server, a
// Sentinel-backed *redis.Client (redis.NewFailoverClient) that follows the
// master the sentinels name, or a *redis.ClusterClient. poolSize and
// poolTimeout apply per node (a ClusterClient keeps one pool per node).
func (c *Config) NewClient(poolSize int, poolTimeout time.Duration) redis.UniversalClient {
	switch c.Mode {
	case Sentinel:
		o := *c.failover
		o.PoolSize, o.PoolTimeout = poolSize, poolTimeout
		return redis.NewFailoverClient(&o)
	case Cluster:
		o := *c.cluster
		o.PoolSize, o.PoolTimeout = poolSize, poolTimeout
		return redis.NewClusterClient(&o)
	}
	o := *c.single
	o.PoolSize, o.PoolTimeout = poolSize, poolTimeout
	return redis.NewClient(&o)
}

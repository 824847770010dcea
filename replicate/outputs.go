package replicate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// DefaultOutputHosts are the hosts Replicate serves prediction outputs from.
var DefaultOutputHosts = []string{"replicate.delivery", "*.replicate.delivery"}

// ErrOutputRefused matches, under errors.Is, every refusal of the output
// client: a URL that is not https, a host off the list, a redirect that
// leaves it, or an address inside our network.
var ErrOutputRefused = errors.New("output address refused")

// refused wraps ErrOutputRefused with what was refused, for logs. The reason
// may name internal addresses: it is never shown to users.
func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrOutputRefused, fmt.Sprintf(format, args...))
}

// OutputPolicy says which prediction outputs the worker may download.
// The zero value allows Replicate's delivery hosts over https only.
type OutputPolicy struct {
	// Hosts are the allowed host names: "replicate.delivery" matches that
	// host only, "*.replicate.delivery" any host below it (not the apex).
	// Empty means DefaultOutputHosts. Whatever a name resolves to, the
	// connection is refused when the address is internal (see
	// InternalAddress).
	Hosts []string
	// Simulator is the origin ("http://127.0.0.1:8090") of a Replicate
	// simulator that is the configured provider: URLs with exactly this
	// scheme, host and port are fetched, over http too, whatever address it
	// has. It is never read from the environment: `lokiz dev` sets it for
	// the simulator it starts, and development wiring for a plain-http
	// REPLICATE_BASE_URL (production refuses one). Empty allows no such
	// exception.
	Simulator string
	// MaxRedirects bounds the redirects one download follows, each checked
	// like the first URL. Defaults to 3.
	MaxRedirects int
	// Timeout bounds one whole download. Defaults to 10 minutes.
	Timeout time.Duration
}

// Validate checks the policy's host patterns and simulator origin.
func (p OutputPolicy) Validate() error {
	var errs []error
	for _, h := range p.Hosts {
		name := strings.TrimPrefix(h, "*.")
		if name == "" || strings.ContainsAny(name, "/:@*? ") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
			errs = append(errs, fmt.Errorf("%q is not a host name or *.domain", h))
		} else if _, err := netip.ParseAddr(name); err == nil {
			errs = append(errs, fmt.Errorf("%q is an IP address; list host names", h))
		}
	}
	if p.Simulator != "" {
		if _, err := parseOrigin(p.Simulator); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// parseOrigin reads "scheme://host[:port]" and returns it with the port
// spelled out.
func parseOrigin(s string) (origin, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.User != nil {
		return origin{}, fmt.Errorf("simulator origin %q is not scheme://host[:port]", s)
	}
	return originOf(u), nil
}

type origin struct{ scheme, hostPort string }

func originOf(u *url.URL) origin {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return origin{scheme: u.Scheme, hostPort: net.JoinHostPort(strings.ToLower(u.Hostname()), port)}
}

// Allowed reports why u may not be fetched, or nil when it may: the
// simulator's exact origin, or https to a listed host without credentials
// in the URL. Where the host resolves to is checked when connecting.
func (p OutputPolicy) Allowed(u *url.URL) error {
	if u.User != nil {
		return refused("URL carries credentials")
	}
	if p.Simulator != "" {
		if sim, err := parseOrigin(p.Simulator); err == nil && originOf(u) == sim {
			return nil
		}
	}
	if u.Scheme != "https" {
		return refused("scheme %q is not https", u.Scheme)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return refused("URL has no host")
	}
	hosts := p.Hosts
	if len(hosts) == 0 {
		hosts = DefaultOutputHosts
	}
	for _, pat := range hosts {
		pat = strings.ToLower(pat)
		if suffix, ok := strings.CutPrefix(pat, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return nil
			}
		} else if host == pat {
			return nil
		}
	}
	return refused("host %q is not on the output allow-list", host)
}

// internalPrefixes are the ranges no output download may connect to, beyond
// what netip's predicates cover: shared address space (CGNAT, where some
// clouds put their metadata service), IETF protocol assignments, benchmarking,
// reserved and broadcast, "this network", NAT64 and the tunnelling prefixes
// that embed an IPv4 address.
var internalPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/32", "2001:db8::/32", "2002::/16", "fec0::/10",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// InternalAddress reports whether a is an address inside a private network
// or the host itself: loopback, private (RFC 1918, fc00::/7), link-local
// (169.254.0.0/16 with the cloud metadata services, fe80::/10), CGNAT
// (100.64.0.0/10), unspecified, multicast, and the reserved and translation
// ranges in internalPrefixes. An IPv4-mapped IPv6 address is judged as the
// IPv4 address.
func InternalAddress(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range internalPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// refuseInternal is a net.Dialer Control function: it runs for every
// address the dialer is about to connect to, after name resolution, so a
// name that resolves (or re-resolves) to an internal address is refused
// before any packet is sent to it.
func refuseInternal(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refused("cannot parse dialed address %q", address)
	}
	if InternalAddress(ap.Addr()) {
		return refused("address %s is internal", ap.Addr())
	}
	return nil
}

// NewOutputClient returns the HTTP client that downloads prediction
// outputs under p: every URL, the first and each redirect, must pass
// p.Allowed; every connection, except to the simulator's origin, goes to a
// public address; no proxy from the environment is used, so the checks see
// the real destination.
func NewOutputClient(p OutputPolicy) (*http.Client, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("output policy: %w", err)
	}
	if p.MaxRedirects <= 0 {
		p.MaxRedirects = 3
	}
	if p.Timeout <= 0 {
		p.Timeout = 10 * time.Minute
	}
	var sim origin
	if p.Simulator != "" {
		sim, _ = parseOrigin(p.Simulator)
	}
	guarded := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: refuseInternal}
	plain := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			// addr is the URL's host:port, before resolution: only the
			// simulator's own origin skips the address check. Its scheme
			// was matched by Allowed, which every request passed.
			if sim.hostPort != "" && strings.EqualFold(addr, sim.hostPort) {
				return plain.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          16,
	}
	return &http.Client{
		Transport: &checkedTransport{policy: p, base: transport},
		Timeout:   p.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > p.MaxRedirects {
				return refused("more than %d redirects", p.MaxRedirects)
			}
			return p.Allowed(req.URL)
		},
	}, nil
}

// checkedTransport checks each request's URL before it is sent, so the
// first URL is held to the policy even when a caller forgets to.
type checkedTransport struct {
	policy OutputPolicy
	base   http.RoundTripper
}

func (t *checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.policy.Allowed(req.URL); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	return t.base.RoundTrip(req)
}

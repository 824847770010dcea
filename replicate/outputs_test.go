package replicate_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/replicate"
)

func TestOutputPolicyAllowed(t *testing.T) {
	t.Parallel()
	def := replicate.OutputPolicy{}
	sim := replicate.OutputPolicy{Simulator: "http://127.0.0.1:8090"}
	for raw, want := range map[string]bool{
		"https://replicate.delivery/pbxt/abc/out.mp4":       true,
		"https://pbxt.replicate.delivery/abc/out.mp4":       true,
		"https://PBXT.Replicate.Delivery./abc/out.mp4":      true,
		"http://replicate.delivery/pbxt/abc/out.mp4":        false, // https only
		"https://replicate.delivery.evil.com/x":             false,
		"https://evilreplicate.delivery/x":                  false,
		"https://user:pw@replicate.delivery/x":              false,
		"https://127.0.0.1/x":                               false,
		"https://169.254.169.254/latest/meta-data":          false,
		"file:///etc/passwd":                                false,
		"http://127.0.0.1:8090/files/x/output.mp4":          false, // no simulator configured
		"gopher://replicate.delivery/x":                     false,
		"https://replicate.delivery:8443/pbxt/abc/out.mp4":  true, // the port does not matter; the dialer judges the address
		"https://api.replicate.com/v1/files/abc/output.mp4": false,
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		err = def.Allowed(u)
		require.Equal(t, want, err == nil, "%s: %v", raw, err)
		if err != nil {
			require.ErrorIs(t, err, replicate.ErrOutputRefused)
		}
	}
	for raw, want := range map[string]bool{
		"http://127.0.0.1:8090/files/x/output.mp4": true,
		"http://127.0.0.1:8091/files/x/output.mp4": false, // another port on the same host
		"https://127.0.0.1:8090/files/x":           false, // another scheme
		"http://localhost:8090/files/x":            false, // another host name
		"https://replicate.delivery/x":             true,  // the list still applies
	} {
		u, _ := url.Parse(raw)
		require.Equal(t, want, sim.Allowed(u) == nil, raw)
	}
	wild := replicate.OutputPolicy{Hosts: []string{"*.cdn.example"}}
	for raw, want := range map[string]bool{"https://a.cdn.example/x": true, "https://cdn.example/x": false} {
		u, _ := url.Parse(raw)
		require.Equal(t, want, wild.Allowed(u) == nil, raw)
	}
}

func TestOutputPolicyValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, replicate.OutputPolicy{Hosts: []string{"replicate.delivery", "*.replicate.delivery"}, Simulator: "http://sim:8090"}.Validate())
	for _, bad := range []replicate.OutputPolicy{
		{Hosts: []string{"https://replicate.delivery"}},
		{Hosts: []string{"replicate.delivery:443"}},
		{Hosts: []string{"127.0.0.1"}},
		{Hosts: []string{"*"}},
		{Hosts: []string{""}},
		{Simulator: "127.0.0.1:8090"},
		{Simulator: "http://127.0.0.1:8090/v1"},
	} {
		require.Error(t, bad.Validate(), "%+v", bad)
		_, err := replicate.NewOutputClient(bad)
		require.Error(t, err)
	}
}

func TestInternalAddress(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"127.0.0.1": true, "127.8.9.10": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true,
		"169.254.169.254": true, "100.64.0.1": true, "100.100.100.200": true, "0.0.0.0": true, "255.255.255.255": true,
		"::1": true, "::": true, "fe80::1": true, "fd00:ec2::254": true, "::ffff:127.0.0.1": true, "::ffff:10.0.0.1": true,
		"64:ff9b::a00:1": true, "2002:a00:1::": true, "224.0.0.1": true,
		"8.8.8.8": false, "1.1.1.1": false, "2606:4700:4700::1111": false, "::ffff:8.8.8.8": false, "100.128.0.1": false,
	} {
		require.Equal(t, want, replicate.InternalAddress(netip.MustParseAddr(s)), s)
	}
}

// countingServer is a listener on loopback that counts the connections it
// accepts: the internal service an output must never reach.
func countingServer(t *testing.T, tls bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "instance-secret")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &conns
}

// TestOutputClientRefusesInternalAddresses drives the real client against
// real listeners on loopback: a listed host that resolves to loopback, a
// redirect from the simulator to another loopback service, and a redirect
// to a listed host that resolves to loopback. Nothing reaches the listener.
func TestOutputClientRefusesInternalAddresses(t *testing.T) {
	t.Parallel()
	secret, conns := countingServer(t, true)
	plainSecret, plainConns := countingServer(t, false)
	port := secret.URL[strings.LastIndex(secret.URL, ":")+1:]
	rebound := "https://localhost:" + port + "/latest/meta-data" // a listed name that resolves to 127.0.0.1

	var target string
	sim := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/files/ok" {
			_, _ = io.WriteString(w, "media")
			return
		}
		http.Redirect(w, r, target, http.StatusFound)
	}))
	t.Cleanup(sim.Close)
	client, err := replicate.NewOutputClient(replicate.OutputPolicy{Hosts: []string{"localhost"}, Simulator: sim.URL})
	require.NoError(t, err)

	get := func(u string) error {
		resp, err := client.Get(u)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	require.ErrorIs(t, get(rebound), replicate.ErrOutputRefused, "the dialer refuses loopback behind an allowed name")
	target = plainSecret.URL + "/latest/meta-data"
	require.ErrorIs(t, get(sim.URL+"/files/redirect"), replicate.ErrOutputRefused, "a redirect off the list is refused")
	target = rebound
	require.ErrorIs(t, get(sim.URL+"/files/redirect"), replicate.ErrOutputRefused, "a redirect to an allowed name on loopback is refused")
	require.ErrorIs(t, get(plainSecret.URL+"/x"), replicate.ErrOutputRefused)
	require.Zero(t, conns.Load(), "the TLS listener was never contacted")
	require.Zero(t, plainConns.Load(), "the plain listener was never contacted")

	resp, err := client.Get(sim.URL + "/files/ok")
	require.NoError(t, err, "the simulator's own origin is fetched")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "media", string(body))
}

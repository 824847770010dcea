package replicate_test

import (
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	rg "github.com/replicate/replicate-go"
	"golang.org/x/net/idna"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/replicate"
)

// fuzzSimulator is the simulator origin of the second policy FuzzPrediction
// checks, the one `lokiz dev` sets.
const fuzzSimulator = "http://127.0.0.1:8090"

// FuzzPrediction feeds any bytes as a prediction body, as the webhook route
// reads it after the signature (ParseWebhookBody) and as the client reads
// Replicate's answers (replicate-go's decoding, then FromAPI), plus any
// string as an output URL, both alone and inside a prediction. Its seed
// corpus is in testdata/fuzz/FuzzPrediction/. Properties:
//   - nothing panics; a refused webhook body is ErrWebhookBody, an accepted
//     one has an id, and when replicate-go decodes the same bytes, both
//     readings agree on the id and the status;
//   - a status outside the known six is kept as sent, is not terminal and
//     maps to the failed job status, as Status.JobStatus documents; a known
//     one maps as documented; Progress is 0–100 and 100 only on success;
//   - OutputURLs are exactly the non-empty strings of the output, in order;
//   - a URL the output policy accepts (the default one, and one with the
//     simulator's origin) is fetched, by net/http, from a host on the
//     allow-list over https without credentials, or from exactly the
//     simulator's origin; the same holds for the URL the worker sends
//     (u.String() parsed again). Refusals are ErrOutputRefused.
func FuzzPrediction(f *testing.F) {
	policies := []replicate.OutputPolicy{{}, {Simulator: fuzzSimulator}}
	f.Fuzz(func(t *testing.T, body []byte, rawURL string, status string) {
		// The webhook route's reading.
		wp, werr := replicate.ParseWebhookBody(body)
		if werr != nil && (!errors.Is(werr, replicate.ErrWebhookBody) || wp != (replicate.WebhookPrediction{})) {
			t.Fatalf("webhook body %q: %+v, %v", body, wp, werr)
		}
		if werr == nil && wp.ID == "" {
			t.Fatalf("webhook body %q accepted without an id", body)
		}
		checkStatus(t, wp.Status)

		// The client's reading of the same bytes.
		var raw rg.Prediction
		if err := json.Unmarshal(body, &raw); err == nil {
			p := replicate.FromAPI(&raw)
			if (werr == nil) != (p.ID != "") || werr == nil && (wp.ID != p.ID || wp.Status != p.Status) {
				t.Fatalf("body %q: the webhook reads %+v, %v; the client %q, %q", body, wp, werr, p.ID, p.Status)
			}
			checkPrediction(t, p, policies)
		}

		// The URL alone, and as the output of a prediction in status.
		checkOutputURL(t, rawURL, policies)
		b := mustJSON(t, map[string]any{"id": "p1", "status": status, "output": []any{rawURL, 7, nil, ""}})
		var withURL rg.Prediction
		if err := json.Unmarshal(b, &withURL); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		p := replicate.FromAPI(&withURL)
		var want string // rawURL as JSON carries it (invalid UTF-8 replaced)
		if err := json.Unmarshal(mustJSON(t, rawURL), &want); err != nil {
			t.Fatal(err)
		}
		if rawURL != "" && !slices.Equal(p.OutputURLs(), []string{want}) {
			t.Fatalf("output %q: OutputURLs %q", rawURL, p.OutputURLs())
		}
		checkPrediction(t, p, policies)
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkStatus holds a status to Terminal's and JobStatus's documentation.
func checkStatus(t *testing.T, s replicate.Status) {
	t.Helper()
	want := map[replicate.Status]string{
		replicate.StatusStarting: lokiz.JobProcessing, replicate.StatusProcessing: lokiz.JobProcessing,
		replicate.StatusSucceeded: lokiz.JobCompleted, replicate.StatusCanceled: lokiz.JobCanceled,
		replicate.StatusFailed: lokiz.JobFailed, replicate.StatusAborted: lokiz.JobFailed,
	}
	job, known := want[s]
	if !known {
		job = lokiz.JobFailed
	}
	terminal := known && job != lokiz.JobProcessing
	if got := s.JobStatus(); got != job || !slices.Contains(lokiz.JobStatuses, got) {
		t.Fatalf("status %q maps to %q, want %q", s, got, job)
	}
	if s.Terminal() != terminal {
		t.Fatalf("status %q: Terminal() = %v", s, s.Terminal())
	}
}

// checkPrediction checks a decoded prediction's status, progress and
// output URLs.
func checkPrediction(t *testing.T, p replicate.Prediction, policies []replicate.OutputPolicy) {
	t.Helper()
	checkStatus(t, p.Status)
	if n := p.Progress(); n < 0 || n > 100 || (n == 100) != (p.Status == replicate.StatusSucceeded) {
		t.Fatalf("status %q, logs %q: progress %d", p.Status, p.Logs, n)
	}
	var want []string
	switch v := p.Output.(type) {
	case string:
		want = append(want, v)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				want = append(want, s)
			}
		}
	}
	want = slices.DeleteFunc(want, func(s string) bool { return s == "" })
	if got := p.OutputURLs(); !slices.Equal(got, want) {
		t.Fatalf("output %#v: OutputURLs %q, want %q", p.Output, got, want)
	}
	for _, s := range p.OutputURLs() {
		checkOutputURL(t, s, policies)
	}
}

// checkOutputURL parses s as the worker does and holds every policy's
// answer, on that URL and on the one the worker sends, to where net/http
// would connect.
func checkOutputURL(t *testing.T, s string, policies []replicate.OutputPolicy) {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		return // the worker refuses it before any policy
	}
	urls := []*url.URL{u}
	if sent, err := url.Parse(u.String()); err == nil {
		urls = append(urls, sent)
	}
	for _, p := range policies {
		for _, v := range urls {
			err := p.Allowed(v)
			if err != nil {
				if !errors.Is(err, replicate.ErrOutputRefused) {
					t.Fatalf("Allowed(%q): %v is not ErrOutputRefused", v, err)
				}
				continue
			}
			host, port := dialAddress(v)
			switch {
			case p.Simulator != "" && v.Scheme == "http" && strings.EqualFold(net.JoinHostPort(host, port), "127.0.0.1:8090"):
			case v.Scheme == "https" && v.User == nil && onDeliveryHost(host):
			default:
				t.Fatalf("policy %+v accepted %q (from %q), which connects to %s port %s", p, v, s, host, port)
			}
			if v.User != nil {
				t.Fatalf("policy %+v accepted %q with credentials", p, v)
			}
		}
	}
}

// dialAddress is where net/http's Transport connects for u: the URL's
// host made ASCII by IDNA's lookup profile (kept as is when that fails),
// and its port or the scheme's.
func dialAddress(u *url.URL) (host, port string) {
	host = u.Hostname()
	if !isASCII(host) {
		if a, err := idna.Lookup.ToASCII(host); err == nil {
			host = a
		}
	}
	port = u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return host, port
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// onDeliveryHost is the default allow-list, read independently: the host
// replicate.delivery or any name below it (DNS is case-blind and a
// trailing dot names the same host).
func onDeliveryHost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	return h == "replicate.delivery" || strings.HasSuffix(h, ".replicate.delivery") && len(h) > len(".replicate.delivery")
}

package sim

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Latency says how long a prediction stays in each state.
type Latency struct {
	// Starting is the time from create to "processing". Defaults to 100ms.
	Starting time.Duration
	// Processing is the time from "processing" to the end, over which the
	// progress lines are spread; a slower ffmpeg makes it longer. Defaults
	// to 1s.
	Processing time.Duration
	// Slow replaces Processing for a "[sim:slow]" prediction. Defaults to 30s.
	Slow time.Duration
}

// Options configures a Server. The zero value works.
type Options struct {
	// BaseURL is the scheme and host that output URLs start with, such as
	// "http://localhost:8090". Defaults to "http://" + the Host of the
	// create request.
	BaseURL string
	// Token, when set, is the only bearer token accepted; otherwise any
	// non-empty token is.
	Token string
	// WebhookSecret signs webhooks, in Replicate's "whsec_<base64>" form.
	// Defaults to a random secret, which Server.WebhookSecret returns.
	WebhookSecret string
	// WebhookRetries is how many times a failed webhook delivery is tried
	// again. Defaults to 3; negative means never.
	WebhookRetries int
	// WebhookRetryDelay is the wait before the first retry, doubled for each
	// next one. Defaults to 100ms.
	WebhookRetryDelay time.Duration
	// HTTPClient fetches inputs and delivers webhooks. Defaults to a client
	// with a 30 second timeout.
	HTTPClient *http.Client
	// NowFunc is the clock for timestamps, webhook timestamps and output
	// expiry (timers still use real time). Defaults to time.Now.
	NowFunc func() time.Time
	// Latency is the time spent in each state.
	Latency Latency
	// OutputTTL is how long output files stay downloadable after a
	// prediction ends; afterwards they answer 410 Gone. Defaults to 1h.
	OutputTTL time.Duration
	// RetryAfter is the Retry-After of a throttled create, rounded up to
	// whole seconds. Defaults to 1s.
	RetryAfter time.Duration
	// Faults are applied to every prediction, on top of the prompt's tokens.
	Faults Faults
	// HangLimit bounds how long a "[sim:hang]" create or a stalled request
	// (Stall) is held when its client never gives up. Defaults to 2m.
	HangLimit time.Duration
	// Logger receives one line per state change and per failed webhook.
	// Defaults to discarding.
	Logger *slog.Logger
}

// Server is the simulator. It is safe for concurrent use.
type Server struct {
	opts    Options
	handler http.Handler

	ctx    context.Context // canceled by Close; parent of every prediction's work
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	preds     map[string]*prediction
	order     []string        // ids, oldest first
	throttled map[string]int  // create requests answered 429, by prompt
	hung      map[string]bool // prompts whose first create was held (Faults.Hang)
	closed    bool
	stall     chan struct{} // non-nil while Stall is on; closed when it ends
}

// New returns a Server with opts, defaults filled in. Call Close when done.
func New(opts Options) *Server {
	if opts.WebhookSecret == "" {
		key := make([]byte, 24)
		_, _ = rand.Read(key)
		opts.WebhookSecret = "whsec_" + base64.StdEncoding.EncodeToString(key)
	}
	if opts.WebhookRetries == 0 {
		opts.WebhookRetries = 3
	}
	if opts.WebhookRetryDelay <= 0 {
		opts.WebhookRetryDelay = 100 * time.Millisecond
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.NowFunc == nil {
		opts.NowFunc = time.Now
	}
	if opts.Latency.Starting <= 0 {
		opts.Latency.Starting = 100 * time.Millisecond
	}
	if opts.Latency.Processing <= 0 {
		opts.Latency.Processing = time.Second
	}
	if opts.Latency.Slow <= 0 {
		opts.Latency.Slow = 30 * time.Second
	}
	if opts.OutputTTL <= 0 {
		opts.OutputTTL = time.Hour
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Second
	}
	if opts.HangLimit <= 0 {
		opts.HangLimit = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.BaseURL = strings.TrimSuffix(opts.BaseURL, "/")
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:      opts,
		ctx:       ctx,
		cancel:    cancel,
		preds:     map[string]*prediction{},
		throttled: map[string]int{},
		hung:      map[string]bool{},
	}
	s.handler = s.routes()
	return s
}

// Handler returns the HTTP handler serving the API and the output files.
func (s *Server) Handler() http.Handler { return s.handler }

// WebhookSecret returns the "whsec_…" secret webhooks are signed with.
func (s *Server) WebhookSecret() string { return s.opts.WebhookSecret }

// Stall turns the stall on or off. While it is on, every /v1 request that
// arrives is held before it is handled: a request whose client gives up
// meanwhile (a time-out, a canceled context) is dropped without effect;
// one still waiting when the stall is turned off or Options.HangLimit has
// passed is then served as usual.
func (s *Server) Stall(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.stall == nil:
		s.stall = make(chan struct{})
	case !on && s.stall != nil:
		close(s.stall)
		s.stall = nil
	}
}

// hold waits while the server is stalled; false when the client gave up
// (or the server closed) meanwhile.
func (s *Server) hold(r *http.Request) bool {
	s.mu.Lock()
	stall := s.stall
	s.mu.Unlock()
	if stall == nil {
		return true
	}
	t := time.NewTimer(s.opts.HangLimit)
	defer t.Stop()
	select {
	case <-stall:
	case <-t.C:
	case <-r.Context().Done():
		return false
	case <-s.ctx.Done():
		return false
	}
	return true
}

// Close stops every running prediction (killing its ffmpeg) and webhook
// delivery and waits for them. Requests after Close answer 503.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

func (s *Server) now() time.Time { return s.opts.NowFunc().UTC() }

// newID returns a 26 character lowercase id, like Replicate's.
func newID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:26]
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func errorf(format string, args ...any) error { return fmt.Errorf("sim: "+format, args...) }

// Snapshot is a prediction as the simulator holds it, for tests and
// operators: what was asked and where it stands.
type Snapshot struct {
	ID      string
	Model   string
	Version string
	Status  string
	Input   map[string]any
	Webhook string
}

// Predictions returns every prediction created so far, oldest first.
func (s *Server) Predictions() []Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Snapshot, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, snapshotOf(s.preds[id]))
	}
	return out
}

// Prediction returns the prediction with id; ok is false when there is none.
func (s *Server) Prediction(id string) (snap Snapshot, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.preds[id]
	if !ok {
		return Snapshot{}, false
	}
	return snapshotOf(p), true
}

// snapshotOf copies p; s.mu must be held.
func snapshotOf(p *prediction) Snapshot {
	return Snapshot{ID: p.id, Model: p.model, Version: p.version, Status: p.status, Input: maps.Clone(p.input), Webhook: p.webhook}
}

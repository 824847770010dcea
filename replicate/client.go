package replicate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	rg "github.com/replicate/replicate-go"

	"github.com/lokiz/lokiz"
)

// DefaultBaseURL is Replicate's API.
const DefaultBaseURL = "https://api.replicate.com/v1"

// Status is a prediction status, as Replicate spells it.
type Status string

// Prediction statuses. Succeeded, Failed, Canceled and Aborted are terminal.
const (
	StatusStarting   Status = "starting"
	StatusProcessing Status = "processing"
	StatusSucceeded  Status = "succeeded"
	StatusFailed     Status = "failed"
	StatusCanceled   Status = "canceled"
	// StatusAborted is a prediction stopped by its deadline (Cancel-After)
	// or by Replicate before it ran.
	StatusAborted Status = "aborted"
)

// Terminal reports whether a prediction in status s will not change again.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusCanceled, StatusAborted:
		return true
	}
	return false
}

// JobStatus maps s to an AI job status (lokiz.Job*): starting and
// processing are lokiz.JobProcessing, succeeded is lokiz.JobCompleted,
// canceled is lokiz.JobCanceled, and failed, aborted and anything unknown are
// lokiz.JobFailed (an aborted job ran out of time and is refunded like a
// failed one).
func (s Status) JobStatus() string {
	switch s {
	case StatusStarting, StatusProcessing:
		return lokiz.JobProcessing
	case StatusSucceeded:
		return lokiz.JobCompleted
	case StatusCanceled:
		return lokiz.JobCanceled
	}
	return lokiz.JobFailed
}

// Config configures a Client.
type Config struct {
	// BaseURL is the API root, with its /v1. Defaults to DefaultBaseURL; the
	// simulator's is "<sim>/v1".
	BaseURL string
	// Token is the API token. Required.
	Token string
	// HTTPClient makes the requests; its Transport is wrapped, not changed.
	// Defaults to a client with a 60 second timeout.
	HTTPClient *http.Client
	// MaxRetries is how often a throttled (429) request, or a read that
	// failed with a 5xx, is tried again. Defaults to 5; negative means never.
	MaxRetries int
	// MaxRetryAfter caps the wait between tries; a longer Retry-After is
	// waited for only this long. Defaults to 30s.
	MaxRetryAfter time.Duration
}

// Client creates, reads and cancels predictions. It is safe for concurrent
// use.
type Client struct {
	api *rg.Client
	cfg Config
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Token == "" {
		return nil, errors.New("replicate: a token is required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 5
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = 30 * time.Second
	}
	hc := *cfg.HTTPClient
	hc.Transport = &transport{base: cmpTransport(hc.Transport)}
	api, err := rg.NewClient(
		rg.WithToken(cfg.Token),
		rg.WithBaseURL(cfg.BaseURL),
		rg.WithHTTPClient(&hc),
		rg.WithUserAgent("lokiz (replicate-go)"),
		// Zero retries: replicate-go would resend a consumed body (see the
		// package documentation); Client retries instead.
		rg.WithRetryPolicy(0, &rg.ConstantBackoff{}),
	)
	if err != nil {
		return nil, fmt.Errorf("replicate: %w", err)
	}
	return &Client{api: api, cfg: cfg}, nil
}

// API returns the underlying replicate-go client, which retries nothing.
func (c *Client) API() *rg.Client { return c.api }

// Spec describes a prediction to create.
type Spec struct {
	// Model is "owner/name" (the model's current version) or
	// "owner/name:version". Exactly one of Model and Version is set.
	Model string
	// Version is a model version id.
	Version string
	// Input is the model's input; files are passed as URLs.
	Input map[string]any
	// Webhook, when set, is the URL Replicate POSTs the prediction to.
	Webhook string
	// WebhookEvents filters the webhook's events ("start", "output",
	// "logs", "completed"); empty means Replicate's default, output and
	// completed.
	WebhookEvents []string
	// Deadline, when positive, is sent as Cancel-After: the prediction is
	// aborted if it is still running that long after it was created.
	Deadline time.Duration
}

// Prediction is the part of a Replicate prediction LOKIZ uses.
type Prediction struct {
	ID      string
	Model   string
	Version string
	Status  Status
	// Output is the model's output as decoded from JSON: for LOKIZ's
	// models a URL string or a list of them (see OutputURLs).
	Output any
	// Error is the model's error message when Status is failed or aborted.
	Error string
	Logs  string
	// PredictTime is the time the model ran, 0 until it ended.
	PredictTime time.Duration
	CreatedAt   time.Time
	// StartedAt and CompletedAt are zero until they happen.
	StartedAt   time.Time
	CompletedAt time.Time
}

// OutputURLs returns the URL strings in Output: the string itself, or the
// strings of a list, in order.
func (p Prediction) OutputURLs() []string {
	switch v := p.Output.(type) {
	case string:
		if v != "" {
			return []string{v}
		}
	case []any:
		var urls []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				urls = append(urls, s)
			}
		}
		return urls
	}
	return nil
}

// Create starts a prediction. A 429 is retried after its Retry-After, with a
// new request each time, up to Config.MaxRetries; other errors, such as a
// *replicate.APIError for a 422, are returned at once, wrapped.
func (c *Client) Create(ctx context.Context, spec Spec) (Prediction, error) {
	owner, name, version, err := spec.target()
	if err != nil {
		return Prediction{}, err
	}
	var hook *rg.Webhook
	if spec.Webhook != "" {
		hook = &rg.Webhook{URL: spec.Webhook}
		for _, ev := range spec.WebhookEvents {
			hook.Events = append(hook.Events, rg.WebhookEventType(ev))
		}
	}
	if spec.Deadline > 0 {
		ctx = context.WithValue(ctx, cancelAfterKey{}, spec.Deadline)
	}
	p, err := c.retry(ctx, false, func(ctx context.Context) (*rg.Prediction, error) {
		// replicate-go replaces *File values in the input map it is given,
		// so each try gets its own copy.
		input := make(rg.PredictionInput, len(spec.Input))
		for k, v := range spec.Input {
			input[k] = v
		}
		if version != "" {
			return c.api.CreatePrediction(ctx, version, input, hook, false)
		}
		return c.api.CreatePredictionWithModel(ctx, owner, name, input, hook, false)
	})
	if err != nil {
		return Prediction{}, fmt.Errorf("replicate: create prediction: %w", err)
	}
	return p, nil
}

// target returns where spec goes: a version, or a model.
func (spec Spec) target() (owner, name, version string, err error) {
	switch {
	case spec.Model != "" && spec.Version != "":
		return "", "", "", errors.New("replicate: set Model or Version, not both")
	case spec.Version != "":
		return "", "", spec.Version, nil
	case spec.Model == "":
		return "", "", "", errors.New("replicate: Model or Version is required")
	}
	id, err := rg.ParseIdentifier(spec.Model)
	if err != nil {
		return "", "", "", fmt.Errorf("replicate: model %q: %w", spec.Model, err)
	}
	if id.Version != nil {
		return "", "", *id.Version, nil
	}
	return id.Owner, id.Name, "", nil
}

// Get reads a prediction. Throttling and 5xx answers are retried.
func (c *Client) Get(ctx context.Context, id string) (Prediction, error) {
	p, err := c.retry(ctx, true, func(ctx context.Context) (*rg.Prediction, error) {
		return c.api.GetPrediction(ctx, id)
	})
	if err != nil {
		return Prediction{}, fmt.Errorf("replicate: get prediction %s: %w", id, err)
	}
	return p, nil
}

// Cancel asks Replicate to stop a prediction and returns it as it is then;
// canceling a prediction that has ended changes nothing. Throttling and 5xx
// answers are retried (cancel is idempotent).
func (c *Client) Cancel(ctx context.Context, id string) (Prediction, error) {
	p, err := c.retry(ctx, true, func(ctx context.Context) (*rg.Prediction, error) {
		return c.api.CancelPrediction(ctx, id)
	})
	if err != nil {
		return Prediction{}, fmt.Errorf("replicate: cancel prediction %s: %w", id, err)
	}
	return p, nil
}

// retry runs call until it succeeds, fails for good, or ctx ends. A 429 is
// always retried; a 5xx only when idempotent.
func (c *Client) retry(ctx context.Context, idempotent bool, call func(context.Context) (*rg.Prediction, error)) (Prediction, error) {
	backoff := 500 * time.Millisecond
	for attempt := 0; ; attempt++ {
		hint := &retryAfter{}
		p, err := call(context.WithValue(ctx, retryAfterKey{}, hint))
		if err == nil {
			return fromAPI(p), nil
		}
		var apiErr *rg.APIError
		if !errors.As(err, &apiErr) || attempt >= c.cfg.MaxRetries {
			return Prediction{}, err
		}
		var wait time.Duration
		switch {
		case apiErr.Status == http.StatusTooManyRequests:
			wait = cmpDuration(hint.get(), backoff)
		case apiErr.Status >= 500 && idempotent:
			wait = backoff
		default:
			return Prediction{}, err
		}
		backoff *= 2
		t := time.NewTimer(min(wait, c.cfg.MaxRetryAfter))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Prediction{}, errors.Join(err, ctx.Err())
		}
	}
}

func fromAPI(p *rg.Prediction) Prediction {
	out := Prediction{
		ID:      p.ID,
		Model:   p.Model,
		Version: p.Version,
		Status:  Status(p.Status),
		Output:  p.Output,
	}
	switch e := p.Error.(type) {
	case nil:
	case string:
		out.Error = e
	default:
		out.Error = fmt.Sprint(e)
	}
	if p.Logs != nil {
		out.Logs = *p.Logs
	}
	if p.Metrics != nil && p.Metrics.PredictTime != nil {
		out.PredictTime = time.Duration(*p.Metrics.PredictTime * float64(time.Second))
	}
	out.CreatedAt = parseTime(&p.CreatedAt)
	out.StartedAt = parseTime(p.StartedAt)
	out.CompletedAt = parseTime(p.CompletedAt)
	return out
}

func parseTime(s *string) time.Time {
	if s == nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

type (
	cancelAfterKey struct{}
	retryAfterKey  struct{}
)

// retryAfter carries a 429's Retry-After from the transport to retry.
type retryAfter struct{ d time.Duration }

func (r *retryAfter) get() time.Duration { return r.d }

// transport adds Cancel-After to creates and moves a 429's Retry-After from
// the response (where replicate-go would sleep on it) to the request's
// retryAfter.
type transport struct{ base http.RoundTripper }

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if d, ok := req.Context().Value(cancelAfterKey{}).(time.Duration); ok && req.Method == http.MethodPost &&
		strings.HasSuffix(req.URL.Path, "/predictions") {
		req = req.Clone(req.Context())
		req.Header.Set("Cancel-After", d.String())
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		return resp, err
	}
	if hint, ok := req.Context().Value(retryAfterKey{}).(*retryAfter); ok {
		hint.d = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		resp.Header.Del("Retry-After")
	}
	return resp, nil
}

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now))
	}
	return 0
}

func cmpTransport(t http.RoundTripper) http.RoundTripper {
	if t == nil {
		return http.DefaultTransport
	}
	return t
}

func cmpDuration(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}

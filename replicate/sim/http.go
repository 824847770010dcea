package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("POST /v1/predictions", func(w http.ResponseWriter, r *http.Request) { s.create(w, r, "") })
	api.HandleFunc("POST /v1/models/{owner}/{name}/predictions", func(w http.ResponseWriter, r *http.Request) {
		s.create(w, r, r.PathValue("owner")+"/"+r.PathValue("name"))
	})
	api.HandleFunc("POST /v1/deployments/{owner}/{name}/predictions", func(w http.ResponseWriter, r *http.Request) {
		s.create(w, r, r.PathValue("owner")+"/"+r.PathValue("name"))
	})
	api.HandleFunc("GET /v1/predictions", s.list)
	api.HandleFunc("GET /v1/predictions/{id}", s.get)
	api.HandleFunc("POST /v1/predictions/{id}/cancel", s.cancelPrediction)
	api.HandleFunc("GET /v1/webhooks/default/secret", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"key": s.opts.WebhookSecret})
	})
	api.HandleFunc("/v1/", func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, http.StatusNotFound, "Not found", "The requested resource does not exist.")
	})

	mux := http.NewServeMux()
	mux.Handle("/v1/", s.stalled(s.authorize(api)))
	mux.HandleFunc("GET /files/{id}/{name}", s.serveFile)
	return s.open(mux)
}

// open answers 503 once the server is closed.
func (s *Server) open(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			writeProblem(w, http.StatusServiceUnavailable, "Service unavailable", "The simulator is shutting down.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// stalled holds each request while Stall is on; a request whose client
// gave up meanwhile is not handled.
func (s *Server) stalled(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body is read first: only then does the server watch the
		// connection and cancel the request's context when the client leaves.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			writeProblem(w, http.StatusBadRequest, "Invalid body", err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if s.hold(r) {
			next.ServeHTTP(w, r)
		}
	})
}

func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" || (s.opts.Token != "" && token != s.opts.Token) {
			writeProblem(w, http.StatusUnauthorized, "Unauthenticated", "You did not pass a valid authentication token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

var webhookEvents = []string{"start", "output", "logs", "completed"}

type createRequest struct {
	Version             string         `json:"version"`
	Input               map[string]any `json:"input"`
	Webhook             string         `json:"webhook"`
	WebhookEventsFilter []string       `json:"webhook_events_filter"`
	Stream              bool           `json:"stream"`
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, model string) {
	var req createRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&req); err != nil {
		writeProblem(w, http.StatusBadRequest, "Invalid JSON", err.Error())
		return
	}
	version := req.Version
	if model == "" {
		if version == "" {
			writeProblem(w, http.StatusUnprocessableEntity, "Input validation failed", "version is required")
			return
		}
		// "owner/name:version" names the model too.
		if m, v, ok := strings.Cut(version, ":"); ok && strings.Contains(m, "/") {
			model, version = m, v
		}
	}
	if req.Input == nil {
		writeProblem(w, http.StatusUnprocessableEntity, "Input validation failed", "input is required")
		return
	}
	if req.Webhook != "" {
		u, err := url.Parse(req.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			writeProblem(w, http.StatusUnprocessableEntity, "Input validation failed", "webhook must be an http or https URL")
			return
		}
	}
	filter := req.WebhookEventsFilter
	for _, ev := range filter {
		if !slices.Contains(webhookEvents, ev) {
			writeProblem(w, http.StatusUnprocessableEntity, "Input validation failed",
				fmt.Sprintf("webhook_events_filter: %q is not one of start, output, logs, completed", ev))
			return
		}
	}
	if len(filter) == 0 {
		filter = []string{"output", "completed"} // Replicate's default
	}
	cancelAfter, err := parseCancelAfter(r.Header.Get("Cancel-After"))
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "Invalid Cancel-After header", err.Error())
		return
	}

	prompt, _ := req.Input["prompt"].(string)
	faults := ParseFaults(prompt).merge(s.opts.Faults)
	baseURL := s.opts.BaseURL
	if baseURL == "" {
		baseURL = "http://" + r.Host
	}

	s.mu.Lock()
	if faults.Throttle > 0 && s.throttled[prompt] < faults.Throttle {
		s.throttled[prompt]++
		s.mu.Unlock()
		secs := int(math.Ceil(s.opts.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeProblem(w, http.StatusTooManyRequests, "Request was throttled.",
			fmt.Sprintf("Request was throttled. Expected available in %d second.", secs))
		return
	}
	hang := faults.Hang && !s.hung[prompt]
	if hang {
		s.hung[prompt] = true
	}
	s.mu.Unlock()

	p := &prediction{
		id:          newID(),
		model:       model,
		version:     version,
		input:       req.Input,
		webhook:     req.Webhook,
		filter:      req.WebhookEventsFilter,
		faults:      faults,
		baseURL:     baseURL,
		createdAt:   s.now(),
		createdReal: time.Now(),
		cancelAfter: cancelAfter,
		status:      StatusStarting,
		done:        make(chan struct{}),
		wanted:      map[string]bool{},
	}
	for _, ev := range filter {
		p.wanted[ev] = true
	}
	if p.webhook != "" && !faults.NoWebhook {
		p.hooks = make(chan hookEvent, 64)
	}
	ctx, stop := context.WithCancel(s.ctx)
	p.stop = stop

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		stop()
		writeProblem(w, http.StatusServiceUnavailable, "Service unavailable", "The simulator is shutting down.")
		return
	}
	s.preds[p.id] = p
	s.order = append(s.order, p.id)
	s.emitLocked(p, "start")
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(ctx, p)
	}()
	if p.hooks != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.deliver(p)
		}()
	}
	s.mu.Unlock()
	s.opts.Logger.Info("sim: prediction created", "prediction_id", p.id, "model", model, "version", version)

	if wait, ok := preferWait(r.Header.Get("Prefer")); ok {
		t := time.NewTimer(wait)
		select {
		case <-p.done:
		case <-t.C:
		case <-r.Context().Done():
		case <-s.ctx.Done():
		}
		t.Stop()
	}
	if hang {
		// The prediction runs; its creator never hears of it.
		t := time.NewTimer(s.opts.HangLimit)
		select {
		case <-r.Context().Done():
		case <-t.C:
		case <-s.ctx.Done():
		}
		t.Stop()
	}
	s.writePrediction(w, http.StatusCreated, p)
}

func (s *Server) writePrediction(w http.ResponseWriter, status int, p *prediction) {
	s.mu.Lock()
	v := s.viewLocked(p)
	s.mu.Unlock()
	writeJSON(w, status, v)
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request) (*prediction, bool) {
	s.mu.Lock()
	p, ok := s.preds[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		writeProblem(w, http.StatusNotFound, "Not found", "Prediction not found.")
	}
	return p, ok
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.lookup(w, r); ok {
		s.writePrediction(w, http.StatusOK, p)
	}
}

func (s *Server) cancelPrediction(w http.ResponseWriter, r *http.Request) {
	p, ok := s.lookup(w, r)
	if !ok {
		return
	}
	s.finish(p, StatusCanceled, "")
	s.writePrediction(w, http.StatusOK, p)
}

func (s *Server) list(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	results := make([]predictionJSON, 0, len(s.order))
	for i := len(s.order) - 1; i >= 0; i-- {
		results = append(results, s.viewLocked(s.preds[s.order[i]]))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"previous": nil, "next": nil, "results": results})
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var f file
	var found, expired bool
	if p, ok := s.preds[r.PathValue("id")]; ok && p.files != nil {
		f, found = p.files[r.PathValue("name")]
		if found && s.now().After(p.completedAt.Add(s.opts.OutputTTL)) {
			expired = true
			delete(p.files, r.PathValue("name")) // free the memory for good
		}
	}
	s.mu.Unlock()
	switch {
	case expired:
		writeProblem(w, http.StatusGone, "Gone", "This file has expired.")
	case !found:
		writeProblem(w, http.StatusNotFound, "Not found", "File not found.")
	default:
		w.Header().Set("Content-Type", f.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(f.data)
		}
	}
}

// parseCancelAfter reads a Cancel-After header: a Go duration ("200ms",
// "5m") or a number of seconds ("30", "1.5"). "" means none.
func parseCancelAfter(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return 0, errors.New("want a duration such as 30s or 1m, or a number of seconds")
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d <= 0 {
		return 0, errors.New("must be positive")
	}
	return d, nil
}

// preferWait reads "Prefer: wait" or "wait=<seconds>", at most 60 seconds.
func preferWait(v string) (time.Duration, bool) {
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if part == "wait" {
			return 60 * time.Second, true
		}
		if n, ok := strings.CutPrefix(part, "wait="); ok {
			if secs, err := strconv.Atoi(n); err == nil && secs > 0 {
				return time.Duration(min(secs, 60)) * time.Second, true
			}
		}
	}
	return 0, false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeProblem writes an error the way Replicate does (RFC 7807 fields),
// which replicate-go decodes into its APIError.
func writeProblem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"title": title, "detail": detail, "status": status})
}

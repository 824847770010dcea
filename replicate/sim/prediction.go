package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Prediction statuses, as Replicate spells them.
const (
	StatusStarting   = "starting"
	StatusProcessing = "processing"
	StatusSucceeded  = "succeeded"
	StatusFailed     = "failed"
	StatusCanceled   = "canceled"
	StatusAborted    = "aborted"
)

func terminal(status string) bool {
	switch status {
	case StatusSucceeded, StatusFailed, StatusCanceled, StatusAborted:
		return true
	}
	return false
}

// prediction is one prediction. The first block never changes after create;
// the rest is guarded by Server.mu.
type prediction struct {
	id, model, version string
	input              map[string]any
	webhook            string
	filter             []string
	faults             Faults
	baseURL            string
	createdAt          time.Time     // by Options.NowFunc
	createdReal        time.Time     // by the real clock, for Cancel-After
	cancelAfter        time.Duration // 0: none

	status      string
	logs        []string
	output      any
	errMsg      string
	startedAt   time.Time
	completedAt time.Time
	files       map[string]file
	done        chan struct{}   // closed when the status becomes terminal
	stop        func()          // cancels the running goroutine's context
	hooks       chan hookEvent  // webhook queue; nil without a webhook
	wanted      map[string]bool // events of filter
}

type file struct {
	data        []byte
	contentType string
}

// predictionJSON is the prediction object of Replicate's HTTP API.
type predictionJSON struct {
	ID                  string            `json:"id"`
	Model               string            `json:"model"`
	Version             string            `json:"version"`
	Input               map[string]any    `json:"input"`
	Logs                string            `json:"logs"`
	Output              any               `json:"output"`
	DataRemoved         bool              `json:"data_removed"`
	Error               any               `json:"error"`
	Status              string            `json:"status"`
	Source              string            `json:"source"`
	CreatedAt           string            `json:"created_at"`
	StartedAt           *string           `json:"started_at"`
	CompletedAt         *string           `json:"completed_at"`
	URLs                map[string]string `json:"urls"`
	Metrics             map[string]any    `json:"metrics"`
	Webhook             string            `json:"webhook,omitempty"`
	WebhookEventsFilter []string          `json:"webhook_events_filter,omitempty"`
}

// viewLocked returns p as JSON; s.mu must be held.
func (s *Server) viewLocked(p *prediction) predictionJSON {
	v := predictionJSON{
		ID:                  p.id,
		Model:               p.model,
		Version:             p.version,
		Input:               p.input,
		Output:              p.output,
		Status:              p.status,
		Source:              "api",
		CreatedAt:           formatTime(p.createdAt),
		Metrics:             map[string]any{},
		Webhook:             p.webhook,
		WebhookEventsFilter: p.filter,
		URLs: map[string]string{
			"get":    p.baseURL + "/v1/predictions/" + p.id,
			"cancel": p.baseURL + "/v1/predictions/" + p.id + "/cancel",
			"web":    p.baseURL + "/p/" + p.id,
		},
	}
	if len(p.logs) > 0 {
		v.Logs = strings.Join(p.logs, "\n") + "\n"
	}
	if p.errMsg != "" {
		v.Error = p.errMsg
	}
	if !p.startedAt.IsZero() {
		t := formatTime(p.startedAt)
		v.StartedAt = &t
	}
	if !p.completedAt.IsZero() {
		t := formatTime(p.completedAt)
		v.CompletedAt = &t
		v.Metrics["total_time"] = p.completedAt.Sub(p.createdAt).Seconds()
		if !p.startedAt.IsZero() {
			v.Metrics["predict_time"] = p.completedAt.Sub(p.startedAt).Seconds()
		}
		v.DataRemoved = p.files != nil && s.now().After(p.completedAt.Add(s.opts.OutputTTL))
	}
	return v
}

// emitLocked queues the webhook event kind with p's current state; s.mu must
// be held, which keeps events in order.
func (s *Server) emitLocked(p *prediction, kind string) {
	if p.hooks == nil || !p.wanted[kind] {
		return
	}
	body, err := json.Marshal(s.viewLocked(p))
	if err != nil {
		return
	}
	select {
	case p.hooks <- hookEvent{kind: kind, body: body}:
	default: // a full queue only ever drops progress logs
		s.opts.Logger.Warn("sim: webhook queue full", "prediction_id", p.id, "event", kind)
	}
}

// finish moves p to a terminal status unless it already is in one, and
// reports whether it did.
func (s *Server) finish(p *prediction, status, errMsg string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finishLocked(p, status, errMsg)
}

func (s *Server) finishLocked(p *prediction, status, errMsg string) bool {
	if terminal(p.status) {
		return false
	}
	p.status, p.errMsg, p.completedAt = status, errMsg, s.now()
	if p.startedAt.IsZero() && status != StatusAborted && status != StatusCanceled {
		p.startedAt = p.completedAt
	}
	if errMsg != "" {
		p.logs = append(p.logs, errMsg)
	}
	close(p.done)
	p.stop()
	s.emitLocked(p, "completed")
	if p.hooks != nil {
		close(p.hooks)
	}
	s.opts.Logger.Info("sim: prediction ended", "prediction_id", p.id, "status", status)
	return true
}

// logLine appends a log line to a running p, sending a "logs" webhook.
func (s *Server) logLine(p *prediction, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if terminal(p.status) {
		return
	}
	p.logs = append(p.logs, line)
	s.emitLocked(p, "logs")
}

type renderResult struct {
	name        string
	contentType string
	data        []byte
	err         error
}

// run drives p from starting to its end; ctx ends when p does or the server
// closes.
func (s *Server) run(ctx context.Context, p *prediction) {
	var deadline <-chan time.Time
	if p.cancelAfter > 0 {
		t := time.NewTimer(p.cancelAfter - time.Since(p.createdReal))
		defer t.Stop()
		deadline = t.C
	}
	abortDeadline := func() {
		s.finish(p, StatusAborted, fmt.Sprintf("Prediction was aborted: it ran longer than its Cancel-After of %s.", p.cancelAfter))
	}
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		case <-deadline:
			abortDeadline()
			return false
		}
	}

	if !wait(s.opts.Latency.Starting) {
		return
	}
	s.mu.Lock()
	if terminal(p.status) {
		s.mu.Unlock()
		return
	}
	p.status, p.startedAt = StatusProcessing, s.now()
	p.logs = append(p.logs, "sim: running "+cmpOr(p.model, p.version))
	s.emitLocked(p, "logs")
	s.mu.Unlock()

	if p.faults.Abort {
		s.finish(p, StatusAborted, "Prediction was aborted (sim:abort).")
		return
	}

	results := make(chan renderResult, 1)
	if !p.faults.Fail {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			var r renderResult
			r.name, r.contentType, r.data, r.err = s.render(ctx, p)
			results <- r
		}()
	}

	processing := s.opts.Latency.Processing
	if p.faults.Slow {
		processing = s.opts.Latency.Slow
	}
	const steps = 5
	for i := 1; i <= steps; i++ {
		if !wait(processing / steps) {
			return
		}
		if p.faults.Fail && i == 3 {
			s.finish(p, StatusFailed, "CUDA error: simulated model crash (sim:fail)")
			return
		}
		pct := i * 100 / steps
		s.logLine(p, fmt.Sprintf("progress: %d%%\n%3d%%|%-10s| %d/%d", pct, pct, strings.Repeat("#", pct/10), i, steps))
	}

	var r renderResult
	select {
	case r = <-results:
	case <-ctx.Done():
		return
	case <-deadline:
		abortDeadline()
		return
	}
	if r.err != nil {
		s.finish(p, StatusFailed, r.err.Error())
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if terminal(p.status) {
		return
	}
	p.files = map[string]file{r.name: {data: r.data, contentType: r.contentType}}
	p.output = p.baseURL + "/files/" + p.id + "/" + r.name
	s.emitLocked(p, "output")
	s.finishLocked(p, StatusSucceeded, "")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

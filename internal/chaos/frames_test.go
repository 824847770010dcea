package chaos

import (
	"net/http"

	"github.com/jackc/pgx/v5"
)

// captureFrames asks for stills of an uploaded video, through either
// route: POST /v1/ai/capture-frames (one to three times) or the original
// POST /v1/ai/capture-frame (one). The clip is 1 s long. A video still
// processing answers 409; a capture the worker finishes within a few
// seconds 200, else 202 with its job id.
func (h *harness) captureFrames(u *account) {
	video := h.pickVideo()
	if video == "" {
		return
	}
	var status int
	var out map[string]any
	if h.intn(2) == 0 {
		times := []float64{0.1, 0.4, 0.8}[:1+h.intn(3)]
		status, out = h.call(h.api(), "POST", "/v1/ai/capture-frames", u.token, map[string]any{"video_id": video, "timestamps": times})
	} else {
		status, out = h.call(h.api(), "POST", "/v1/ai/capture-frame", u.token, map[string]any{"video_id": video, "timestamp": 0.5})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.frameAnswers[status]++
	if status == http.StatusOK || status == http.StatusAccepted {
		if id, ok := out["job_id"].(string); ok {
			h.captures = append(h.captures, id)
		}
	}
}

// frameInvariants: every frame capture ends (completed with one stored
// frame per time, or failed with its error), and captures are free: no
// ledger row names one.
func (h *harness) frameInvariants(conn *pgx.Conn) []string {
	h.mu.Lock()
	ids := h.captures
	h.mu.Unlock()
	var v []string
	if len(ids) == 0 {
		v = append(v, "no frame capture was accepted: the frames invariants were not exercised")
	}
	v = append(v, h.queryViolations(conn, "frame capture accepted (200/202) but unknown",
		`SELECT c.id::text FROM unnest($1::uuid[]) AS c(id) WHERE NOT EXISTS (SELECT 1 FROM frame_captures fc WHERE fc.id = c.id)`, ids)...)
	v = append(v, h.queryViolations(conn, "frame capture not terminal",
		`SELECT id::text, status, requeues FROM frame_captures WHERE status NOT IN ('completed', 'failed')`)...)
	v = append(v, h.queryViolations(conn, "frame capture ended inconsistently (id, status, frames, times, error)",
		`SELECT id::text, status, cardinality(frame_keys), cardinality(timestamps), error FROM frame_captures
		  WHERE (status = 'completed' AND (cardinality(frame_keys) <> cardinality(timestamps) OR completed_at IS NULL))
		     OR (status = 'failed' AND (error IS NULL OR completed_at IS NULL))`)...)
	v = append(v, h.queryViolations(conn, "frame capture charged (a ledger row names it)",
		`SELECT fc.id::text, ct.idempotency_key, ct.credits FROM frame_captures fc JOIN credit_transactions ct
		   ON ct.idempotency_key LIKE '%' || fc.id::text || '%' OR COALESCE(ct.extra_data::text, '') LIKE '%' || fc.id::text || '%'`)...)
	return v
}

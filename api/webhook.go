package api

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/tasks"
)

// replicateWebhook is POST /v1/webhooks/replicate, where Replicate reports a
// finished prediction. The signature (webhook-id, webhook-timestamp,
// webhook-signature under REPLICATE_WEBHOOK_SECRET, five minutes of clock
// tolerance) is checked on the raw body; a webhook-id seen before is
// answered 200 and ignored. The body only says which job to look at: the
// ai:finalize task reads the prediction from Replicate itself, so
// duplicated, reordered or forged-but-signed-late deliveries change nothing.
func (s *Server) replicateWebhook(c *gin.Context) {
	ctx := c.Request.Context()
	if s.cfg.ReplicateWebhookSecret == "" {
		s.writeError(c, lokiz.Errorf(lokiz.EUNAVAILABLE, "Replicate webhooks are not configured on this server"))
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.writeError(c, lokiz.Errorf(lokiz.ETOOLARGE, "request body is larger than %d bytes", tooBig.Limit))
			return
		}
		s.writeError(c, lokiz.Errorf(lokiz.EVALIDATION, "request body could not be read"))
		return
	}
	webhookID, err := replicate.VerifyWebhook(s.cfg.ReplicateWebhookSecret, c.Request.Header, body, time.Now())
	switch {
	case errors.Is(err, replicate.ErrWebhookHeaders):
		s.writeError(c, lokiz.Errorf(lokiz.EUNAUTHORIZED, "The webhook-id, webhook-timestamp and webhook-signature headers are required"))
		return
	case errors.Is(err, replicate.ErrWebhookTimestamp):
		s.writeError(c, lokiz.Errorf(lokiz.EUNAUTHORIZED, "The webhook timestamp is too far from now"))
		return
	case err != nil:
		s.writeError(c, lokiz.Errorf(lokiz.EUNAUTHORIZED, "The webhook signature does not match"))
		return
	}
	pred, err := replicate.ParseWebhookBody(body)
	if err != nil {
		s.writeError(c, lokiz.ValidationError(fieldErr("must be a prediction with an id", "body")))
		return
	}
	n, err := s.store.ReplicateWebhookSeen(ctx, db.ReplicateWebhookSeenParams{WebhookID: webhookID, PredictionID: &pred.ID})
	if err != nil {
		s.writeError(c, err)
		return
	}
	if n == 0 {
		c.JSON(http.StatusOK, gin.H{"status": "duplicate"})
		return
	}
	job, err := s.store.AIJobGetByPrediction(ctx, &pred.ID)
	if db.IsNotFound(err) {
		// The prediction id may not be stored yet (a very fast model): the
		// job named in the URL is settled by its own poll then.
		id, ok := webhookJobParam(c)
		if !ok {
			c.JSON(http.StatusOK, gin.H{"status": "ignored"})
			return
		}
		if job, err = s.store.AIJobGet(ctx, id); db.IsNotFound(err) {
			c.JSON(http.StatusOK, gin.H{"status": "ignored"})
			return
		}
	}
	if err != nil {
		s.forgetWebhook(c, webhookID)
		s.writeError(c, err)
		return
	}
	if lokiz.JobTerminal(job.Status) {
		c.JSON(http.StatusOK, gin.H{"status": "ignored"})
		return
	}
	if err := s.tasks.Enqueue(ctx, tasks.NewAIFinalizeTask(job.ID, job.Queue)); err != nil {
		s.forgetWebhook(c, webhookID)
		s.writeError(c, lokiz.Errorf(lokiz.EUNAVAILABLE, "The webhook could not be queued; please retry"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "accepted"})
}

// forgetWebhook lets Replicate's retry of a delivery we failed to act on
// through.
func (s *Server) forgetWebhook(c *gin.Context, id string) {
	if err := s.store.ReplicateWebhookForget(c.Request.Context(), id); err != nil {
		s.log.ErrorContext(c.Request.Context(), "forget webhook id", "webhook_id", id, "error", err)
	}
}

package sim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type hookEvent struct {
	kind string
	body []byte
}

// Sign returns the webhook-signature header value Replicate sends for a
// message: "v1," and the base64 HMAC-SHA256 of "<id>.<timestamp>.<body>",
// keyed with the base64-decoded part of secret after "whsec_".
func Sign(secret, id string, timestamp time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("sim: webhook secret: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, timestamp.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// deliver sends p's webhook events in order until the "completed" one has
// gone out or the server closes.
func (s *Server) deliver(p *prediction) {
	for {
		select {
		case ev, ok := <-p.hooks:
			if !ok {
				return
			}
			id := "msg_" + newID()
			copies := 1
			if p.faults.DupWebhook {
				copies = 2
			}
			for range copies {
				s.post(p, id, ev)
			}
		case <-s.ctx.Done():
			return
		}
	}
}

// post delivers one event, retrying with doubling delays.
func (s *Server) post(p *prediction, id string, ev hookEvent) {
	delay := s.opts.WebhookRetryDelay
	for attempt := 0; ; attempt++ {
		err := s.postOnce(p.webhook, id, ev.body)
		if err == nil {
			return
		}
		if attempt >= s.opts.WebhookRetries || s.ctx.Err() != nil {
			s.opts.Logger.Warn("sim: webhook not delivered", "prediction_id", p.id, "event", ev.kind,
				"attempts", attempt+1, "error", err)
			return
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
		delay *= 2
	}
}

func (s *Server) postOnce(url, id string, body []byte) error {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	ts := s.now()
	sig, err := Sign(s.opts.WebhookSecret, id, ts, body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Replicate-Webhooks (lokiz simulator)")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

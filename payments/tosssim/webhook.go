package tosssim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// hookEvent is one webhook to deliver, with the URL and faults of the
// moment it happened.
type hookEvent struct {
	paymentKey string
	status     string
	url        string
	body       []byte
	faults     Faults
}

// eventLocked builds p's PAYMENT_STATUS_CHANGED event; s.mu must be held.
func (s *Server) eventLocked(p *payment) hookEvent {
	body, _ := json.Marshal(map[string]any{
		"eventType": "PAYMENT_STATUS_CHANGED",
		"createdAt": s.now().In(kst).Format("2006-01-02T15:04:05.000000"),
		"data":      s.viewLocked(p),
	})
	return hookEvent{paymentKey: p.key, status: p.status, url: s.webhookURL, body: body, faults: s.faults}
}

// emitLocked queues the webhook of p's new status; s.mu must be held. A
// billing charge sends none when it is made (chargeBilling does not call
// this: the caller has the answer), but its later changes (a cancel) do.
func (s *Server) emitLocked(p *payment) {
	s.opts.Logger.Info("tosssim: payment status", "payment_key", p.key, "order_id", p.orderID, "status", p.status)
	if s.webhookURL == "" {
		return
	}
	s.queue = append(s.queue, s.eventLocked(p))
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// deliverLoop sends queued events in order until the server closes.
func (s *Server) deliverLoop() {
	for {
		select {
		case <-s.wake:
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, ev := range batch {
			s.dispatch(ev)
		}
	}
}

func (s *Server) dispatch(ev hookEvent) {
	f := ev.faults
	switch {
	case f.Drop:
		s.opts.Logger.Info("tosssim: webhook dropped", "payment_key", ev.paymentKey, "status", ev.status)
	case f.Hold:
		s.mu.Lock()
		s.held = append(s.held, ev)
		s.mu.Unlock()
	case f.Delay > 0:
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t := time.NewTimer(f.Delay)
			defer t.Stop()
			select {
			case <-t.C:
				s.sendCopies(ev)
			case <-s.ctx.Done():
			}
		}()
	default:
		s.sendCopies(ev)
	}
}

func (s *Server) sendCopies(ev hookEvent) {
	for range 1 + max(0, ev.faults.Duplicate) {
		s.send(ev)
	}
}

// FlushWebhooks delivers the events held by Faults.Hold, oldest first or,
// when reverse, newest first, and returns how many there were. It returns
// when they have been delivered.
func (s *Server) FlushWebhooks(reverse bool) int {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	if reverse {
		slices.Reverse(held)
	}
	for _, ev := range held {
		s.sendCopies(ev)
	}
	return len(held)
}

// SendWebhook delivers the PAYMENT_STATUS_CHANGED event of the payment's
// current status now, whatever the faults, and returns when it was
// answered.
func (s *Server) SendWebhook(paymentKey string) error {
	s.mu.Lock()
	p, ok := s.payments[paymentKey]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("tosssim: no payment %s", paymentKey)
	}
	ev := s.eventLocked(p)
	s.mu.Unlock()
	if ev.url == "" {
		return fmt.Errorf("tosssim: no webhook URL")
	}
	return s.postOnce(ev)
}

// send delivers one event, retrying with doubling delays.
func (s *Server) send(ev hookEvent) {
	delay := s.opts.WebhookRetryDelay
	for attempt := 0; ; attempt++ {
		err := s.postOnce(ev)
		if err == nil {
			return
		}
		if attempt >= s.opts.WebhookRetries || s.ctx.Err() != nil {
			s.opts.Logger.Warn("tosssim: webhook not delivered", "payment_key", ev.paymentKey, "status", ev.status,
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

func (s *Server) postOnce(ev hookEvent) error {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ev.url, bytes.NewReader(ev.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "TossPayments-Webhook (lokiz simulator)")
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

package replicate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookTolerance is how far a webhook's timestamp may be from now.
const WebhookTolerance = 5 * time.Minute

// Webhook verification errors; VerifyWebhook wraps one of them.
var (
	// ErrWebhookHeaders: webhook-id, webhook-timestamp or webhook-signature
	// is missing or malformed.
	ErrWebhookHeaders = errors.New("replicate: webhook headers missing or malformed")
	// ErrWebhookSignature: no signature matches the body under the secret.
	ErrWebhookSignature = errors.New("replicate: webhook signature does not match")
	// ErrWebhookTimestamp: the timestamp is more than WebhookTolerance away.
	ErrWebhookTimestamp = errors.New("replicate: webhook timestamp outside tolerance")
)

// VerifyWebhook checks a webhook Replicate sent, as Standard Webhooks
// defines it: webhook-signature holds one or more space-separated "v1,<base64
// HMAC-SHA256>" of "<webhook-id>.<webhook-timestamp>.<body>", keyed with the
// base64 part of secret ("whsec_<base64>"), and webhook-timestamp (Unix
// seconds) is within WebhookTolerance of now. It returns the webhook-id,
// which is the same for every delivery of one event, so a caller can drop
// duplicates. body must be the raw bytes received.
func VerifyWebhook(secret string, header http.Header, body []byte, now time.Time) (id string, err error) {
	id = header.Get("webhook-id")
	ts := header.Get("webhook-timestamp")
	sigs := header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return "", ErrWebhookHeaders
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: timestamp %q", ErrWebhookHeaders, ts)
	}
	rawKey, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return "", errors.New("replicate: webhook secret must start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(rawKey)
	if err != nil || len(key) == 0 {
		return "", errors.New("replicate: webhook secret is not valid base64")
	}
	// Checking the signature before the time keeps the answer to a forger
	// the same whatever timestamp they send.
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	matched := false
	for sig := range strings.FieldsSeq(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			matched = true
			break
		}
	}
	if !matched {
		return "", ErrWebhookSignature
	}
	sent := time.Unix(secs, 0)
	if d := now.Sub(sent); d > WebhookTolerance || d < -WebhookTolerance {
		return "", fmt.Errorf("%w: sent %s, now %s", ErrWebhookTimestamp, sent.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return id, nil
}

// ErrWebhookBody is a verified webhook body that is not a prediction with
// an id.
var ErrWebhookBody = errors.New("replicate: webhook body is not a prediction with an id")

// WebhookPrediction is what the webhook route reads from a verified body:
// which prediction it is about, and the status it reports. The status is
// kept as sent, known or not (Status.Terminal and Status.JobStatus say
// what an unknown one means); the route trusts neither, and the worker
// reads the prediction from Replicate itself.
type WebhookPrediction struct {
	ID     string
	Status Status
}

// ParseWebhookBody decodes a verified webhook body: a JSON object with a
// non-empty string id, and a string status when it has one. Anything else,
// another status type included, is ErrWebhookBody.
func ParseWebhookBody(body []byte) (WebhookPrediction, error) {
	var p struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.ID == "" {
		return WebhookPrediction{}, ErrWebhookBody
	}
	return WebhookPrediction{ID: p.ID, Status: Status(p.Status)}, nil
}

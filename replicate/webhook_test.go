package replicate_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"

	rg "github.com/replicate/replicate-go"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/replicate/sim"
)

// secret and other are whsec_ secrets as Replicate hands them out.
const (
	secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	other  = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
)

func signed(t *testing.T, key, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	sig, err := sim.Sign(key, id, ts, body)
	require.NoError(t, err)
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", sig)
	return h
}

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_750_000_000, 0)
	body := []byte(`{"id":"abc","status":"succeeded"}`)

	tests := []struct {
		name    string
		header  http.Header
		body    []byte
		secret  string
		wantErr error
	}{
		{name: "Valid", header: signed(t, secret, "msg_1", now, body), body: body, secret: secret},
		{name: "ValidFourMinutesOld", header: signed(t, secret, "msg_1", now.Add(-4*time.Minute), body), body: body, secret: secret},
		{name: "TamperedBody", header: signed(t, secret, "msg_1", now, body), body: []byte(`{"id":"abc","status":"failed"}`), secret: secret, wantErr: replicate.ErrWebhookSignature},
		{name: "WrongSecret", header: signed(t, other, "msg_1", now, body), body: body, secret: secret, wantErr: replicate.ErrWebhookSignature},
		{name: "Stale", header: signed(t, secret, "msg_1", now.Add(-5*time.Minute-time.Second), body), body: body, secret: secret, wantErr: replicate.ErrWebhookTimestamp},
		{name: "Future", header: signed(t, secret, "msg_1", now.Add(6*time.Minute), body), body: body, secret: secret, wantErr: replicate.ErrWebhookTimestamp},
		{name: "MissingHeaders", header: http.Header{}, body: body, secret: secret, wantErr: replicate.ErrWebhookHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := replicate.VerifyWebhook(tt.secret, tt.header, tt.body, now)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Empty(t, id)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "msg_1", id)
		})
	}

	t.Run("SwappedID", func(t *testing.T) {
		t.Parallel()
		h := signed(t, secret, "msg_1", now, body)
		h.Set("webhook-id", "msg_2")
		_, err := replicate.VerifyWebhook(secret, h, body, now)
		require.ErrorIs(t, err, replicate.ErrWebhookSignature)
	})
	t.Run("SeveralSignatures", func(t *testing.T) {
		t.Parallel()
		h := signed(t, secret, "msg_1", now, body)
		h.Set("webhook-signature", "v1,bm90IGl0 "+h.Get("webhook-signature"))
		_, err := replicate.VerifyWebhook(secret, h, body, now)
		require.NoError(t, err)
	})
	t.Run("BadSecret", func(t *testing.T) {
		t.Parallel()
		_, err := replicate.VerifyWebhook("nope", signed(t, secret, "msg_1", now, body), body, now)
		require.Error(t, err)
	})
	t.Run("ReplicateGoAgrees", func(t *testing.T) {
		t.Parallel()
		req, err := http.NewRequest(http.MethodPost, "http://x.test/", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header = signed(t, secret, "msg_1", now, body)
		ok, err := rg.ValidateWebhookRequest(req, rg.WebhookSigningSecret{Key: secret})
		require.NoError(t, err)
		require.True(t, ok)
	})
}

func TestStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   replicate.Status
		terminal bool
		job      string
	}{
		{replicate.StatusStarting, false, lokiz.JobProcessing},
		{replicate.StatusProcessing, false, lokiz.JobProcessing},
		{replicate.StatusSucceeded, true, lokiz.JobCompleted},
		{replicate.StatusFailed, true, lokiz.JobFailed},
		{replicate.StatusCanceled, true, lokiz.JobCanceled},
		{replicate.StatusAborted, true, lokiz.JobFailed},
	}
	for _, tt := range tests {
		require.Equal(t, tt.terminal, tt.status.Terminal(), tt.status)
		require.Equal(t, tt.job, tt.status.JobStatus(), tt.status)
	}
}

func TestOutputURLs(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"a"}, replicate.Prediction{Output: "a"}.OutputURLs())
	require.Equal(t, []string{"a", "b"}, replicate.Prediction{Output: []any{"a", 1.0, "b"}}.OutputURLs())
	require.Nil(t, replicate.Prediction{}.OutputURLs())
}

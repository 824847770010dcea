package sim_test

import (
	"bytes"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	rg "github.com/replicate/replicate-go"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/media"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/replicate/sim"
)

func completedOnly(url string) *rg.Webhook {
	return &rg.Webhook{URL: url, Events: []rg.WebhookEventType{rg.WebhookEventCompleted}}
}

// checkSignature verifies a webhook both with replicate-go's own validator
// and with the adapter's VerifyWebhook.
func checkSignature(t *testing.T, secret string, h hook) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://example.test/hook", bytes.NewReader(h.body))
	require.NoError(t, err)
	req.Header = h.header.Clone()
	ok, err := rg.ValidateWebhookRequest(req, rg.WebhookSigningSecret{Key: secret})
	require.NoError(t, err)
	require.True(t, ok, "replicate-go rejects the signature")
	id, err := replicate.VerifyWebhook(secret, h.header, h.body, time.Now())
	require.NoError(t, err)
	require.Equal(t, h.header.Get("webhook-id"), id)
}

func TestGlitchByModel(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	ctx := t.Context()

	p, err := b.api.CreatePredictionWithModel(ctx, "lokiz", "glitch-animate", rg.PredictionInput{
		"video":           b.files + "/video.mp4",
		"character_image": b.files + "/image.png",
		"prompt":          "make it glitch",
	}, completedOnly(b.hookURL), false)
	require.NoError(t, err)
	require.Equal(t, rg.Starting, p.Status)
	require.Equal(t, "lokiz/glitch-animate", p.Model)

	h := b.hooks.waitCompleted(t, p.ID)
	require.Equal(t, rg.Succeeded, h.pred.Status)
	checkSignature(t, b.sim.WebhookSecret(), h)

	got, err := b.api.GetPrediction(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, rg.Succeeded, got.Status)
	require.Contains(t, *got.Logs, "progress: 40%")
	require.Contains(t, *got.Logs, "progress: 100%")
	require.NotNil(t, got.Metrics.PredictTime)
	require.Positive(t, *got.Metrics.PredictTime)
	require.NotNil(t, got.StartedAt)
	require.NotNil(t, got.CompletedAt)
	out, ok := got.Output.(string)
	require.True(t, ok, "output is %T", got.Output)
	require.Equal(t, b.url+"/files/"+p.ID+"/output.mp4", out)

	info, err := media.Probe(ctx, download(t, out, "out.mp4"))
	require.NoError(t, err)
	require.True(t, info.HasVideo)
	require.Equal(t, "h264", info.VideoCodec)
	require.Equal(t, "yuv420p", info.PixelFormat)
	require.Equal(t, 160, info.Width)
	require.Equal(t, 120, info.Height)
	require.InDelta(t, 1.0, info.Duration, 0.2)
	require.True(t, info.FastStart)
	require.False(t, media.NeedsTranscode(info))
}

func TestVideoByVersion(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	p, err := b.api.CreatePrediction(t.Context(), "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa",
		rg.PredictionInput{"video": b.files + "/video.mp4", "image": b.files + "/image.png"}, completedOnly(b.hookURL), false)
	require.NoError(t, err)
	require.Equal(t, "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa", p.Version)
	checkSignature(t, b.sim.WebhookSecret(), b.hooks.waitCompleted(t, p.ID))
	got := b.waitTerminal(t, p.ID)
	require.Equal(t, rg.Succeeded, got.Status)
	info, err := media.Probe(t.Context(), download(t, got.Output.(string), "out.mp4"))
	require.NoError(t, err)
	require.Equal(t, [2]int{160, 120}, [2]int{info.Width, info.Height})
}

func TestImageToVideo(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	p, err := b.api.CreatePredictionWithModel(t.Context(), "lokiz", "i2v-template",
		rg.PredictionInput{"image": b.files + "/image.png", "prompt": "slow zoom"}, nil, false)
	require.NoError(t, err)
	got := b.waitTerminal(t, p.ID)
	require.Equal(t, rg.Succeeded, got.Status, "error: %v", got.Error)
	info, err := media.Probe(t.Context(), download(t, got.Output.(string), "out.mp4"))
	require.NoError(t, err)
	require.Equal(t, "h264", info.VideoCodec)
	require.Equal(t, [2]int{96, 64}, [2]int{info.Width, info.Height})
	require.InDelta(t, 2.4, info.Duration, 0.2)
}

func TestMusic(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	p, err := b.api.CreatePredictionWithModel(t.Context(), "meta", "musicgen",
		rg.PredictionInput{"prompt": "lofi beat", "duration": 1}, nil, false)
	require.NoError(t, err)
	got := b.waitTerminal(t, p.ID)
	require.Equal(t, rg.Succeeded, got.Status, "error: %v", got.Error)
	require.True(t, strings.HasSuffix(got.Output.(string), "/output.wav"))
	path := download(t, got.Output.(string), "out.wav")
	out, err := exec.CommandContext(t.Context(), "ffprobe", "-v", "error", "-show_entries",
		"stream=codec_type,codec_name:format=format_name,duration", "-of", "default=nw=1", path).Output()
	require.NoError(t, err)
	require.Contains(t, string(out), "codec_type=audio")
	require.Contains(t, string(out), "codec_name=pcm_s16le")
	require.Contains(t, string(out), "format_name=wav")
	require.Contains(t, string(out), "duration=1.0")

	// Audio is not a video: media.Probe says so rather than failing oddly.
	_, err = media.Probe(t.Context(), path)
	require.ErrorIs(t, err, media.ErrNotVideo)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	p, err := b.api.CreatePredictionWithModel(t.Context(), "lokiz", "glitch-replace",
		rg.PredictionInput{"video": b.files + "/video.mp4", "prompt": "[sim:slow]"}, completedOnly(b.hookURL), false)
	require.NoError(t, err)
	b.waitStatus(t, p.ID, rg.Processing)

	got, err := b.api.CancelPrediction(t.Context(), p.ID)
	require.NoError(t, err)
	require.Equal(t, rg.Canceled, got.Status)

	h := b.hooks.waitCompleted(t, p.ID)
	require.Equal(t, rg.Canceled, h.pred.Status)
	checkSignature(t, b.sim.WebhookSecret(), h)
	again, err := b.api.GetPrediction(t.Context(), p.ID)
	require.NoError(t, err)
	require.Equal(t, rg.Canceled, again.Status)
	require.Nil(t, again.Output)

	// Canceling again changes nothing.
	got, err = b.api.CancelPrediction(t.Context(), p.ID)
	require.NoError(t, err)
	require.Equal(t, rg.Canceled, got.Status)
}

func TestFailFault(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	p, err := b.api.CreatePredictionWithModel(t.Context(), "lokiz", "glitch-animate",
		rg.PredictionInput{"image": b.files + "/image.png", "prompt": "boom [sim:fail]"}, completedOnly(b.hookURL), false)
	require.NoError(t, err)
	h := b.hooks.waitCompleted(t, p.ID)
	require.Equal(t, rg.Failed, h.pred.Status)
	got := b.waitTerminal(t, p.ID)
	require.Equal(t, rg.Failed, got.Status)
	require.Contains(t, got.Error, "sim:fail")
	require.Nil(t, got.Output)
	require.Contains(t, *got.Logs, "progress: 40%")
}

func TestAbortFault(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{Faults: sim.Faults{Abort: true}})
	p, err := b.api.CreatePredictionWithModel(t.Context(), "meta", "musicgen", rg.PredictionInput{"prompt": "x"}, nil, false)
	require.NoError(t, err)
	b.waitStatus(t, p.ID, "aborted")
}

func TestBadInputFails(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	p, err := b.api.CreatePredictionWithModel(t.Context(), "lokiz", "glitch-animate",
		rg.PredictionInput{"image": b.files + "/missing.png"}, nil, false)
	require.NoError(t, err)
	got := b.waitTerminal(t, p.ID)
	require.Equal(t, rg.Failed, got.Status)
	require.Contains(t, got.Error, "input image: download")
	require.Contains(t, got.Error, "404")
}

func TestDuplicateWebhook(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	_, err := b.api.CreatePredictionWithModel(t.Context(), "meta", "musicgen",
		rg.PredictionInput{"prompt": "twice [sim:dup-webhook]", "duration": 1}, completedOnly(b.hookURL), false)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(b.hooks.all()) == 2 }, 20*time.Second, 10*time.Millisecond)
	hs := b.hooks.all()
	require.Equal(t, hs[0].header.Get("webhook-id"), hs[1].header.Get("webhook-id"))
	require.Equal(t, hs[0].body, hs[1].body)
	for _, h := range hs {
		require.Equal(t, rg.Succeeded, h.pred.Status)
		checkSignature(t, b.sim.WebhookSecret(), h)
	}
}

func TestNoWebhookFault(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	p, err := b.api.CreatePredictionWithModel(t.Context(), "meta", "musicgen",
		rg.PredictionInput{"prompt": "quiet [sim:no-webhook]", "duration": 1}, completedOnly(b.hookURL), false)
	require.NoError(t, err)
	require.Equal(t, rg.Succeeded, b.waitTerminal(t, p.ID).Status)
	time.Sleep(100 * time.Millisecond)
	require.Empty(t, b.hooks.all())
}

func TestWebhookEventsAndRetries(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	b.hooks.failFirst = 2 // the start event needs three tries
	p, err := b.api.CreatePredictionWithModel(t.Context(), "meta", "musicgen",
		rg.PredictionInput{"prompt": "all events", "duration": 1},
		&rg.Webhook{URL: b.hookURL, Events: rg.WebhookEventAll}, false)
	require.NoError(t, err)
	b.hooks.waitCompleted(t, p.ID)
	hs := b.hooks.all()
	var statuses []string
	for _, h := range hs {
		statuses = append(statuses, string(h.pred.Status))
		checkSignature(t, b.sim.WebhookSecret(), h)
	}
	require.Equal(t, "starting", statuses[0], "the start event arrives first, after retries")
	require.Equal(t, "succeeded", statuses[len(statuses)-1])
	// One logs event per progress line, an output event, then completed.
	require.GreaterOrEqual(t, len(hs), 1+5+2)
	require.NotNil(t, hs[len(hs)-2].pred.Output, "the output event carries the output")
}

func TestOutputExpires(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Now()}
	b := setup(t, sim.Options{NowFunc: clock.Now, OutputTTL: time.Hour})
	p, err := b.api.CreatePredictionWithModel(t.Context(), "meta", "musicgen", rg.PredictionInput{"prompt": "short lived"}, nil, false)
	require.NoError(t, err)
	got := b.waitTerminal(t, p.ID)
	require.Equal(t, rg.Succeeded, got.Status)
	url := got.Output.(string)
	require.Equal(t, http.StatusOK, statusOf(t, url))
	clock.Add(59 * time.Minute)
	require.Equal(t, http.StatusOK, statusOf(t, url))
	clock.Add(2 * time.Minute)
	require.Equal(t, http.StatusGone, statusOf(t, url))
	require.Equal(t, http.StatusNotFound, statusOf(t, b.url+"/files/"+p.ID+"/nope.wav"))
	after, err := b.api.GetPrediction(t.Context(), p.ID)
	require.NoError(t, err)
	require.Contains(t, string(after.RawJSON()), `"data_removed":true`)
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{Token: "right"})
	ctx := t.Context()

	_, err := b.api.GetPrediction(ctx, "whatever")
	var apiErr *rg.APIError
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, http.StatusUnauthorized, apiErr.Status)

	api, err := rg.NewClient(rg.WithToken("right"), rg.WithBaseURL(b.url+"/v1"))
	require.NoError(t, err)
	_, err = api.GetPrediction(ctx, "nosuchprediction")
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, http.StatusNotFound, apiErr.Status)

	_, err = api.CreatePrediction(ctx, "", rg.PredictionInput{}, nil, false)
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, http.StatusUnprocessableEntity, apiErr.Status)
	require.Contains(t, apiErr.Detail, "version")

	_, err = api.CreatePredictionWithModel(ctx, "a", "b", rg.PredictionInput{}, &rg.Webhook{URL: "ftp://x"}, false)
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, http.StatusUnprocessableEntity, apiErr.Status)

	secret, err := api.GetDefaultWebhookSecret(ctx)
	require.NoError(t, err)
	require.Equal(t, b.sim.WebhookSecret(), secret.Key)
	require.True(t, strings.HasPrefix(secret.Key, "whsec_"))
}

func TestParseFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prompt string
		want   sim.Faults
	}{
		{"", sim.Faults{}},
		{"a cat", sim.Faults{}},
		{"[sim:fail]", sim.Faults{Fail: true}},
		{"x [sim:slow] y [sim:dup-webhook]", sim.Faults{Slow: true, DupWebhook: true}},
		{"[sim:429x3][sim:no-webhook][sim:abort]", sim.Faults{Throttle: 3, NoWebhook: true, Abort: true}},
		{"[sim:unknown]", sim.Faults{}},
		{"late [sim:hang]", sim.Faults{Hang: true}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, sim.ParseFaults(tt.prompt), tt.prompt)
	}
}

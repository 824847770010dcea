package sim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/replicate/sim"
)

// musicSpec is a prompt-only prediction (the simulator renders a WAV).
func musicSpec(prompt string) replicate.Spec {
	return replicate.Spec{Model: "meta/musicgen", Input: map[string]any{"prompt": prompt, "duration": 1}}
}

// impatient is the repo's Replicate client with a short HTTP time-out.
func impatient(t *testing.T, b *testBundle, timeout time.Duration) *replicate.Client {
	t.Helper()
	c, err := replicate.New(replicate.Config{BaseURL: b.url + "/v1", Token: "test-token",
		HTTPClient: &http.Client{Timeout: timeout}, MaxRetries: -1})
	require.NoError(t, err)
	return c
}

// TestHangFault: the first "[sim:hang]" create of a prompt times out at
// the client, but the prediction exists and runs to the end, so the client
// can only find it by its input; the next create is answered.
func TestHangFault(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	c := impatient(t, b, 300*time.Millisecond)
	start := time.Now()
	_, err := c.Create(t.Context(), musicSpec("a hanging beat [sim:hang]"))
	require.Error(t, err, "the client gave up")
	require.Less(t, time.Since(start), 5*time.Second, "the client's time-out ended the wait, not the hang limit")

	preds := b.sim.Predictions()
	require.Len(t, preds, 1, "the prediction was created all the same")
	found, ok, err := c.FindByInput(t.Context(), musicSpec("a hanging beat [sim:hang]").Input, start, nil)
	require.NoError(t, err)
	require.True(t, ok, "the retry finds it by its input")
	require.Equal(t, preds[0].ID, found.ID)
	// The time-out was a passing one: the next create with the prompt is answered.
	again, err := c.Create(t.Context(), musicSpec("a hanging beat [sim:hang]"))
	require.NoError(t, err)
	require.NotEqual(t, preds[0].ID, again.ID)
	got := b.waitTerminal(t, preds[0].ID)
	require.Equal(t, "succeeded", string(got.Status))

	// A patient client gets its answer once the hang limit passes.
	b2 := setup(t, sim.Options{HangLimit: 200 * time.Millisecond})
	p, err := impatient(t, b2, 10*time.Second).Create(t.Context(), musicSpec("held briefly [sim:hang]"))
	require.NoError(t, err)
	require.NotEmpty(t, p.ID)
}

// TestStall: while stalled, a request is held; a client that gives up
// meanwhile has no effect (no prediction is created), one that waits is
// served when the stall ends.
func TestStall(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	b.sim.Stall(true)
	c := impatient(t, b, 300*time.Millisecond)
	_, err := c.Create(t.Context(), musicSpec("stalled beat"))
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "Timeout") || strings.Contains(err.Error(), "deadline"), "%v", err)
	_, err = c.Get(t.Context(), "anything")
	require.Error(t, err)
	time.Sleep(100 * time.Millisecond) // the held handlers see the client leave
	require.Empty(t, b.sim.Predictions(), "a create whose client gave up did nothing")

	type result struct {
		id  string
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := impatient(t, b, 10*time.Second).Create(context.Background(), musicSpec("patient beat"))
		done <- result{p.ID, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("answered during the stall: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	b.sim.Stall(false)
	r := <-done
	require.NoError(t, r.err)
	require.Len(t, b.sim.Predictions(), 1)
	require.Equal(t, r.id, b.sim.Predictions()[0].ID)

	// After the stall, requests are answered at once.
	_, err = c.Create(t.Context(), musicSpec("after the stall"))
	require.NoError(t, err)

	// A stall nobody ends lets a waiting request through after HangLimit.
	b2 := setup(t, sim.Options{HangLimit: 200 * time.Millisecond})
	b2.sim.Stall(true)
	_, err = impatient(t, b2, 10*time.Second).Create(t.Context(), musicSpec("limited"))
	require.NoError(t, err)
}

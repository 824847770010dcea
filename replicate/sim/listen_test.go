package sim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/replicate/sim"
)

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- sim.ListenAndServe(ctx, "127.0.0.1:0", sim.Options{}) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return after its context ended")
	}
	require.Error(t, sim.ListenAndServe(t.Context(), "256.0.0.1:1", sim.Options{}))
}

func TestPreferWait(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.url+"/v1/models/meta/musicgen/predictions",
		strings.NewReader(`{"input":{"prompt":"wait for me","duration":1}}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer x")
	req.Header.Set("Prefer", "wait=10")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var p struct {
		Status string `json:"status"`
		Output string `json:"output"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	require.Equal(t, "succeeded", p.Status)
	require.NotEmpty(t, p.Output)
}

func TestCloseStopsRunningPredictions(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Options{})
	for range 3 {
		_, err := b.client.Create(t.Context(), replicateSpecSlow(b))
		require.NoError(t, err)
	}
	start := time.Now()
	require.NoError(t, b.sim.Close())
	require.Less(t, time.Since(start), 5*time.Second)
	resp, err := http.Get(b.url + "/v1/predictions")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/media/mediatest"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/replicate/sim"
)

// hostileProvider is a Replicate that lies: predictions run on the
// simulator behind it, but what they return is rewritten.
type hostileProvider struct {
	sim http.Handler
	// redirect, when set, answers every output file (/files/…) with a 302
	// to this URL.
	redirect string
	// files are served at /extra/<name>.
	files map[string][]byte
	// outputs, when set, replaces a finished prediction's output URL with a
	// list; base is the provider's own origin.
	outputs func(base, output string) []string
}

func (p *hostileProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/extra/"):
		body, ok := p.files[strings.TrimPrefix(r.URL.Path, "/extra/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	case strings.HasPrefix(r.URL.Path, "/files/") && p.redirect != "":
		http.Redirect(w, r, p.redirect, http.StatusFound)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/predictions/") && p.outputs != nil:
		rec := httptest.NewRecorder()
		p.sim.ServeHTTP(rec, r)
		var pred map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &pred) != nil {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		if out, ok := pred["output"].(string); ok && out != "" {
			pred["output"] = p.outputs("http://"+r.Host, out)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(pred)
	default:
		p.sim.ServeHTTP(w, r)
	}
}

// internalService is a listener on loopback standing for a metadata
// service: it counts every connection it accepts.
func internalService(t *testing.T, tls bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"AccessKeyId":"instance-secret"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &conns
}

// requireFailedWithRefund checks that job ended failed with a readable
// message containing want, naming no address, refunded once, with nothing
// of its output kept.
func requireFailedWithRefund(t *testing.T, b *aiBundle, got db.AIJob, want string, secrets ...string) {
	t.Helper()
	require.Equal(t, lokiz.JobFailed, got.Status)
	require.NotNil(t, got.ErrorMessage)
	require.Contains(t, *got.ErrorMessage, want)
	require.Contains(t, *got.ErrorMessage, "your credits were refunded")
	for _, s := range append(secrets, "127.0.0.1", "localhost", "http") {
		require.NotContains(t, *got.ErrorMessage, s, "the user's message names no address")
	}
	require.Nil(t, got.OutputKey)
	require.Nil(t, got.VideoID)
	usage, refund := b.ledger(t, got)
	require.Equal(t, []int{1, 1}, []int{usage, refund})
}

// TestAIOutputsCannotReachInternalAddresses: a provider whose output leads
// to an internal service (a redirect to a loopback listener, a listed name
// that resolves to loopback, a URL straight at the listener) gets the job
// failed with a refund, and the listener is never contacted.
func TestAIOutputsCannotReachInternalAddresses(t *testing.T) {
	t.Parallel()

	t.Run("RedirectToLoopback", func(t *testing.T) {
		t.Parallel()
		metadata, conns := internalService(t, false)
		b := newAIBundleWith(t, sim.Options{}, func(s http.Handler) http.Handler {
			return &hostileProvider{sim: s, redirect: metadata.URL + "/latest/meta-data/iam/security-credentials/role"}
		}, nil)
		job := b.newJob(t, lokiz.JobMusic, "lofi", nil)
		got := b.drive(t, job.ID)
		requireFailedWithRefund(t, b, got, "could not be fetched from an approved address", metadata.Listener.Addr().String())
		require.Zero(t, conns.Load(), "the internal listener was never contacted")
		require.NotNil(t, got.EndedReason)
		require.Contains(t, *got.EndedReason, "output address refused", "operators see why")
	})

	t.Run("RedirectToAListedNameOnLoopback", func(t *testing.T) {
		t.Parallel()
		metadata, conns := internalService(t, true)
		_, port, _ := net.SplitHostPort(metadata.Listener.Addr().String())
		b := newAIBundleWith(t, sim.Options{}, func(s http.Handler) http.Handler {
			return &hostileProvider{sim: s, redirect: "https://localhost:" + port + "/computeMetadata/v1/"}
		}, func(p *replicate.OutputPolicy) { p.Hosts = []string{"localhost"} })
		job := b.newJob(t, lokiz.JobGlitchAnimate, "neon", nil)
		got := b.drive(t, job.ID)
		requireFailedWithRefund(t, b, got, "could not be fetched from an approved address", port)
		require.Zero(t, conns.Load(), "the dialer refused the loopback address behind the listed name")
	})

	t.Run("OutputStraightAtTheListener", func(t *testing.T) {
		t.Parallel()
		metadata, conns := internalService(t, false)
		b := newAIBundleWith(t, sim.Options{BaseURL: metadata.URL}, nil, nil)
		job := b.newJob(t, lokiz.JobMusic, "lofi", nil)
		got := b.drive(t, job.ID)
		requireFailedWithRefund(t, b, got, "could not be fetched from an approved address", metadata.Listener.Addr().String())
		require.Zero(t, conns.Load())
	})
}

// TestAIEveryOutputIsChecked: each file a prediction returns must be of the
// job's kind, by its first bytes and by a decoder, not only the first one;
// a file that passes is stored under the type it was found to be.
func TestAIEveryOutputIsChecked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clip, err := os.ReadFile(mediatest.Video(t, mediatest.VideoOptions{Duration: 1, Width: 64, Height: 64}))
	require.NoError(t, err)
	page := []byte("<html><script>alert(document.cookie)</script></html>")
	fakeWAV := append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), bytes.Repeat([]byte{0}, 64)...)
	provider := &hostileProvider{files: map[string][]byte{"page.mp4": page, "clip.mp4": clip, "fake.wav": fakeWAV}}
	var extra atomic.Value
	provider.outputs = func(base, out string) []string {
		return append([]string{out}, base+"/extra/"+extra.Load().(string))
	}
	b := newAIBundleWith(t, sim.Options{}, func(s http.Handler) http.Handler { provider.sim = s; return provider }, nil)

	t.Run("AVideoJobsSecondFileIsAPage", func(t *testing.T) {
		extra.Store("page.mp4")
		job := b.newJob(t, lokiz.JobGlitchAnimate, "neon", nil)
		got := b.drive(t, job.ID)
		requireFailedWithRefund(t, b, got, "was not a valid video file")
		v, err := b.store.VideoGetByID(ctx, job.ID)
		if err == nil {
			require.NotEqual(t, lokiz.VideoCompleted, v.Status, "no result is shown")
		}
	})

	t.Run("AnAudioFileThatOnlyStartsLikeOne", func(t *testing.T) {
		extra.Store("fake.wav")
		job := b.newJob(t, lokiz.JobMusic, "lofi", nil)
		got := b.drive(t, job.ID)
		requireFailedWithRefund(t, b, got, "was not a valid audio file")
	})

	t.Run("AVideoJobsSecondVideoIsKept", func(t *testing.T) {
		extra.Store("clip.mp4")
		job := b.newJob(t, lokiz.JobGlitchAnimate, "neon", nil)
		got := b.drive(t, job.ID)
		require.Equal(t, lokiz.JobCompleted, got.Status, "error: %v", got.ErrorMessage)
		var out struct {
			Files []string `json:"files"`
		}
		require.NoError(t, json.Unmarshal(got.OutputData, &out))
		require.Equal(t, []string{"ai/" + job.ID.String() + "/output-2.mp4"}, out.Files)
		require.Equal(t, clip, readObject(t, b.storage, out.Files[0]))
	})
}

func TestSniffOutput(t *testing.T) {
	t.Parallel()
	for head, want := range map[string]string{
		"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00": ".mp4",
		"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00": ".mov",
		"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00": "",
		"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00": "",
		"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm": ".webm",
		"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01matr": "",
		"RIFF\x00\x00\x00\x00WAVEfmt ":             ".wav",
		"RIFF\x00\x00\x00\x00WEBPVP8 ":             ".webp",
		"RIFF\x00\x00\x00\x00AVI LIST":             "",
		"ID3\x04\x00\x00\x00\x00":                  ".mp3",
		"\xff\xfb\x90\x00":                         ".mp3",
		"\xff\xd8\xff\xe0\x00\x10JFIF":             ".jpg",
		"\x89PNG\r\n\x1a\n\x00\x00":                ".png",
		"<html><body>":                             "",
		"<svg xmlns=":                              "",
		"":                                         "",
	} {
		f, ok := sniffOutput([]byte(head))
		require.Equal(t, want != "", ok, "%q", head)
		require.Equal(t, want, f.ext, "%q", head)
	}
}

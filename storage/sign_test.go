package storage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/lokiz/lokiz/internal/keyedmac"
)

// signReference is sign as it was before the MAC was pooled: one
// hmac.New and an Fprintf per signature. The pooled sign must give the
// same signatures.
func signReference(signKey []byte, method, key string, expires int64, contentType string, maxBytes int64) string {
	mac := hmac.New(sha256.New, signKey)
	fmt.Fprintf(mac, "%s\n%s\n%d\n%s\n%d", method, key, expires, contentType, maxBytes)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// TestSignMatchesReference: the pooled MAC signs exactly as a fresh one,
// reused many times and from concurrent goroutines, for GET and PUT
// shapes, a long key included (longer than sign's stack buffer).
func TestSignMatchesReference(t *testing.T) {
	signKey := []byte("a signing key")
	l := &Local{mac: keyedmac.New(signKey)}
	other := &Local{mac: keyedmac.New([]byte("another key"))}
	long := "videos/" + strings.Repeat("x", 400) + ".mp4"
	cases := []struct {
		method, key, ct string
		exp, max        int64
	}{
		{http.MethodGet, "videos/a.mp4", "", 1796000000, 0},
		{http.MethodPut, "uploads/b.mp4", "video/mp4", 1796000000, 1 << 30},
		{http.MethodGet, long, "", 1, 0},
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				c := cases[(g+i)%len(cases)]
				if got, want := l.sign(c.method, c.key, c.exp, c.ct, c.max), signReference(signKey, c.method, c.key, c.exp, c.ct, c.max); got != want {
					t.Errorf("sign(%s %.20s) = %s, want %s", c.method, c.key, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if l.sign(http.MethodGet, "videos/a.mp4", 1, "", 0) == other.sign(http.MethodGet, "videos/a.mp4", 1, "", 0) {
		t.Error("two keys gave the same signature")
	}
}

// BenchmarkSign: one GET signature, the old way (a new HMAC per call) and
// the pooled one, in the same run. Results: docs/benchmarks.md ("Hot rows").
func BenchmarkSign(b *testing.B) {
	signKey := []byte("0123456789abcdef0123456789abcdef")
	l := &Local{mac: keyedmac.New(signKey)}
	key := "thumbnails/019ae4a1-62b4-7000-8000-000000000000.jpg"
	b.Run("new-hmac", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			signReference(signKey, http.MethodGet, key, 1796000000, "", 0)
		}
	})
	b.Run("pooled", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l.sign(http.MethodGet, key, 1796000000, "", 0)
		}
	})
}

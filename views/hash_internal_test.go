package views

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
)

// referenceHash is the viewer and client hash as computed before the MAC
// was pooled: a fresh HMAC per call over parts joined by a zero byte.
func referenceHash(key []byte, a, b string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(a))
	mac.Write([]byte{0})
	mac.Write([]byte(b))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// TestKeyedHashUnchanged: the pooled MAC gives the ids the fresh one gave
// (so the dedupe keys of views already in Redis still match), reused and
// from concurrent goroutines, for a User-Agent longer than the stack buffer.
func TestKeyedHashUnchanged(t *testing.T) {
	c, key := NewCounter(nil, "a secret", DedupeWindow), counterKey("a secret")
	long := string(make([]byte, 2000))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				ua := []string{"curl/8", "Mozilla/5.0 (X11; Linux x86_64)", long}[(g+i)%3]
				if got, want := c.ViewerID(nil, "203.0.113.7", ua), "a:"+referenceHash(key, "203.0.113.7", ua); got != want {
					t.Errorf("ViewerID = %s, want %s", got, want)
					return
				}
				if got, want := c.clientHash("203.0.113.7"), referenceHash(key, "ip", "203.0.113.7"); got != want {
					t.Errorf("clientHash = %s, want %s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if c.ViewerID(nil, "203.0.113.7", "x") == NewCounter(nil, "another secret", DedupeWindow).ViewerID(nil, "203.0.113.7", "x") {
		t.Error("two secrets gave the same viewer id")
	}
}

// BenchmarkViewerHashes: the two hashes of an anonymous view, the old way
// and pooled, in the same run. Results: docs/benchmarks.md ("Hot rows").
func BenchmarkViewerHashes(b *testing.B) {
	c, key := NewCounter(nil, "a secret", DedupeWindow), counterKey("a secret")
	ua := "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
	b.Run("new-hmac", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = "a:" + referenceHash(key, "203.0.113.7", ua)
			_ = referenceHash(key, "ip", "203.0.113.7")
		}
	})
	b.Run("pooled", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = c.ViewerID(nil, "203.0.113.7", ua)
			_ = c.clientHash("203.0.113.7")
		}
	})
}

package keyedmac

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
)

// TestSumMatchesHMAC: every Sum, reused from the pool and from concurrent
// goroutines, equals a fresh HMAC-SHA256 of the same message, long
// messages included.
func TestSumMatchesHMAC(t *testing.T) {
	key := []byte("a key")
	m := New(key)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				msg := strings.Repeat("m", (g*200+i)%700)
				want := hmac.New(sha256.New, key)
				want.Write([]byte(msg))
				m.Sum(func(b []byte) []byte { return append(b, msg...) }, func(sum []byte) {
					if !bytes.Equal(sum, want.Sum(nil)) {
						t.Errorf("Sum of a %d-byte message differs from hmac.New's", len(msg))
					}
				})
			}
		})
	}
	wg.Wait()
}

package storage

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lokiz/lokiz/internal/keyedmac"
)

// FuzzLocalSignedURL signs a download (GET) or upload (PUT) URL for a
// fuzzed key, lifetime and size with the real signing code, then checks
// the verifier the handler uses (Local.verify). Properties:
//   - the URL verifies for its key and method from signing until just
//     before its expiry E, and is refused from E on;
//   - it is refused for any other key, and for the other method;
//   - any change to what the query says (one byte of the query string
//     replaced, or a parameter appended) is refused, unless the parameters
//     that the signature covers read exactly as before (expires and sig,
//     plus ct and max for PUT: each present once, with the same text).
func FuzzLocalSignedURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, key, otherKey string, ttlSecs, maxBytes int64, put bool, pos int, b byte, extra string) {
		start := time.Date(2026, 12, 2, 12, 0, 0, 123456789, time.UTC)
		now := start
		l := &Local{mac: keyedmac.New([]byte("fuzz signing key")), baseURL: "http://lokiz.test", now: func() time.Time { return now }}
		ttl := MinTTL + time.Duration(uint64(ttlSecs)%uint64((MaxTTL-MinTTL)/time.Second+1))*time.Second
		method := http.MethodGet
		var raw string
		var err error
		if put {
			method = http.MethodPut
			maxBytes = 1 + int64(uint64(maxBytes)%MaxPutBytes)
			var up Upload
			up, err = l.PresignPut(context.Background(), key, ContentTypeFor(key), maxBytes, ttl)
			raw = up.URL
		} else {
			raw, err = l.URL(context.Background(), key, ttl)
		}
		if err != nil {
			return // not a key the store signs for (ValidateKey, content type)
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("signed URL %q does not parse: %v", raw, err)
		}
		gotKey, ok := strings.CutPrefix(u.Path, LocalPathPrefix)
		if !ok || gotKey != key {
			t.Fatalf("signed URL %q is not for key %q", raw, key)
		}
		q := u.Query()
		expires, _, msg := l.verify(method, key, q)
		if msg != "" {
			t.Fatalf("fresh URL %q refused: %s", raw, msg)
		}
		e := time.Unix(expires, 0)
		if e.Before(start.Add(ttl)) {
			t.Fatalf("URL signed for %s expires at %s, before %s", ttl, e, start.Add(ttl))
		}
		now = e.Add(-time.Nanosecond)
		if _, _, msg := l.verify(method, key, q); msg != "" {
			t.Fatalf("URL refused just before its expiry: %s", msg)
		}
		for _, after := range []time.Duration{0, time.Nanosecond, time.Hour} {
			now = e.Add(after)
			if _, _, msg := l.verify(method, key, q); msg == "" {
				t.Fatalf("URL accepted %s after its expiry %s", after, e)
			}
		}
		now = start

		if otherKey != key {
			if _, _, msg := l.verify(method, otherKey, q); msg == "" {
				t.Fatalf("URL for %q accepted for %q", key, otherKey)
			}
		}
		other := http.MethodPut
		if put {
			other = http.MethodGet
		}
		if _, _, msg := l.verify(other, key, q); msg == "" {
			t.Fatalf("%s URL accepted for %s", method, other)
		}

		signed := []string{paramExpires, paramSignature}
		if put {
			signed = append(signed, paramContentType, paramMaxBytes)
		}
		sameSigned := func(q2 url.Values) bool {
			for _, name := range signed {
				if !slices.Equal(q[name], q2[name]) {
					return false
				}
			}
			return true
		}
		check := func(mutated string) {
			q2, _ := url.ParseQuery(mutated) // the server reads what parses
			if _, _, msg := l.verify(method, key, q2); msg == "" && !sameSigned(q2) {
				t.Fatalf("query %q changed to %q (%v → %v) and still accepted", u.RawQuery, mutated, q, q2)
			}
		}
		if n := len(u.RawQuery); n > 0 {
			i := int(uint(pos) % uint(n))
			if u.RawQuery[i] != b {
				check(u.RawQuery[:i] + string([]byte{b}) + u.RawQuery[i+1:])
			}
		}
		if extra != "" {
			check(u.RawQuery + "&" + extra)
		}
	})
}

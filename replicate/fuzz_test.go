package replicate_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/replicate/sim"
)

// FuzzVerifyWebhook signs a fuzzed delivery (secret, id, body, timestamp
// skew) with the simulator's signer, which writes what Replicate sends,
// and checks replicate.VerifyWebhook. Properties:
//   - a delivery signed with the secret, with a timestamp within
//     WebhookTolerance, verifies and returns its id; outside it, it is
//     refused with ErrWebhookTimestamp;
//   - one byte of the body, the id or the timestamp replaced, or one bit of
//     the signature's HMAC flipped, is refused; so is the delivery under
//     another secret;
//   - a byte replaced anywhere in the webhook-signature header is refused,
//     unless the header still holds a "v1,<base64>" entry that decodes to
//     the HMAC of the message (base64 leaves the low bits of its last
//     character free, so two spellings can carry one HMAC: that is no
//     forgery, the HMAC is still the sender's).
func FuzzVerifyWebhook(f *testing.F) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, key []byte, id string, skew int64, body []byte, pos int, b byte) {
		if len(key) == 0 || id == "" || strings.ContainsAny(id, "\r\n") || strings.TrimSpace(id) != id {
			return // Replicate's ids are non-empty tokens; headers trim spaces
		}
		secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
		tol := int64(replicate.WebhookTolerance / time.Second)
		within := skew % (tol + 1) // -tol..tol
		sent := now.Add(time.Duration(within) * time.Second)
		sig, err := sim.Sign(secret, id, sent, body)
		if err != nil {
			t.Fatal(err)
		}
		ts := strconv.FormatInt(sent.Unix(), 10)
		header := func(id, ts, sig string) http.Header {
			h := http.Header{}
			h.Set("webhook-id", id)
			h.Set("webhook-timestamp", ts)
			h.Set("webhook-signature", sig)
			return h
		}
		refused := func(what string, err error) {
			t.Helper()
			if err == nil {
				t.Fatalf("%s: accepted", what)
			}
		}

		got, err := replicate.VerifyWebhook(secret, header(id, ts, sig), body, now)
		if err != nil || got != id {
			t.Fatalf("delivery %q signed %s at %s (skew %ds) refused: %q, %v", body, sig, ts, within, got, err)
		}
		// Outside the tolerance, the same signature (re-made for that time).
		late := now.Add(-replicate.WebhookTolerance - time.Duration(1+uint64(skew)%3600)*time.Second)
		lateSig, _ := sim.Sign(secret, id, late, body)
		if _, err := replicate.VerifyWebhook(secret, header(id, strconv.FormatInt(late.Unix(), 10), lateSig), body, now); !errors.Is(err, replicate.ErrWebhookTimestamp) {
			t.Fatalf("delivery sent %s before now: %v, want ErrWebhookTimestamp", now.Sub(late), err)
		}

		other := append([]byte{}, key...)
		other[int(uint(pos)%uint(len(other)))] ^= 1 | b
		_, err = replicate.VerifyWebhook("whsec_"+base64.StdEncoding.EncodeToString(other), header(id, ts, sig), body, now)
		refused("another secret", err)

		if mb, ok := replace(body, pos, b); ok {
			_, err := replicate.VerifyWebhook(secret, header(id, ts, sig), mb, now)
			refused("body changed", err)
		} else if len(body) == 0 {
			_, err := replicate.VerifyWebhook(secret, header(id, ts, sig), []byte{b}, now)
			refused("body added to", err)
		}
		if mid, ok := replace([]byte(id), pos, b); ok && strings.TrimSpace(string(mid)) == string(mid) {
			_, err := replicate.VerifyWebhook(secret, header(string(mid), ts, sig), body, now)
			refused("id changed", err)
		}
		if mts, ok := replace([]byte(ts), pos, b); ok {
			_, err := replicate.VerifyWebhook(secret, header(id, string(mts), sig), body, now)
			refused("timestamp changed", err)
		}

		mac, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "v1,"))
		mac[int(uint(pos)%uint(len(mac)))] ^= 1 << (b % 8)
		_, err = replicate.VerifyWebhook(secret, header(id, ts, "v1,"+base64.StdEncoding.EncodeToString(mac)), body, now)
		refused("signature bit flipped", err)

		if msig, ok := replace([]byte(sig), pos, b); ok {
			if _, err := replicate.VerifyWebhook(secret, header(id, ts, string(msig)), body, now); err == nil &&
				!carriesMAC(string(msig), key, id, ts, body) {
				t.Fatalf("signature header %q changed to %q and still accepted", sig, msig)
			}
		}
	})
}

// replace returns s with the byte at pos (modulo its length) set to b, and
// whether that changed anything.
func replace(s []byte, pos int, b byte) ([]byte, bool) {
	if len(s) == 0 {
		return nil, false
	}
	i := int(uint(pos) % uint(len(s)))
	if s[i] == b {
		return nil, false
	}
	out := append([]byte{}, s...)
	out[i] = b
	return out, true
}

// carriesMAC reports whether a webhook-signature value holds a v1 entry
// that decodes to the HMAC of the message: the test's own reading of the
// Standard Webhooks format.
func carriesMAC(header string, key []byte, id, ts string, body []byte) bool {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	for _, entry := range strings.Fields(header) {
		v, b64, ok := strings.Cut(entry, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if ok && v == "v1" && err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

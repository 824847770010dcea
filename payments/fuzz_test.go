package payments_test

import (
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/payments/paymenttest"
)

// FuzzStripeWebhook signs a fuzzed body with stripe-go's own test signer
// (paymenttest.SignStripe) and checks ParseStripeWebhook, the wrapper
// around stripe-go's webhook verification. Properties:
//   - a body signed with the endpoint secret less than the tolerance ago is
//     never ErrBadSignature (it may fail to decode as an event: that is
//     another error); signed longer ago, it is ErrBadSignature;
//   - one byte of the body replaced, the header's timestamp moved by any
//     number of seconds, one bit of the HMAC flipped, or the body signed
//     with another secret, is ErrBadSignature;
//   - a body that verifies and decodes yields an event with an id and a
//     type.
func FuzzStripeWebhook(f *testing.F) {
	p, err := payments.NewStripe(payments.StripeConfig{
		SecretKey:     paymenttest.StripeTestKey,
		WebhookSecret: paymenttest.StripeWebhookSecret,
		APIBase:       "http://127.0.0.1:1", // verification makes no call
	})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte, age uint16, shift int64, pos int, b byte) {
		secret := paymenttest.StripeWebhookSecret
		at := time.Now().Add(-time.Duration(age%240) * time.Second) // inside the 300 s tolerance
		header := func(sig string) http.Header { return http.Header{"Stripe-Signature": {sig}} }
		sig := paymenttest.SignStripe(body, secret, at)

		ev, err := p.ParseStripeWebhook(header(sig), body)
		if errors.Is(err, payments.ErrBadSignature) {
			t.Fatalf("body %q signed %s ago refused: %v", body, time.Since(at), err)
		}
		if err == nil && (ev.ID == "" || ev.Type == "") {
			t.Fatalf("event without id or type: %+v", ev)
		}
		bad := func(what string, h http.Header, body []byte) {
			t.Helper()
			if _, err := p.ParseStripeWebhook(h, body); !errors.Is(err, payments.ErrBadSignature) {
				t.Fatalf("%s: %v, want ErrBadSignature", what, err)
			}
		}
		bad("signed 10 minutes ago", header(paymenttest.SignStripe(body, secret, time.Now().Add(-10*time.Minute))), body)
		bad("another secret", header(paymenttest.SignStripe(body, secret+"x", at)), body)

		if len(body) > 0 {
			i := int(uint(pos) % uint(len(body)))
			if body[i] != b {
				mb := append([]byte{}, body...)
				mb[i] = b
				bad("body changed", header(sig), mb)
			}
		} else {
			bad("body added to", header(sig), []byte{b})
		}

		// The header is "t=<unix>,v1=<hex HMAC>"; move t, flip a bit of v1.
		ts, mac := stripeParts(t, sig)
		if d := shift % 100000; d != 0 {
			bad("timestamp moved", header("t="+strconv.FormatInt(ts+d, 10)+",v1="+hex.EncodeToString(mac)), body)
		}
		mac[int(uint(pos)%uint(len(mac)))] ^= 1 << (b % 8)
		bad("signature bit flipped", header("t="+strconv.FormatInt(ts, 10)+",v1="+hex.EncodeToString(mac)), body)
	})
}

func stripeParts(t *testing.T, sig string) (int64, []byte) {
	t.Helper()
	var ts int64
	var mac []byte
	for part := range strings.SplitSeq(sig, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts, _ = strconv.ParseInt(v, 10, 64)
		case "v1":
			mac, _ = hex.DecodeString(v)
		}
	}
	if ts == 0 || len(mac) == 0 {
		t.Fatalf("signature header %q has no t or v1", sig)
	}
	return ts, mac
}

// FuzzTossWebhook checks the Toss webhook's only proof of origin, the
// token in the registered URL, and the body decoder. Properties:
//   - the delivery is accepted (not ErrBadSignature) exactly when the URL's
//     token is the configured one; a token in a header the sender chose
//     never counts;
//   - with the right token, ParseWebhook answers what ParseTossWebhook
//     answers for the body;
//   - a decoded event has a type and an id "toss_" + 40 hex digits, and the
//     same body always gives the same id (Toss's retries are dropped as
//     duplicates by it).
func FuzzTossWebhook(f *testing.F) {
	const token = "whk_0123456789abcdefghij"
	c, err := payments.NewToss(payments.TossConfig{SecretKey: "test_sk", ClientKey: "test_ck",
		BaseURL: "http://127.0.0.1:1", WebhookToken: token})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte, sent string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/webhooks/toss?token="+url.QueryEscape(sent), nil)
		r.Header.Set(payments.TossWebhookTokenHeader, token) // forged: must be ignored
		_, err := c.ParseWebhook(payments.TossWebhookHeader(r), body)
		if sent != token {
			if !errors.Is(err, payments.ErrBadSignature) {
				t.Fatalf("token %q accepted (%v)", sent, err)
			}
		} else if errors.Is(err, payments.ErrBadSignature) {
			t.Fatalf("the configured token refused")
		}

		ok := httptest.NewRequest(http.MethodPost, "/v1/webhooks/toss?token="+token, nil)
		ev, err := c.ParseWebhook(payments.TossWebhookHeader(ok), body)
		direct, derr := payments.ParseTossWebhook(body)
		if (err == nil) != (derr == nil) || !reflect.DeepEqual(ev, direct) {
			t.Fatalf("ParseWebhook = %+v, %v; ParseTossWebhook = %+v, %v", ev, err, direct, derr)
		}
		if err != nil {
			if !errors.Is(err, payments.ErrTossMalformedWebhook) {
				t.Fatalf("refusal is not ErrTossMalformedWebhook: %v", err)
			}
			return
		}
		id, isToss := strings.CutPrefix(ev.ID, "toss_")
		if _, herr := hex.DecodeString(id); !isToss || len(id) != 40 || herr != nil || ev.Type == "" {
			t.Fatalf("event %+v: want a type and an id toss_<40 hex>", ev)
		}
		if again, _ := payments.ParseTossWebhook(body); again.ID != ev.ID {
			t.Fatalf("one body, two ids: %q, %q", ev.ID, again.ID)
		}
	})
}

package mail_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz/mail"
)

// FuzzUnsubscribeToken checks the one-click unsubscribe token, a user id
// signed with the secret key. Its seed corpus is in
// testdata/fuzz/FuzzUnsubscribeToken/; `go test` replays it, `make fuzz`
// explores (docs/reliability.md, "Fuzzing"). Properties:
//   - a token UnsubscribeToken makes parses, under the same secret, to the
//     user it was made for;
//   - that token with one byte replaced, cut short, or with a byte added is
//     refused; so is it under another secret, and so is one user's id
//     spliced with another user's signature;
//   - any string, parsed under any secret, never panics, and is refused
//     with ErrBadUnsubscribeToken unless it is exactly the token
//     UnsubscribeToken makes for the user it names: no second spelling of a
//     token is accepted.
//
// The token names no kind: it has one use, separated from every other use
// of the secret by its HMAC's domain string, so "another type" is only
// "another user" here.
func FuzzUnsubscribeToken(f *testing.F) {
	f.Fuzz(func(t *testing.T, secret, otherSecret, idBytes []byte, pos int, b byte, token string) {
		if len(secret) == 0 {
			return // the config refuses an empty SECRET_KEY
		}
		var id uuid.UUID
		copy(id[:], idBytes)

		// Any string: refused unless it is the canonical token of its user.
		if got, err := mail.ParseUnsubscribeToken(secret, token); err == nil {
			if want := mail.UnsubscribeToken(secret, got); token != want {
				t.Fatalf("accepted %q for %v, but that user's token is %q", token, got, want)
			}
		} else if !errors.Is(err, mail.ErrBadUnsubscribeToken) || got != uuid.Nil {
			t.Fatalf("refusal of %q: %v, %v", token, got, err)
		}

		// A token made here round-trips.
		tok := mail.UnsubscribeToken(secret, id)
		if got, err := mail.ParseUnsubscribeToken(secret, tok); err != nil || got != id {
			t.Fatalf("token %q for %v parses to %v, %v", tok, id, got, err)
		}
		refused := func(what, s string, key []byte) {
			t.Helper()
			if got, err := mail.ParseUnsubscribeToken(key, s); !errors.Is(err, mail.ErrBadUnsubscribeToken) || got != uuid.Nil {
				t.Fatalf("%s: %q (of %q) gives %v, %v", what, s, tok, got, err)
			}
		}

		// Modified: one byte replaced, cut short, a byte added.
		i := int(uint(pos) % uint(len(tok)))
		if b != tok[i] {
			refused("byte replaced", tok[:i]+string([]byte{b})+tok[i+1:], secret)
		}
		refused("cut short", tok[:i], secret)
		refused("byte added", tok[:i]+string([]byte{b})+tok[i:], secret)
		refused("byte appended", tok+string([]byte{b}), secret)

		// Another secret (unless HMAC cannot tell the two keys apart).
		if !sameHMACKey(secret, otherSecret) {
			refused("other secret", tok, otherSecret)
		}

		// Another user: its own token names it, never id; its id under
		// id's signature is refused.
		other := id
		other[i%16] ^= 1 | b
		otherTok := mail.UnsubscribeToken(secret, other)
		if got, err := mail.ParseUnsubscribeToken(secret, otherTok); err != nil || got != other {
			t.Fatalf("token of %v parses to %v, %v", other, got, err)
		}
		refused("other user's id, this signature", otherTok[:22]+tok[22:], secret)
		refused("this id, other user's signature", tok[:22]+otherTok[22:], secret)
	})
}

// sameHMACKey reports whether HMAC-SHA256 treats two keys as one: a key
// longer than the 64-byte block is replaced by its SHA-256, and a shorter
// one is padded with zero bytes, so "k" and "k\x00" sign alike.
func sameHMACKey(a, b []byte) bool {
	norm := func(k []byte) []byte {
		if len(k) > 64 {
			s := sha256.Sum256(k)
			k = s[:]
		}
		return bytes.TrimRight(k, "\x00")
	}
	return bytes.Equal(norm(a), norm(b))
}

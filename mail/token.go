package mail

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz/session"
)

// NewToken returns a single-use token for a mail link and the hash under
// which it is stored. It is made and hashed like a refresh token (256 random
// bits, base64url, stored as their SHA-256): one recipe for every secret
// token the server hands out.
func NewToken() (token string, hash []byte) { return session.NewRefreshToken() }

// HashToken is the stored form of a token.
func HashToken(token string) []byte { return session.HashRefreshToken(token) }

// unsubscribeDomain separates these signatures from every other use of the
// secret key.
const unsubscribeDomain = "lokiz/email-unsubscribe/v1:"

// UnsubscribeToken is the token of a user's one-click unsubscribe link: the
// user id and an HMAC-SHA256 of it under the secret key (truncated to 128
// bits), base64url. It names the user and cannot be forged or moved to
// another user; it does not expire (a mail's link must keep working), and
// what it can do is only turn that user's notification mail off.
func UnsubscribeToken(secret []byte, userID uuid.UUID) string {
	b := append(userID[:], unsubscribeMAC(secret, userID)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ErrBadUnsubscribeToken is a token that was not made by UnsubscribeToken
// with this key.
var ErrBadUnsubscribeToken = errors.New("invalid unsubscribe token")

// ParseUnsubscribeToken returns the user an unsubscribe token names. Only
// the exact spelling UnsubscribeToken writes is accepted: base64's decoder
// alone would also take the token with CR or LF inside it or with the two
// unused low bits of its last character set.
func ParseUnsubscribeToken(secret []byte, token string) (uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 32 || base64.RawURLEncoding.EncodeToString(b) != token {
		return uuid.Nil, ErrBadUnsubscribeToken
	}
	id, err := uuid.FromBytes(b[:16])
	if err != nil || !hmac.Equal(b[16:], unsubscribeMAC(secret, id)) {
		return uuid.Nil, ErrBadUnsubscribeToken
	}
	return id, nil
}

func unsubscribeMAC(secret []byte, userID uuid.UUID) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(unsubscribeDomain))
	m.Write(userID[:])
	return m.Sum(nil)[:16]
}

// Package apikey is the format of the personal API keys of enterprise users
// (issue 13): how a key is made, recognised, split and hashed. The api
// stores keys through db.Store (CreateAPIKey, AuthenticateAPIKey).
//
// A key reads "lkz_live_<lookup>_<secret>": the prefix makes it
// recognisable to a person and to secret scanners; lookup is 16 lower-case
// hex digits (8 random bytes) that find the key's row without revealing
// anything; secret is 32 random bytes in unpadded base64url (43
// characters). Only the SHA-256 of the whole key is stored. A fast hash is
// enough here, unlike for passwords: bcrypt's cost protects secrets a
// person chose, which an attacker holding the hash could guess; 256 random
// bits cannot be guessed at any hashing speed, and a slow hash on every API
// request would only burn CPU. The comparison is in constant time.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Prefix starts every key.
const Prefix = "lkz_live_"

const (
	lookupLen = 16 // hex digits of 8 random bytes
	secretLen = 43 // base64url of 32 random bytes, unpadded
	// Len is the length of a whole key.
	Len = len(Prefix) + lookupLen + 1 + secretLen
)

// Key is a key just made: Token is shown to its owner once, LookupID and
// Hash are stored.
type Key struct {
	Token    string
	LookupID string
	Hash     []byte
}

// New makes a key from crypto/rand.
func New() Key {
	id := make([]byte, lookupLen/2)
	secret := make([]byte, 32)
	_, _ = rand.Read(id) // never fails (crypto/rand)
	_, _ = rand.Read(secret)
	lookup := hex.EncodeToString(id)
	token := Prefix + lookup + "_" + base64.RawURLEncoding.EncodeToString(secret)
	return Key{Token: token, LookupID: lookup, Hash: Hash(token)}
}

// Looks reports whether a bearer token is meant as an API key (it starts
// with Prefix), well formed or not; other tokens are JWTs.
func Looks(token string) bool { return strings.HasPrefix(token, Prefix) }

// Parse returns the lookup id of a well-formed key; ok is false for
// anything else.
func Parse(token string) (lookupID string, ok bool) {
	if len(token) != Len || !Looks(token) {
		return "", false
	}
	rest := token[len(Prefix):]
	lookup, sep, secret := rest[:lookupLen], rest[lookupLen], rest[lookupLen+1:]
	if sep != '_' {
		return "", false
	}
	for i := 0; i < len(lookup); i++ {
		if c := lookup[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil || len(b) != 32 {
		return "", false
	}
	return lookup, true
}

// Hash is the stored form of a key: the SHA-256 of the whole token.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Matches reports, in constant time, whether token hashes to stored.
func Matches(stored []byte, token string) bool {
	return subtle.ConstantTimeCompare(stored, Hash(token)) == 1
}

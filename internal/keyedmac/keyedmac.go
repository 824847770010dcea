// Package keyedmac computes HMAC-SHA256 under one fixed key on a hot path
// without the cost hmac.New pays each time: hashing the key into the inner
// and outer pads. A MAC keeps hashers with their message and sum buffers in
// a pool; Reset restores a hasher's pads, so each use hashes the message
// only. Local storage signs its URLs with it, the view counter its viewer
// ids.
package keyedmac

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// MAC is HMAC-SHA256 under one key, safe for concurrent use.
type MAC struct {
	key  []byte
	pool sync.Pool // of *state
}

type state struct {
	h        hash.Hash
	msg, sum []byte
}

// New returns a MAC under key.
func New(key []byte) *MAC { return &MAC{key: key} }

// Sum builds the message with build (it appends to the empty buffer it is
// given and returns it), computes its MAC and hands the 32-byte sum to use.
// Neither slice may be kept after the call returns: both are reused.
func (m *MAC) Sum(build func(msg []byte) []byte, use func(sum []byte)) {
	s, ok := m.pool.Get().(*state)
	if ok {
		s.h.Reset()
	} else {
		s = &state{h: hmac.New(sha256.New, m.key)}
	}
	s.msg = build(s.msg[:0])
	s.h.Write(s.msg)
	s.sum = s.h.Sum(s.sum[:0])
	use(s.sum)
	m.pool.Put(s)
}

package apikey

import (
	"strings"
	"testing"
)

func TestNewParses(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k := New()
		if len(k.Token) != Len || !strings.HasPrefix(k.Token, Prefix) {
			t.Fatalf("key %q: want %d characters starting with %q", k.Token, Len, Prefix)
		}
		lookup, ok := Parse(k.Token)
		if !ok || lookup != k.LookupID {
			t.Fatalf("Parse(%q) = %q, %v; want %q, true", k.Token, lookup, ok, k.LookupID)
		}
		if !Matches(k.Hash, k.Token) {
			t.Fatalf("a key does not match its own hash")
		}
		if seen[k.Token] || seen[k.LookupID] {
			t.Fatalf("New repeated itself: %q", k.Token)
		}
		seen[k.Token], seen[k.LookupID] = true, true
	}
}

func TestParseRefusesMalformed(t *testing.T) {
	k := New()
	secret := k.Token[len(Prefix)+17:]
	for name, token := range map[string]string{
		"empty":           "",
		"prefix only":     Prefix,
		"jwt":             "eyJhbGciOiJIUzI1NiJ9.e30.sig",
		"other prefix":    "lkz_test_" + k.Token[len(Prefix):],
		"short":           k.Token[:Len-1],
		"long":            k.Token + "A",
		"upper lookup":    Prefix + strings.ToUpper(k.LookupID) + "_" + secret,
		"non-hex lookup":  Prefix + "zzzzzzzzzzzzzzzz_" + secret,
		"no separator":    Prefix + k.LookupID + "-" + secret,
		"bad secret char": Prefix + k.LookupID + "_" + secret[:42] + "*",
	} {
		if _, ok := Parse(token); ok {
			t.Errorf("%s: Parse(%q) accepted a malformed key", name, token)
		}
	}
}

func TestMatchesRefusesOtherKeys(t *testing.T) {
	a, b := New(), New()
	if Matches(a.Hash, b.Token) {
		t.Fatal("a key matched another key's hash")
	}
	// Same lookup id, other secret: the hash still differs.
	forged := Prefix + a.LookupID + b.Token[len(Prefix)+16:]
	if _, ok := Parse(forged); !ok {
		t.Fatalf("forged key %q should be well formed", forged)
	}
	if Matches(a.Hash, forged) {
		t.Fatal("a key with the right lookup id and a wrong secret matched")
	}
}

package lokiz_test

import (
	"strings"
	"testing"

	"github.com/lokiz/lokiz"
)

func TestValidateUsername(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"Simple", "alice", true},
		{"DotsAndUnderscores", "a.b_c9", true},
		{"MinLength", "abc", true},
		{"MaxLength", strings.Repeat("a", 30), true},
		{"TooShort", "ab", false},
		{"TooLong", strings.Repeat("a", 31), false},
		{"Upper", "Alice", false},
		{"Dash", "al-ice", false},
		{"Space", "al ice", false},
		{"Unicode", "아이디임", false},
		{"Empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := lokiz.ValidateUsername(tt.in) == ""; got != tt.ok {
				t.Fatalf("ValidateUsername(%q) ok=%v, want %v", tt.in, got, tt.ok)
			}
		})
	}
}

func TestNormalizeUsername(t *testing.T) {
	t.Parallel()
	if got := lokiz.NormalizeUsername("  Alice.B "); got != "alice.b" {
		t.Fatalf("got %q", got)
	}
}

func TestValidateEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"Simple", "a@example.com", true},
		{"Plus", "a+tag@sub.example.org", true},
		{"NoAt", "example.com", false},
		{"NoDomainDot", "a@localhost", false},
		{"DisplayName", "Bob <bob@example.com>", false},
		{"Empty", "", false},
		{"TrailingDot", "a@example.", false},
		{"TooLong", strings.Repeat("a", 250) + "@x.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := lokiz.ValidateEmail(lokiz.NormalizeEmail(tt.in)) == ""; got != tt.ok {
				t.Fatalf("ValidateEmail(%q) ok=%v, want %v", tt.in, got, tt.ok)
			}
		})
	}
	if got := lokiz.NormalizeEmail(" A.B@Example.COM "); got != "a.b@example.com" {
		t.Fatalf("NormalizeEmail: got %q", got)
	}
}

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"Eight", "12345678", true},
		{"Seven", "1234567", false},
		{"Max72Bytes", strings.Repeat("x", 72), true},
		{"Over72Bytes", strings.Repeat("x", 73), false},
		{"MultibyteOver72", strings.Repeat("한", 25), false}, // 75 bytes
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := lokiz.ValidatePassword(tt.in) == ""; got != tt.ok {
				t.Fatalf("ValidatePassword(len %d) ok=%v, want %v", len(tt.in), got, tt.ok)
			}
		})
	}
}

func TestValidateProfileFields(t *testing.T) {
	t.Parallel()
	if msg := lokiz.ValidateDisplayName(strings.Repeat("가", 100)); msg != "" {
		t.Fatalf("100 runes should pass: %s", msg)
	}
	if msg := lokiz.ValidateDisplayName(strings.Repeat("가", 101)); msg == "" {
		t.Fatal("101 runes should fail")
	}
	if msg := lokiz.ValidateDisplayName("a\x00b"); msg == "" {
		t.Fatal("control characters should fail")
	}
	if msg := lokiz.ValidateBio("line one\nline two"); msg != "" {
		t.Fatalf("newlines are fine in a bio: %s", msg)
	}
	if msg := lokiz.ValidateBio(strings.Repeat("b", 501)); msg == "" {
		t.Fatal("501 runes should fail")
	}
}

package lokiz

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// UserBasic is a user as embedded in other objects (the author of a video,
// the actor of a notification): the contract's UserBasicInfo. ProfileImage
// repeats ProfileImageURL under the reference's older name.
type UserBasic struct {
	ID              uuid.UUID `json:"id"`
	Username        string    `json:"username"`
	DisplayName     *string   `json:"display_name"`
	ProfileImageURL *string   `json:"profile_image_url"`
	ProfileImage    *string   `json:"profile_image"`
}

// Roles a user can have.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// Subscription tiers, from cheapest to most expensive.
const (
	TierFree       = "free"
	TierBasic      = "basic"
	TierPro        = "pro"
	TierEnterprise = "enterprise"
)

// Account limits.
const (
	UsernameMinLen       = 3
	UsernameMaxLen       = 30
	PasswordMinBytes     = 8
	PasswordMaxBytes     = 72 // bcrypt reads no further than 72 bytes
	EmailMaxLen          = 254
	DisplayNameMaxRunes  = 100
	BioMaxRunes          = 500
	ProfileImageMaxBytes = 1000
	// InitialCredits are granted at registration, as a ledger row.
	InitialCredits = 100
)

// NormalizeUsername lower-cases and trims a username as typed by a user, so
// that "Alice " and "alice" name the same account.
func NormalizeUsername(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// ValidateUsername reports what is wrong with an already normalized username,
// or "" when it is acceptable: 3–30 characters of a–z, 0–9, "_" and ".".
func ValidateUsername(s string) string {
	if len(s) < UsernameMinLen || len(s) > UsernameMaxLen {
		return "must be 3 to 30 characters long"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return "may contain only letters a-z, digits, '_' and '.'"
		}
	}
	return ""
}

// NormalizeEmail trims and lower-cases the whole address (B-25: the original
// kept the local part's case and so allowed two accounts per mailbox).
func NormalizeEmail(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// ValidateEmail reports what is wrong with a normalized address, or "".
// Only a bare address is accepted ("a@b.c"), never a display-name form.
func ValidateEmail(s string) string {
	if s == "" {
		return "is required"
	}
	if len(s) > EmailMaxLen {
		return "must be at most 254 characters long"
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" {
		return "is not a valid email address"
	}
	at := strings.LastIndexByte(s, '@')
	if domain := s[at+1:]; !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "is not a valid email address"
	}
	return ""
}

// ValidatePassword reports what is wrong with a new password, or "".
// Lengths are in bytes because bcrypt's limit is in bytes.
func ValidatePassword(s string) string {
	if len(s) < PasswordMinBytes {
		return "must be at least 8 characters long"
	}
	if len(s) > PasswordMaxBytes {
		return "must be at most 72 bytes long"
	}
	return ""
}

// ValidateDisplayName reports what is wrong with a display name, or "".
func ValidateDisplayName(s string) string {
	if utf8.RuneCountInString(s) > DisplayNameMaxRunes {
		return "must be at most 100 characters long"
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, isControl) {
		return "must not contain control characters"
	}
	return ""
}

// ValidateBio reports what is wrong with a bio, or "". Line breaks are allowed.
func ValidateBio(s string) string {
	if utf8.RuneCountInString(s) > BioMaxRunes {
		return "must be at most 500 characters long"
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && r != '\t' && isControl(r) }) {
		return "must not contain control characters"
	}
	return ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// ValidRole reports whether role is a known role.
func ValidRole(role string) bool { return role == RoleUser || role == RoleAdmin }

package lokiz

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// TextKind says which rule of CleanText a piece of user text follows.
type TextKind int

// The kinds of user text.
const (
	// TextLine is one line: a search query, a title, a hashtag, an id.
	TextLine TextKind = iota
	// TextMultiline may hold line breaks and tabs: a comment, a bio, a
	// caption, a report's reason, a prompt.
	TextMultiline
	// TextName is a name other users see next to content (username, display
	// name): one line, and no invisible characters that could make two names
	// look alike.
	TextName
)

// CleanText is the one rule for text a user sends (DESIGN.md §3.7). It
// refuses invalid UTF-8, NUL and the other C0 and C1 control characters
// (TextMultiline allows newline and tab, and reads CR LF as a newline), the
// bidirectional overrides, embeddings and isolates (U+202A–U+202E,
// U+2066–U+2069) that can make text display in another order than it is
// stored, and in TextLine and TextName the line and paragraph separators.
// TextName also refuses zero-width and other invisible characters, except a
// zero-width joiner between two emoji (as in 🏳️‍🌈). The accepted text is
// returned in Unicode normalization form C, so that "é" typed as e + U+0301
// and as U+00E9 are stored, compared and searched as one string.
//
// problem is "" when s is acceptable, else a sentence fragment for the
// field's error ("must not contain control characters").
func CleanText(s string, kind TextKind) (clean, problem string) {
	if !utf8.ValidString(s) {
		return "", "must be valid UTF-8"
	}
	if kind == TextMultiline && strings.Contains(s, "\r\n") {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	prev := rune(-1)
	for i, r := range s {
		switch {
		case r == '\n' || r == '\t':
			if kind != TextMultiline {
				return "", "must not contain line breaks or tabs"
			}
		case r < 0x20 || r >= 0x7f && r <= 0x9f:
			return "", "must not contain control characters"
		case r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069:
			return "", "must not contain bidirectional override or isolate characters"
		case r == 0x2028 || r == 0x2029:
			if kind != TextMultiline {
				return "", "must not contain line breaks or tabs"
			}
		case kind == TextName && invisible(r):
			if r == zwj && isEmoji(prev) {
				if next, size := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):]); size > 0 && isEmoji(next) {
					break
				}
			}
			return "", "must not contain zero-width or invisible characters"
		}
		prev = r
	}
	clean = norm.NFC.String(s)
	if kind == TextName && strings.ContainsRune(clean, cgj) {
		// Normalizing breaks a run of more than 30 combining marks with a
		// combining grapheme joiner (Unicode's stream-safe format), an
		// invisible character a name refuses: the name would be accepted
		// once and refused when sent back. Such a run is no name anyway.
		return "", "must not contain more than 30 combining marks in a row"
	}
	return clean, ""
}

// cgj is the combining grapheme joiner.
const cgj = 0x034f

const zwj = 0x200d

// invisible reports whether r is a character with no width of its own
// that a name could hide: zero-width spaces and joiners, directional marks,
// the word joiner and invisible operators, the byte order mark, the soft
// hyphen, the Mongolian vowel separator, the combining grapheme joiner,
// Hangul fillers and the tag characters.
func invisible(r rune) bool {
	switch {
	case r >= 0x200b && r <= 0x200f, // ZWSP, ZWNJ, ZWJ, LRM, RLM
		r >= 0x2060 && r <= 0x2064, // word joiner, invisible operators
		r == 0xfeff, r == 0x00ad, r == 0x180e, r == cgj, r == 0x061c,
		r == 0x115f, r == 0x1160, r == 0x3164, r == 0xffa0, // Hangul fillers
		r >= 0xe0000 && r <= 0xe007f: // tags
		return true
	}
	return false
}

// isEmoji is a broad test for the runes an emoji ZWJ sequence joins: a
// pictographic symbol, the emoji variation selector or a skin-tone modifier.
func isEmoji(r rune) bool {
	return r != utf8.RuneError && (r == 0xfe0f || r >= 0x1f3fb && r <= 0x1f3ff || unicode.Is(unicode.So, r))
}

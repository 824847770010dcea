package lokiz_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/lokiz/lokiz"
)

// FuzzCleanText checks what CleanText promises (text.go) on any input, in
// each kind. Properties of accepted text: valid UTF-8; no C0 or C1 control
// character, except newline and tab in TextMultiline (and no CR left at
// all: CR LF became LF); no bidirectional override, embedding or isolate;
// no line or paragraph separator outside TextMultiline; in TextName no
// zero-width or invisible character but a ZWJ between two emoji; in NFC;
// and a fixed point (cleaning it again gives it back). Between kinds: what
// TextName accepts, TextLine accepts as the same text, and what TextLine
// accepts, TextMultiline accepts as the same text. A refusal gives "" and a
// problem.
func FuzzCleanText(f *testing.F) {
	kinds := []lokiz.TextKind{lokiz.TextLine, lokiz.TextMultiline, lokiz.TextName}
	f.Fuzz(func(t *testing.T, s string) {
		out := map[lokiz.TextKind]string{}
		ok := map[lokiz.TextKind]bool{}
		for _, kind := range kinds {
			clean, problem := lokiz.CleanText(s, kind)
			if problem != "" {
				if clean != "" {
					t.Fatalf("kind %d: refused %q (%s) but returned %q", kind, s, problem, clean)
				}
				continue
			}
			out[kind], ok[kind] = clean, true
			if !utf8.ValidString(clean) {
				t.Fatalf("kind %d: %q accepted as invalid UTF-8 %q", kind, s, clean)
			}
			if !norm.NFC.IsNormalString(clean) {
				t.Fatalf("kind %d: %q accepted as %q, which is not NFC", kind, s, clean)
			}
			if again, problem := lokiz.CleanText(clean, kind); problem != "" || again != clean {
				t.Fatalf("kind %d: %q cleans to %q, which cleans to %q (%s)", kind, s, clean, again, problem)
			}
			if kind == lokiz.TextMultiline && !strings.Contains(s, "\r") && clean != norm.NFC.String(s) {
				t.Fatalf("multiline %q accepted as %q, not its NFC form", s, clean)
			}
			runes := []rune(clean)
			for i, r := range runes {
				switch {
				case r == '\n' || r == '\t' || r == 0x2028 || r == 0x2029:
					if kind != lokiz.TextMultiline {
						t.Fatalf("kind %d: %q accepted with line break or tab %U", kind, clean, r)
					}
				case r < 0x20 || r >= 0x7f && r <= 0x9f:
					t.Fatalf("kind %d: %q accepted with control %U", kind, clean, r)
				case r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069:
					t.Fatalf("kind %d: %q accepted with bidi control %U", kind, clean, r)
				case kind == lokiz.TextName && invisibleInName(r):
					if r == 0x200d && i > 0 && i+1 < len(runes) {
						continue // judged by CleanText's emoji rule; the fixed-point check covers it
					}
					t.Fatalf("name %q accepted with invisible %U", clean, r)
				}
			}
		}
		if ok[lokiz.TextName] && (!ok[lokiz.TextLine] || out[lokiz.TextLine] != out[lokiz.TextName]) {
			t.Fatalf("%q: name accepts %q, line gives %q, %v", s, out[lokiz.TextName], out[lokiz.TextLine], ok[lokiz.TextLine])
		}
		if ok[lokiz.TextLine] && (!ok[lokiz.TextMultiline] || out[lokiz.TextMultiline] != out[lokiz.TextLine]) {
			t.Fatalf("%q: line accepts %q, multiline gives %q, %v", s, out[lokiz.TextLine], out[lokiz.TextMultiline], ok[lokiz.TextMultiline])
		}
	})
}

// invisibleInName lists what text.go says a name may not hide.
func invisibleInName(r rune) bool {
	switch {
	case r >= 0x200b && r <= 0x200f, r >= 0x2060 && r <= 0x2064, r == 0xfeff, r == 0x00ad, r == 0x180e,
		r == 0x034f, r == 0x061c, r == 0x115f, r == 0x1160, r == 0x3164, r == 0xffa0, r >= 0xe0000 && r <= 0xe007f:
		return true
	}
	return false
}

package lokiz_test

import (
	"strings"
	"testing"

	"github.com/lokiz/lokiz"
)

func TestCleanText(t *testing.T) {
	t.Parallel()
	const (
		line  = lokiz.TextLine
		multi = lokiz.TextMultiline
		name  = lokiz.TextName
	)
	tests := []struct {
		name string
		in   string
		kind lokiz.TextKind
		want string // "" with ok=false: refused
		ok   bool
	}{
		{"Plain", "hello 세계 🎉", line, "hello 세계 🎉", true},
		{"Empty", "", line, "", true},
		{"NFC", "cafe\u0301", line, "caf\u00e9", true},
		{"NFCHangulJamo", "\u1100\u1161", multi, "\uac00", true},
		{"NULLine", "a\x00b", line, "", false},
		{"NULMulti", "a\x00b", multi, "", false},
		{"NULName", "a\x00b", name, "", false},
		{"Bell", "a\x07b", multi, "", false},
		{"Escape", "a\x1b[31mb", multi, "", false},
		{"DEL", "a\x7fb", line, "", false},
		{"C1", "a\u0085b", multi, "", false},
		{"C1CSI", "a\u009bb", line, "", false},
		{"NewlineLine", "a\nb", line, "", false},
		{"TabLine", "a\tb", line, "", false},
		{"NewlineName", "a\nb", name, "", false},
		{"NewlineMulti", "a\nb\tc", multi, "a\nb\tc", true},
		{"CRLFMulti", "a\r\nb", multi, "a\nb", true},
		{"LoneCRMulti", "a\rb", multi, "", false},
		{"LineSeparatorLine", "a\u2028b", line, "", false},
		{"LineSeparatorMulti", "a\u2028b", multi, "a\u2028b", true},
		{"RLOLine", "abc\u202etxt.exe", line, "", false},
		{"RLOMulti", "abc\u202etxt.exe", multi, "", false},
		{"LRE", "a\u202ab", multi, "", false},
		{"PDF", "a\u202cb", line, "", false},
		{"RLI", "a\u2067b", multi, "", false},
		{"PDI", "a\u2069b", name, "", false},
		{"ZWSPName", "ad\u200bmin", name, "", false},
		{"ZWSPLine", "ad\u200bmin", line, "ad\u200bmin", true},
		{"ZWNJName", "a\u200cb", name, "", false},
		{"ZWJBetweenLettersName", "a\u200db", name, "", false},
		{"RLMName", "a\u200fb", name, "", false},
		{"BOMName", "\ufeffadmin", name, "", false},
		{"SoftHyphenName", "ad\u00admin", name, "", false},
		{"HangulFillerName", "\u3164", name, "", false},
		{"TagName", "a\U000e0041", name, "", false},
		{"RainbowFlagName", "me \U0001f3f3\ufe0f\u200d\U0001f308", name, "me \U0001f3f3\ufe0f\u200d\U0001f308", true},
		{"FamilyName", "\U0001f468\u200d\U0001f469\u200d\U0001f467", name, "\U0001f468\u200d\U0001f469\u200d\U0001f467", true},
		{"ZWJAtEndName", "\U0001f468\u200d", name, "", false},
		{"ArabicName", "مريم", name, "مريم", true},
		{"InvalidUTF8", "a\xffb", multi, "", false},
		// Normalizing puts a combining grapheme joiner into a run of more
		// than 30 combining marks (found by FuzzCleanText): a name refuses
		// the run, since it would refuse its own cleaned form; other text
		// keeps the joiner, and cleaning it again changes nothing.
		{"ThirtyCombiningName", "a" + strings.Repeat("\u0301", 30), name, "\u00e1" + strings.Repeat("\u0301", 29), true},
		{"ThirtyOneCombiningName", "a" + strings.Repeat("\u0301", 31), name, "", false},
		{"ThirtyOneCombiningLine", "a" + strings.Repeat("\u0301", 31), line, "\u00e1" + strings.Repeat("\u0301", 29) + "\u034f\u0301", true},
		{"ThirtyOneCombiningLineAgain", "\u00e1" + strings.Repeat("\u0301", 29) + "\u034f\u0301", line, "\u00e1" + strings.Repeat("\u0301", 29) + "\u034f\u0301", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, problem := lokiz.CleanText(tt.in, tt.kind)
			if (problem == "") != tt.ok {
				t.Fatalf("CleanText(%q, %d) problem=%q, want ok=%v", tt.in, tt.kind, problem, tt.ok)
			}
			if got != tt.want {
				t.Fatalf("CleanText(%q, %d) = %q, want %q", tt.in, tt.kind, got, tt.want)
			}
		})
	}
}

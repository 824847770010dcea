package lokiz_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
)

func TestExtractHashtags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, caption string
		want          []string
	}{
		{"None", "just a video", nil},
		{"Simple", "fun #Dance time", []string{"dance"}},
		{"Korean", "오늘 #댄스챌린지 #먹방", []string{"댄스챌린지", "먹방"}},
		{"StopsAtDash", "#x-y", []string{"x"}},
		{"Accented", "#café", []string{"café"}},
		{"Digits", "#123", []string{"123"}},
		{"Underscore", "#Hello_World", []string{"hello_world"}},
		{"Dedup", "#Go #go #GO", []string{"go"}},
		{"Adjacent", "#a#b", []string{"a", "b"}},
		{"BareHash", "# nothing #", nil},
		{"TooLong", "#" + strings.Repeat("a", 101) + " #ok", []string{"ok"}},
		{"Max100", "#" + strings.Repeat("가", 100), []string{strings.Repeat("가", 100)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, lokiz.ExtractHashtags(tt.caption))
		})
	}
	t.Run("Capped", func(t *testing.T) {
		t.Parallel()
		var b strings.Builder
		for i := 0; i < 50; i++ {
			b.WriteString("#t")
			b.WriteString(strings.Repeat("x", i+1))
			b.WriteString(" ")
		}
		require.Len(t, lokiz.ExtractHashtags(b.String()), lokiz.HashtagsPerVideo)
	})
}

func TestValidateCaptionAndTitle(t *testing.T) {
	t.Parallel()
	require.Empty(t, lokiz.ValidateCaption("line\nline #tag"))
	require.NotEmpty(t, lokiz.ValidateCaption(strings.Repeat("a", 2201)))
	require.NotEmpty(t, lokiz.ValidateCaption("bell\a"))
	require.Empty(t, lokiz.ValidateTitle(strings.Repeat("제", 200)))
	require.NotEmpty(t, lokiz.ValidateTitle(strings.Repeat("제", 201)))
	require.NotEmpty(t, lokiz.ValidateTitle("two\nlines"))
}

func TestVideoReady(t *testing.T) {
	t.Parallel()
	for _, status := range lokiz.VideoStatuses {
		require.Equal(t, status == lokiz.VideoCompleted, lokiz.VideoReady(status, true), status)
		require.False(t, lokiz.VideoReady(status, false), "%s without its file", status)
	}
}

func TestJobNeedsSource(t *testing.T) {
	t.Parallel()
	want := map[string]bool{
		lokiz.JobI2VTemplate: false, lokiz.JobGlitchAnimate: true, lokiz.JobGlitchReplace: true,
		lokiz.JobStickerToReality: true, lokiz.JobMusic: false,
	}
	require.Len(t, want, len(lokiz.JobTypes), "every job type is listed")
	for _, jt := range lokiz.JobTypes {
		require.Equal(t, want[jt], lokiz.JobNeedsSource(jt), jt)
	}
}

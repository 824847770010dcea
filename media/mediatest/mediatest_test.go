package mediatest_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/media/mediatest"
)

func TestGenerateVideoRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts mediatest.VideoOptions
	}{
		{"UnknownCodec", mediatest.VideoOptions{Codec: "prores"}},
		{"UnknownContainer", mediatest.VideoOptions{Container: "avi"}},
		{"H264InWebM", mediatest.VideoOptions{Container: "webm"}},
		{"RotatedWebM", mediatest.VideoOptions{Container: "webm", Codec: "vp9", Rotation: 90}},
		{"OddRotation", mediatest.VideoOptions{Rotation: 45}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := mediatest.GenerateVideo(t.Context(), filepath.Join(t.TempDir(), "v"), tt.opts)
			require.Error(t, err)
		})
	}
}

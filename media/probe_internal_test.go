package media

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeRotation(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]int{0: 0, 90: 90, -90: 270, 270: 270, -180: 180, 180: 180, 450: 90, 89.9: 90, -270: 90} {
		require.Equal(t, want, normalizeRotation(in), "%v", in)
	}
}

func TestRotationOf(t *testing.T) {
	t.Parallel()
	ccw := func(v float64) []sideData { return []sideData{{SideDataType: "Display Matrix", Rotation: &v}} }
	// ffprobe 5+ gives the matrix angle counter-clockwise: a phone held
	// upright shows -90, which is 90 clockwise.
	require.Equal(t, 90, rotationOf(ccw(-90), ""))
	require.Equal(t, 270, rotationOf(ccw(90), ""))
	require.Equal(t, 180, rotationOf(ccw(180), ""))
	// Older ffprobe only has the clockwise "rotate" tag.
	require.Equal(t, 90, rotationOf(nil, "90"))
	require.Equal(t, 0, rotationOf(nil, ""))
	require.Equal(t, 0, rotationOf([]sideData{{SideDataType: "Stereo 3D"}}, ""))
}

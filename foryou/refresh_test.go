package foryou

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestRefreshReason: a ranking is due for a refresh when the signals
// changed after it was started, or when it is older than RefreshAfter; each
// reason is named after what it is about, so one claim covers it.
func TestRefreshReason(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ranked := now.Add(-time.Minute)
	snap := UserPrefix(uuid.New()) + strconv.FormatInt(ranked.UnixNano(), 36)
	nanos := func(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

	require.Empty(t, refreshReason(snap, "", now), "nothing changed, young ranking")
	require.Empty(t, refreshReason(snap, nanos(ranked.Add(-time.Second)), now), "the change is in the ranking")
	require.Empty(t, refreshReason(snap, "garbage", now), "an unreadable marker is no change")

	changed := nanos(ranked.Add(time.Second))
	require.Equal(t, "signals."+changed, refreshReason(snap, changed, now))
	later := nanos(ranked.Add(2 * time.Second))
	require.NotEqual(t, refreshReason(snap, changed, now), refreshReason(snap, later, now), "a new change is a new reason")

	old := now.Add(RefreshAfter + time.Second)
	stamp := strconv.FormatInt(ranked.UnixNano(), 36)
	require.Equal(t, "age."+stamp, refreshReason(snap, "", old))
	require.Equal(t, "age.x!", refreshReason("foryou.someone.x!", "", now), "an unreadable stamp is old")
}

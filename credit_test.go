package lokiz_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
)

func TestDailyClaimRules(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 25, 23, 59, 0, 0, time.UTC)
	require.Equal(t, "2026-11-25", lokiz.ClaimDay(at))
	require.Equal(t, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), lokiz.NextClaimAt(at), "a claim at 23:59 allows one at 00:00")
	seoul := time.FixedZone("KST", 9*3600)
	local := time.Date(2026, 11, 26, 8, 0, 0, 0, seoul) // 23:00 UTC on the 25th
	require.Equal(t, "2026-11-25", lokiz.ClaimDay(local), "days are UTC days")
	require.Equal(t, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), lokiz.NextClaimAt(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)))
	for _, p := range lokiz.CreditPackages {
		require.Positive(t, p.Credits)
		require.Positive(t, p.PriceCents)
	}
}

func TestJobTypesAreTheCostedTypes(t *testing.T) {
	t.Parallel()

	for _, typ := range lokiz.JobTypes {
		require.True(t, lokiz.ValidJobType(typ), typ)
		require.Positive(t, lokiz.JobBaseCost(typ), typ)
	}
	require.False(t, lokiz.ValidJobType("nope"))
	for _, st := range lokiz.JobStatuses {
		require.Equal(t, st != lokiz.JobPending && st != lokiz.JobProcessing, lokiz.JobTerminal(st), st)
	}
}

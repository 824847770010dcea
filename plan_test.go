package lokiz_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
)

func TestPlansAreTheTiers(t *testing.T) {
	t.Parallel()
	require.Len(t, lokiz.Plans, 4)
	for i, tier := range []string{lokiz.TierFree, lokiz.TierBasic, lokiz.TierPro, lokiz.TierEnterprise} {
		p := lokiz.Plans[i]
		require.Equal(t, tier, p.ID, "cheapest first")
		require.True(t, lokiz.ValidTier(tier))
		require.NotEmpty(t, p.Name)
		require.Positive(t, p.Studio.TemplateMaxSeconds)
		require.Positive(t, p.Studio.StickerMaxSeconds)
		require.Positive(t, p.Studio.MusicMaxSeconds)
		require.Contains(t, []string{"720p", "1080p"}, p.Studio.MaxResolution)
		if i == 0 {
			require.False(t, p.Paid(), "free is never sold")
			_, ok := p.Price(lokiz.CurrencyUSD)
			require.False(t, ok)
			continue
		}
		prev := lokiz.Plans[i-1]
		require.True(t, p.Paid())
		usd, ok := p.Price(lokiz.CurrencyUSD)
		require.True(t, ok)
		krw, ok := p.Price(lokiz.CurrencyKRW)
		require.True(t, ok)
		require.Equal(t, p.PriceCents, usd)
		require.Equal(t, p.PriceKRW, krw)
		require.Greater(t, usd, prev.PriceCents, "%s costs more than %s", p.ID, prev.ID)
		require.Greater(t, krw, prev.PriceKRW)
		require.GreaterOrEqual(t, p.DiscountPercent, prev.DiscountPercent, "a dearer plan never loses a perk")
		require.GreaterOrEqual(t, p.Studio.MusicMaxSeconds, prev.Studio.MusicMaxSeconds)
		require.True(t, !prev.PriorityQueue || p.PriorityQueue)
		require.True(t, !prev.APIAccess || p.APIAccess)
		require.True(t, p.MonthlyCredits > 0 || p.UnlimitedCredits, "%s grants credits", p.ID)
		_, ok = p.Price("eur")
		require.False(t, ok, "only the currencies of our providers")
	}
	require.False(t, lokiz.ValidTier("gold"))
	require.Equal(t, lokiz.TierFree, lokiz.TierPlan("gold").ID, "an unknown tier has the free plan's rules")
}

// The perks of the analysis (§5), and today's AI rules unchanged.
func TestTierPerks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		tier                 string
		ads, priority, api   bool
		discount             int32
		cost20, cost5, cost1 int32
		music                int
		resolution           string
	}{
		{lokiz.TierFree, true, false, false, 0, 20, 5, 1, 60, "720p"},
		{lokiz.TierBasic, false, false, false, 10, 18, 4, 1, 60, "720p"},
		{lokiz.TierPro, false, true, false, 20, 16, 4, 1, 120, "1080p"},
		{lokiz.TierEnterprise, false, true, true, 30, 14, 3, 1, 180, "1080p"},
		{"gold", true, false, false, 0, 20, 5, 1, 60, "720p"},
	}
	for _, c := range cases {
		require.Equal(t, c.ads, lokiz.ShowAds(c.tier), c.tier)
		require.Equal(t, c.priority, lokiz.PriorityTier(c.tier), c.tier)
		require.Equal(t, c.api, lokiz.APIAccess(c.tier), c.tier)
		require.Equal(t, c.discount, lokiz.TierDiscountPercent(c.tier), c.tier)
		require.Equal(t, c.cost20, lokiz.JobCost(20, c.tier), c.tier)
		require.Equal(t, c.cost5, lokiz.JobCost(5, c.tier), "%s: rounded in the user's favour", c.tier)
		require.Equal(t, c.cost1, lokiz.JobCost(1, c.tier), "%s: never free", c.tier)
		require.Zero(t, lokiz.JobCost(0, c.tier))
		require.Equal(t, c.music, lokiz.TierPlan(c.tier).Studio.MusicMaxSeconds)
		require.Equal(t, c.resolution, lokiz.TierPlan(c.tier).Studio.MaxResolution)
		require.Equal(t, 10, lokiz.TierPlan(c.tier).Studio.TemplateMaxSeconds, "the template model's longest")
	}
}

func TestActiveTier(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	require.Equal(t, lokiz.TierPro, lokiz.ActiveTier(lokiz.TierPro, &later, now))
	require.Equal(t, lokiz.TierPro, lokiz.ActiveTier(lokiz.TierPro, nil, now), "no expiry does not expire")
	require.Equal(t, lokiz.TierFree, lokiz.ActiveTier(lokiz.TierPro, &earlier, now))
	require.Equal(t, lokiz.TierFree, lokiz.ActiveTier(lokiz.TierPro, &now, now), "expired at the instant")
	require.Equal(t, lokiz.TierFree, lokiz.ActiveTier("gold", &later, now))
	require.Equal(t, lokiz.TierFree, lokiz.ActiveTier(lokiz.TierFree, &earlier, now))
}

func TestJobChargeUnlimitedUnderFairUse(t *testing.T) {
	t.Parallel()
	capacity := lokiz.TierPlan(lokiz.TierEnterprise).FairUseDailyCredits
	require.Positive(t, capacity)

	charge, free := lokiz.JobCharge(20, lokiz.TierEnterprise, 0)
	require.True(t, free)
	require.Zero(t, charge)
	charge, free = lokiz.JobCharge(20, lokiz.TierEnterprise, capacity-20)
	require.True(t, free, "a job that ends exactly at the cap is free")
	require.Zero(t, charge)
	charge, free = lokiz.JobCharge(20, lokiz.TierEnterprise, capacity-19)
	require.False(t, free, "beyond the cap a job is charged")
	require.Equal(t, lokiz.JobCost(20, lokiz.TierEnterprise), charge)

	for _, tier := range []string{lokiz.TierFree, lokiz.TierBasic, lokiz.TierPro} {
		charge, free := lokiz.JobCharge(20, tier, 0)
		require.False(t, free, tier)
		require.Equal(t, lokiz.JobCost(20, tier), charge, tier)
	}
	charge, free = lokiz.JobCharge(0, lokiz.TierEnterprise, 0)
	require.False(t, free)
	require.Zero(t, charge)
}

func TestPackagePrices(t *testing.T) {
	t.Parallel()
	for _, p := range lokiz.CreditPackages {
		got, ok := lokiz.PackageByID(p.ID)
		require.True(t, ok)
		require.Equal(t, p, got)
		usd, ok := p.Price(lokiz.CurrencyUSD)
		require.True(t, ok)
		require.Equal(t, p.PriceCents, usd)
		krw, ok := p.Price(lokiz.CurrencyKRW)
		require.True(t, ok)
		require.Equal(t, p.PriceKRW, krw)
		_, ok = p.Price("jpy")
		require.False(t, ok)
	}
	_, ok := lokiz.PackageByID("free_lunch")
	require.False(t, ok)
}

func TestResolutionAllowed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		res, max string
		want     bool
	}{
		{"720p", "720p", true}, {"1080p", "720p", false}, {"720p", "1080p", true}, {"1080p", "1080p", true},
		{"4k", "1080p", false}, {"", "1080p", false}, {"720p", "", false},
	} {
		if got := lokiz.ResolutionAllowed(c.res, c.max); got != c.want {
			t.Errorf("ResolutionAllowed(%q, %q) = %v, want %v", c.res, c.max, got, c.want)
		}
	}
	for _, p := range lokiz.Plans {
		if !lokiz.ResolutionAllowed(p.Studio.MaxResolution, p.Studio.MaxResolution) {
			t.Errorf("plan %s: MaxResolution %q is not one of Resolutions", p.ID, p.Studio.MaxResolution)
		}
	}
}

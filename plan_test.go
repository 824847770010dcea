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
	}{
		{lokiz.TierFree, true, false, false, 0, 20, 5, 1},
		{lokiz.TierBasic, false, false, false, 10, 18, 4, 1},
		{lokiz.TierPro, false, true, false, 20, 16, 4, 1},
		{lokiz.TierEnterprise, false, true, true, 30, 14, 3, 1},
		{"gold", true, false, false, 0, 20, 5, 1},
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
}

func TestTierLimitsValidate(t *testing.T) {
	t.Parallel()
	std := lokiz.StudioLimits{TemplateMaxSeconds: 10, StickerMaxSeconds: 10, MusicMaxSeconds: 60, MaxResolution: "720p"}
	wide := lokiz.StudioCeiling
	good := func() lokiz.TierLimits {
		return lokiz.TierLimits{lokiz.TierFree: std, lokiz.TierBasic: std, lokiz.TierPro: wide, lokiz.TierEnterprise: wide}
	}
	require.NoError(t, good().Validate())
	require.Equal(t, wide, good().For(lokiz.TierPro))
	require.Equal(t, std, good().For("gold"), "an unknown tier has free's limits")

	for name, c := range map[string]struct {
		change func(lokiz.TierLimits)
		want   string
	}{
		"missing tier":       {func(l lokiz.TierLimits) { delete(l, lokiz.TierBasic) }, "tier basic: missing"},
		"unknown tier":       {func(l lokiz.TierLimits) { l["gold"] = wide }, `unknown tier "gold"`},
		"zero seconds":       {func(l lokiz.TierLimits) { s := std; s.StickerMaxSeconds = 0; l[lokiz.TierFree] = s }, "sticker_max_seconds must be between 1 and 10"},
		"beyond ceiling":     {func(l lokiz.TierLimits) { s := wide; s.MusicMaxSeconds = 600; l[lokiz.TierEnterprise] = s }, "music_max_seconds must be between 1 and 180"},
		"template 30 s":      {func(l lokiz.TierLimits) { s := wide; s.TemplateMaxSeconds = 30; l[lokiz.TierEnterprise] = s }, "template_max_seconds"},
		"resolution":         {func(l lokiz.TierLimits) { s := wide; s.MaxResolution = "4k"; l[lokiz.TierPro] = s }, `max_resolution must be one of 720p, 1080p, not "4k"`},
		"dearer allows less": {func(l lokiz.TierLimits) { l[lokiz.TierEnterprise] = std }, "tier enterprise: allows less than a cheaper tier"},
	} {
		l := good()
		c.change(l)
		require.ErrorContains(t, l.Validate(), c.want, name)
	}
}

package lokiz

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Currencies of prices, ISO 4217 in lower case as the payment providers
// write them. USD is in cents (Stripe); KRW has no minor unit (Toss).
const (
	CurrencyUSD = "usd"
	CurrencyKRW = "krw"
)

// StudioLimits are the "advanced studio options" of a tier: how long and how
// sharp the AI jobs of its users may be. They are configuration of the AI
// catalog (replicate.LoadCatalogFile, AI_CATALOG_FILE: "tier_limits"), not
// of the plans; the api validates a job's request against its caller's.
type StudioLimits struct {
	// TemplateMaxSeconds is the longest template (image to video) job.
	TemplateMaxSeconds int `json:"template_max_seconds"`
	// StickerMaxSeconds is the longest segment a sticker-to-reality job
	// remakes.
	StickerMaxSeconds int `json:"sticker_max_seconds"`
	// MusicMaxSeconds is the longest music job.
	MusicMaxSeconds int `json:"music_max_seconds"`
	// MaxResolution is the highest output resolution ("720p", "1080p").
	MaxResolution string `json:"max_resolution"`
}

// StudioCeiling is the widest a tier's studio limits may be configured:
// the template model (Veo 3 Fast) and the sticker model make at most 10 s,
// the api takes music of at most 180 s, and 1080p is the template model's
// highest resolution.
var StudioCeiling = StudioLimits{TemplateMaxSeconds: 10, StickerMaxSeconds: 10, MusicMaxSeconds: 180, MaxResolution: "1080p"}

// TierLimits are the studio limits of each tier.
type TierLimits map[string]StudioLimits

// For is the limits of tier; an unknown tier has the free tier's.
func (l TierLimits) For(tier string) StudioLimits {
	if s, ok := l[tier]; ok {
		return s
	}
	return l[TierFree]
}

// Validate checks that every tier has limits, each between 1 and
// StudioCeiling with a known resolution, that no dearer tier allows less
// than a cheaper one, and that no unknown tier is named.
func (l TierLimits) Validate() error {
	var errs []error
	var prev *StudioLimits
	for _, p := range Plans {
		s, ok := l[p.ID]
		if !ok {
			errs = append(errs, fmt.Errorf("tier %s: missing", p.ID))
			prev = nil
			continue
		}
		for _, f := range []struct {
			name       string
			v, ceiling int
		}{
			{"template_max_seconds", s.TemplateMaxSeconds, StudioCeiling.TemplateMaxSeconds},
			{"sticker_max_seconds", s.StickerMaxSeconds, StudioCeiling.StickerMaxSeconds},
			{"music_max_seconds", s.MusicMaxSeconds, StudioCeiling.MusicMaxSeconds},
		} {
			if f.v < 1 || f.v > f.ceiling {
				errs = append(errs, fmt.Errorf("tier %s: %s must be between 1 and %d, not %d", p.ID, f.name, f.ceiling, f.v))
			}
		}
		if !ResolutionAllowed(s.MaxResolution, StudioCeiling.MaxResolution) {
			errs = append(errs, fmt.Errorf("tier %s: max_resolution must be one of %s, not %q", p.ID, strings.Join(Resolutions, ", "), s.MaxResolution))
		}
		if prev != nil && (s.TemplateMaxSeconds < prev.TemplateMaxSeconds || s.StickerMaxSeconds < prev.StickerMaxSeconds ||
			s.MusicMaxSeconds < prev.MusicMaxSeconds || !ResolutionAllowed(prev.MaxResolution, s.MaxResolution)) {
			errs = append(errs, fmt.Errorf("tier %s: allows less than a cheaper tier", p.ID))
		}
		prev = &s
	}
	for tier := range l {
		if !ValidTier(tier) {
			errs = append(errs, fmt.Errorf("unknown tier %q", tier))
		}
	}
	return errors.Join(errs...)
}

// Resolutions are the output resolutions a template video may ask for,
// lowest first; a job without one is made at the first.
var Resolutions = []string{"720p", "1080p"}

// ResolutionAllowed reports whether res is a known resolution no higher
// than max.
func ResolutionAllowed(res, max string) bool {
	r, m := slices.Index(Resolutions, res), slices.Index(Resolutions, max)
	return r >= 0 && m >= 0 && r <= m
}

// Plan is a subscription plan: what a tier costs each month and what it
// gives. The plans are configuration (the Plans table), read by every tier
// rule below; no rule names a tier.
type Plan struct {
	ID   string // the tier: TierFree, TierBasic, TierPro, TierEnterprise
	Name string
	// PriceCents is the monthly price in US cents (Stripe); PriceKRW in won
	// (Toss). Both are 0 for the free plan, which is never sold.
	PriceCents int64
	PriceKRW   int64
	// MonthlyCredits are granted once per paid period.
	MonthlyCredits int32
	// DiscountPercent is taken off the cost of AI jobs.
	DiscountPercent int32
	// PriorityQueue sends the tier's AI jobs to the priority queue.
	PriorityQueue bool
	// ShowAds is whether the clients show ads to the tier.
	ShowAds bool
	// APIAccess allows personal API keys.
	APIAccess bool
	// UnlimitedCredits makes AI jobs free of charge up to
	// FairUseDailyCredits of list price (base cost) a UTC day; beyond it they
	// are charged as usual, with the discount.
	UnlimitedCredits    bool
	FairUseDailyCredits int32
}

// Plans are the four plans, cheapest first (MISSING_API_ANALYSIS.md §5):
// free shows ads; basic removes them and discounts AI jobs; pro adds the
// priority queue and the advanced studio options (their limits are the AI
// catalog's, TierLimits); enterprise adds API access and unlimited credits
// under a fair-use cap. Free grants no monthly credits: its credits are the
// sign-up bonus and the daily claim.
var Plans = []Plan{
	{ID: TierFree, Name: "Free", ShowAds: true},
	{ID: TierBasic, Name: "Basic", PriceCents: 999, PriceKRW: 12900, MonthlyCredits: 500,
		DiscountPercent: 10},
	{ID: TierPro, Name: "Pro", PriceCents: 2999, PriceKRW: 39000, MonthlyCredits: 2000,
		DiscountPercent: 20, PriorityQueue: true},
	{ID: TierEnterprise, Name: "Enterprise", PriceCents: 9999, PriceKRW: 129000,
		DiscountPercent: 30, PriorityQueue: true, APIAccess: true,
		UnlimitedCredits: true, FairUseDailyCredits: 2000},
}

// PlanByID returns the plan of a tier; ok is false for an unknown one.
func PlanByID(id string) (Plan, bool) {
	for _, p := range Plans {
		if p.ID == id {
			return p, true
		}
	}
	return Plan{}, false
}

// TierPlan is the plan of tier, the free plan for an unknown tier.
func TierPlan(tier string) Plan {
	if p, ok := PlanByID(tier); ok {
		return p
	}
	return Plans[0]
}

// Paid reports whether the plan is sold (it has a price).
func (p Plan) Paid() bool { return p.PriceCents > 0 || p.PriceKRW > 0 }

// Price is the plan's monthly price in currency (minor units); ok is false
// for a currency the plan is not sold in, and for the free plan.
func (p Plan) Price(currency string) (amount int64, ok bool) {
	return price(p.PriceCents, p.PriceKRW, currency)
}

func price(cents, won int64, currency string) (int64, bool) {
	var amount int64
	switch currency {
	case CurrencyUSD:
		amount = cents
	case CurrencyKRW:
		amount = won
	}
	return amount, amount > 0
}

// ValidTier reports whether tier is a known subscription tier.
func ValidTier(tier string) bool { _, ok := PlanByID(tier); return ok }

// TierDiscountPercent is the AI credit discount of a tier (basic 10%, pro
// 20%, enterprise 30%).
func TierDiscountPercent(tier string) int32 { return TierPlan(tier).DiscountPercent }

// PriorityTier reports whether a tier's AI jobs go to the priority queue.
func PriorityTier(tier string) bool { return TierPlan(tier).PriorityQueue }

// ShowAds reports whether the clients show ads to a tier.
func ShowAds(tier string) bool { return TierPlan(tier).ShowAds }

// APIAccess reports whether a tier may use personal API keys.
func APIAccess(tier string) bool { return TierPlan(tier).APIAccess }

// JobCharge is what an AI job of base cost takes from the balance of a user
// of tier who has already run usedToday credits of list price (base cost)
// free of charge today under an unlimited plan: nothing while the job fits in
// the plan's fair-use cap (free is true), JobCost beyond it and for every
// other tier.
func JobCharge(base int32, tier string, usedToday int32) (charge int32, free bool) {
	p := TierPlan(tier)
	if base > 0 && p.UnlimitedCredits && usedToday+base <= p.FairUseDailyCredits {
		return 0, true
	}
	return JobCost(base, tier), false
}

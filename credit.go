package lokiz

import "time"

// Credit ledger transaction types (credit_transactions.transaction_type).
// Positive amounts add credits, negative amounts spend them.
const (
	CreditBonus        = "bonus"        // sign-up grant and other gifts
	CreditPurchase     = "purchase"     // paid package, once per payment
	CreditUsage        = "usage"        // an AI job was accepted
	CreditRefund       = "refund"       // an AI job failed or was canceled
	CreditDaily        = "daily"        // the daily claim
	CreditSubscription = "subscription" // the monthly grant of a paid tier
	CreditAdjustment   = "adjustment"   // an administrator's correction
)

// CreditTypes are the ledger transaction types.
var CreditTypes = []string{CreditBonus, CreditPurchase, CreditUsage, CreditRefund,
	CreditDaily, CreditSubscription, CreditAdjustment}

// DailyClaimCredits are granted by the daily claim, once per UTC day.
const DailyClaimCredits = 10

// CreditPackage is a purchasable bundle of credits.
type CreditPackage struct {
	ID      string
	Name    string
	Credits int32
	// PriceCents is the price in US cents (Stripe); PriceKRW in won (Toss).
	PriceCents int64
	PriceKRW   int64
}

// Price is the package's price in currency (minor units); ok is false for a
// currency it is not sold in.
func (p CreditPackage) Price(currency string) (amount int64, ok bool) {
	return price(p.PriceCents, p.PriceKRW, currency)
}

// PackageByID returns the package on sale with id; ok is false for an
// unknown one.
func PackageByID(id string) (CreditPackage, bool) {
	for _, p := range CreditPackages {
		if p.ID == id {
			return p, true
		}
	}
	return CreditPackage{}, false
}

// CreditPackages are the packages on sale (reference §3.3). The won prices
// are set for the Korean market, not converted at a rate.
var CreditPackages = []CreditPackage{
	{ID: "starter_100", Name: "Starter Pack", Credits: 100, PriceCents: 499, PriceKRW: 6500},
	{ID: "basic_500", Name: "Basic Pack", Credits: 500, PriceCents: 1999, PriceKRW: 26000},
	{ID: "pro_2000", Name: "Pro Pack", Credits: 2000, PriceCents: 6999, PriceKRW: 92000},
	{ID: "premium_5000", Name: "Premium Pack", Credits: 5000, PriceCents: 14999, PriceKRW: 199000},
}

// ClaimDay is the UTC calendar day a daily claim at t belongs to.
func ClaimDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// NextClaimAt is when the claim after one made at last becomes possible:
// the next 00:00 UTC.
func NextClaimAt(last time.Time) time.Time {
	y, m, d := last.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}

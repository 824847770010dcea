package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/billing"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/payments"
)

// planLimitsResponse are a tier's advanced studio options.
type planLimitsResponse struct {
	TemplateMaxSeconds int    `json:"template_max_seconds"`
	StickerMaxSeconds  int    `json:"sticker_max_seconds"`
	MusicMaxSeconds    int    `json:"music_max_seconds"`
	MaxResolution      string `json:"max_resolution"`
}

// planLimits are the tier's limits in the AI catalog's configuration.
func (s *Server) planLimits(tier string) planLimitsResponse {
	l := s.limits.For(tier)
	return planLimitsResponse{
		TemplateMaxSeconds: l.TemplateMaxSeconds, StickerMaxSeconds: l.StickerMaxSeconds,
		MusicMaxSeconds: l.MusicMaxSeconds, MaxResolution: l.MaxResolution,
	}
}

// planPriceResponse is a plan's monthly price in one currency, in its
// minor unit (US cents; won has none).
type planPriceResponse struct {
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
}

type planResponse struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Price is the monthly price in US dollars (0 for free); Prices lists
	// it per currency in minor units, with the provider that takes it.
	Price               float64             `json:"price"`
	Currency            string              `json:"currency"`
	Prices              []planPriceResponse `json:"prices"`
	MonthlyCredits      int32               `json:"monthly_credits"`
	DiscountPercent     int32               `json:"discount_percent"`
	PriorityQueue       bool                `json:"priority_queue"`
	ShowAds             bool                `json:"show_ads"`
	APIAccess           bool                `json:"api_access"`
	UnlimitedCredits    bool                `json:"unlimited_credits"`
	FairUseDailyCredits int32               `json:"fair_use_daily_credits"`
	Limits              planLimitsResponse  `json:"limits"`
}

func (s *Server) newPlanResponse(p lokiz.Plan) planResponse {
	prices := []planPriceResponse{}
	for _, cur := range []string{lokiz.CurrencyUSD, lokiz.CurrencyKRW} {
		if amount, ok := p.Price(cur); ok {
			prices = append(prices, planPriceResponse{Currency: cur, Amount: amount})
		}
	}
	return planResponse{
		ID: p.ID, Name: p.Name, Price: float64(p.PriceCents) / 100, Currency: "USD", Prices: prices,
		MonthlyCredits: p.MonthlyCredits, DiscountPercent: p.DiscountPercent, PriorityQueue: p.PriorityQueue,
		ShowAds: p.ShowAds, APIAccess: p.APIAccess, UnlimitedCredits: p.UnlimitedCredits,
		FairUseDailyCredits: p.FairUseDailyCredits, Limits: s.planLimits(p.ID),
	}
}

// subscriptionPlans lists the four plans, free included, cheapest first.
func (s *Server) subscriptionPlans(c *gin.Context) {
	out := make([]planResponse, len(lokiz.Plans))
	for i, p := range lokiz.Plans {
		out[i] = s.newPlanResponse(p)
	}
	c.JSON(http.StatusOK, gin.H{"plans": out})
}

type subscribeRequest struct {
	Plan     string `json:"plan"`
	Provider string `json:"provider"`
}

func (r *subscribeRequest) validate() []lokiz.FieldError {
	var out []lokiz.FieldError
	r.Plan = strings.ToLower(strings.TrimSpace(r.Plan))
	r.Provider = strings.ToLower(strings.TrimSpace(r.Provider))
	if r.Plan == "" {
		out = append(out, fieldErr("is required", "body", "plan"))
	}
	if r.Provider != payments.Stripe && r.Provider != payments.Toss && r.Provider != payments.Dev {
		out = append(out, fieldErr("must be one of: stripe, toss, dev", "body", "provider"))
	}
	return out
}

// subscribeResponse is what the client needs to pay: Stripe's hosted
// checkout, or what Toss's billing widget needs (then
// POST /v1/subscriptions/toss/billing).
type subscribeResponse struct {
	Plan        string  `json:"plan"`
	Provider    string  `json:"provider"`
	Amount      int64   `json:"amount"`
	Currency    string  `json:"currency"`
	OrderID     *string `json:"order_id,omitempty"`
	CheckoutURL string  `json:"checkout_url,omitempty"`
	CustomerKey string  `json:"customer_key,omitempty"`
	ClientKey   string  `json:"client_key,omitempty"`
}

// subscribe starts a subscription's payment; it never grants anything.
func (s *Server) subscribe(c *gin.Context) {
	var req subscribeRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	user, err := s.store.UserByID(ctx, mustUser(c).ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	svc := s.subs
	switch req.Provider {
	case payments.Stripe, payments.Dev:
		subscribe := func() (billing.StripeCheckout, error) { return svc.SubscribeStripe(ctx, user, req.Plan, "", "") }
		if req.Provider == payments.Dev {
			subscribe = func() (billing.StripeCheckout, error) { return svc.SubscribeDev(ctx, user, req.Plan) }
		}
		co, err := subscribe()
		if err != nil {
			s.writeError(c, err)
			return
		}
		id := co.Order.ID.String()
		c.JSON(http.StatusCreated, subscribeResponse{Plan: co.Order.ItemID, Provider: req.Provider, Amount: co.Order.Amount,
			Currency: co.Order.Currency, OrderID: &id, CheckoutURL: co.CheckoutURL})
	default:
		st, err := svc.SubscribeToss(ctx, user, req.Plan)
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.JSON(http.StatusCreated, subscribeResponse{Plan: st.Plan.ID, Provider: payments.Toss, Amount: st.Amount,
			Currency: lokiz.CurrencyKRW, CustomerKey: st.CustomerKey, ClientKey: st.ClientKey})
	}
}

// tossBillingRequest is what Toss's billing widget hands back (its own
// camelCase names).
type tossBillingRequest struct {
	AuthKey     string `json:"authKey"`
	CustomerKey string `json:"customerKey"`
	Plan        string `json:"plan"`
}

func (r *tossBillingRequest) validate() []lokiz.FieldError {
	var out []lokiz.FieldError
	r.Plan = strings.ToLower(strings.TrimSpace(r.Plan))
	for _, f := range []struct{ v, name string }{{r.AuthKey, "authKey"}, {r.CustomerKey, "customerKey"}, {r.Plan, "plan"}} {
		if strings.TrimSpace(f.v) == "" {
			out = append(out, fieldErr("is required", "body", f.name))
		}
	}
	return out
}

// tossBilling issues the billing key, charges the first period and starts
// the subscription with its monthly credits.
func (s *Server) tossBilling(c *gin.Context) {
	var req tossBillingRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	user, err := s.store.UserByID(ctx, mustUser(c).ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	sub, err := s.subs.StartTossBilling(ctx, user, req.Plan, req.AuthKey, req.CustomerKey)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if user, err = s.store.UserByID(ctx, user.ID); err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, s.newMySubscription(user, &sub, time.Now()))
}

// subscriptionResponse is a subscription as its owner sees it: never the
// billing key or the customer key.
type subscriptionResponse struct {
	ID                 string     `json:"id"`
	Plan               string     `json:"plan"`
	Provider           string     `json:"provider"`
	Status             string     `json:"status"`
	CurrentPeriodStart time.Time  `json:"current_period_start"`
	CurrentPeriodEnd   time.Time  `json:"current_period_end"`
	CancelAtPeriodEnd  bool       `json:"cancel_at_period_end"`
	CanceledAt         *time.Time `json:"canceled_at"`
	CreatedAt          time.Time  `json:"created_at"`
}

// mySubscriptionResponse is the caller's tier and subscription.
type mySubscriptionResponse struct {
	// Tier is the tier in force now: free without a subscription, and once
	// the paid period has ended.
	Tier                  string                `json:"tier"`
	SubscriptionExpiresAt *time.Time            `json:"subscription_expires_at"`
	Status                *string               `json:"status"`
	Provider              *string               `json:"provider"`
	CurrentPeriodEnd      *time.Time            `json:"current_period_end"`
	CancelAtPeriodEnd     bool                  `json:"cancel_at_period_end"`
	ShowAds               bool                  `json:"show_ads"`
	Plan                  planResponse          `json:"plan"`
	Subscription          *subscriptionResponse `json:"subscription"`
}

func (s *Server) newMySubscription(u db.User, sub *db.Subscription, now time.Time) mySubscriptionResponse {
	tier := lokiz.ActiveTier(u.SubscriptionTier, u.SubscriptionExpiresAt, now)
	plan := lokiz.TierPlan(tier)
	out := mySubscriptionResponse{Tier: tier, ShowAds: plan.ShowAds, Plan: s.newPlanResponse(plan)}
	if tier != lokiz.TierFree {
		out.SubscriptionExpiresAt = utc(u.SubscriptionExpiresAt)
	}
	if sub != nil {
		end := sub.CurrentPeriodEnd.UTC()
		out.Status, out.Provider, out.CurrentPeriodEnd = &sub.Status, &sub.Provider, &end
		out.CancelAtPeriodEnd = sub.CancelAtPeriodEnd
		out.Subscription = &subscriptionResponse{
			ID: sub.ID.String(), Plan: sub.Plan, Provider: sub.Provider, Status: sub.Status,
			CurrentPeriodStart: sub.CurrentPeriodStart.UTC(), CurrentPeriodEnd: end,
			CancelAtPeriodEnd: sub.CancelAtPeriodEnd, CanceledAt: utc(sub.CanceledAt), CreatedAt: sub.CreatedAt.UTC(),
		}
	}
	return out
}

func (s *Server) mySubscription(c *gin.Context) {
	ctx := c.Request.Context()
	user, err := s.store.UserByID(ctx, mustUser(c).ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var live *db.Subscription
	sub, err := s.store.SubscriptionLiveOfUser(ctx, user.ID)
	switch {
	case err == nil:
		live = &sub
	case !db.IsNotFound(err):
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.newMySubscription(user, live, time.Now()))
}

// cancelSubscription cancels the caller's subscription at its period's
// end; the tier stays until then. Nothing to cancel is 404.
func (s *Server) cancelSubscription(c *gin.Context) {
	ctx := c.Request.Context()
	me := mustUser(c).ID
	sub, err := s.subs.Cancel(ctx, me)
	if err != nil {
		s.writeError(c, err)
		return
	}
	user, err := s.store.UserByID(ctx, me)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.newMySubscription(user, &sub, time.Now()))
}

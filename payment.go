package lokiz

// Payment order statuses (payment_orders.status):
//
//	pending → paid → fulfilled
//	pending → failed | canceled
//	paid | fulfilled → refunded
//
// paid is "the provider has the money"; fulfilled is "what was bought is
// delivered" (a package's credits in the ledger, a plan's subscription
// started). failed and canceled are final; refunded is final but for its
// refunded amount, which a later partial refund may raise.
const (
	OrderPending   = "pending"
	OrderPaid      = "paid"
	OrderFulfilled = "fulfilled"
	OrderFailed    = "failed"
	OrderCanceled  = "canceled"
	OrderRefunded  = "refunded"
)

// OrderStatuses are the order statuses, in their order of life.
var OrderStatuses = []string{OrderPending, OrderPaid, OrderFulfilled, OrderFailed, OrderCanceled, OrderRefunded}

// Order kinds (payment_orders.kind).
const (
	OrderKindPackage = "package" // a credit package, paid once
	OrderKindPlan    = "plan"    // one paid period of a subscription plan: its first, or a Toss renewal
)

var orderMoves = map[string][]string{
	OrderPending:   {OrderPaid, OrderFailed, OrderCanceled},
	OrderPaid:      {OrderFulfilled, OrderRefunded},
	OrderFulfilled: {OrderRefunded},
}

// OrderCanMove reports whether an order in status from may move to status to.
// Staying in a status is not a move: callers treat a repeat as done.
func OrderCanMove(from, to string) bool {
	for _, s := range orderMoves[from] {
		if s == to {
			return true
		}
	}
	return false
}

// OrderSettled reports whether an order will not move again (refunded
// still records a larger refunded amount).
func OrderSettled(status string) bool {
	return status == OrderFailed || status == OrderCanceled || status == OrderRefunded
}

// Subscription statuses (subscriptions.status):
//
//	active → canceling (canceled at period end) → expired
//	canceling → active (resumed: the subscriber undid the cancellation at
//	             Stripe before the period ended, cancel_at_period_end false)
//	active → past_due (a renewal failed) → active (paid) | expired
//	active | past_due | canceling → expired (the period ended, not renewed;
//	             or ended at once: the account was erased, Stripe deleted it)
//	expired → active (a paid period arrives late: the money is honoured)
//
// The tier lasts until users.subscription_expires_at, the end of the last
// paid period, whatever the status: canceling and past_due keep it.
const (
	SubActive    = "active"
	SubCanceling = "canceling"
	SubPastDue   = "past_due"
	SubExpired   = "expired"
)

// SubStatuses are the subscription statuses.
var SubStatuses = []string{SubActive, SubCanceling, SubPastDue, SubExpired}

var subMoves = map[string][]string{
	SubActive:    {SubCanceling, SubPastDue, SubExpired},
	SubPastDue:   {SubActive, SubCanceling, SubExpired},
	SubCanceling: {SubActive, SubExpired},
	SubExpired:   {SubActive},
}

// SubCanMove reports whether a subscription in status from may move to to.
func SubCanMove(from, to string) bool {
	for _, s := range subMoves[from] {
		if s == to {
			return true
		}
	}
	return false
}

// SubLive reports whether a subscription in status still holds its user's
// tier (a user has at most one live subscription).
func SubLive(status string) bool {
	return status == SubActive || status == SubCanceling || status == SubPastDue
}

// SubRenews reports whether a subscription in status is charged again at
// the end of its period (our scheduler charges Toss subscriptions).
func SubRenews(status string) bool { return status == SubActive || status == SubPastDue }

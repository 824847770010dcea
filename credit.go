package lokiz

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

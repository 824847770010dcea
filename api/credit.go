package api

import (
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

type creditPackageResponse struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Credits        int32   `json:"credits"`
	Price          float64 `json:"price"`
	Currency       string  `json:"currency"`
	PricePerCredit float64 `json:"price_per_credit"`
}

func (s *Server) creditPackages(c *gin.Context) {
	out := make([]creditPackageResponse, len(lokiz.CreditPackages))
	for i, p := range lokiz.CreditPackages {
		price := float64(p.PriceCents) / 100
		out[i] = creditPackageResponse{ID: p.ID, Name: p.Name, Credits: p.Credits, Price: price, Currency: "USD",
			PricePerCredit: math.Round(price/float64(p.Credits)*10000) / 10000}
	}
	c.JSON(http.StatusOK, gin.H{"packages": out})
}

type balanceResponse struct {
	Balance     int32 `json:"balance"`
	TotalEarned int64 `json:"total_earned"`
	TotalSpent  int64 `json:"total_spent"`
	// DailyFreeCredits is what the daily claim grants and
	// DailyFreeCreditsClaimedAt when the caller last claimed it (the
	// frontend's names; daily-status says whether it is open).
	DailyFreeCredits          int        `json:"daily_free_credits"`
	DailyFreeCreditsClaimedAt *time.Time `json:"daily_free_credits_claimed_at"`
}

// creditBalance answers the balance and the ledger's totals; the balance
// always equals the ledger's sum (DESIGN.md §3.5).
func (s *Server) creditBalance(c *gin.Context) {
	ctx := c.Request.Context()
	me := mustUser(c).ID
	u, err := s.store.UserByID(ctx, me)
	if err != nil {
		s.writeError(c, err)
		return
	}
	t, err := s.store.CreditTotals(ctx, me)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, balanceResponse{Balance: u.Credits, TotalEarned: t.TotalEarned, TotalSpent: t.TotalSpent,
		DailyFreeCredits: lokiz.DailyClaimCredits, DailyFreeCreditsClaimedAt: utc(u.LastDailyCreditClaim)})
}

type creditTransactionResponse struct {
	ID              uuid.UUID `json:"id"`
	TransactionType string    `json:"transaction_type"`
	Credits         int32     `json:"credits"`
	BalanceAfter    int32     `json:"balance_after"`
	Description     string    `json:"description"`
	CreatedAt       time.Time `json:"created_at"`
}

// creditHistoryItem is a ledger row under the frontend's names: the amount
// without its sign, and type earn (credits came in) or spend.
type creditHistoryItem struct {
	ID          uuid.UUID `json:"id"`
	Amount      int32     `json:"amount"`
	Type        string    `json:"type"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
}

func historyItem(t creditTransactionResponse) creditHistoryItem {
	item := creditHistoryItem{ID: t.ID, Amount: t.Credits, Type: "earn", Description: t.Description, CreatedAt: t.CreatedAt}
	if t.Credits < 0 {
		item.Amount, item.Type = -t.Credits, "spend"
	}
	return item
}

// creditHistory pages the caller's ledger, newest first, optionally of one type.
func (s *Server) creditHistory(c *gin.Context) {
	ctx := c.Request.Context()
	page, size, err := offsetPage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	typ, err := creditTypeParam(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rows, err := s.store.CreditHistory(ctx, db.CreditHistoryParams{UserID: mustUser(c).ID, TransactionType: typ,
		Lim: int32(size), Off: int32((page - 1) * size)})
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]creditTransactionResponse, len(rows))
	history := make([]creditHistoryItem, len(rows))
	var total int64
	for i, r := range rows {
		total = r.Total
		out[i] = creditTransactionResponse{ID: r.ID, TransactionType: r.TransactionType, Credits: r.Credits,
			BalanceAfter: r.BalanceAfter, Description: r.Description, CreatedAt: r.CreatedAt.UTC()}
		history[i] = historyItem(out[i])
	}
	c.JSON(http.StatusOK, gin.H{"transactions": out, "history": history, "total": total, "page": page, "page_size": size,
		"has_more": int64((page-1)*size+len(rows)) < total})
}

type dailyStatusResponse struct {
	CanClaim      bool       `json:"can_claim"`
	Amount        int        `json:"amount"`
	NextClaimAt   *time.Time `json:"next_claim_at"`
	LastClaimedAt *time.Time `json:"last_claimed_at"`
}

// dailyStatus says whether today's claim is open; next_claim_at is null
// when it is (B-26: the original answered "now").
func (s *Server) dailyStatus(c *gin.Context) {
	u, err := s.store.UserByID(c.Request.Context(), mustUser(c).ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := dailyStatusResponse{CanClaim: true, Amount: lokiz.DailyClaimCredits, LastClaimedAt: utc(u.LastDailyCreditClaim)}
	if last := u.LastDailyCreditClaim; last != nil {
		if next := lokiz.NextClaimAt(*last); time.Now().Before(next) {
			out.CanClaim, out.NextClaimAt = false, &next
		}
	}
	c.JSON(http.StatusOK, out)
}

type dailyClaimResponse struct {
	Claimed     bool      `json:"claimed"`
	Amount      int       `json:"amount"`
	NewBalance  int32     `json:"new_balance"`
	NextClaimAt time.Time `json:"next_claim_at"`
	// Balance and ClaimedAmount are the frontend's names for NewBalance
	// and Amount.
	Balance       int32 `json:"balance"`
	ClaimedAmount int   `json:"claimed_amount"`
}

// dailyClaim grants 10 credits once per UTC day, exactly once under
// concurrent claims; a second claim the same day is 409.
func (s *Server) dailyClaim(c *gin.Context) {
	now := time.Now()
	tx, applied, err := s.store.ClaimDaily(c.Request.Context(), mustUser(c).ID, now)
	if err != nil {
		s.writeError(c, err)
		return
	}
	next := lokiz.NextClaimAt(now)
	if !applied {
		s.writeError(c, &lokiz.Error{Code: lokiz.ECONFLICT, Reason: "already_claimed",
			Message: "Daily credits already claimed today; the next claim opens at " + next.Format(time.RFC3339)})
		return
	}
	c.JSON(http.StatusOK, dailyClaimResponse{Claimed: true, Amount: lokiz.DailyClaimCredits, NewBalance: tx.BalanceAfter, NextClaimAt: next,
		Balance: tx.BalanceAfter, ClaimedAmount: lokiz.DailyClaimCredits})
}

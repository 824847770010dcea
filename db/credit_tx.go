package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
)

// CreditChange is one change to a user's balance. IdempotencyKey makes the
// change happen at most once however often it is applied ("signup:<user>",
// "job:<id>:usage", "payment:<id>").
type CreditChange struct {
	UserID         uuid.UUID
	Type           string // lokiz.Credit*
	Delta          int32  // positive adds, negative spends
	Description    string
	ExtraData      json.RawMessage
	IdempotencyKey string
}

// CreditsApply applies c in its own transaction. When a change with the same
// idempotency key already exists (before or concurrently), it changes nothing
// and returns the existing row with applied=false. A spend larger than the
// balance returns insufficient_credits.
func (s *Store) CreditsApply(ctx context.Context, c CreditChange) (tx CreditTransaction, applied bool, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		var txErr error
		tx, applied, txErr = applyCredits(ctx, q, c)
		return txErr
	})
	if name, ok := IsUniqueViolation(err); ok && name == "credit_transactions_idempotency_key" {
		// A concurrent transaction with the same key won; ours rolled back whole.
		tx, err = s.CreditTransactionGetByKey(ctx, c.IdempotencyKey)
		return tx, false, translate(err, "credit transaction")
	}
	return tx, applied, err
}

// applyCredits is the ledger rule inside a caller's transaction: the balance
// update and its ledger row commit or roll back together. The UPDATE takes
// the user's row lock, so concurrent changes to one balance serialize.
func applyCredits(ctx context.Context, q *Queries, c CreditChange) (CreditTransaction, bool, error) {
	if c.Delta == 0 {
		return CreditTransaction{}, false, errors.New("apply credits: zero delta")
	}
	existing, err := q.CreditTransactionGetByKey(ctx, c.IdempotencyKey)
	if err == nil {
		return existing, false, nil
	} else if !IsNotFound(err) {
		return CreditTransaction{}, false, fmt.Errorf("look up credit idempotency key: %w", err)
	}
	balance, err := q.UserAddCredits(ctx, UserAddCreditsParams{ID: c.UserID, Delta: c.Delta})
	if name, ok := IsCheckViolation(err); ok && name == "users_credits_check" {
		return CreditTransaction{}, false, lokiz.Errorf(lokiz.EINSUFFICIENTCREDITS, "not enough credits: this needs %d", -c.Delta)
	} else if err != nil {
		return CreditTransaction{}, false, translate(err, "user")
	}
	tx, err := q.CreditTransactionCreate(ctx, CreditTransactionCreateParams{
		ID:              NewID(),
		UserID:          c.UserID,
		TransactionType: c.Type,
		Credits:         c.Delta,
		BalanceAfter:    balance,
		Description:     c.Description,
		ExtraData:       c.ExtraData,
		IdempotencyKey:  c.IdempotencyKey,
	})
	if err != nil {
		return CreditTransaction{}, false, fmt.Errorf("insert credit transaction: %w", err)
	}
	return tx, true, nil
}

// ClaimDaily grants the daily credits once per UTC day: the idempotency key
// carries the day, so concurrent claims apply once and a repeat the same day
// returns applied=false.
func (s *Store) ClaimDaily(ctx context.Context, userID uuid.UUID, now time.Time) (tx CreditTransaction, applied bool, err error) {
	day := lokiz.ClaimDay(now)
	err = s.InTx(ctx, func(q *Queries) error {
		var txErr error
		tx, applied, txErr = applyCredits(ctx, q, CreditChange{
			UserID: userID, Type: lokiz.CreditDaily, Delta: lokiz.DailyClaimCredits,
			Description:    "Daily free credits",
			ExtraData:      json.RawMessage(`{"claim_type":"daily","day":"` + day + `"}`),
			IdempotencyKey: "daily:" + userID.String() + ":" + day,
		})
		if txErr != nil || !applied {
			return txErr
		}
		return q.UserSetDailyClaim(ctx, UserSetDailyClaimParams{ID: userID, ClaimedAt: &now})
	})
	if name, ok := IsUniqueViolation(err); ok && name == "credit_transactions_idempotency_key" {
		tx, err = s.CreditTransactionGetByKey(ctx, "daily:"+userID.String()+":"+day)
		return tx, false, translate(err, "credit transaction")
	}
	return tx, applied, err
}

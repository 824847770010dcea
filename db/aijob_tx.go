package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
)

// CreateAIJob takes the job's credits and inserts it pending, in one
// transaction: a job exists exactly when its usage row does. A balance too
// small for p.CreditsUsed is insufficient_credits, with the required and the
// available credits in its message (the balance the transaction saw), and
// leaves nothing behind; concurrent creates by one user serialize on the
// user's row, so the balance never goes negative.
func (s *Store) CreateAIJob(ctx context.Context, p AIJobCreateParams) (AIJob, error) {
	var job AIJob
	err := s.InTx(ctx, func(q *Queries) error {
		var err error
		job, err = createAIJob(ctx, q, p)
		return err
	})
	return job, err
}

// JobPricing prices a job for its user's tier inside CreateAIJobPriced.
type JobPricing struct {
	Base int32  // the list price (lokiz.JobBaseCost or the preset's cost)
	Tier string // the tier in force now (lokiz.ActiveTier)
	// DayStart is the start of the current UTC day, the fair-use window.
	DayStart time.Time
}

// CreateAIJobPriced is CreateAIJob with the charge computed in the same
// transaction, under the user's row lock, by lokiz.JobCharge: an unlimited
// plan's job is free while the list price of the jobs it ran free today
// (failed and canceled ones left out) plus this one fits in the plan's
// fair-use cap, and charged as usual beyond it. Holding the lock while
// counting makes concurrent jobs of one user see each other, so the cap is
// never overrun. p.CreditsUsed is replaced; p.InputData must carry
// list_price (lokiz.AIJobInput.ListPrice) for the job to count.
func (s *Store) CreateAIJobPriced(ctx context.Context, p AIJobCreateParams, pr JobPricing) (AIJob, error) {
	var job AIJob
	err := s.InTx(ctx, func(q *Queries) error {
		if _, err := q.UserCreditsForUpdate(ctx, p.UserID); err != nil {
			return translate(err, "user")
		}
		var used int32
		if lokiz.TierPlan(pr.Tier).UnlimitedCredits {
			var err error
			if used, err = q.AIJobsPlanFreeListPrice(ctx, AIJobsPlanFreeListPriceParams{UserID: p.UserID, Since: pr.DayStart}); err != nil {
				return err
			}
		}
		p.CreditsUsed, _ = lokiz.JobCharge(pr.Base, pr.Tier, used)
		var err error
		job, err = createAIJob(ctx, q, p)
		return err
	})
	return job, err
}

// createAIJob takes p's credits and stores the job, inside a transaction.
func createAIJob(ctx context.Context, q *Queries, p AIJobCreateParams) (AIJob, error) {
	if p.CreditsUsed > 0 {
		// The row stays locked to the commit: the spend below sees
		// this balance.
		balance, err := q.UserCreditsForUpdate(ctx, p.UserID)
		if err != nil {
			return AIJob{}, translate(err, "user")
		}
		if balance < p.CreditsUsed {
			return AIJob{}, lokiz.Errorf(lokiz.EINSUFFICIENTCREDITS, "Insufficient credits. Required: %d, Available: %d", p.CreditsUsed, balance)
		}
		extra, _ := json.Marshal(map[string]any{"job_id": p.ID, "job_type": p.JobType}) // cannot fail
		if _, _, err := applyCredits(ctx, q, CreditChange{
			UserID: p.UserID, Type: lokiz.CreditUsage, Delta: -p.CreditsUsed,
			Description:    "AI " + lokiz.JobTypeLabel(p.JobType),
			ExtraData:      extra,
			IdempotencyKey: "job:" + p.ID.String() + ":usage",
		}); err != nil {
			return AIJob{}, err
		}
	}
	return q.AIJobCreate(ctx, p)
}

// AIJobEnding ends an open job as failed or canceled.
type AIJobEnding struct {
	ID               uuid.UUID
	Status           string // lokiz.JobFailed or lokiz.JobCanceled
	ErrorMessage     string // shown to the user
	Reason           string // for operators: who or what ended it
	PredictionStatus string // the prediction's last status, when known
	CanceledByUser   bool
}

// EndAIJob ends the job if it is still open and, in the same transaction,
// refunds its credits (idempotency key "job:<id>:refund"). ended is false,
// and nothing changes, when the job had already reached a terminal state:
// so of a completion, a failure and a cancel racing, exactly one wins, and
// the refund exists exactly when the job ended failed or canceled.
func (s *Store) EndAIJob(ctx context.Context, e AIJobEnding) (job AIJob, ended bool, err error) {
	job, ended, _, err = s.EndAIJobNotifying(ctx, e, nil)
	return job, ended, err
}

// EndAIJobNotifying is EndAIJob that, when it ends the job and message is
// not nil, also owes the job's owner an ai_job notification whose text is
// message(the ended job), in the same transaction (its outbox row,
// migration 00032): the caller enqueues the delivery of notify after the
// commit.
func (s *Store) EndAIJobNotifying(ctx context.Context, e AIJobEnding, message func(AIJob) string) (job AIJob, ended bool, notify []NotificationOutbox, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		var err error
		notify = nil
		job, err = q.AIJobEnd(ctx, AIJobEndParams{
			ID: e.ID, Status: e.Status, ErrorMessage: nonEmpty(e.ErrorMessage), EndedReason: nonEmpty(e.Reason),
			PredictionStatus: nonEmpty(e.PredictionStatus), CanceledByUser: e.CanceledByUser,
		})
		if IsNotFound(err) {
			return nil
		} else if err != nil {
			return fmt.Errorf("end ai job: %w", err)
		}
		ended = true
		if message != nil {
			msg := message(job)
			if notify, err = appendOutbox(ctx, q, notify, NewNotification{
				Type: NotificationAIJob, RecipientID: job.UserID, AIJobID: &job.ID, Message: &msg,
			}); err != nil {
				return err
			}
		}
		if job.CreditsUsed == 0 {
			return nil
		}
		extra, _ := json.Marshal(map[string]any{"job_id": job.ID, "job_type": job.JobType, "status": e.Status}) // cannot fail
		_, _, err = applyCredits(ctx, q, CreditChange{
			UserID: job.UserID, Type: lokiz.CreditRefund, Delta: job.CreditsUsed,
			Description:    "Refund: AI " + lokiz.JobTypeLabel(job.JobType) + " " + e.Status,
			ExtraData:      extra,
			IdempotencyKey: "job:" + job.ID.String() + ":refund",
		})
		return err
	})
	if err != nil {
		return AIJob{}, false, nil, err
	}
	if !ended {
		job, err = s.AIJobGet(ctx, e.ID)
		return job, false, nil, translate(err, "AI job")
	}
	return job, true, notify, nil
}

// AIJobCompletion completes a processing job.
type AIJobCompletion struct {
	ID         uuid.UUID
	OutputData json.RawMessage
	OutputKey  string
	// VideoID is the result video (video jobs); with SourceVideoID and
	// GlitchType set, the glitch edge is recorded, once. The source's
	// glitch_count follows from the edge and the result's visibility (the
	// counts triggers of 00019_true_counts.sql): a private result counts
	// nothing until it is published.
	VideoID       *uuid.UUID
	SourceVideoID *uuid.UUID
	GlitchType    *string
	// Notify, when not "", is the message of the ai_job notification the
	// completion owes the job's owner; with it, a glitch (SourceVideoID and
	// GlitchType set) of someone else's live video also owes that video's
	// owner a glitch notification. Both are outbox rows written with the
	// completion (migration 00032). "" owes nothing.
	Notify string
}

// CompleteAIJob marks the job completed and records its glitch edge in one
// transaction, with the outbox rows of the notifications it owes (see
// AIJobCompletion.Notify): the caller enqueues their delivery after the
// commit. completed is false, and nothing changes, when the job was no
// longer processing (canceled or failed meanwhile).
func (s *Store) CompleteAIJob(ctx context.Context, c AIJobCompletion) (completed bool, notify []NotificationOutbox, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		completed, notify = false, nil
		n, err := q.AIJobComplete(ctx, AIJobCompleteParams{
			ID: c.ID, OutputData: c.OutputData, OutputKey: nonEmpty(c.OutputKey), VideoID: c.VideoID,
		})
		if err != nil || n == 0 {
			return err
		}
		completed = true
		if c.VideoID != nil && c.SourceVideoID != nil && c.GlitchType != nil {
			if _, err := q.GlitchEdgeCreate(ctx, GlitchEdgeCreateParams{
				ID: NewID(), OriginalVideoID: *c.SourceVideoID, GlitchVideoID: *c.VideoID, GlitchType: *c.GlitchType,
			}); err != nil {
				return err
			}
		}
		if c.Notify == "" {
			return nil
		}
		job, err := q.AIJobGet(ctx, c.ID)
		if err != nil {
			return err
		}
		if notify, err = appendOutbox(ctx, q, notify, NewNotification{
			Type: NotificationAIJob, RecipientID: job.UserID, AIJobID: &job.ID, Message: &c.Notify,
		}); err != nil {
			return err
		}
		if c.SourceVideoID == nil || c.GlitchType == nil {
			return nil
		}
		src, err := q.VideoGetByID(ctx, *c.SourceVideoID)
		if IsNotFound(err) || (err == nil && src.DeletedAt != nil) {
			return nil // the source is gone: nobody to tell
		} else if err != nil {
			return err
		}
		// appendOutbox owes nothing for glitching your own video.
		notify, err = appendOutbox(ctx, q, notify, NewNotification{
			Type: NotificationGlitch, RecipientID: src.UserID, ActorID: &job.UserID, VideoID: &src.ID, AIJobID: &job.ID,
		})
		return err
	})
	if err != nil {
		return false, nil, err
	}
	return completed, notify, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

package studio_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/studio"
	"github.com/lokiz/lokiz/tasks"
)

// subscribe gives b.me a Stripe subscription to tier for the period
// [start, end), its monthly credits included.
func subscribe(t *testing.T, b *testBundle, tier string, start, end time.Time) {
	t.Helper()
	_, _, err := b.store.StartSubscription(context.Background(), db.NewSubscription{
		UserID: b.me.ID, Plan: tier, Provider: "stripe", ProviderSubscriptionID: "sub_" + b.me.ID.String(),
		Period: db.Period{Start: start, End: end}})
	require.NoError(t, err)
}

func setTier(t *testing.T, b *testBundle, tier string) {
	t.Helper()
	subscribe(t, b, tier, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

func musicOf(b *testBundle, seconds float64) studio.AIJobRequest {
	return studio.AIJobRequest{UserID: b.me.ID, JobType: lokiz.JobMusic, Prompt: new(string), Duration: &seconds}
}

func TestStudio_PlanLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("FreeIsRefusedLongMusic", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		before := credits(t, b, b.me.ID)
		_, err := b.studio.AcceptAIJob(ctx, musicOf(b, 90))
		require.Equal(t, lokiz.EFORBIDDEN, lokiz.ErrorCode(err))
		require.Contains(t, lokiz.ErrorMessage(err), "at most 60 seconds")
		require.Equal(t, before, credits(t, b, b.me.ID), "nothing charged")
		_, err = b.studio.AcceptAIJob(ctx, musicOf(b, 60))
		require.NoError(t, err)
	})

	t.Run("ProGetsLongerMusic", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		setTier(t, b, lokiz.TierPro)
		job, err := b.studio.AcceptAIJob(ctx, musicOf(b, 120))
		require.NoError(t, err)
		require.Equal(t, lokiz.JobCost(5, lokiz.TierPro), job.CreditsUsed)
		require.Equal(t, tasks.QueueAIPriority, job.Queue)
		_, err = b.studio.AcceptAIJob(ctx, musicOf(b, 121))
		require.Equal(t, lokiz.EFORBIDDEN, lokiz.ErrorCode(err))
	})

	// template is a template video of the caller's own frame at res ("" for
	// the default).
	template := func(t *testing.T, b *testBundle, res string) studio.AIJobRequest {
		own := dbtest.Video(t, b.store, dbtest.VideoOpts{Owner: b.me.ID})
		prompt, secs := "a dancing cat", 5.0
		return studio.AIJobRequest{UserID: b.me.ID, JobType: lokiz.JobI2VTemplate, Template: "dance", Prompt: &prompt,
			Duration: &secs, ImageRef: frame(t, b, own.ID), Resolution: res}
	}
	resolutionOf := func(t *testing.T, j db.AIJob) string {
		var in lokiz.AIJobInput
		require.NoError(t, json.Unmarshal(j.InputData, &in))
		return in.Resolution
	}

	t.Run("FreeMakesTemplatesAt720p", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		before := credits(t, b, b.me.ID)
		_, err := b.studio.AcceptAIJob(ctx, template(t, b, "1080p"))
		require.Equal(t, lokiz.EFORBIDDEN, lokiz.ErrorCode(err))
		require.Contains(t, lokiz.ErrorMessage(err), "up to 720p")
		require.Equal(t, before, credits(t, b, b.me.ID), "nothing charged")
		job, err := b.studio.AcceptAIJob(ctx, template(t, b, ""))
		require.NoError(t, err)
		require.Equal(t, "720p", resolutionOf(t, job), "the default is recorded on the job")
	})

	t.Run("ProGets1080p", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		setTier(t, b, lokiz.TierPro)
		job, err := b.studio.AcceptAIJob(ctx, template(t, b, "1080p"))
		require.NoError(t, err)
		require.Equal(t, "1080p", resolutionOf(t, job))
	})

	t.Run("ExpiredTierIsFree", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		subscribe(t, b, lokiz.TierPro, time.Now().AddDate(0, -1, 0), time.Now().Add(-time.Minute))
		_, err := b.studio.AcceptAIJob(ctx, musicOf(b, 120))
		require.Equal(t, lokiz.EFORBIDDEN, lokiz.ErrorCode(err))
	})
}

func TestStudio_EnterpriseFairUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	setTier(t, b, lokiz.TierEnterprise)
	fairUse := lokiz.TierPlan(lokiz.TierEnterprise).FairUseDailyCredits
	before := credits(t, b, b.me.ID)

	// Under the cap: no charge, the list price recorded on the job.
	job, err := b.studio.AcceptAIJob(ctx, musicOf(b, 30))
	require.NoError(t, err)
	require.Zero(t, job.CreditsUsed)
	var in lokiz.AIJobInput
	require.NoError(t, json.Unmarshal(job.InputData, &in))
	require.EqualValues(t, 5, in.ListPrice)
	require.Equal(t, before, credits(t, b, b.me.ID))

	// Most of today's cap used already by free jobs (5 + 1975): 20 left,
	// room for four music jobs of 5. Ten at once: four free, six charged.
	filler, _ := json.Marshal(lokiz.AIJobInput{ListPrice: fairUse - 25})
	_, err = b.store.CreateAIJob(ctx, db.AIJobCreateParams{ID: db.NewID(), UserID: b.me.ID, JobType: lokiz.JobMusic,
		InputData: filler, Queue: tasks.QueueAIPriority})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var free, charged int
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			job, err := b.studio.AcceptAIJob(ctx, musicOf(b, 30))
			require.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			if job.CreditsUsed == 0 {
				free++
			} else {
				require.Equal(t, lokiz.JobCost(5, lokiz.TierEnterprise), job.CreditsUsed, "beyond the cap: the usual price")
				charged++
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 4, free)
	require.Equal(t, 6, charged)
	require.Equal(t, before-6*lokiz.JobCost(5, lokiz.TierEnterprise), credits(t, b, b.me.ID))
	bad, err := b.store.CreditLedgerMismatches(ctx)
	require.NoError(t, err)
	require.Empty(t, bad)
}

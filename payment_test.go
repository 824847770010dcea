package lokiz_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
)

func TestOrderMoves(t *testing.T) {
	t.Parallel()
	allowed := map[[2]string]bool{
		{lokiz.OrderPending, lokiz.OrderPaid}:       true,
		{lokiz.OrderPending, lokiz.OrderFailed}:     true,
		{lokiz.OrderPending, lokiz.OrderCanceled}:   true,
		{lokiz.OrderPaid, lokiz.OrderFulfilled}:     true,
		{lokiz.OrderPaid, lokiz.OrderRefunded}:      true,
		{lokiz.OrderFulfilled, lokiz.OrderRefunded}: true,
	}
	// Every pair of statuses, and an unknown one: exactly the table moves.
	statuses := append(append([]string{}, lokiz.OrderStatuses...), "lost")
	for _, from := range statuses {
		for _, to := range statuses {
			require.Equal(t, allowed[[2]string{from, to}], lokiz.OrderCanMove(from, to), "%s → %s", from, to)
		}
	}
	for _, s := range lokiz.OrderStatuses {
		settled := s == lokiz.OrderFailed || s == lokiz.OrderCanceled || s == lokiz.OrderRefunded
		require.Equal(t, settled, lokiz.OrderSettled(s), s)
		if settled {
			for _, to := range lokiz.OrderStatuses {
				require.False(t, lokiz.OrderCanMove(s, to), "%s is final", s)
			}
		}
	}
}

func TestSubscriptionMoves(t *testing.T) {
	t.Parallel()
	allowed := map[[2]string]bool{
		{lokiz.SubActive, lokiz.SubCanceling}:  true,
		{lokiz.SubActive, lokiz.SubPastDue}:    true,
		{lokiz.SubActive, lokiz.SubExpired}:    true,
		{lokiz.SubPastDue, lokiz.SubActive}:    true,
		{lokiz.SubPastDue, lokiz.SubCanceling}: true,
		{lokiz.SubPastDue, lokiz.SubExpired}:   true,
		{lokiz.SubCanceling, lokiz.SubExpired}: true,
		{lokiz.SubCanceling, lokiz.SubActive}:  true,
		{lokiz.SubExpired, lokiz.SubActive}:    true,
	}
	statuses := append(append([]string{}, lokiz.SubStatuses...), "paused")
	for _, from := range statuses {
		for _, to := range statuses {
			require.Equal(t, allowed[[2]string{from, to}], lokiz.SubCanMove(from, to), "%s → %s", from, to)
		}
	}
	require.True(t, lokiz.SubLive(lokiz.SubActive))
	require.True(t, lokiz.SubLive(lokiz.SubCanceling), "a canceled subscription keeps the tier to its period's end")
	require.True(t, lokiz.SubLive(lokiz.SubPastDue))
	require.False(t, lokiz.SubLive(lokiz.SubExpired))
	require.False(t, lokiz.SubLive("paused"))
	require.True(t, lokiz.SubRenews(lokiz.SubActive))
	require.True(t, lokiz.SubRenews(lokiz.SubPastDue))
	require.False(t, lokiz.SubRenews(lokiz.SubCanceling))
	require.False(t, lokiz.SubRenews(lokiz.SubExpired))
}

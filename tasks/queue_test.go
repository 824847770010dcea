package tasks_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/tasks"
)

func TestQueueWeights(t *testing.T) {
	t.Parallel()

	w := tasks.QueueWeights()
	require.Equal(t, map[string]int{
		"critical": 6, "ai_priority": 5, "ai": 3, "media": 3, "default": 2, "email": 2, "low": 1,
	}, w)
	require.Greater(t, w[tasks.QueueCritical], w[tasks.QueueAIPriority])
	require.Greater(t, w[tasks.QueueAIPriority], w[tasks.QueueAI], "paid tiers go first")
	require.Greater(t, w[tasks.QueueDefault], w[tasks.QueueLow])

	w[tasks.QueueLow] = 100
	require.Equal(t, 1, tasks.QueueWeights()[tasks.QueueLow], "each call returns a fresh map")
}

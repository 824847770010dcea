package tasks

// Queue names, one per kind of work (DESIGN.md §3.9).
const (
	// QueueCritical carries money: refunds and payment fulfilment.
	QueueCritical = "critical"
	// QueueAIPriority carries AI jobs of paid tiers.
	QueueAIPriority = "ai_priority"
	// QueueAI carries AI jobs of the free tier.
	QueueAI = "ai"
	// QueueMedia carries ffmpeg work.
	QueueMedia = "media"
	// QueueDefault carries notifications and other small tasks.
	QueueDefault = "default"
	// QueueLow carries flushes, recomputations, audits and cleanup.
	QueueLow = "low"
)

// QueueWeights returns the worker's queue weights, a fresh map on each call.
//
// asynq picks among non-empty queues with probability weight/sum (here out of
// 20), not strictly by priority, so every queue keeps a share under load:
// critical gets 30%, paid AI 25% against free AI's 15%, media 15%, default
// 10%, and low still 5%, so flushes and audits are late but never starved.
func QueueWeights() map[string]int {
	return map[string]int{
		QueueCritical:   6,
		QueueAIPriority: 5,
		QueueAI:         3,
		QueueMedia:      3,
		QueueDefault:    2,
		QueueLow:        1,
	}
}

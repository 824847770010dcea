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
	// QueueEmail carries outgoing mail (verification, password reset,
	// notification mails and digests), so a slow SMTP server delays mail
	// and nothing else.
	QueueEmail = "email"
)

// QueueWeights returns the worker's queue weights, a fresh map on each call.
//
// asynq picks among non-empty queues with probability weight/sum (here out of
// 22), not strictly by priority, so every queue keeps a share under load:
// critical gets about 27%, paid AI 23% against free AI's 14%, media 14%,
// default 9%, email 9% (a password-reset link should not wait behind a
// backlog of AI work), and low still 5%, so flushes and audits are late but
// never starved.
func QueueWeights() map[string]int {
	return map[string]int{
		QueueCritical:   6,
		QueueAIPriority: 5,
		QueueAI:         3,
		QueueMedia:      3,
		QueueDefault:    2,
		QueueEmail:      2,
		QueueLow:        1,
	}
}

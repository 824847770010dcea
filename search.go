package lokiz

import "time"

// KeywordDays is how many UTC days of searches autocomplete's keyword
// suggestions count: today and the 6 days before it.
const KeywordDays = 7

// KeywordSince is the first UTC day counted for keyword suggestions at now.
func KeywordSince(now time.Time) time.Time {
	y, m, d := now.UTC().Date()
	return time.Date(y, m, d-(KeywordDays-1), 0, 0, 0, 0, time.UTC)
}

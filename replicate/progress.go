package replicate

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"time"
)

// percent finds "NN%" in a log line, the way model progress bars print it.
var percent = regexp.MustCompile(`(\d{1,3})\s*%`)

// Progress reads how far a prediction is, 0 to 100, from its logs: the last
// percentage printed (tqdm-style bars and "progress: N%" lines both work),
// 100 once it succeeded, and 0 when nothing was printed yet.
func (p Prediction) Progress() int {
	if p.Status == StatusSucceeded {
		return 100
	}
	ms := percent.FindAllStringSubmatch(p.Logs, -1)
	for i := len(ms) - 1; i >= 0; i-- {
		if n, err := strconv.Atoi(ms[i][1]); err == nil && n <= 100 {
			// A running model is never done: 100 waits for the status.
			return min(n, 99)
		}
	}
	return 0
}

// FindByInput returns the newest prediction created at or after since whose
// input equals input (compared as JSON values) and that taken does not
// claim, from the first page of the account's predictions. It is how a
// worker that died between sending a create and storing its answer finds
// that prediction instead of making a second one. An input with signed URLs
// is unique to its attempt, but a text-only one (a music prompt) is not:
// two jobs with the same prompt send the same input, so taken (nil: none
// is) must skip the predictions another job already owns.
func (c *Client) FindByInput(ctx context.Context, input map[string]any, since time.Time, taken func(id string) (bool, error)) (Prediction, bool, error) {
	want, err := normalize(input)
	if err != nil {
		return Prediction{}, false, err
	}
	page, err := c.api.ListPredictions(ctx)
	if err != nil {
		return Prediction{}, false, fmt.Errorf("replicate: list predictions: %w", err)
	}
	for i := range page.Results {
		p := &page.Results[i]
		created := parseTime(&p.CreatedAt)
		if !created.IsZero() && created.Before(since.Add(-time.Minute)) {
			continue // clocks differ a little; a minute of slack is plenty
		}
		got, err := normalize(map[string]any(p.Input))
		if err != nil || !reflect.DeepEqual(got, want) {
			continue
		}
		if taken != nil {
			owned, err := taken(p.ID)
			if err != nil {
				return Prediction{}, false, err
			}
			if owned {
				continue
			}
		}
		return fromAPI(p), true, nil
	}
	return Prediction{}, false, nil
}

func normalize(v map[string]any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("replicate: encode input: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("replicate: decode input: %w", err)
	}
	return out, nil
}

package sim

import (
	"regexp"
	"strconv"
)

// Faults are the failures a prediction is asked to show, from "[sim:…]"
// tokens in its prompt or from Options.Faults.
type Faults struct {
	// Fail ends the prediction as "failed" with an error message.
	Fail bool
	// Abort ends the prediction as "aborted" once it is processing.
	Abort bool
	// Slow uses Latency.Slow for processing.
	Slow bool
	// NoWebhook sends no webhook at all.
	NoWebhook bool
	// DupWebhook delivers every webhook twice, with the same webhook-id.
	DupWebhook bool
	// Throttle answers the first Throttle create requests with a given
	// prompt with 429 Too Many Requests and a Retry-After header.
	Throttle int
	// Hang, on the first create request with a given prompt, creates the
	// prediction (it runs as any other) but holds the answer until the
	// client gives up waiting (its time-out) or Options.HangLimit passes:
	// the client never learns the prediction's id. Later creates with that
	// prompt are answered at once, as after a passing network fault.
	Hang bool
}

var faultToken = regexp.MustCompile(`\[sim:([a-z-]+)\]`)

// ParseFaults reads the "[sim:…]" tokens in prompt; unknown tokens are
// ignored.
func ParseFaults(prompt string) Faults {
	var f Faults
	for _, m := range faultToken.FindAllStringSubmatch(prompt, -1) {
		switch m[1] {
		case "fail":
			f.Fail = true
		case "abort":
			f.Abort = true
		case "slow":
			f.Slow = true
		case "no-webhook":
			f.NoWebhook = true
		case "dup-webhook":
			f.DupWebhook = true
		case "hang":
			f.Hang = true
		}
	}
	for _, m := range throttleToken.FindAllStringSubmatch(prompt, -1) {
		if n, err := strconv.Atoi(m[1]); err == nil && n > f.Throttle {
			f.Throttle = n
		}
	}
	return f
}

var throttleToken = regexp.MustCompile(`\[sim:429x(\d+)\]`)

func (f Faults) merge(g Faults) Faults {
	return Faults{
		Fail:       f.Fail || g.Fail,
		Abort:      f.Abort || g.Abort,
		Slow:       f.Slow || g.Slow,
		NoWebhook:  f.NoWebhook || g.NoWebhook,
		DupWebhook: f.DupWebhook || g.DupWebhook,
		Throttle:   max(f.Throttle, g.Throttle),
		Hang:       f.Hang || g.Hang,
	}
}

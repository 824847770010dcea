// Package replicate is LOKIZ's adapter for the Replicate API: a thin wrapper
// around the official client, github.com/replicate/replicate-go, that the
// worker uses to create, poll and cancel predictions, plus the check of
// Replicate's signed webhooks.
//
// The wrapper exists for what replicate-go v0.26.0 does not do:
//
//   - Throttling. replicate-go retries a 429 by passing the same
//     *http.Request to http.Client.Do again, although its JSON body may
//     already have been read; depending on timing the retried create then
//     fails ("http: ContentLength=34 with Body length 0" was seen against the
//     simulator). Client therefore turns replicate-go's own retries off and
//     retries 429 itself, building a fresh request each time, after the
//     Retry-After the server sent (read by a transport wrapper and hidden
//     from replicate-go, which would otherwise time.Sleep through it without
//     watching the context).
//   - Deadlines. Spec.Deadline is sent as Replicate's Cancel-After header,
//     which replicate-go cannot set.
//   - Webhook timestamps. replicate-go's ValidateWebhookRequest checks the
//     signature only; VerifyWebhook also refuses a timestamp more than five
//     minutes away, which stops replays, and returns the webhook-id so a
//     handler can drop duplicate deliveries.
//
// Package replicate/sim is a Replicate-compatible simulator that this client
// is tested against, and that `lokiz dev` runs offline.
package replicate

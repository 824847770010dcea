// Package sim is a Replicate-compatible HTTP server that runs in memory and
// makes real, tiny media with ffmpeg, so the AI studio can run offline and be
// tested end to end through the real replicate-go client (DESIGN.md §3.10).
//
// # Routes
//
// The API is served under /v1, as api.replicate.com serves it, so a client's
// base URL is "<server>/v1":
//
//	POST /v1/predictions                          create by version ({version, input, webhook, webhook_events_filter})
//	POST /v1/models/{owner}/{name}/predictions    create by model ({input, webhook, webhook_events_filter})
//	POST /v1/deployments/{owner}/{name}/predictions
//	GET  /v1/predictions                          list, newest first (one page)
//	GET  /v1/predictions/{id}                     get
//	POST /v1/predictions/{id}/cancel              cancel
//	GET  /v1/webhooks/default/secret              {"key": "whsec_…"}
//	GET  /files/{id}/{name}                       an output file, until OutputTTL has passed
//
// Creating answers 201 with the prediction in status "starting". Every /v1
// request needs an "Authorization: Bearer <token>" header (any token unless
// Options.Token is set). Errors are problem-details JSON
// ({"title", "detail", "status"}), which replicate-go decodes as an APIError.
// A "Cancel-After" request header on create (a Go duration such as "200ms",
// or seconds) aborts the prediction when it is still running that long after
// it was created: its status becomes "aborted". "Prefer: wait" (or
// "wait=<seconds>") makes create block until the prediction ends, at most 60
// seconds.
//
// # Lifecycle
//
// starting → processing → succeeded | failed | canceled | aborted. Each
// prediction is driven by one goroutine that waits Latency.Starting, then
// renders its output with ffmpeg while appending "progress: N%" lines to its
// logs over Latency.Processing; Close stops them all and kills ffmpeg.
//
// # Outputs
//
// Inputs are URLs that the simulator fetches with a plain GET. The output is
// one URL, "<base>/files/<id>/<name>":
//
//   - a video ("video", "driving_video", "input_video", "target_video") and
//     an image ("image", "character_image", "input_image", "start_image",
//     "first_frame_image", "first_frame"): the first seconds (at most 3, or "duration") of
//     the video with its colours turned and the image overlaid in the top
//     right corner, as an H.264 MP4 the size of the video (at most 480 wide);
//   - a video alone: the same without the overlay;
//   - an image alone: a 2.4 second Ken Burns zoom over the image, an H.264
//     MP4 at most 320 pixels on its longer side;
//   - otherwise (a model whose name contains "musicgen", or only a prompt):
//     a WAV of a tone over pink noise, "duration" seconds (1 to 3, default 2).
//
// # Webhooks
//
// When a prediction names a webhook, the simulator POSTs the prediction JSON
// to it for each event in webhook_events_filter ("start", "output", "logs",
// "completed"; by default "output" and "completed", as Replicate does), in
// order, signed as Replicate signs them (Standard Webhooks): the headers
// webhook-id, webhook-timestamp (Unix seconds) and webhook-signature
// ("v1,<base64 HMAC-SHA256 of id.timestamp.body>", keyed with the base64
// part of the whsec_ secret). A delivery that fails or answers other than
// 2xx is retried WebhookRetries times.
//
// # Faults
//
// A prediction's "prompt" input (or Options.Faults, for every prediction)
// can ask for trouble with tokens:
//
//	[sim:fail]         the prediction fails with an error message
//	[sim:abort]        the prediction is aborted after it starts
//	[sim:slow]         processing takes Latency.Slow instead of Latency.Processing
//	[sim:no-webhook]   no webhook is sent
//	[sim:dup-webhook]  every webhook is delivered twice, with the same webhook-id
//	[sim:429xN]        the first N create requests with this prompt get 429 with Retry-After
//	[sim:hang]         the first create with this prompt: the prediction is created and runs,
//	                   but the answer is held until the client gives up (its time-out) or
//	                   Options.HangLimit passes; later creates with the prompt are answered
//
// Server.Stall makes every /v1 request that arrives while it is on hang
// before anything is done: the request waits until the client gives up (and
// then has no effect), or until the stall is over or Options.HangLimit has
// passed, and is then served. With a client time-out shorter than the
// stall, that is a real time-out from the client's side: a connection that
// accepted the request and never answered.
package sim

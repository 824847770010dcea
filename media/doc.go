// Package media is LOKIZ's adapter for ffmpeg and ffprobe: it inspects
// uploads, cuts thumbnails and frames, and makes videos every browser plays.
//
// Everything works on local file paths; the worker downloads an object to a
// temporary directory first and uploads what comes out. Every function takes
// a context and kills its ffmpeg or ffprobe process when the context is done,
// so an asynq task timeout or a worker shutdown never leaves a process behind.
//
// Commands are built and run with github.com/u2takey/ffmpeg-go. ffprobe is
// run with os/exec instead, because ffmpeg-go's Probe takes a timeout but no
// context and so cannot be cancelled.
//
// # Untrusted input
//
// Uploads are untrusted (DESIGN.md §3.7). Input paths are passed as "file:"
// URLs, so a name can never be read as an option or another protocol, and
// the demuxers are limited to real video and audio containers
// (see [InputFormats]): playlists such as HLS or concat lists, which could
// make ffmpeg read other files or the network, are refused.
//
// # Errors
//
// A file that is not a playable video (random bytes, an image, audio only,
// zero length) fails with a *[NotVideoError], which matches [ErrNotVideo]
// under errors.Is and carries a Reason the uploader can read. A done context
// gives an error that wraps ctx.Err(). Anything else (ffmpeg missing, a full
// disk) is an ordinary error worth retrying.
//
// Package media/mediatest generates small test videos with ffmpeg's lavfi
// sources, for this package's tests and for any other package's.
package media

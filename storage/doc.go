// Package storage is the blob storage adapter: uploaded videos, images and
// audio, and what the worker makes from them (thumbnails, transcodes, copies
// of AI outputs). One interface, Store, has two backends:
//
//   - Local (STORAGE_BACKEND=local, the default) keeps objects as files under
//     STORAGE_DIR and signs URLs with HMAC-SHA256; the api mounts
//     Local.Handler under /storage/ to serve them.
//   - S3 (STORAGE_BACKEND=s3) uses any S3-compatible bucket through the AWS
//     SDK; clients talk to the bucket (or a CDN in front of it) directly.
//
// # Keys
//
// Keys are made by NewKey ("videos/<UUIDv7>.mp4"), never taken from a
// client's file name, and every method refuses other shapes (ValidateKey):
// lowercase segments that start with a letter or digit, no "..", no leading
// slash. That is what makes a key safe to join to a directory and to put in
// a URL unescaped. The extension fixes the content type from a short
// allow-list (ExtensionFor, ContentTypeFor), so an upload cannot turn into
// HTML served from our origin.
//
// # Uploads
//
// A client asks the api for an upload; the api makes a key, calls
// PresignPut and hands back the Upload. The client then PUTs the bytes
// straight to storage. The signature binds the key, the expiry, the
// Content-Type and the size, so a client cannot upload something else than
// what the api approved. After the upload the api calls Stat to learn what
// actually arrived before it trusts it.
//
// On both backends an object appears whole or not at all: the local backend
// writes to a temp file in the same directory and renames it into place, and
// S3 only stores complete requests.
//
// # Withheld objects
//
// Move puts an object under another key and removes the first: the worker
// moves a removed video's objects (a banned author's) under WithheldKey, so
// that every URL issued for them answers 404, presigned or public, and back
// when the video is restored. On S3 it is a server-side copy, then a
// delete; locally a rename. Either way it can be run again after a crash
// or a retry until the object is where it belongs.
//
// # Errors
//
// ErrNotFound, ErrInvalidKey and ErrUnsupportedContentType are *lokiz.Error
// values (not_found, invalid), wrapped with the key; test them with
// errors.Is.
package storage

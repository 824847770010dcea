package storage

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/google/uuid"
)

// extensionByType is the allow-list of content types we store, with the
// extension that keys of that type carry. Anything else (HTML, SVG, scripts)
// is refused, because the local backend serves objects from the api's own
// origin and a browser must never be handed active content from there.
var extensionByType = map[string]string{
	"audio/mpeg":      "mp3",
	"audio/wav":       "wav",
	"image/jpeg":      "jpg",
	"image/png":       "png",
	"image/webp":      "webp",
	"video/mp4":       "mp4",
	"video/quicktime": "mov",
	"video/webm":      "webm",
}

var typeByExtension = func() map[string]string {
	m := make(map[string]string, len(extensionByType))
	for ct, ext := range extensionByType {
		m[ext] = ct
	}
	return m
}()

// MaxKeyLen is the longest key accepted, far above what NewKey makes and
// below every filesystem's and S3's limits.
const MaxKeyLen = 256

// keySegment is one path segment of a key. Segments start with a letter or
// digit, so ".", "..", hidden files and the local backend's ".upload-*" temp
// files can never be named by a key.
var keySegment = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// ValidateKey returns ErrInvalidKey unless key is lowercase ASCII segments
// ([a-z0-9][a-z0-9_.-]*) joined by single slashes, contains no "..", and is
// at most MaxKeyLen bytes. Such a key can be joined to a directory without
// ever leaving it, and needs no escaping in a URL.
func ValidateKey(key string) error {
	if key == "" || len(key) > MaxKeyLen || strings.Contains(key, "..") {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if !keySegment.MatchString(seg) {
			return fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
	}
	return nil
}

// NewKey returns a fresh key "<prefix>/<UUIDv7>.<ext>" for an object of the
// given content type, e.g. "videos/0198c7a2-….mp4". Keys are always made
// here, never from a client's file name; UUIDv7 keeps them unguessable and
// roughly time-ordered. prefix names the kind of object ("videos", "images",
// "thumbnails") and must itself be a valid key. It returns
// ErrUnsupportedContentType for a type outside the allow-list.
func NewKey(prefix, contentType string) (string, error) {
	ext, ok := ExtensionFor(contentType)
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnsupportedContentType, contentType)
	}
	if err := ValidateKey(prefix); err != nil {
		return "", fmt.Errorf("key prefix: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new key: %w", err)
	}
	return prefix + "/" + id.String() + "." + ext, nil
}

// ExtensionFor returns the extension (without dot) that keys of contentType
// carry, and false when the type is not allowed. contentType must be the bare
// lowercase media type, without parameters.
func ExtensionFor(contentType string) (string, bool) {
	ext, ok := extensionByType[contentType]
	return ext, ok
}

// ContentTypeFor returns the content type fixed by key's extension, or ""
// when the extension is not on the allow-list.
func ContentTypeFor(key string) string {
	return typeByExtension[strings.TrimPrefix(path.Ext(key), ".")]
}

// The kinds of object, each under its own prefix. Every key the project
// stores is built by one of the functions below, and every key a client
// sends back is parsed by one of them: the layout lives here only.
const (
	prefixUploads    = "uploads"    // a video as uploaded, before finalizing
	prefixImages     = "images"     // an uploaded image (profile picture, AI input)
	prefixVideos     = "videos"     // a finalized, web-playable video
	prefixOriginals  = "originals"  // an upload kept when it was transcoded
	prefixThumbnails = "thumbnails" // a video's thumbnail
	prefixFrames     = "frames"     // frames captured from a video
	prefixAI         = "ai"         // an AI job's files
	prefixWithheld   = "withheld"   // objects of a removed video or a banned author's, out of reach of their URLs
)

// NewUploadKey returns a fresh key for a video upload of contentType.
func NewUploadKey(contentType string) (string, error) {
	return NewKey(prefixUploads, contentType)
}

// NewImageKey returns a fresh key for an image upload of contentType.
func NewImageKey(contentType string) (string, error) {
	return NewKey(prefixImages, contentType)
}

// VideoKey is where video id's web-playable file is stored; ext is the
// extension with its dot (".mp4"). Derived from the id, so a retried
// finalize overwrites its own output instead of leaving orphans.
func VideoKey(id uuid.UUID, ext string) string {
	return prefixVideos + "/" + id.String() + ext
}

// OriginalKey is where video id's upload is kept when it was transcoded; ext
// is the upload's extension with its dot.
func OriginalKey(id uuid.UUID, ext string) string {
	return prefixOriginals + "/" + id.String() + ext
}

// ThumbnailKey is where video id's thumbnail is stored. It is derived from
// the id alone, so it can be found (and deleted) even when no row names it.
func ThumbnailKey(id uuid.UUID) string {
	return prefixThumbnails + "/" + id.String() + ".jpg"
}

// WithheldKey is where the object under key is kept while its video's
// media is withheld (the video removed, or its author banned): no URL ever
// issued names it, so every URL of key answers 404 until the object is
// moved back (Store.Move both ways).
func WithheldKey(key string) string {
	return prefixWithheld + "/" + key
}

// FrameKey is where frame i of capture captureID is stored.
func FrameKey(captureID uuid.UUID, i int) string {
	return fmt.Sprintf("%s/%s/%02d.jpg", prefixFrames, captureID, i)
}

// AIFileKey is where AI job jobID keeps its file name ("segment.mp4",
// "output.mp4"), under a folder of its own.
func AIFileKey(jobID uuid.UUID, name string) string {
	return prefixAI + "/" + jobID.String() + "/" + name
}

var frameKeyPattern = regexp.MustCompile(`^` + prefixFrames + `/([0-9a-f-]{36})/\d{2}\.jpg$`)

// FrameKeyFrom resolves what a client sent back (a frame's key, or any URL
// we issued for it) to the frame's key and its capture's id. ok is false when
// ref names no frame; an unknown frame is the caller's business to refuse.
func FrameKeyFrom(ref string) (key string, captureID uuid.UUID, ok bool) {
	key = keyFromReference(ref, prefixFrames+"/")
	m := frameKeyPattern.FindStringSubmatch(key)
	if m == nil {
		return "", uuid.Nil, false
	}
	captureID, err := uuid.Parse(m[1])
	if err != nil {
		return "", uuid.Nil, false
	}
	return key, captureID, true
}

// IsFrameReference reports whether ref points under the frames prefix at
// all (well-formed or not), so that a forged frame reference is refused as
// a frame rather than looked up as an image.
func IsFrameReference(ref string) bool {
	return keyFromReference(ref, prefixFrames+"/") != ""
}

// ImageKeyFrom resolves what a client sent back (an image's key, or any URL
// we issued for it) to the image's key, or "" when ref names no image.
func ImageKeyFrom(ref string) string {
	return keyFromReference(ref, prefixImages+"/")
}

// keyFromReference extracts a key under prefix ("images/") from ref: the
// key itself, or a URL we issued for it (upload, download or CDN URL: the
// key is the tail of the path, the query is dropped).
func keyFromReference(ref, prefix string) string {
	if i := strings.Index(ref, "?"); i >= 0 {
		ref = ref[:i]
	}
	i := strings.LastIndex(ref, "/"+prefix)
	switch {
	case strings.HasPrefix(ref, prefix):
		return ref
	case i >= 0:
		return ref[i+1:]
	}
	return ""
}

// VideoIDOfKey returns the video a key belongs to when it is one of the
// keys derived from a video's id (VideoKey, OriginalKey, ThumbnailKey), so
// that a request for the object can be checked against the video's state
// (a removed video's media is not served).
func VideoIDOfKey(key string) (uuid.UUID, bool) {
	prefix, name, ok := strings.Cut(key, "/")
	if !ok || (prefix != prefixVideos && prefix != prefixOriginals && prefix != prefixThumbnails) || strings.Contains(name, "/") {
		return uuid.Nil, false
	}
	base, _, _ := strings.Cut(name, ".")
	id, err := uuid.Parse(base)
	if err != nil || len(base) != 36 {
		return uuid.Nil, false
	}
	return id, true
}

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

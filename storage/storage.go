package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lokiz/lokiz"
)

// Store is blob storage: one flat namespace of keys, each naming an immutable
// object with a size and a content type. Keys come from NewKey; every method
// refuses any other shape of key with ErrInvalidKey before touching storage.
// An object's content type is fixed by its key's extension (see
// ContentTypeFor), so a key can never be served as something else.
type Store interface {
	// PresignPut tells a client how to upload the object key itself: it must
	// send Upload.Method to Upload.URL with Upload.Headers before
	// Upload.ExpiresAt. An upload URL writes once: once an object is stored
	// under key, a PUT to any upload URL of key is refused (412 on both
	// backends, which the local Handler and S3's If-None-Match give), so
	// what was checked or served can never be replaced through its upload
	// URL. contentType must be the one the key's extension names
	// (else ErrUnsupportedContentType). The upload is refused when it carries
	// another Content-Type or more than maxBytes bytes. S3 can only sign an
	// exact Content-Length, so there the body must be exactly maxBytes long:
	// callers pass the size the client declared (after checking it against
	// their own limit), which is correct for both backends. maxBytes is 1 B to
	// 5 GiB, ttl 1 s to 7 days (S3's limits), else lokiz.EINVALID.
	PresignPut(ctx context.Context, key, contentType string, maxBytes int64, ttl time.Duration) (Upload, error)

	// URL returns a GET URL for the object that works for at least ttl
	// (1 s to 7 days). It is signed, except on S3 with a public CDN base
	// configured, where it never expires. It does not check that the object
	// exists: fetching a missing object answers 404.
	URL(ctx context.Context, key string, ttl time.Duration) (string, error)

	// SignedURL returns a GET URL for the object that is always signed and
	// stops working after ttl (1 s to 7 days), also on S3 with a public CDN
	// base configured: for private objects, which a public URL would expose
	// for as long as they exist.
	SignedURL(ctx context.Context, key string, ttl time.Duration) (string, error)

	// Stat describes the object, or returns ErrNotFound.
	Stat(ctx context.Context, key string) (ObjectInfo, error)

	// Open streams the object, or returns ErrNotFound. The caller closes the
	// reader; on S3 it reads from the network and stays valid only while ctx
	// does.
	Open(ctx context.Context, key string) (io.ReadCloser, error)

	// Put stores exactly size bytes read from r under key, replacing any
	// object there. contentType must match the key's extension. If r ends
	// early or holds more than size bytes, Put fails and no object is written
	// (readers do not see a partial object on either backend).
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error

	// Delete removes the object. Deleting a missing object is not an error,
	// so a retried task can delete again.
	Delete(ctx context.Context, key string) error

	// Move puts the object stored under src under dst (replacing any object
	// there) and removes src; URLs of src stop working. Both keys must carry
	// the same extension (an object's content type is fixed by its key).
	// It is re-runnable: the object is written under dst before src is
	// removed (S3 copies, then deletes; the local backend renames), so a
	// crash leaves the object under src, under both, or under dst, and a
	// rerun finishes the move. When src is missing but dst exists, the move
	// already happened and Move returns nil; when neither exists, it returns
	// ErrNotFound.
	Move(ctx context.Context, src, dst string) error
}

// Upload is a presigned upload: everything a client needs to send an object
// straight to storage without passing it through our handlers' JSON API.
type Upload struct {
	// Method is the HTTP method to use; always PUT today.
	Method string
	// URL is where to send the body. It carries the signature: treat it as a
	// secret until it expires (never log it).
	URL string
	// Headers must be sent with exactly these values, because they are part
	// of the signature. Always Content-Type; on S3 also Content-Length, which
	// HTTP clients set from the body themselves.
	Headers map[string]string
	// ExpiresAt is when URL stops working.
	ExpiresAt time.Time
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Size        int64     // bytes
	ContentType string    // as fixed by the key's extension
	ModTime     time.Time // when the object was last written
}

// Errors callers branch on. They are *lokiz.Error values, so that the api's
// error writer maps them to the right status when they reach it, and
// errors.Is still finds them through wrapping.
var (
	// ErrNotFound means no object exists under the key.
	ErrNotFound = &lokiz.Error{Code: lokiz.ENOTFOUND, Message: "object not found"}
	// ErrInvalidKey means the key does not have the shape NewKey produces.
	ErrInvalidKey = &lokiz.Error{Code: lokiz.EINVALID, Message: "invalid object key"}
	// ErrUnsupportedContentType means the content type is not on the
	// allow-list, or does not match the key's extension.
	ErrUnsupportedContentType = &lokiz.Error{Code: lokiz.EINVALID, Message: "unsupported content type"}
)

// Limits shared by both backends. S3 refuses presigned URLs valid for more
// than 7 days and single PUTs over 5 GiB; the local backend keeps the same
// limits so that code tested on a laptop behaves the same in production.
const (
	MinTTL      = time.Second
	MaxTTL      = 7 * 24 * time.Hour
	MaxPutBytes = 5 << 30
)

// Backend names accepted by Config.Backend.
const (
	BackendLocal = "local"
	BackendS3    = "s3"
)

// Config selects and configures a backend. cmd/lokiz fills it from the
// environment; only the chosen backend's section is read.
type Config struct {
	// Backend is "local" or "s3" (STORAGE_BACKEND). Defaults to "local".
	Backend string
	Local   LocalConfig
	S3      S3Config
}

// New builds the configured backend, reporting every configuration problem
// at once. The api mounts the local backend's HTTP handler; to reach it, type
// assert the result to *Local.
func New(ctx context.Context, cfg Config) (Store, error) {
	switch cfg.Backend {
	case "", BackendLocal:
		return NewLocal(cfg.Local)
	case BackendS3:
		return NewS3(ctx, cfg.S3)
	default:
		return nil, fmt.Errorf("storage: STORAGE_BACKEND must be %q or %q, not %q", BackendLocal, BackendS3, cfg.Backend)
	}
}

// LocalConfig configures the local backend.
type LocalConfig struct {
	// Dir holds the objects (STORAGE_DIR). Created if missing. Defaults to
	// "./data". Processes that share objects (api and worker) must share it.
	Dir string
	// BaseURL is how clients reach the api that mounts Handler
	// (PUBLIC_BASE_URL), e.g. http://localhost:8000. Required.
	BaseURL string
	// SecretKey is the application secret (SECRET_KEY). Signatures use a key
	// derived from it, so a storage signature is never valid as anything
	// else, nor anything else as a storage signature. Required.
	SecretKey string
	// TransferTimeout bounds one upload or download through Handler,
	// replacing the server's shorter read/write deadlines for that request.
	// Defaults to 30 minutes.
	TransferTimeout time.Duration
	// Logger receives internal errors of Handler. Defaults to discarding.
	Logger *slog.Logger
	// NowFunc returns the current time, for signing and checking expiry.
	// Defaults to time.Now; tests move it forward.
	NowFunc func() time.Time
}

// S3Config configures the S3 backend. Credentials, unless set here, come
// from the standard AWS chain: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_PROFILE and shared files, then instance roles.
type S3Config struct {
	// Bucket is the bucket name (S3_BUCKET). Required.
	Bucket string
	// Region is the bucket's region (S3_REGION). Defaults to "us-east-1",
	// which most S3-compatible servers accept.
	Region string
	// Endpoint is the base URL of an S3-compatible server such as MinIO or
	// R2 (S3_ENDPOINT). Empty means AWS. When set, requests use path-style
	// addressing, which those servers support without wildcard DNS.
	Endpoint string
	// PublicURL is a CDN or public bucket base (S3_PUBLIC_URL). When set, URL
	// returns PublicURL/key unsigned, so responses can be cached; the bucket
	// or CDN must then allow public reads. Empty means presigned GETs.
	// SignedURL never uses it: private objects are always presigned.
	PublicURL string
	// Credentials overrides the standard AWS chain when not nil.
	Credentials aws.CredentialsProvider
	// HTTPClient overrides the SDK's HTTP client when not nil.
	HTTPClient *http.Client
}

// checkTTL and checkSize keep both backends within S3's limits.
func checkTTL(ttl time.Duration) error {
	if ttl < MinTTL || ttl > MaxTTL {
		return lokiz.Errorf(lokiz.EINVALID, "URL lifetime must be from %s to %s", MinTTL, MaxTTL)
	}
	return nil
}

func checkSize(n int64) error {
	if n < 1 || n > MaxPutBytes {
		return lokiz.Errorf(lokiz.EINVALID, "upload size must be from 1 to %d bytes", int64(MaxPutBytes))
	}
	return nil
}

// checkPut validates what every Put and PresignPut needs: a valid key whose
// extension matches an allowed content type.
func checkPut(key, contentType string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if ct := ContentTypeFor(key); ct == "" || ct != contentType {
		return fmt.Errorf("%w: %q for key %q", ErrUnsupportedContentType, contentType, key)
	}
	return nil
}

// checkMove validates the keys of a Move: both valid, with the same
// extension.
func checkMove(src, dst string) error {
	if err := ValidateKey(src); err != nil {
		return err
	}
	if err := ValidateKey(dst); err != nil {
		return err
	}
	if path.Ext(src) != path.Ext(dst) || src == dst {
		return lokiz.Errorf(lokiz.EINVALID, "cannot move %q to %q: the keys must differ and carry the same extension", src, dst)
	}
	return nil
}

// checkBaseURL accepts an absolute http(s) URL without query or fragment.
func checkBaseURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s must be an absolute http(s) URL, not %q", name, raw)
	}
	return nil
}

// errTooLong is returned by exactReader when the source has more bytes than
// announced.
var errTooLong = errors.New("storage: reader holds more bytes than the given size")

// exactReader yields exactly n bytes of r and fails otherwise. It withholds
// the final chunk until it has checked that r has nothing more: an HTTP
// client that had already sent the last byte would have completed a valid
// request, and the server would keep a truncated object.
type exactReader struct {
	r    io.Reader
	left int64
	done bool
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.done || e.left == 0 {
		if !e.done {
			if err := e.probeEnd(); err != nil {
				return 0, err
			}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case e.left == 0:
		if perr := e.probeEnd(); perr != nil {
			return 0, perr
		}
		return n, nil
	case errors.Is(err, io.EOF):
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// probeEnd reads one more byte: only a clean EOF proves the size was right.
func (e *exactReader) probeEnd() error {
	var b [1]byte
	for {
		n, err := e.r.Read(b[:])
		if n > 0 {
			return errTooLong
		}
		if errors.Is(err, io.EOF) {
			e.done = true
			return nil
		}
		if err != nil {
			return err
		}
	}
}

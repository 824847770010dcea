package storage

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lokiz/lokiz"
)

// LocalPathPrefix is where the api mounts Local.Handler; the URLs that Local
// signs point there.
const LocalPathPrefix = "/storage/"

// Query parameters of a signed local URL.
const (
	paramContentType = "ct"      // PUT only: the only Content-Type accepted
	paramExpires     = "expires" // Unix seconds after which the URL is refused
	paramMaxBytes    = "max"     // PUT only: the largest body accepted
	paramSignature   = "sig"     // base64url HMAC-SHA256 of the fields above
)

// PresignPut implements Store. The URL is
// <base>/storage/<key>?ct=…&expires=…&max=…&sig=…; the signature covers the
// method, key, expiry, content type and size limit, so changing any of them
// voids it.
func (l *Local) PresignPut(ctx context.Context, key, contentType string, maxBytes int64, ttl time.Duration) (Upload, error) {
	if err := checkPut(key, contentType); err != nil {
		return Upload{}, err
	}
	if err := checkSize(maxBytes); err != nil {
		return Upload{}, err
	}
	if err := checkTTL(ttl); err != nil {
		return Upload{}, err
	}
	expires := expiry(l.now(), ttl)
	q := url.Values{
		paramContentType: {contentType},
		paramExpires:     {strconv.FormatInt(expires, 10)},
		paramMaxBytes:    {strconv.FormatInt(maxBytes, 10)},
	}
	q.Set(paramSignature, l.sign(http.MethodPut, key, expires, contentType, maxBytes))
	return Upload{
		Method:    http.MethodPut,
		URL:       l.baseURL + objectPath(key) + "?" + q.Encode(),
		Headers:   map[string]string{"Content-Type": contentType},
		ExpiresAt: time.Unix(expires, 0).UTC(),
	}, nil
}

// URL implements Store: <base>/storage/<key>?expires=…&sig=…, good for GET
// and HEAD.
func (l *Local) URL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if err := checkTTL(ttl); err != nil {
		return "", err
	}
	expires := expiry(l.now(), ttl)
	q := url.Values{paramExpires: {strconv.FormatInt(expires, 10)}}
	q.Set(paramSignature, l.sign(http.MethodGet, key, expires, "", 0))
	return l.baseURL + objectPath(key) + "?" + q.Encode(), nil
}

// SignedURL implements Store; local URLs are always signed, so it is URL.
func (l *Local) SignedURL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	return l.URL(ctx, key, ttl)
}

// expiry rounds up to whole seconds, so a URL lives at least ttl.
func expiry(now time.Time, ttl time.Duration) int64 {
	t := now.Add(ttl)
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// sign returns the signature of one request shape. The method is part of it,
// so a download URL can never be turned into an upload URL. Every field is
// re-derived from validated values before verifying, so none can contain the
// separator.
func (l *Local) sign(method, key string, expires int64, contentType string, maxBytes int64) string {
	var sig string
	l.mac.Sum(func(msg []byte) []byte {
		msg = append(msg, method...)
		msg = append(append(msg, '\n'), key...)
		msg = strconv.AppendInt(append(msg, '\n'), expires, 10)
		msg = append(append(msg, '\n'), contentType...)
		return strconv.AppendInt(append(msg, '\n'), maxBytes, 10)
	}, func(sum []byte) { sig = base64.RawURLEncoding.EncodeToString(sum) })
	return sig
}

// Handler serves the URLs that PresignPut and URL sign, under
// LocalPathPrefix:
//
//   - PUT stores the body as the object, after checking the signature, the
//     expiry, the Content-Type (exact match) and the size. Answers 200 with
//     an empty body. It never replaces an object: when one already exists
//     under the key it answers 412, as S3 does for the If-None-Match: *
//     its upload URLs carry.
//   - GET and HEAD serve the object with its Content-Type, Last-Modified,
//     Range support and a private Cache-Control that ends with the URL.
//
// Errors have the api's shape {"detail": "...", "code": "..."}:
//
//   - 400 invalid: the path is not a valid key (for example "..").
//   - 403 forbidden: missing, tampered or expired signature, and also a
//     Content-Type other than the signed one. That last one is 403 rather
//     than 415 because S3 answers it with 403 too (the header is part of
//     the signature), so clients see one status on both backends.
//   - 404 not_found: no such object (only after the signature is checked,
//     so unsigned requests cannot probe for keys), or a path outside
//     LocalPathPrefix.
//   - 405 method_not_allowed: any other method.
//   - 412 conflict: an object is already stored under the key.
//   - 413 payload_too_large: more bytes than signed, from Content-Length at
//     once or while reading a chunked body.
//   - 500 internal: a filesystem error, logged once with the key.
//
// Mount it outside any middleware that caps request bodies, and keep the
// query string out of access logs: it is a credential.
func (l *Local) Handler() http.Handler {
	return http.HandlerFunc(l.serveHTTP)
}

func (l *Local) serveHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.URL.Path, LocalPathPrefix)
	if !ok {
		writeJSONError(w, http.StatusNotFound, lokiz.ENOTFOUND, "Not found")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut:
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT")
		writeJSONError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed")
		return
	}
	if ValidateKey(key) != nil {
		writeJSONError(w, http.StatusBadRequest, lokiz.EINVALID, "invalid object key")
		return
	}
	// The server's read and write deadlines suit JSON calls, not a video
	// over a slow phone connection; this request gets its own.
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(l.transferTimeout)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)

	if r.Method == http.MethodPut {
		l.serveUpload(w, r, key)
		return
	}
	l.serveDownload(w, r, key)
}

// verify checks a request's signature and expiry. It returns the expiry and,
// for PUT, the signed size limit; msg is empty when the request may proceed.
// Malformed parameters read as a bad signature: the client learns nothing
// about which part was wrong. Each signed parameter must appear once, in
// the one spelling sign makes (decimal numbers without sign or leading
// zeros, unpadded base64url with zero trailing bits): a URL is accepted
// only as it was issued, never in an altered spelling of the same values.
func (l *Local) verify(method, key string, q url.Values) (expires int64, maxBytes int64, msg string) {
	const badSig = "invalid signature"
	expires, ok := canonicalInt(q, paramExpires)
	if !ok {
		return 0, 0, badSig
	}
	var contentType string
	if method == http.MethodPut {
		contentType, ok = single(q, paramContentType)
		if !ok || contentType != ContentTypeFor(key) {
			return 0, 0, badSig
		}
		if maxBytes, ok = canonicalInt(q, paramMaxBytes); !ok || checkSize(maxBytes) != nil {
			return 0, 0, badSig
		}
	}
	sig, ok := single(q, paramSignature)
	if !ok {
		return 0, 0, badSig
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || base64.RawURLEncoding.EncodeToString(got) != sig {
		return 0, 0, badSig
	}
	want, _ := base64.RawURLEncoding.DecodeString(l.sign(method, key, expires, contentType, maxBytes))
	if !hmac.Equal(got, want) {
		return 0, 0, badSig
	}
	if !l.now().Before(time.Unix(expires, 0)) {
		return 0, 0, "URL has expired"
	}
	return expires, maxBytes, ""
}

// single returns the value of a parameter given exactly once.
func single(q url.Values, name string) (string, bool) {
	if v := q[name]; len(v) == 1 {
		return v[0], true
	}
	return "", false
}

// canonicalInt reads a parameter given once, as strconv.FormatInt writes it.
func canonicalInt(q url.Values, name string) (int64, bool) {
	s, ok := single(q, name)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	return n, true
}

func (l *Local) serveUpload(w http.ResponseWriter, r *http.Request, key string) {
	_, maxBytes, msg := l.verify(http.MethodPut, key, r.URL.Query())
	if msg != "" {
		writeJSONError(w, http.StatusForbidden, lokiz.EFORBIDDEN, msg)
		return
	}
	// Exact match, as on S3, where the header value is signed: a client that
	// works here then works there.
	if want := ContentTypeFor(key); r.Header.Get("Content-Type") != want {
		writeJSONError(w, http.StatusForbidden, lokiz.EFORBIDDEN, "Content-Type must be "+want)
		return
	}
	if r.ContentLength > maxBytes {
		writeJSONError(w, http.StatusRequestEntityTooLarge, lokiz.ETOOLARGE,
			fmt.Sprintf("upload is larger than %d bytes", maxBytes))
		return
	}
	// Checked before reading the body, so a refused client does not send it
	// for nothing; writeNew checks again atomically.
	if _, err := l.Stat(r.Context(), key); err == nil {
		writeJSONError(w, http.StatusPreconditionFailed, lokiz.ECONFLICT, errObjectExists.Error())
		return
	}
	body := bodyReader{http.MaxBytesReader(w, r.Body, maxBytes)}
	err := l.writeNew(r.Context(), key, body)
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, errObjectExists):
		writeJSONError(w, http.StatusPreconditionFailed, lokiz.ECONFLICT, errObjectExists.Error())
	case errors.As(err, &tooLarge):
		writeJSONError(w, http.StatusRequestEntityTooLarge, lokiz.ETOOLARGE,
			fmt.Sprintf("upload is larger than %d bytes", maxBytes))
	case r.Context().Err() != nil || isBodyReadError(err):
		// The client went away or sent less than it announced; nothing was
		// stored, and the answer probably reaches no one.
		writeJSONError(w, http.StatusBadRequest, lokiz.EINVALID, "upload was incomplete")
	default:
		l.log.ErrorContext(r.Context(), "storage upload failed", slog.String("key", key), slog.Any("error", err))
		writeJSONError(w, http.StatusInternalServerError, lokiz.EINTERNAL, "internal error")
	}
}

// errBodyRead marks errors that came from reading the request body, as
// opposed to a failure of our disk.
var errBodyRead = errors.New("read request body")

func isBodyReadError(err error) bool { return errors.Is(err, errBodyRead) }

// bodyReader tags read errors with errBodyRead, keeping the original (such
// as *http.MaxBytesError) in the chain.
type bodyReader struct{ r io.Reader }

func (b bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: %w", errBodyRead, err)
	}
	return n, err
}

func (l *Local) serveDownload(w http.ResponseWriter, r *http.Request, key string) {
	expires, _, msg := l.verify(http.MethodGet, key, r.URL.Query())
	if msg != "" {
		writeJSONError(w, http.StatusForbidden, lokiz.EFORBIDDEN, msg)
		return
	}
	f, fi, err := l.open(r.Context(), key)
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSONError(w, http.StatusNotFound, lokiz.ENOTFOUND, "object not found")
		return
	case err != nil:
		l.log.ErrorContext(r.Context(), "storage download failed", slog.String("key", key), slog.Any("error", err))
		writeJSONError(w, http.StatusInternalServerError, lokiz.EINTERNAL, "internal error")
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", contentTypeOrDefault(key))
	// Private: the URL is a credential, so shared caches must not keep it;
	// the browser may, until the URL itself would stop working.
	maxAge := max(int64(time.Unix(expires, 0).Sub(l.now())/time.Second), 0)
	h.Set("Cache-Control", "private, max-age="+strconv.FormatInt(maxAge, 10))
	// Objects are served from the api's origin: never let a browser sniff
	// one into a document or run it as one.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// writeJSONError writes the api's error shape.
func writeJSONError(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}{detail, code})
}

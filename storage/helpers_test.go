package storage_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/storage"
)

// clock is a time source the tests move forward to expire URLs.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// backend is one Store under test plus what the shared contract needs to
// know about it.
type backend struct {
	store storage.Store
	// clock drives the component that checks URL expiry: the local handler,
	// or the signature checker in front of the fake S3.
	clock *clock
	// sigParam is the query parameter that holds a URL's signature.
	sigParam string
	// tooLargeStatus answers a presigned PUT with more bytes than signed:
	// 413 locally, 403 on S3 (Content-Length is a signed header).
	tooLargeStatus int
}

const testSecret = "a-test-secret-of-at-least-32-characters"

// newLocalBackend serves a fresh Local through its real HTTP handler.
func newLocalBackend(t *testing.T) (*storage.Local, *backend, *httptest.Server) {
	t.Helper()
	clk := newClock()
	// The listener exists before the store, so the store can be told its
	// base URL; the handler is attached before the server starts.
	srv := httptest.NewUnstartedServer(nil)
	l, err := storage.NewLocal(storage.LocalConfig{
		Dir:       t.TempDir(),
		BaseURL:   "http://" + srv.Listener.Addr().String(),
		SecretKey: testSecret,
		NowFunc:   clk.Now,
	})
	require.NoError(t, err)
	srv.Config.Handler = l.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l, &backend{store: l, clock: clk, sigParam: "sig", tooLargeStatus: http.StatusRequestEntityTooLarge}, srv
}

const (
	testBucket = "lokiz-test"
	testRegion = "us-east-1"
)

var testCreds = credentials.NewStaticCredentialsProvider("AKIDLOKIZTEST", "lokiz-test-secret-access-key", "")

// fakeS3 is gofakes3's in-memory server behind httptest, with a SigV4
// presigned-URL check in front (gofakes3 does not check signatures itself,
// real S3 does; without it a tampered URL would pass).
type fakeS3 struct {
	srv   *httptest.Server
	clock *clock
}

func newFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	mem := s3mem.New()
	require.NoError(t, mem.CreateBucket(testBucket))
	f := &fakeS3{clock: newClock()}
	checker := &presignChecker{next: gofakes3.New(mem).Server(), now: f.clock.Now}
	f.srv = httptest.NewServer(checker)
	t.Cleanup(f.srv.Close)
	return f
}

// newS3Backend builds the real S3 backend (real aws-sdk-go-v2 client)
// against a fresh fake server.
func newS3Backend(t *testing.T) (*storage.S3, *backend, *fakeS3) {
	t.Helper()
	f := newFakeS3(t)
	s, err := storage.NewS3(t.Context(), storage.S3Config{
		Bucket:      testBucket,
		Region:      testRegion,
		Endpoint:    f.srv.URL,
		Credentials: testCreds,
		HTTPClient:  f.srv.Client(),
	})
	require.NoError(t, err)
	return s, &backend{store: s, clock: f.clock, sigParam: "X-Amz-Signature", tooLargeStatus: http.StatusForbidden}, f
}

// presignChecker verifies presigned requests as S3 does: it rebuilds the
// canonical request from what actually arrived (method, path, query, the
// signed headers' values, Content-Length), signs it again with the SDK's own
// signer, and compares; then it checks the expiry. Requests with an
// Authorization header come from the SDK client and pass through; anonymous
// requests are refused, like a private bucket.
type presignChecker struct {
	next http.Handler
	now  func() time.Time
}

func (c *presignChecker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sig := q.Get("X-Amz-Signature")
	if sig == "" {
		if r.Header.Get("Authorization") == "" {
			s3Fail(w, "AccessDenied", "anonymous access is not allowed")
			return
		}
		c.next.ServeHTTP(w, r)
		return
	}
	signedAt, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		s3Fail(w, "AuthorizationQueryParametersError", "bad X-Amz-Date")
		return
	}
	secs, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil {
		s3Fail(w, "AuthorizationQueryParametersError", "bad X-Amz-Expires")
		return
	}
	if c.now().After(signedAt.Add(time.Duration(secs) * time.Second)) {
		s3Fail(w, "AccessDenied", "Request has expired")
		return
	}
	unsigned := url.Values{}
	for k, v := range q {
		if k != "X-Amz-Signature" {
			unsigned[k] = v
		}
	}
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: unsigned.Encode()}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), nil)
	if err != nil {
		s3Fail(w, "AuthorizationQueryParametersError", err.Error())
		return
	}
	for _, h := range strings.Split(q.Get("X-Amz-SignedHeaders"), ";") {
		switch h {
		case "host":
			req.Host = r.Host
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			req.Header[textproto.CanonicalMIMEHeaderKey(h)] = r.Header.Values(h)
		}
	}
	creds, err := testCreds.Retrieve(r.Context())
	if err != nil {
		s3Fail(w, "InternalError", err.Error())
		return
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	again, _, err := signer.PresignHTTP(r.Context(), creds, req, "UNSIGNED-PAYLOAD", "s3", testRegion, signedAt)
	if err != nil {
		s3Fail(w, "InternalError", err.Error())
		return
	}
	au, err := url.Parse(again)
	if err != nil || au.Query().Get("X-Amz-Signature") != sig {
		s3Fail(w, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	c.next.ServeHTTP(w, r)
}

func s3Fail(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusForbidden)
	_, _ = io.WriteString(w, "<Error><Code>"+code+"</Code><Message>"+msg+"</Message></Error>")
}

// send performs a presigned upload the way a client would: the URL, the
// method and every header the Upload lists. edit may change the request
// before it goes out.
func send(t *testing.T, u storage.Upload, body io.Reader, edit func(*http.Request)) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), u.Method, u.URL, body)
	require.NoError(t, err)
	for k, v := range u.Headers {
		req.Header.Set(k, v)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// get fetches rawURL with optional extra headers (name, value pairs).
func get(t *testing.T, rawURL string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// randomBytes returns n random bytes, so that a mix-up of two objects shows.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// newKey makes a key or fails the test.
func newKey(t *testing.T, prefix, contentType string) string {
	t.Helper()
	k, err := storage.NewKey(prefix, contentType)
	require.NoError(t, err)
	return k
}

// putBytes stores b under key through the Store's own Put.
func putBytes(t *testing.T, s storage.Store, key string, b []byte, contentType string) {
	t.Helper()
	require.NoError(t, s.Put(t.Context(), key, bytes.NewReader(b), int64(len(b)), contentType))
}

// readAll opens key and returns its content.
func readAll(t *testing.T, s storage.Store, key string) []byte {
	t.Helper()
	rc, err := s.Open(t.Context(), key)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}

// requireNotFound asserts that no object is visible under key.
func requireNotFound(t *testing.T, s storage.Store, key string) {
	t.Helper()
	_, err := s.Stat(t.Context(), key)
	require.ErrorIs(t, err, storage.ErrNotFound)
}

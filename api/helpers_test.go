package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
	"github.com/lokiz/lokiz/replicate"
	"github.com/lokiz/lokiz/session"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/views"
)

// redisDB is this package's own Redis database, so parallel test packages
// never see each other's keys.
const redisDB = 1

var (
	specOnce      sync.Once
	specValidator validator.Validator
	specErr       error
)

// spec returns the validator for api/openapi.yaml, built once.
func spec(t testing.TB) validator.Validator {
	t.Helper()
	specOnce.Do(func() {
		doc, err := libopenapi.NewDocument(api.OpenAPIYAML())
		if err != nil {
			specErr = err
			return
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			specErr = fmt.Errorf("build validator: %v", errs)
			return
		}
		if ok, verrs := v.ValidateDocument(); !ok {
			msgs := make([]string, 0, len(verrs))
			for _, e := range verrs {
				m := e.Message + ": " + e.Reason
				for _, se := range e.SchemaValidationErrors {
					m += " [" + se.FieldPath + ": " + se.Reason + "]"
				}
				msgs = append(msgs, m)
			}
			specErr = fmt.Errorf("openapi.yaml is not a valid OpenAPI document: %s", strings.Join(msgs, "; "))
			return
		}
		specValidator = v
	})
	require.NoError(t, specErr)
	return specValidator
}

// testEnv is one api over its own database, the shared Redis test database
// and a private client IP (so rate-limit buckets never collide).
type testEnv struct {
	t       testing.TB
	store   *db.Store
	rdb     *redis.Client
	srv     *api.Server
	h       http.Handler
	ip      string
	logs    *testkit.LogBuffer
	config  api.Config
	storage *storage.Local
	queue   *asynq.Client
}

func newRedis(t testing.TB) *redis.Client { return testkit.Redis(t, redisDB) }

// testAIModels are the built-in catalog's models, as cmd/lokiz passes them.
var testAIModels = func() api.AIModels {
	c, err := replicate.LoadCatalog("")
	if err != nil {
		panic(err)
	}
	m := api.AIModels{}
	for jobType, e := range c {
		m[jobType] = api.AIModel{Name: e.Name(), Deadline: time.Duration(e.Deadline)}
	}
	return m
}()

func testConfig() api.Config {
	return api.Config{
		Env:            "development",
		Version:        "test",
		PublicBaseURL:  "http://localhost:8000",
		CORSOrigins:    []string{"*"},
		SecretKey:      "test-secret-key-test-secret-key-0123456789",
		TokenTTL:       time.Hour,
		BcryptCost:     bcrypt.MinCost,
		AuthRateLimit:  1000,
		AuthRateWindow: time.Minute,
		UploadURLTTL:   time.Hour,
		MediaURLTTL:    time.Hour,
		VideoMaxBytes:  50 << 20,
		ImageMaxBytes:  5 << 20,
		ViewRateLimit:  100000,
	}
}

// newLocalStorage is the local backend in a temp dir, serving signed URLs
// under the api's base URL.
func newLocalStorage(t testing.TB, cfg api.Config) *storage.Local {
	t.Helper()
	st, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: cfg.PublicBaseURL, SecretKey: cfg.SecretKey})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func newEnv(t testing.TB, mutate ...func(*api.Config)) *testEnv {
	t.Helper()
	return newEnvWithStore(t, dbtest.NewStore(t), mutate...)
}

// newEnvWithStore is newEnv over a database the caller provides.
func newEnvWithStore(t testing.TB, store *db.Store, mutate ...func(*api.Config)) *testEnv {
	t.Helper()
	return newEnvWithRedis(t, store, newRedis(t), mutate...)
}

// newEnvWithRedis is newEnv over a database and a Redis client the caller
// provides (a client with a pool of its own size, say).
func newEnvWithRedis(t testing.TB, store *db.Store, rdb *redis.Client, mutate ...func(*api.Config)) *testEnv {
	t.Helper()
	cfg := testConfig()
	for _, m := range mutate {
		m(&cfg)
	}
	qc := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = qc.Close() })
	logger, logs := testkit.NewLogger()
	st := newLocalStorage(t, cfg)
	srv, err := api.New(cfg, api.Deps{
		Store: store, Redis: rdb, Tasks: tasks.NewClient(qc).WithDeleter(asynq.NewInspectorFromRedisClient(rdb)),
		Logger:  logger,
		Storage: st, StorageHandler: st.Handler(),
		Views:    views.NewCounter(rdb, cfg.SecretKey, views.DedupeWindow),
		AIModels: testAIModels,
	})
	require.NoError(t, err)
	return &testEnv{
		t: t, store: store, rdb: rdb, srv: srv, h: srv.Handler(), logs: logs, config: cfg, storage: st, queue: qc,
		ip: fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), rand.IntN(256)),
	}
}

// response is a recorded response with its decoded JSON body.
type response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

// req describes one request; zero values mean "none".
type req struct {
	method  string
	path    string
	body    any // marshalled as JSON unless it is a string or []byte (sent as is)
	token   string
	headers map[string]string
	// unspecified marks a request to a path the OpenAPI document does not
	// describe (unknown routes); only the error shape is checked.
	unspecified bool
}

// do sends r through the real handler and checks the response against
// api/openapi.yaml: every response the suite receives is validated.
func (e *testEnv) do(r req) response {
	e.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		body = bytes.NewReader(raw)
	}
	httpReq := httptest.NewRequest(r.method, r.path, body)
	httpReq.RemoteAddr = e.ip + ":40000"
	if body != nil {
		httpReq.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		httpReq.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.headers {
		httpReq.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, httpReq)

	res := response{Status: rec.Code, Header: rec.Header(), Raw: rec.Body.Bytes()}
	ct := rec.Header().Get("Content-Type")
	if strings.HasPrefix(ct, "application/json") {
		var m map[string]any
		if err := json.Unmarshal(res.Raw, &m); err == nil {
			res.Body = m
		}
	}
	if rec.Code >= 400 {
		e.requireErrorShape(res)
	}
	if !r.unspecified {
		e.requireMatchesSpec(httpReq, rec)
	}
	return res
}

func (e *testEnv) requireErrorShape(res response) {
	e.t.Helper()
	require.Truef(e.t, strings.HasPrefix(res.Header.Get("Content-Type"), "application/json"),
		"error responses are JSON, got %q: %s", res.Header.Get("Content-Type"), res.Raw)
	require.NotNil(e.t, res.Body, "error body is a JSON object: %s", res.Raw)
	detail, ok := res.Body["detail"].(string)
	require.Truef(e.t, ok && detail != "", "detail is a non-empty string: %s", res.Raw)
	code, ok := res.Body["code"].(string)
	require.Truef(e.t, ok && code != "", "code is a non-empty string: %s", res.Raw)
}

func (e *testEnv) requireMatchesSpec(httpReq *http.Request, rec *httptest.ResponseRecorder) {
	e.t.Helper()
	// Reset the path a trailing slash may have been stripped from.
	resp := &http.Response{
		StatusCode: rec.Code,
		Header:     rec.Header(),
		Body:       io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Request:    httpReq,
	}
	if ok, errs := spec(e.t).ValidateHttpResponse(httpReq, resp); !ok {
		msgs := make([]string, 0, len(errs))
		for _, err := range errs {
			m := err.Message + ": " + err.Reason
			for _, se := range err.SchemaValidationErrors {
				m += " [" + se.FieldPath + ": " + se.Reason + "]"
			}
			msgs = append(msgs, m)
		}
		e.t.Fatalf("%s %s → %d does not match api/openapi.yaml:\n  %s\nbody: %s",
			httpReq.Method, httpReq.URL.Path, rec.Code, strings.Join(msgs, "\n  "), rec.Body.String())
	}
}

// register creates an account through the API and returns its token and id.
func (e *testEnv) register(username string) (token, id string) {
	e.t.Helper()
	res := e.do(req{method: "POST", path: "/v1/auth/register", body: map[string]any{
		"username": username, "email": username + "@example.com", "password": "password-" + username,
	}})
	require.Equal(e.t, http.StatusCreated, res.Status, "%s", res.Raw)
	user := res.Body["user"].(map[string]any)
	return res.Body["access_token"].(string), user["id"].(string)
}

func errorCode(res response) string {
	s, _ := res.Body["code"].(string)
	return s
}

func errorDetail(res response) string {
	s, _ := res.Body["detail"].(string)
	return s
}

// tokenFor opens a session for a user made without the API and signs an
// access token of it.
func (e *testEnv) tokenFor(id uuid.UUID) string {
	e.t.Helper()
	_, hash := session.NewRefreshToken()
	sess, err := e.store.CreateSession(context.Background(), db.NewSessionParams{
		UserID: id, RefreshHash: hash, ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(e.t, err)
	return e.signToken(jwt.MapClaims{"sub": id.String(), "sid": sess.ID.String(),
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
}

// signToken signs claims with the api's key.
func (e *testEnv) signToken(claims jwt.MapClaims) string {
	e.t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(e.config.SecretKey))
	require.NoError(e.t, err)
	return tok
}

package paymenttest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// StripeOverlay is an HTTP proxy in front of stripe-mock that gives it a
// little state. Every request is forwarded unchanged, so stripe-mock still
// validates it against Stripe's OpenAPI spec and its answer keeps Stripe's
// shape; errors pass through untouched. In a successful JSON answer, every
// object (at any depth, expanded ones included) whose "id" the test has
// registered with Set gets the registered fields merged in. The overlay
// invents nothing else: an id nobody registered answers stripe-mock's
// fixture values.
type StripeOverlay struct {
	// URL is the overlay's root, to be used as the Stripe API base.
	URL string

	mu       sync.Mutex
	patches  map[string]map[string]any
	missing  map[string]bool
	refused  map[string]string // method + " " + id → message
	requests []StripeRequest
}

// StripeRequest is a request the overlay forwarded, with its decoded form
// body (stripe-go sends form-encoded parameters: "line_items[0][price_data]
// [unit_amount]" and so on).
type StripeRequest struct {
	Method, Path   string
	Form           url.Values
	IdempotencyKey string
	Status         int
}

// List is a form array as stripe-go encodes it ("expand[0]", "expand[1]"…),
// in order.
func (r StripeRequest) List(name string) []string {
	var out []string
	for i := 0; ; i++ {
		v, ok := r.Form[name+"["+strconv.Itoa(i)+"]"]
		if !ok {
			return out
		}
		out = append(out, v...)
	}
}

// StartStripe starts stripe-mock and an overlay in front of it.
func StartStripe(t testing.TB) *StripeOverlay {
	t.Helper()
	return NewStripeOverlay(t, StartStripeMock(t).URL)
}

// NewStripeOverlay starts an overlay forwarding to the stripe-mock at
// upstream; it stops when the test ends.
func NewStripeOverlay(t testing.TB, upstream string) *StripeOverlay {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatalf("paymenttest: stripe-mock URL %q: %v", upstream, err)
	}
	o := &StripeOverlay{patches: map[string]map[string]any{}, missing: map[string]bool{}, refused: map[string]string{}}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			// Plain JSON back, so it can be patched.
			r.Out.Header.Del("Accept-Encoding")
		},
		ModifyResponse: o.patchResponse,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if r.Method == http.MethodGet || r.Method == http.MethodDelete {
			form = r.URL.Query() // stripe-go sends these parameters in the query
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(rec, r)
		o.mu.Lock()
		o.requests = append(o.requests, StripeRequest{
			Method:         r.Method,
			Path:           r.URL.Path,
			Form:           form,
			IdempotencyKey: r.Header.Get("Idempotency-Key"),
			Status:         rec.status,
		})
		o.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	o.URL = srv.URL
	return o
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Set registers fields for the object with this id, merged over what was
// registered before. Values are JSON values as Stripe writes them (numbers,
// strings, nil for null); a map merges into a nested object (or, where
// stripe-mock answered an unexpanded id string, a map with an "id" replaces
// the string by that id); a slice replaces the field.
func (o *StripeOverlay) Set(id string, fields map[string]any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.patches[id]
	if p == nil {
		p = map[string]any{}
		o.patches[id] = p
	}
	mergeInto(p, normalize(fields).(map[string]any))
}

// Missing registers an id Stripe does not know: a request whose path ends
// in it is still forwarded (and validated), but a successful answer is
// replaced by Stripe's 404 resource_missing error.
func (o *StripeOverlay) Missing(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.missing[id] = true
}

// Refuse makes requests with method whose path ends in id answer Stripe's
// 400 invalid_request_error with message (as Stripe refuses, say, to
// cancel a subscription that is already canceled) instead of a successful
// answer; the request is still forwarded (and validated).
func (o *StripeOverlay) Refuse(method, id, message string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refused[method+" "+id] = message
}

// Requests is what the overlay has forwarded so far, oldest first.
func (o *StripeOverlay) Requests() []StripeRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]StripeRequest(nil), o.requests...)
}

// LastRequest is the last forwarded request with this method and path;
// false when there was none.
func (o *StripeOverlay) LastRequest(method, path string) (StripeRequest, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.requests) - 1; i >= 0; i-- {
		if r := o.requests[i]; r.Method == method && r.Path == path {
			return r, true
		}
	}
	return StripeRequest{}, false
}

func (o *StripeOverlay) patchResponse(resp *http.Response) error {
	if resp.StatusCode/100 == 2 && resp.Request != nil {
		id := resp.Request.URL.Path[strings.LastIndex(resp.Request.URL.Path, "/")+1:]
		o.mu.Lock()
		missing := o.missing[id]
		refusal, refused := o.refused[resp.Request.Method+" "+id]
		o.mu.Unlock()
		if missing || refused {
			status, e := http.StatusNotFound, map[string]any{
				"type": "invalid_request_error", "code": "resource_missing", "param": "id",
				"message": "No such object: '" + id + "'",
			}
			if !missing {
				status, e = http.StatusBadRequest, map[string]any{"type": "invalid_request_error", "message": refusal}
			}
			body, _ := json.Marshal(map[string]any{"error": e})
			resp.Body.Close()
			resp.StatusCode, resp.Status = status, strconv.Itoa(status)+" "+http.StatusText(status)
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
			resp.Header.Set("Content-Type", "application/json")
			return nil
		}
	}
	if resp.StatusCode/100 != 2 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // ids and amounts keep their exact digits
	if err := dec.Decode(&doc); err == nil {
		o.mu.Lock()
		changed := o.apply(doc)
		o.mu.Unlock()
		if changed {
			if patched, err := json.Marshal(doc); err == nil {
				body = patched
			}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// apply walks the document; an object whose id is registered gets its
// patch, then its fields (patched ones included) are walked in turn.
func (o *StripeOverlay) apply(v any) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		if id, ok := x["id"].(string); ok {
			if p, ok := o.patches[id]; ok {
				mergeInto(x, deepCopy(p).(map[string]any))
				changed = true
			}
		}
		for _, child := range x {
			if o.apply(child) {
				changed = true
			}
		}
	case []any:
		for _, child := range x {
			if o.apply(child) {
				changed = true
			}
		}
	}
	return changed
}

// mergeInto merges src into dst: maps into maps, a map with an id over an
// unexpanded id string becomes that id, anything else replaces.
func mergeInto(dst, src map[string]any) {
	for k, sv := range src {
		sm, srcIsMap := sv.(map[string]any)
		switch dv := dst[k].(type) {
		case map[string]any:
			if srcIsMap {
				mergeInto(dv, sm)
				continue
			}
		case string:
			if srcIsMap {
				if id, ok := sm["id"].(string); ok {
					dst[k] = id
					continue
				}
			}
		}
		dst[k] = sv
	}
}

// normalize turns Go values into what encoding/json decodes (float64
// numbers, []any, map[string]any) so patches and answers merge alike.
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic("paymenttest: overlay fields do not encode as JSON: " + err.Error())
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = deepCopy(e)
		}
		return c
	}
	return v
}

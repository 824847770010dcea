// Package paymenttest runs the payment providers' test doubles for tests:
// Stripe's official API mock (stripe-mock, pinned in the tools module) and
// a small state overlay in front of it, and signs Stripe webhook events with
// a test secret.
//
// What is real and what is not: stripe-mock validates every request against
// Stripe's OpenAPI specification (unknown or ill-typed parameters are a 400
// invalid_request_error, as at Stripe) and answers objects of Stripe's exact
// shape, expanding what is asked to be expanded. It is stateless: it keeps
// nothing a test creates and answers fixture values (an "open", "unpaid"
// session; a subscription with a fixture period). The overlay (StripeOverlay)
// supplies the state: for the object ids a test registers it patches the
// named fields into stripe-mock's answer, so a session can be "paid" for 499
// with the test's order id, and it answers Stripe's 404 resource_missing for
// an id the test declares Missing. That state is the test's statement of
// what Stripe would say, not Stripe's behaviour.
package paymenttest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// StripeTestKey is a secret key in Stripe's test format. stripe-mock takes
// any "sk_test_" key whose rest is letters and digits (an underscore in the
// rest is refused with 401).
const StripeTestKey = "sk_test_lokizpaymenttest"

var stripeMockBin struct {
	once sync.Once
	path string
	err  error
}

// StripeMockBinary builds stripe-mock once per test binary through the tools
// module (`go -C <repo>/tools tool -n stripe-mock`, which builds it into the
// Go build cache and prints its path) and returns the path.
func StripeMockBinary() (string, error) {
	b := &stripeMockBin
	b.once.Do(func() {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			b.err = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(gomod)))
		var stderr bytes.Buffer
		cmd := exec.Command("go", "-C", filepath.Join(root, "tools"), "tool", "-n", "stripe-mock")
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			b.err = fmt.Errorf("go tool -n stripe-mock: %w: %s", err, stderr.String())
			return
		}
		b.path = strings.TrimSpace(string(out))
	})
	return b.path, b.err
}

// StripeMock is a running stripe-mock.
type StripeMock struct {
	// URL is its plain-HTTP root, e.g. "http://127.0.0.1:40569"; stripe-go
	// takes it as the API base.
	URL string

	cancel context.CancelFunc
	exited chan struct{}
}

// Close kills stripe-mock and waits for it to exit.
func (m *StripeMock) Close() {
	m.cancel()
	<-m.exited
}

var listenLine = regexp.MustCompile(`Listening for HTTP at address: (\S+)`)

// StartStripeMock starts stripe-mock (RunStripeMock) and kills it when the
// test ends.
func StartStripeMock(t testing.TB) *StripeMock {
	t.Helper()
	m, err := RunStripeMock()
	if err != nil {
		t.Fatalf("paymenttest: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

// RunStripeMock starts stripe-mock on free loopback ports (HTTP and HTTPS
// both chosen by the system, so parallel test binaries do not collide) and
// waits until it answers an authenticated request. The caller closes it;
// TestMain can share one among a package's tests, as it keeps no state.
func RunStripeMock() (*StripeMock, error) {
	bin, err := StripeMockBinary()
	if err != nil {
		return nil, fmt.Errorf("building stripe-mock: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("starting stripe-mock: %w", err)
	}
	m := &StripeMock{cancel: cancel, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(m.exited)
	}()

	// Read its output for the address, then keep draining it (it logs each
	// request) so it never blocks on a full pipe.
	addr := make(chan string, 1)
	var logMu sync.Mutex
	var logTail []string
	go func() {
		sc := bufio.NewScanner(pr)
		found := false
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			if len(logTail) < 20 {
				logTail = append(logTail, line)
			}
			logMu.Unlock()
			if m := listenLine.FindStringSubmatch(line); m != nil && !found {
				found = true
				addr <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case a := <-addr:
		m.URL = "http://" + a
	case <-m.exited:
		logMu.Lock()
		defer logMu.Unlock()
		return nil, fmt.Errorf("stripe-mock exited before listening:\n%s", strings.Join(logTail, "\n"))
	case <-time.After(60 * time.Second):
		m.Close()
		return nil, errors.New("stripe-mock did not say where it listens within 60 s")
	}
	if err := waitStripe(m.URL, 30*time.Second); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// waitStripe polls an authenticated read until stripe-mock answers 200.
func waitStripe(base string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for time.Now().Before(deadline) {
		req, err := http.NewRequest(http.MethodGet, base+"/v1/balance", nil)
		if err != nil {
			return err
		}
		req.SetBasicAuth(StripeTestKey, "")
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				return nil
			case http.StatusUnauthorized:
				return fmt.Errorf("stripe-mock at %s refuses the test key", base)
			}
			err = fmt.Errorf("GET /v1/balance answered %d", resp.StatusCode)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return errors.Join(fmt.Errorf("stripe-mock at %s did not answer within %s", base, limit), last)
}

package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
)

// devMail is one message as `lokiz dev` lists it at /dev/mail?format=json.
type devMail struct {
	To      []string            `json:"to"`
	Subject string              `json:"subject"`
	Headers map[string][]string `json:"headers"`
	Text    string              `json:"text"`
}

// waitMail waits until the dev mail box holds n messages to rcpt and
// returns them, newest first.
func (c *devClient) waitMail(rcpt string, n int) []devMail {
	c.t.Helper()
	var got []devMail
	require.Eventually(c.t, func() bool {
		status, body, _ := c.get(c.base + "/dev/mail?format=json")
		if status != http.StatusOK {
			return false
		}
		var out struct{ Messages []devMail }
		if json.Unmarshal(body, &out) != nil {
			return false
		}
		got = got[:0]
		for _, m := range out.Messages {
			if len(m.To) == 1 && m.To[0] == rcpt {
				got = append(got, m)
			}
		}
		return len(got) >= n
	}, 30*time.Second, 100*time.Millisecond, "no mail to %s; logs:\n%s", rcpt, c.logs)
	return got
}

var mailLinkRE = regexp.MustCompile(`https?://\S+`)

// mailToken follows the link of a mail that contains path and returns its token.
func mailToken(t *testing.T, m devMail, path string) string {
	t.Helper()
	for _, l := range mailLinkRE.FindAllString(m.Text, -1) {
		if u, err := url.Parse(l); err == nil && u.Path == path {
			return u.Query().Get("token")
		}
	}
	t.Fatalf("no %s link in %q", path, m.Text)
	return ""
}

// mailJourney runs on a `lokiz dev` without SMTP_HOST and with
// WELCOME_CREDITS_AFTER_VERIFICATION=true: registration sends a
// verification mail (read from the dev mail box) whose link verifies the
// address and grants the welcome credits, once; a password-reset mail
// works once and ends the sessions.
func mailJourney(t *testing.T, c *devClient) {
	// The per-address reset limit lives in Redis, which outlives the test's
	// database: a fresh address keeps repeated runs within an hour apart.
	addr := "mailer-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "@example.com"
	status, reg := c.callWith("POST", "/v1/auth/register", "", map[string]any{"username": "journey_mailer", "email": addr, "password": "mailer-password"},
		map[string]string{"Accept-Language": "ko-KR,ko;q=0.9"})
	require.Equal(t, http.StatusCreated, status, "%v", reg)
	token := reg["access_token"].(string)
	user := reg["user"].(map[string]any)
	require.Equal(t, float64(0), user["credits"], "no welcome credits before verification")
	require.Equal(t, false, user["email_verified"])

	verify := c.waitMail(addr, 1)[0]
	require.Equal(t, "LOKIZ 이메일 주소를 인증해 주세요", verify.Subject, "in the language of Accept-Language")
	vt := mailToken(t, verify, "/verify-email")
	status, me := c.call("POST", "/v1/auth/verify-email", "", map[string]any{"token": vt})
	require.Equal(t, http.StatusOK, status, "%v", me)
	require.Equal(t, true, me["email_verified"])
	require.Equal(t, float64(lokiz.InitialCredits), me["credits"])
	status, again := c.call("POST", "/v1/auth/verify-email", "", map[string]any{"token": vt})
	require.Equal(t, http.StatusBadRequest, status, "%v", again)
	status, me = c.call("GET", "/v1/users/me", token, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, float64(lokiz.InitialCredits), me["credits"], "granted once")

	status, _ = c.call("POST", "/v1/auth/password-reset/request", "", map[string]any{"email": addr})
	require.Equal(t, http.StatusAccepted, status)
	reset := c.waitMail(addr, 2)[0]
	rt := mailToken(t, reset, "/reset-password")
	status, _ = c.call("POST", "/v1/auth/password-reset", "", map[string]any{"token": rt, "new_password": "a-brand-new-password"})
	require.Equal(t, http.StatusNoContent, status)
	status, _ = c.call("GET", "/v1/users/me", token, nil)
	require.Equal(t, http.StatusUnauthorized, status, "the reset ended the session")
	status, _ = c.call("POST", "/v1/auth/login", "", map[string]any{"email": addr, "password": "a-brand-new-password"})
	require.Equal(t, http.StatusOK, status)
	status, used := c.call("POST", "/v1/auth/password-reset", "", map[string]any{"token": rt, "new_password": "yet-another-password"})
	require.Equal(t, http.StatusBadRequest, status, "the link works once: %v", used)
	require.Equal(t, "token_used", used["reason"])
}

package mail_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/mail"
	"github.com/lokiz/lokiz/mail/mailtest"
)

func startServer(t *testing.T) *mailtest.Server {
	t.Helper()
	s, err := mailtest.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newSender(t *testing.T, s *mailtest.Server) *mail.Sender {
	t.Helper()
	snd, err := mail.NewSender(mail.Config{Host: s.Host(), Port: s.Port(), TLS: mail.TLSNone, From: "LOKIZ <no-reply@lokiz.test>"})
	require.NoError(t, err)
	return snd
}

func wait(t *testing.T, s *mailtest.Server, to string, n int) []mailtest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := s.WaitTo(ctx, to, n)
	require.NoError(t, err)
	return msgs
}

func TestSenderDeliversOverSMTP(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	snd := newSender(t, s)

	c := mail.CommentContent(mail.LangEnglish, "mina", "My <b>clip</b>", `nice <script>alert(1)</script> & "quoted"`,
		"https://app.test/notifications", "https://api.test/v1/email/unsubscribe?token=abc")
	msg, err := mail.Render("owner@example.com", "email:notify:1", c)
	require.NoError(t, err)
	require.NoError(t, snd.Send(context.Background(), msg))

	got := wait(t, s, "owner@example.com", 1)[0]
	require.Equal(t, "no-reply@lokiz.test", got.From)
	require.Equal(t, "mina commented on your video", got.Subject)
	require.Equal(t, "<https://api.test/v1/email/unsubscribe?token=abc>", got.Header.Get("List-Unsubscribe"))
	require.Equal(t, "List-Unsubscribe=One-Click", got.Header.Get("List-Unsubscribe-Post"))
	require.Contains(t, got.Text, `nice <script>alert(1)</script> & "quoted"`, "the text part is the text")
	require.NotContains(t, got.HTML, "<script>", "html/template escapes user text")
	require.Contains(t, got.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;")
	require.Contains(t, got.HTML, "My &lt;b&gt;clip&lt;/b&gt;")
	require.Equal(t, "https://app.test/notifications", got.LinkWith("/notifications"))

	// The same logical mail carries the same Message-ID.
	require.NoError(t, snd.Send(context.Background(), msg))
	both := wait(t, s, "owner@example.com", 2)
	require.NotEmpty(t, both[0].Header.Get("Message-Id"))
	require.Equal(t, both[0].Header.Get("Message-Id"), both[1].Header.Get("Message-Id"))
}

func TestSenderFailsWithoutServer(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	snd := newSender(t, s)
	require.NoError(t, s.Close())
	msg, err := mail.Render("x@example.com", "id", mail.VerificationContent("en", "x", "https://x.test", time.Hour))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.Error(t, snd.Send(ctx, msg), "a refused connection is an error the task retries")
}

func TestTemplatesInBothLanguages(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	snd := newSender(t, s)
	cases := []struct {
		lang, subject, body string
	}{
		{mail.LangEnglish, "Verify your LOKIZ e-mail address", "The link works once, for 48 hours."},
		{mail.LangKorean, "LOKIZ 이메일 주소를 인증해 주세요", "이 링크는 48시간 동안, 한 번만 사용할 수 있습니다."},
	}
	for _, tc := range cases {
		to := tc.lang + "@example.com"
		msg, err := mail.Render(to, "v-"+tc.lang, mail.VerificationContent(tc.lang, "mina", "https://app.test/verify-email?token=T", 48*time.Hour))
		require.NoError(t, err)
		require.NoError(t, snd.Send(context.Background(), msg))
		got := wait(t, s, to, 1)[0]
		require.Equal(t, tc.subject, got.Subject)
		require.Contains(t, got.Text, tc.body)
		require.Contains(t, got.HTML, tc.body)
		require.Contains(t, got.HTML, `lang="`+tc.lang+`"`)
		require.Equal(t, "https://app.test/verify-email?token=T", got.LinkWith("verify-email"))
		require.Empty(t, got.Header.Get("List-Unsubscribe"), "account mails have no unsubscribe")
	}

	events := []mail.DigestEvent{{Type: "like", Actor: "a", VideoTitle: "v"}, {Type: "like", Actor: "b"}, {Type: "follow", Actor: "c"}}
	en := mail.DigestContent(mail.LangEnglish, events, "https://app.test/n", "https://api.test/u")
	require.Equal(t, "What's new on LOKIZ: 2 likes, 1 new follower", en.Subject)
	koC := mail.DigestContent(mail.LangKorean, events, "https://app.test/n", "https://api.test/u")
	require.Equal(t, "LOKIZ 새 소식: 좋아요 2개, 새 팔로워 1명", koC.Subject)
	reset := mail.PasswordResetContent(mail.LangKorean, "mina", "https://x", 30*time.Minute)
	require.Contains(t, strings.Join(reset.Notes, " "), "30분")
}

func TestLangFromAcceptLanguage(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{
		"":                        "en",
		"ko-KR,ko;q=0.9,en;q=0.8": "ko",
		"en-US,en;q=0.9,ko;q=0.8": "en",
		"fr-FR,ko;q=0.5":          "ko",
		"de":                      "en",
		"en;q=0.2, ko;q=0.7":      "ko",
		"KO":                      "ko",
		"ko;q=garbage, en;q=0.1":  "en",
	} {
		require.Equal(t, want, mail.LangFromAcceptLanguage(header), header)
	}
}

func TestUnsubscribeToken(t *testing.T) {
	t.Parallel()
	key := []byte("secret")
	id := uuid.New()
	tok := mail.UnsubscribeToken(key, id)
	got, err := mail.ParseUnsubscribeToken(key, tok)
	require.NoError(t, err)
	require.Equal(t, id, got)
	_, err = mail.ParseUnsubscribeToken([]byte("other"), tok)
	require.ErrorIs(t, err, mail.ErrBadUnsubscribeToken)
	other := mail.UnsubscribeToken(key, uuid.New())
	_, err = mail.ParseUnsubscribeToken(key, other[:22]+tok[22:])
	require.ErrorIs(t, err, mail.ErrBadUnsubscribeToken, "another user's id under this signature")
	_, err = mail.ParseUnsubscribeToken(key, "!!")
	require.ErrorIs(t, err, mail.ErrBadUnsubscribeToken)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	base := mail.Config{Host: "smtp.example.com", From: "LOKIZ <no-reply@example.com>", TLS: mail.TLSStartTLS}
	require.NoError(t, base.Validate(true))

	plain := base
	plain.TLS = mail.TLSNone
	require.ErrorContains(t, plain.Validate(true), "plaintext", "production refuses plaintext to a remote host")
	require.NoError(t, plain.Validate(false), "development allows it")
	plain.AllowPlaintext = true
	require.NoError(t, plain.Validate(true), "unless explicitly allowed")
	local := base
	local.TLS, local.Host = mail.TLSNone, "127.0.0.1"
	require.NoError(t, local.Validate(true), "a loopback relay is fine")

	bad := mail.Config{Host: "", From: "nope", TLS: "ssl", Username: "u"}
	err := bad.Validate(false)
	for _, want := range []string{"SMTP_HOST", "SMTP_FROM", "SMTP_TLS", "SMTP_USERNAME"} {
		require.ErrorContains(t, err, want)
	}
}

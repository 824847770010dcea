// Package mail sends LOKIZ's e-mail: verification and password-reset
// links, notification mails and digests. It renders each mail from embedded
// templates (text and HTML, Korean or English) and hands it to an SMTP
// server with github.com/wneessen/go-mail. The worker runs it (tasks on the
// email queue); the api only enqueues and checks the tokens the mails carry.
package mail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes of the SMTP connection.
const (
	// TLSStartTLS upgrades the connection with STARTTLS and refuses a server
	// that does not offer it (port 587 unless set). The default.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (port 465 unless set).
	TLSImplicit = "tls"
	// TLSNone sends in plaintext: for a relay on the same host or a test
	// server. Production refuses it towards any other host unless
	// AllowPlaintext is set.
	TLSNone = "none"
)

// Config says where and how mail is sent.
type Config struct {
	Host     string // SMTP_HOST
	Port     int    // SMTP_PORT; 0 means the TLS mode's usual port (587, 465 or 25)
	Username string // SMTP_USERNAME; empty sends without authentication
	Password string // SMTP_PASSWORD
	From     string // SMTP_FROM, e.g. "LOKIZ <no-reply@lokiz.app>"
	TLS      string // SMTP_TLS: starttls (default), tls or none
	// AllowPlaintext (SMTP_ALLOW_PLAINTEXT) lets production send with
	// TLS=none to a host that is not a loopback address.
	AllowPlaintext bool
	// Timeout bounds connecting and each SMTP command; 0 means 30s.
	Timeout time.Duration
}

// Validate checks the configuration; production refuses plaintext to a
// host that is not a loopback address unless AllowPlaintext is set.
func (c Config) Validate(production bool) error {
	var errs []error
	if c.Host == "" {
		errs = append(errs, errors.New("SMTP_HOST is required"))
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		errs = append(errs, fmt.Errorf("SMTP_FROM must be an address such as \"LOKIZ <no-reply@example.com>\", not %q", c.From))
	}
	switch c.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if production && !c.AllowPlaintext && !isLoopback(c.Host) {
			errs = append(errs, fmt.Errorf("SMTP_TLS=none sends mail (and SMTP_PASSWORD) in plaintext to %s: production allows it only to a loopback host, or with SMTP_ALLOW_PLAINTEXT=true", c.Host))
		}
	default:
		errs = append(errs, fmt.Errorf("SMTP_TLS must be starttls, tls or none, not %q", c.TLS))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("SMTP_PORT must be from 1 to 65535"))
	}
	if (c.Username == "") != (c.Password == "") {
		errs = append(errs, errors.New("SMTP_USERNAME and SMTP_PASSWORD go together"))
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Message is one rendered mail to one recipient.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
	// ID names the logical mail (the task that sends it); the Message-ID
	// header is derived from it, so a resend of the same mail carries the
	// same Message-ID and receiving systems may fold the copies.
	ID string
	// Unsubscribe, when set, is the one-click URL of RFC 8058: it goes into
	// List-Unsubscribe with List-Unsubscribe-Post.
	Unsubscribe string
}

// Sender delivers messages over SMTP.
type Sender struct {
	cfg  Config
	from string
	opts []gomail.Option
}

// NewSender checks cfg (as development: Validate(true) is for the
// configuration loader) and returns a Sender.
func NewSender(cfg Config) (*Sender, error) {
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if err := cfg.Validate(false); err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithTimeout(cfg.Timeout)}
	switch cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSLPort(false))
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithPort(25))
	}
	if cfg.Port != 0 {
		opts = append(opts, gomail.WithPort(cfg.Port))
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	return &Sender{cfg: cfg, from: cfg.From, opts: opts}, nil
}

// Send delivers m. A nil error means the server accepted the message; SMTP
// cannot say more, and an error after the server accepted it (a dropped
// connection before its reply) makes a retry send it twice.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg(gomail.WithEncoding(gomail.EncodingQP))
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: to %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	if m.ID != "" {
		msg.SetMessageIDWithValue(messageID(m.ID, s.from))
	} else {
		msg.SetMessageID()
	}
	if m.Unsubscribe != "" {
		msg.SetGenHeader(gomail.HeaderListUnsubscribe, "<"+m.Unsubscribe+">")
		msg.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	client, err := gomail.NewClient(s.cfg.Host, s.opts...)
	if err != nil {
		return fmt.Errorf("mail: client: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send via %s: %w", s.cfg.Host, err)
	}
	return nil
}

// messageID derives a stable Message-ID from the logical mail's id and the
// sender's domain.
func messageID(id, from string) string {
	domain := "lokiz.local"
	if a, err := mail.ParseAddress(from); err == nil {
		if at := strings.LastIndexByte(a.Address, '@'); at >= 0 {
			domain = a.Address[at+1:]
		}
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16]) + "@" + domain
}

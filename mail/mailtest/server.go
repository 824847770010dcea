// Package mailtest runs a real SMTP server in process (emersion/go-smtp)
// that keeps every message it accepts, so tests, and `lokiz dev`, can read
// the mail the application sent: headers, text and HTML parts, links.
//
// It accepts any sender and recipient without TLS or authentication; it is
// meant for a loopback address and never for production.
package mailtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// maxMessages bounds what the server keeps; the oldest go first.
const maxMessages = 500

// Message is one accepted message.
type Message struct {
	From       string
	To         []string
	ReceivedAt time.Time
	Raw        []byte
	Header     netmail.Header
	// Subject is the decoded Subject header.
	Subject string
	// Text and HTML are the decoded text/plain and text/html parts.
	Text string
	HTML string
}

// Server is a running capture server.
type Server struct {
	srv  *smtp.Server
	ln   net.Listener
	mu   sync.Mutex
	msgs []Message
	// notify is closed and replaced on every new message.
	notify chan struct{}
}

// Start listens on addr ("127.0.0.1:0" for a free port) and serves until
// Close.
func Start(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mailtest: listen: %w", err)
	}
	s := &Server{ln: ln, notify: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.MaxRecipients = 50
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Host and Port are where the server listens.
func (s *Server) Host() string {
	h, _, _ := net.SplitHostPort(s.ln.Addr().String())
	return h
}

// Port is the server's TCP port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Addr is host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server. The listener is closed here too: Serve runs in
// a goroutine and may not have registered it with the server yet.
func (s *Server) Close() error {
	err := s.srv.Close()
	_ = s.ln.Close()
	return err
}

// Messages returns a copy of what was received, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// To returns the messages addressed to rcpt, oldest first.
func (s *Server) To(rcpt string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		for _, r := range m.To {
			if strings.EqualFold(r, rcpt) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// WaitTo waits until n messages to rcpt have arrived and returns them, or
// returns an error when ctx ends first.
func (s *Server) WaitTo(ctx context.Context, rcpt string, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		ch := s.notify
		s.mu.Unlock()
		if got := s.To(rcpt); len(got) >= n {
			return got, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s.To(rcpt), fmt.Errorf("mailtest: %d of %d messages to %s: %w", len(s.To(rcpt)), n, rcpt, ctx.Err())
		}
	}
}

func (s *Server) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	if len(s.msgs) > maxMessages {
		s.msgs = s.msgs[len(s.msgs)-maxMessages:]
	}
	close(s.notify)
	s.notify = make(chan struct{})
}

type session struct {
	s    *Server
	from string
	to   []string
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := Parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "cannot parse message: " + err.Error()}
	}
	m.From, m.To, m.ReceivedAt = ss.from, append([]string(nil), ss.to...), time.Now().UTC()
	ss.s.add(m)
	return nil
}

// Parse reads a raw RFC 5322 message: headers, decoded subject, and the
// text/plain and text/html parts (quoted-printable and base64 decoded).
func Parse(raw []byte) (Message, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	m := Message{Raw: raw, Header: msg.Header}
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		m.Subject = msg.Header.Get("Subject")
	}
	if err := m.readPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		return Message{}, err
	}
	return m, nil
}

func (m *Message) readPart(contentType, encoding string, body io.Reader) error {
	mediaType, params, err := mime.ParseMediaType(cmpOr(contentType, "text/plain"))
	if err != nil {
		return err
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
			// multipart.Part decodes quoted-printable itself and drops the header.
			if err := m.readPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	b, err := io.ReadAll(decodeBody(encoding, body))
	if err != nil {
		return err
	}
	switch mediaType {
	case "text/plain":
		m.Text = string(b)
	case "text/html":
		m.HTML = string(b)
	}
	return nil
}

func decodeBody(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "base64":
		return base64Reader(r)
	case "quoted-printable":
		return qpReader(r)
	}
	return r
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var linkRE = regexp.MustCompile(`https?://[^\s"'<>]+`)

// Links returns the http(s) URLs in the text part, in order.
func (m Message) Links() []string { return linkRE.FindAllString(m.Text, -1) }

// LinkWith returns the first link in the text part that contains substr, or "".
func (m Message) LinkWith(substr string) string {
	for _, l := range m.Links() {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}

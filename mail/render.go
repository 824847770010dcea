package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var (
	textLayout = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/layout.txt.tmpl"))
	htmlLayout = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/layout.html.tmpl"))
)

// Link is a call to action.
type Link struct {
	Label string
	URL   string
}

// Content is what a mail says, before it is laid out. Every string is
// plain text: the HTML layout escapes it (html/template), user text
// included.
type Content struct {
	Lang    string
	Subject string
	Heading string
	Lines   []string
	Items   []string
	Action  *Link
	Notes   []string
	// Unsubscribe is the one-click URL of a notification mail, shown in the
	// footer and sent in List-Unsubscribe.
	Unsubscribe      string
	UnsubscribeLabel string
}

// Render lays c out as a message to to; id names the logical mail.
func Render(to, id string, c Content) (Message, error) {
	var text, html bytes.Buffer
	if err := textLayout.Execute(&text, c); err != nil {
		return Message{}, fmt.Errorf("mail: render text: %w", err)
	}
	if err := htmlLayout.Execute(&html, c); err != nil {
		return Message{}, fmt.Errorf("mail: render html: %w", err)
	}
	return Message{
		To: to, ID: id, Subject: oneLine(c.Subject),
		Text: text.String(), HTML: html.String(), Unsubscribe: c.Unsubscribe,
	}, nil
}

// oneLine keeps a header value on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

package mailtest

import (
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"time"
)

// jsonMessage is a message as Handler lists it in JSON.
type jsonMessage struct {
	From       string              `json:"from"`
	To         []string            `json:"to"`
	Subject    string              `json:"subject"`
	ReceivedAt time.Time           `json:"received_at"`
	Headers    map[string][]string `json:"headers"`
	Text       string              `json:"text"`
	HTML       string              `json:"html"`
}

var pageTmpl = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>LOKIZ dev mail</title></head>
<body style="font-family:sans-serif;max-width:860px;margin:24px auto;padding:0 16px">
<h1>Development mail box</h1>
<p>Every mail LOKIZ sent while running <code>lokiz dev</code> without SMTP_HOST, newest first ({{len .}}). <a href="?format=json">JSON</a></p>
{{range .}}<details style="border:1px solid #ddd;border-radius:8px;padding:8px 12px;margin:8px 0">
<summary><b>{{.Subject}}</b> → {{range .To}}{{.}} {{end}}<small>{{.ReceivedAt.Format "15:04:05"}}</small></summary>
<pre style="white-space:pre-wrap">{{.Text}}</pre>
</details>
{{else}}<p>No mail yet.</p>{{end}}
</body></html>`))

// Handler lists the captured messages, newest first: an HTML page, or
// JSON with ?format=json. It is the development mail box of `lokiz dev`;
// nothing serves it in production.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msgs := s.Messages()
		slices.Reverse(msgs)
		if r.URL.Query().Get("format") == "json" {
			out := make([]jsonMessage, len(msgs))
			for i, m := range msgs {
				out[i] = jsonMessage{From: m.From, To: m.To, Subject: m.Subject, ReceivedAt: m.ReceivedAt,
					Headers: m.Header, Text: m.Text, HTML: m.HTML}
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"messages": out})
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = pageTmpl.Execute(w, msgs)
	})
}

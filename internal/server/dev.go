package server

import (
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"regexp"
	"time"

	"kilt"
	"kilt/internal/oidc"
)

// The dev outbox: with --dev, what the console transports printed is listed here, newest
// first, so a developer can follow a link or read a code without a mail server or an SMS
// gateway. It is never mounted outside --dev.

var devOutboxPage = template.Must(template.New("outbox").Funcs(template.FuncMap{
	"linkify": linkify,
	"when":    func(t time.Time) string { return t.Format("15:04:05") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dev outbox — Kilt</title></head>
<body>
<h1>Dev outbox</h1>
<p>Messages the development transports would have sent, newest first. <a href="/dev/outbox.json">JSON</a></p>
{{if not .}}<p>No messages yet.</p>{{end}}
{{range .}}<article>
<h2>{{.Channel}} to {{.To}} <small>{{when .At}} · {{.Lang}}</small></h2>
{{if .Subject}}<p><strong>{{.Subject}}</strong></p>{{end}}
<pre>{{linkify .Text}}</pre>
</article>{{end}}
</body></html>
`))

var urlPattern = regexp.MustCompile(`https?://[^\s<>"']+`)

// linkify escapes text and turns the URLs in it into links.
func linkify(text string) template.HTML {
	var out []byte
	last := 0
	for _, loc := range urlPattern.FindAllStringIndex(text, -1) {
		out = append(out, template.HTMLEscapeString(text[last:loc[0]])...)
		u := template.HTMLEscapeString(text[loc[0]:loc[1]])
		out = append(out, `<a href="`+u+`">`+u+`</a>`...)
		last = loc[1]
	}
	out = append(out, template.HTMLEscapeString(text[last:])...)
	return template.HTML(out)
}

func (a *App) devOutbox(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = devOutboxPage.Execute(w, a.DevLog.Messages())
}

func (a *App) devOutboxJSON(w http.ResponseWriter, r *http.Request) {
	type message struct {
		At      time.Time `json:"at"`
		Channel string    `json:"channel"`
		To      string    `json:"to"`
		Lang    string    `json:"lang"`
		Subject string    `json:"subject,omitempty"`
		Text    string    `json:"text"`
		HTML    string    `json:"html,omitempty"`
	}
	msgs := a.DevLog.Messages()
	out := make([]message, len(msgs))
	for i, m := range msgs {
		out[i] = message{At: m.At, Channel: string(m.Channel), To: m.To, Lang: m.Lang, Subject: m.Subject, Text: m.Text, HTML: m.HTML}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}

// The --dev demo client: examples/portal-app signs in with it on http://localhost:8090.
const (
	DevClientID     = "portal-app"
	DevClientSecret = "portal-app-dev-secret-not-for-production"
)

// devClient registers the demo client once (first-party: no consent page).
func (a *App) devClient(ctx context.Context) error {
	_, _, err := a.OIDC.AddClient(ctx, oidc.NewClient{ID: DevClientID, Secret: DevClientSecret, Name: "Portal demo app",
		RedirectURIs:           []string{"http://localhost:8090/callback"},
		PostLogoutRedirectURIs: []string{"http://localhost:8090/"},
		FirstParty:             true})
	if kilt.ErrorKind(err) == kilt.KindConflict {
		return nil
	}
	return err
}

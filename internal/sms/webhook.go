package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"kilt/internal/outbox"
)

// Webhook hands each SMS to an operator's own endpoint, the escape hatch for any gateway:
// a JSON POST {"to","text","lang","id"}.
//
// The endpoint's contract: answer 2xx once the message is taken; 408, 425, 429 or 5xx to
// be asked again later; any other status to refuse it for good. The same message may
// arrive more than once (an answer lost on the way back is retried): "id" and the
// Idempotency-Key header carry the outbox message's ID so the endpoint can drop repeats.
type Webhook struct {
	url    string
	token  string
	client *http.Client
}

// webhookMessage is the JSON body of a webhook request.
type webhookMessage struct {
	To   string `json:"to"`
	Text string `json:"text"`
	Lang string `json:"lang"`
	ID   int64  `json:"id,omitempty"`
}

// NewWebhook returns a Webhook posting to url, with "Authorization: Bearer bearerToken"
// when the token is not empty. A nil client means NewHTTPClient with the default timeouts.
func NewWebhook(url, bearerToken string, client *http.Client) *Webhook {
	return &Webhook{url: url, token: bearerToken, client: clientOrDefault(client)}
}

// Send posts m to the webhook.
func (w *Webhook) Send(ctx context.Context, m outbox.Rendered) error {
	const provider = "webhook"
	body, err := json.Marshal(webhookMessage{To: m.To, Text: m.Text, Lang: m.Lang, ID: m.ID})
	if err != nil {
		return outbox.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return invalidURL(provider)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Kilt")
	if m.ID != 0 {
		req.Header.Set("Idempotency-Key", strconv.FormatInt(m.ID, 10))
	}
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}

	status, _, err := exchange(w.client, req)
	switch {
	case err != nil:
		return noAnswer(provider, err)
	case status >= 200 && status < 300:
		return nil
	default:
		return refused(provider, status, "", "", temporaryStatus(status))
	}
}

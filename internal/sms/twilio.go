package sms

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"kilt/internal/outbox"
)

// DefaultTwilioURL is Twilio's REST API host.
const DefaultTwilioURL = "https://api.twilio.com"

// Twilio sends through Twilio's Messages API: POST
// {base}/2010-04-01/Accounts/{SID}/Messages.json with the form fields To, Body and From (or
// MessagingServiceSid), authenticated with HTTP basic auth SID:token. 2xx means queued;
// otherwise the answer is {"code","message","more_info","status"}, classified by its HTTP
// status (429 and 5xx temporary, other 4xx permanent) and reported by its code (21211:
// invalid number, 21610: the recipient unsubscribed, 20003: bad credentials…).
type Twilio struct {
	base   string
	sid    string
	token  string
	from   string
	client *http.Client
}

// NewTwilio returns a Twilio sender. from is the sender number, or a Messaging Service SID
// when it starts with "MG". An empty baseURL means DefaultTwilioURL; a nil client means
// NewHTTPClient with the default timeouts.
func NewTwilio(baseURL, accountSID, authToken, from string, client *http.Client) *Twilio {
	if baseURL == "" {
		baseURL = DefaultTwilioURL
	}
	return &Twilio{
		base:   strings.TrimRight(baseURL, "/"),
		sid:    accountSID,
		token:  authToken,
		from:   from,
		client: clientOrDefault(client),
	}
}

// twilioError is the body of Twilio's error answers. Only the code is read: the message
// may quote the destination number.
type twilioError struct {
	Code code `json:"code"`
}

// twilioCodes describes the error codes an operator most needs to recognise in a log.
var twilioCodes = map[int]string{
	20003: "authentication failed",
	20429: "too many requests",
	21211: "invalid destination number",
	21408: "destination region not enabled",
	21606: "sender number cannot send to this destination",
	21610: "recipient unsubscribed",
	21612: "destination not reachable from the sender",
	21614: "destination is not a mobile number",
}

// Send hands m to Twilio.
func (tw *Twilio) Send(ctx context.Context, m outbox.Rendered) error {
	const provider = "twilio"
	form := url.Values{"To": {m.To}, "Body": {m.Text}}
	if strings.HasPrefix(tw.from, "MG") {
		form.Set("MessagingServiceSid", tw.from)
	} else {
		form.Set("From", tw.from)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		tw.base+"/2010-04-01/Accounts/"+url.PathEscape(tw.sid)+"/Messages.json",
		strings.NewReader(form.Encode()))
	if err != nil {
		return invalidURL(provider)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Kilt")
	req.SetBasicAuth(tw.sid, tw.token)

	status, body, err := exchange(tw.client, req)
	switch {
	case err != nil:
		return noAnswer(provider, err)
	case status >= 200 && status < 300:
		return nil
	}
	var e twilioError
	_ = json.Unmarshal(body, &e)
	return refused(provider, status, e.Code.String(), twilioCodes[e.Code.n], temporaryStatus(status))
}

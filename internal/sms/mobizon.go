package sms

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"kilt/internal/outbox"
)

// DefaultMobizonURL is Mobizon's API host for accounts registered in Kazakhstan.
const DefaultMobizonURL = "https://api.mobizon.kz"

// Mobizon sends through Mobizon (mobizon.kz), the Kazakhstan gateway, with its HTTP API v1:
// POST {base}/service/message/sendsmsmessage?output=json&api=v1&apiKey=…, form fields
// recipient (the number's digits) and text. The message goes out under the account's
// default sender name.
//
// The API key travels in the query string, as Mobizon's API requires; so no error of this
// type ever holds the request URL.
type Mobizon struct {
	base   string
	key    string
	client *http.Client
}

// NewMobizon returns a Mobizon sender. An empty baseURL means DefaultMobizonURL (an account
// registered elsewhere has its own host); a nil client means NewHTTPClient with the default
// timeouts.
func NewMobizon(baseURL, apiKey string, client *http.Client) *Mobizon {
	if baseURL == "" {
		baseURL = DefaultMobizonURL
	}
	return &Mobizon{base: strings.TrimRight(baseURL, "/"), key: apiKey, client: clientOrDefault(client)}
}

// mobizonAnswer is the envelope of every Mobizon API answer.
type mobizonAnswer struct {
	Code *code `json:"code"`
}

// mobizonOutcome says what a Mobizon API code means for a message.
type mobizonOutcome struct {
	temporary bool
	what      string
}

// mobizonCodes classifies Mobizon's documented API codes (help/api-docs, "API response
// codes"). 0 (done), 100 (queued for background execution) and 98 (a mass operation done
// in part: with one recipient, the part done is ours) mean the message was taken. Codes
// that a corrected request or account would fix are permanent; those about the gateway's
// own state are temporary. A code not listed is temporary: the outbox's bounded attempts
// limit the cost of being wrong.
var mobizonCodes = map[int]mobizonOutcome{
	1:   {false, "validation error"},
	2:   {false, "record not found"},
	3:   {true, "unidentified gateway error"},
	4:   {false, "wrong module"},
	5:   {false, "wrong method"},
	6:   {false, "wrong output format"},
	8:   {false, "authentication failed"},
	9:   {false, "no access to the API method"},
	10:  {true, "gateway could not save"},
	11:  {false, "required parameter missing"},
	12:  {false, "parameter outside its limits"},
	13:  {false, "wrong API host for this account"},
	14:  {false, "account blocked or deleted"},
	15:  {true, "operation failed"},
	30:  {true, "request rate limit"},
	99:  {false, "nothing processed"},
	999: {true, "general gateway error"},
}

// Send hands m to Mobizon.
func (mz *Mobizon) Send(ctx context.Context, m outbox.Rendered) error {
	const provider = "mobizon"
	query := url.Values{"output": {"json"}, "api": {"v1"}, "apiKey": {mz.key}}
	form := url.Values{"recipient": {digits(m.To)}, "text": {m.Text}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		mz.base+"/service/message/sendsmsmessage?"+query.Encode(), strings.NewReader(form.Encode()))
	if err != nil {
		return invalidURL(provider)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "Kilt")

	status, body, err := exchange(mz.client, req)
	if err != nil {
		return noAnswer(provider, err)
	}
	var a mobizonAnswer
	parsed := json.Unmarshal(body, &a) == nil && a.Code != nil && a.Code.set
	switch {
	case temporaryStatus(status):
		c := ""
		if parsed {
			c = a.Code.String()
		}
		return refused(provider, status, c, "", true)
	case !parsed && status >= 200 && status < 300:
		// The request arrived but the answer does not say whether the message was taken.
		return unreadable(provider, status)
	case !parsed:
		return refused(provider, status, "", "", false)
	}
	switch a.Code.n {
	case 0, 98, 100:
		if status >= 200 && status < 300 {
			return nil
		}
		return refused(provider, status, a.Code.String(), "success code with an error status", false)
	}
	o, ok := mobizonCodes[a.Code.n]
	if !ok {
		o = mobizonOutcome{temporary: true, what: "undocumented code"}
	}
	return refused(provider, status, a.Code.String(), o.what, o.temporary)
}

// digits returns the digits of an E.164 number: Mobizon wants the number without "+".
func digits(e164 string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, e164)
}

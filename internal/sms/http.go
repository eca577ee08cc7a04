package sms

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"kilt"
	"kilt/internal/outbox"
)

// Default timeouts of the gateways' HTTP client.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultRequestTimeout = 15 * time.Second
)

// Error codes of the errors the gateways return. They are for logs and metrics; users never
// see them.
const (
	// CodeRefused: the gateway answered and did not take the message.
	CodeRefused = "sms_refused"
	// CodeNoAnswer: no answer came (network error, timeout), or none that could be read;
	// the gateway may have taken the message.
	CodeNoAnswer = "sms_no_answer"
)

// maxAnswer is the most of a gateway's answer that is read: enough for any error JSON,
// small enough that a misbehaving endpoint cannot make Kilt buffer much.
const maxAnswer = 64 << 10

// NewHTTPClient returns the client the gateways use: connect (and TLS handshake) within
// connect, the whole exchange within total, proxies from the environment, and redirects
// never followed (a redirect means a wrong URL, and following one could carry a token to
// another host).
func NewHTTPClient(connect, total time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         dialer.DialContext,
			ForceAttemptHTTP2:   true,
			TLSHandshakeTimeout: connect,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
		},
		Timeout: total,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func clientOrDefault(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return NewHTTPClient(DefaultConnectTimeout, DefaultRequestTimeout)
}

// exchange sends req and returns the answer's status and at most maxAnswer bytes of its
// body. A body that cannot be read in full comes back cut short; callers that need it find
// it unparsable. err is set only when no answer came.
func exchange(c *http.Client, req *http.Request) (status int, body []byte, err error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return resp.StatusCode, body, nil
}

// temporaryStatus reports whether an HTTP status says "try again later".
func temporaryStatus(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return status >= 500
}

// noAnswer is the temporary error of a request that got no answer. A *url.Error is
// unwrapped first because its text holds the request URL, and a URL may hold a key.
func noAnswer(provider string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return (&kilt.Error{
		Kind:    kilt.KindUnavailable,
		Code:    CodeNoAnswer,
		Message: provider + ": no answer",
		Err:     err,
	}).WithDetails("provider", provider)
}

// unreadable is the temporary error of an answer that says the request arrived but not
// whether the message was taken.
func unreadable(provider string, status int) error {
	return (&kilt.Error{
		Kind:    kilt.KindUnavailable,
		Code:    CodeNoAnswer,
		Message: fmt.Sprintf("%s: HTTP %d, unreadable answer", provider, status),
	}).WithDetails("provider", provider).WithDetails("status", status)
}

// refused is the error of a gateway that answered with a refusal: temporary when retrying
// may help, outbox.Permanent otherwise. code is the provider's own error code ("" if it
// gave none) and what a short description of it in Kilt's words.
func refused(provider string, status int, code, what string, temporary bool) error {
	msg := fmt.Sprintf("%s: HTTP %d", provider, status)
	if code != "" {
		msg += ", code " + code
	}
	if what != "" {
		msg += " (" + what + ")"
	}
	e := (&kilt.Error{Kind: kilt.KindUnavailable, Code: CodeRefused, Message: msg}).
		WithDetails("provider", provider).WithDetails("status", status)
	if code != "" {
		e = e.WithDetails("provider_code", code)
	}
	if temporary {
		return e
	}
	return outbox.Permanent(e)
}

// invalidURL is the permanent error of a gateway URL that does not parse. The URL itself
// is left out: it may hold a token.
func invalidURL(provider string) error {
	return outbox.Permanent((&kilt.Error{
		Kind:    kilt.KindInternal,
		Code:    CodeRefused,
		Message: provider + ": invalid gateway URL",
	}).WithDetails("provider", provider))
}

// code is a provider's numeric error code, accepted as a JSON number or a numeric string.
type code struct {
	n   int
	set bool
}

func (c *code) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	c.n, c.set = n, true
	return nil
}

func (c code) String() string {
	if !c.set {
		return ""
	}
	return strconv.Itoa(c.n)
}

package httpx

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"kilt"
	"kilt/internal/i18n"
	"kilt/internal/password"
)

// LangCookie remembers the language chosen with the pages' switch; the API reads it too.
const LangCookie = "lang"

// Renderer is the one adapter from a handler's error to a response, shared by the pages
// and the API: the same status (Status), the same message in the request's language, the
// same logging of the unexpected. A surface with pages gives Page, which draws the error
// page, and LoginPath, where a 401 sends the browser; without Page the error is written
// as the API's JSON.
type Renderer struct {
	DefaultLang string
	// Policy fills the password rules' numbers into their messages.
	Policy password.Policy
	// Page, if set, writes the error page; it is given the view of the error.
	Page func(w http.ResponseWriter, r *http.Request, v ErrorView) error
	// LoginPath, if set, is where a 401 sends the browser (303) instead of an error.
	LoginPath string
}

// ErrorView is an error as the error page shows it.
type ErrorView struct {
	Status  int
	Lang    string
	Message string
	// RequestID is set for a 500 only: the one thing to quote to an operator.
	RequestID string
}

// Client is who sends a request: the address the middleware found (ClientIP), the user
// agent and the language of the answer.
type Client struct {
	IP        string
	UserAgent string
	Lang      string
}

// Client describes the request's client.
func (rd *Renderer) Client(r *http.Request) Client {
	return Client{IP: InfoFrom(r.Context()).ClientIP, UserAgent: r.UserAgent(), Lang: rd.Lang(r)}
}

// Lang is the request's language: ?lang=, then the lang field of a posted form (the pages'
// switch on forms that carry state), then the language cookie, then Accept-Language, then
// the default. Unsupported values are skipped.
func (rd *Renderer) Lang(r *http.Request) string {
	explicit := []string{r.URL.Query().Get("lang")}
	if r.PostForm != nil {
		explicit = append(explicit, r.PostForm.Get("lang"))
	}
	if c, err := r.Cookie(LangCookie); err == nil {
		explicit = append(explicit, c.Value)
	}
	return i18n.Negotiate(explicit, r.Header.Get("Accept-Language"), rd.DefaultLang)
}

// Message is the catalog text of code in lang, with the policy's numbers filled in.
func (rd *Renderer) Message(lang, code string) string {
	p := rd.Policy
	return i18n.T(lang, code, "min", p.MinLength, "max", p.MaxLength, "history", p.HistorySize)
}

// Error writes err with the status of its kind.
func (rd *Renderer) Error(w http.ResponseWriter, r *http.Request, err error) {
	rd.ErrorStatus(w, r, Status(err), err)
}

// ErrorStatus writes err with the status chosen by the caller (405, which no kind maps
// to). Anything that is not an expected *kilt.Error is logged once with the request id and
// shown as a generic 500 that names the request id.
func (rd *Renderer) ErrorStatus(w http.ResponseWriter, r *http.Request, status int, err error) {
	if rd.LoginPath != "" && kilt.ErrorKind(err) == kilt.KindUnauthorized {
		http.Redirect(w, r, rd.LoginPath, http.StatusSeeOther)
		return
	}
	info := InfoFrom(r.Context())
	e, ok := kilt.AsError(err)
	if !ok || e.Kind == kilt.KindInternal {
		info.Logger.Error("request failed", "err", err)
		e, status = kilt.E(kilt.KindInternal, kilt.CodeInternal), http.StatusInternalServerError
	}
	SetRetryAfter(w, e)
	lang := rd.Lang(r)
	if rd.Page != nil {
		v := ErrorView{Status: status, Lang: lang, Message: rd.Message(lang, e.Code)}
		if status == http.StatusInternalServerError {
			v.RequestID = info.RequestID
		}
		if perr := rd.Page(w, r, v); perr != nil {
			info.Logger.Error("rendering the error page failed", "err", perr)
			http.Error(w, http.StatusText(status), status)
		}
		return
	}
	body := errorBody{Error: errorDetail{Code: e.Code, Message: rd.Message(lang, e.Code)}}
	if len(e.Details) > 0 {
		body.Error.Details = make(map[string]any, len(e.Details))
		for k, v := range e.Details {
			if codes, ok := v.([]string); ok && k == "violations" {
				vs := make([]violation, len(codes))
				for i, c := range codes {
					vs[i] = violation{Code: c, Message: rd.Message(lang, c)}
				}
				v = vs
			}
			body.Error.Details[k] = v
		}
	}
	WriteJSON(w, status, body)
}

// errorBody is the JSON shape of every API error.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// violation is one broken password rule in details.violations.
type violation struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	// Encoded whole first, so the answer carries its Content-Length: it leaves in one write
	// (not chunked), also when AfterResponse flushes it before the handler returns.
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"internal error"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// AfterResponse sends what was written of the answer to the client, then calls wake: the
// background work a request causes (for a known identifier only) must not delay its answer,
// or the answer's timing would tell known from unknown.
func AfterResponse(w http.ResponseWriter, wake func()) {
	_ = http.NewResponseController(w).Flush()
	wake()
}

// Seconds is d in whole seconds, rounded up: what a client is told to wait is never less
// than the wait.
func Seconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

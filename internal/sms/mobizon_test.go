package sms

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const testAPIKey = "kz0a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"

// mobizonHandler checks a request is Mobizon's sendsmsmessage call for testMessage, then
// answers with status and body.
func mobizonHandler(t *testing.T, status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/service/message/sendsmsmessage" {
			t.Errorf("got %s %s, want POST /service/message/sendsmsmessage", r.Method, r.URL.Path)
		}
		q := r.URL.Query()
		for k, want := range map[string]string{"output": "json", "api": "v1", "apiKey": testAPIKey} {
			if got := q.Get(k); got != want {
				t.Errorf("got query %s=%q, want %q", k, got, want)
			}
		}
		if got := r.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
			t.Errorf("got Content-Type %q, want application/x-www-form-urlencoded", got)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("form: %v", err)
		}
		for k, want := range map[string]string{"recipient": "77011234567", "text": testText} {
			if got := r.PostForm.Get(k); got != want {
				t.Errorf("got form %s=%q, want %q", k, got, want)
			}
		}
		if strings.HasPrefix(body, "{") {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// mobizonError is a Mobizon error answer whose message echoes the request, as gateways'
// messages may: the error built from it must not.
func mobizonError(code int) string {
	return fmt.Sprintf(`{"code":%d,"data":{"recipient":"%s"},"message":"rejected %s: %s"}`,
		code, testNumber[1:], testNumber, testText)
}

func TestMobizonAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   outcome
	}{
		{"sent", 200, `{"code":0,"data":{"campaignId":"1759377","messageId":"12111324","status":2},"message":""}`, sent},
		{"awaiting moderation", 200, `{"code":0,"data":{"campaignId":"1","messageId":"2","status":1},"message":""}`, sent},
		{"code as string", 200, `{"code":"0","data":{"campaignId":"1","messageId":"2","status":2},"message":""}`, sent},
		{"background", 200, `{"code":100,"data":"5123","message":""}`, sent},
		{"partly done", 200, `{"code":98,"data":{},"message":""}`, sent},
		{"validation", 200, mobizonError(1), permanent},
		{"not found", 200, mobizonError(2), permanent},
		{"unidentified error", 200, mobizonError(3), temporary},
		{"wrong module", 200, mobizonError(4), permanent},
		{"wrong method", 200, mobizonError(5), permanent},
		{"wrong format", 200, mobizonError(6), permanent},
		{"login error", 200, mobizonError(8), permanent},
		{"no method access", 200, mobizonError(9), permanent},
		{"save error", 200, mobizonError(10), temporary},
		{"missing parameter", 200, mobizonError(11), permanent},
		{"parameter limits", 200, mobizonError(12), permanent},
		{"wrong API host", 200, `{"code":13,"data":"api.mobizon.ua","message":"wrong server"}`, permanent},
		{"account blocked", 200, mobizonError(14), permanent},
		{"operation error", 200, mobizonError(15), temporary},
		{"rate limit", 200, mobizonError(30), temporary},
		{"nothing processed", 200, mobizonError(99), permanent},
		{"general error", 200, mobizonError(999), temporary},
		{"undocumented code", 200, mobizonError(57), temporary},
		{"login error with 401", 401, mobizonError(8), permanent},
		{"success code with error status", 404, `{"code":0,"data":{},"message":""}`, permanent},
		{"server error page", 500, "<html>Internal Server Error</html>", temporary},
		{"unavailable with code", 503, mobizonError(999), temporary},
		{"rate limited by status", 429, "slow down", temporary},
		{"not found page", 404, "<html>Not Found</html>", permanent},
		{"unreadable success", 200, "<html>maintenance</html>", temporary},
		{"answer without code", 200, `{"data":{},"message":""}`, temporary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := newGateway(t, mobizonHandler(t, tt.status, tt.body))
			err := NewMobizon(gw.URL, testAPIKey, nil).Send(context.Background(), testMessage())
			checkOutcome(t, err, tt.want)
			checkClean(t, err, testAPIKey)
			if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("mobizon: HTTP %d", tt.status)) {
				t.Errorf("error %q does not name the provider and status", err)
			}
		})
	}
}

func TestMobizonErrorNamesCode(t *testing.T) {
	gw := newGateway(t, mobizonHandler(t, 200, mobizonError(8)))
	err := NewMobizon(gw.URL+"/", testAPIKey, nil).Send(context.Background(), testMessage())
	if want := "mobizon: HTTP 200, code 8"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want an error naming %q", err, want)
	}
	checkCode(t, err, CodeRefused)
}

func TestMobizonUnreadableCountsAsNoAnswer(t *testing.T) {
	gw := newGateway(t, mobizonHandler(t, 200, "<html>maintenance</html>"))
	err := NewMobizon(gw.URL, testAPIKey, nil).Send(context.Background(), testMessage())
	// A 200 that does not say what happened may have sent the message: the Guard must keep
	// it counted, so it is not reported as a refusal.
	checkCode(t, err, CodeNoAnswer)
}

func TestMobizonDefaultURL(t *testing.T) {
	if got := NewMobizon("", testAPIKey, nil).base; got != DefaultMobizonURL {
		t.Errorf("got base %q, want %q", got, DefaultMobizonURL)
	}
}

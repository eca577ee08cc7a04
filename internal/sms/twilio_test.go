package sms

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const (
	testSID        = "AC0123456789abcdef0123456789abcdef"
	testAuthToken  = "tw-auth-7d1e0c9b55"
	testFrom       = "+15005550006"
	testServiceSID = "MG0123456789abcdef0123456789abcdef"
)

// twilioHandler checks a request is Twilio's create-message call for testMessage sent
// from from, then answers with status and body.
func twilioHandler(t *testing.T, from string, status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		wantPath := "/2010-04-01/Accounts/" + testSID + "/Messages.json"
		if r.Method != http.MethodPost || r.URL.Path != wantPath {
			t.Errorf("got %s %s, want POST %s", r.Method, r.URL.Path, wantPath)
		}
		if user, pass, ok := r.BasicAuth(); !ok || user != testSID || pass != testAuthToken {
			t.Errorf("got basic auth %q (ok %v), want the account SID and token", user, ok)
		}
		if got := r.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
			t.Errorf("got Content-Type %q, want application/x-www-form-urlencoded", got)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("form: %v", err)
		}
		want := map[string]string{"To": testNumber, "Body": testText, "From": from, "MessagingServiceSid": ""}
		if strings.HasPrefix(from, "MG") {
			want["From"], want["MessagingServiceSid"] = "", from
		}
		for k, v := range want {
			if got := r.PostForm.Get(k); got != v {
				t.Errorf("got form %s=%q, want %q", k, got, v)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// twilioErrorBody is Twilio's error answer; its message quotes the number, as Twilio's do.
func twilioErrorBody(code, status int) string {
	return fmt.Sprintf(`{"code":%d,"message":"The 'To' number %s is not valid.","more_info":"https://www.twilio.com/docs/errors/%d","status":%d}`,
		code, testNumber, code, status)
}

func TestTwilioAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   outcome
		code   string
	}{
		{"created", 201, `{"sid":"SM0123","status":"queued","to":"+77011234567"}`, sent, ""},
		{"ok", 200, `{"sid":"SM0123","status":"accepted"}`, sent, ""},
		{"invalid number", 400, twilioErrorBody(21211, 400), permanent, "21211"},
		{"unsubscribed", 400, twilioErrorBody(21610, 400), permanent, "21610"},
		{"region not enabled", 400, twilioErrorBody(21408, 400), permanent, "21408"},
		{"bad credentials", 401, twilioErrorBody(20003, 401), permanent, "20003"},
		{"not found", 404, twilioErrorBody(20404, 404), permanent, "20404"},
		{"too many requests", 429, twilioErrorBody(20429, 429), temporary, "20429"},
		{"internal error", 500, twilioErrorBody(20500, 500), temporary, "20500"},
		{"unavailable, no JSON", 503, "<html>down</html>", temporary, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := newGateway(t, twilioHandler(t, testFrom, tt.status, tt.body))
			err := NewTwilio(gw.URL, testSID, testAuthToken, testFrom, nil).Send(context.Background(), testMessage())
			checkOutcome(t, err, tt.want)
			checkClean(t, err, testAuthToken)
			if err == nil {
				return
			}
			want := fmt.Sprintf("twilio: HTTP %d", tt.status)
			if tt.code != "" {
				want += ", code " + tt.code
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
			checkCode(t, err, CodeRefused)
		})
	}
}

func TestTwilioMessagingService(t *testing.T) {
	gw := newGateway(t, twilioHandler(t, testServiceSID, 201, `{"sid":"SM0123","status":"accepted"}`))
	err := NewTwilio(gw.URL+"/", testSID, testAuthToken, testServiceSID, nil).Send(context.Background(), testMessage())
	if err != nil {
		t.Errorf("got %v, want nil", err)
	}
}

func TestTwilioDefaultURL(t *testing.T) {
	if got := NewTwilio("", testSID, testAuthToken, testFrom, nil).base; got != DefaultTwilioURL {
		t.Errorf("got base %q, want %q", got, DefaultTwilioURL)
	}
}

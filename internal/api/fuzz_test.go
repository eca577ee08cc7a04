package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"kilt/internal/account"
	"kilt/internal/api"
	"kilt/internal/httpx"
	"kilt/internal/kilttest"
)

// FuzzRequestBodies sends each input, as the body of a POST, to every POST route of the API
// (api.RouteList, so a new route is fuzzed without a change here), through the whole
// handler chain of one Kilt on SQLite: middleware, the strict decoder, the services and the
// database. Whatever the body, the answer is a success or a client error with the JSON error
// body, never a 5xx (a panic turns into a 500 in the middleware, so it is caught too); no
// password, token or code of the body reaches the response or the log; and a body that is
// not valid UTF-8 or repeats a key is refused as malformed by every route.
//
// Its seeds run with every `go test`; `make fuzz` runs it for a bounded time.
func FuzzRequestBodies(f *testing.F) {
	for _, b := range []string{
		`{"identifier":"+7 (701) 123-45-67","password":"Tulpar-Sunkar-77"}`,
		`{"identifier":"8 701 123 45 67","password":"Құпия-Сөз-2024!"}`,
		`{"identifier":"Aigerim.N@Mail.KZ","password":"Tulpar-Sunkar-77"}`,
		`{"current_password":"Tulpar-Sunkar-77","password":"Сұңқар-Rider-7","password_confirm":"Сұңқар-Rider-7"}`,
		`{"current_password":"wrong-Password-1","password":"P@ssw0rd","password_confirm":"P@ssw0rd"}`,
		`{"email":"new.user@mail.kz","password":"Tulpar-Sunkar-77","password_confirm":"Tulpar-Sunkar-77"}`,
		`{"phone":"8 701 765 43 21","password":"Жұлдыз-Qwz-2024","password_confirm":"Жұлдыз-Qwz-2024"}`,
		`{"email":"aigerim.n@mail.kz"}`,
		`{"phone":"+77011234567"}`,
		`{"flow_id":"AAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"flow_id":"AAAAAAAAAAAAAAAAAAAAAA","code":"123456"}`,
		`{"token":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","password":"Tulpar-Sunkar-78","password_confirm":"Tulpar-Sunkar-78"}`,
		`{"code":"000000"}`,
		`{"email":"a@b.kz","email":"c@d.kz"}`,
		`{"password":"a","PASSWORD":"Tulpar-Sunkar-77"}`,
		`{"email":null,"phone":["+77011234567"],"code":123456}`,
		`{"code":1e999999,"flow_id":{"a":[[[[[]]]]]}}`,
		`{"identifier":"user@example.kz\r\nBcc: x@evil.kz","password":"a\u0000b"}`,
		"{\"password\":\"\xff\xfe\"}",
		`{"email":"` + strings.Repeat("🔑", 200) + `@mail.kz"}`,
		`{"password":"` + strings.Repeat("Ab1!", 200) + `","password_confirm":"x"}`,
		`[]`,
		`null`,
		``,
	} {
		f.Add([]byte(b))
	}

	e := kilttest.Start(f, "sqlite", map[string]string{
		// Every input comes from one client: per-IP limits would soon answer 429 to all of
		// them and leave the code behind the limits unfuzzed. The other limits stay on.
		"KILT_LIMIT_REGISTRATION_IP": "0/1h",
		"KILT_LIMIT_RECOVERY_IP":     "0/1h",
	})
	// The access log of many thousand requests must not pile up in memory: the handler logs
	// to a writer that only looks for the secrets of the request in flight.
	watch := &fuzzLogWatch{}
	e.App.Log = slog.New(slog.NewJSONHandler(watch, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := e.App.Handler(nil)

	const pw = "Tulpar-Sunkar-77"
	if _, err := e.App.Accounts.Add(context.Background(), account.NewAccount{Email: "aigerim.n@mail.kz",
		Phone: "+77011234567", EmailVerified: true, PhoneVerified: true, Password: pw, Confirm: pw}); err != nil {
		f.Fatalf("adding the account: %v", err)
	}
	var login struct{ Token string }
	fuzzPost(f, h, "/api/v1/sessions", "", `{"identifier":"aigerim.n@mail.kz","password":"`+pw+`"}`, http.StatusCreated, &login)
	var reg struct {
		RegistrationID string `json:"registration_id"`
	}
	fuzzPost(f, h, "/api/v1/registrations", "", `{"phone":"+77017654321","password":"`+pw+`","password_confirm":"`+pw+`","consent_version":"`+kilttest.ConsentVersion+`"}`,
		http.StatusAccepted, &reg)

	var paths []string
	for _, r := range api.RouteList() {
		if r.Method == "POST" {
			paths = append(paths, strings.Replace(r.Pattern, "{id}", reg.RegistrationID, 1))
		}
	}
	if len(paths) < 10 {
		f.Fatalf("got %d POST routes, want the 10 of README's JSON API at least: %v", len(paths), paths)
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		secrets := fuzzSecrets(body)
		watch.set(secrets)
		defer watch.set(nil)
		malformed := len(body) <= httpx.MaxBody && (!utf8.Valid(body) || fuzzRepeatsKey(body))
		for _, path := range paths {
			bearer := ""
			if path == "/api/v1/password" || strings.HasPrefix(path, "/api/v1/account/") {
				bearer = login.Token
			}
			rec := fuzzServe(h, path, bearer, body)
			checkFuzzResponse(t, path, body, rec, secrets)
			if malformed && (rec.Code != http.StatusBadRequest || fuzzErrorCode(rec.Body.Bytes()) != "malformed_request") {
				t.Errorf("POST %s %q, invalid UTF-8 or a repeated key: got %d %s, want 400 malformed_request",
					path, body, rec.Code, rec.Body)
			}
			if leaked := watch.leaked(); leaked != "" {
				t.Fatalf("POST %s %q: the log holds the secret %q", path, body, leaked)
			}
		}
	})
}

// fuzzServe sends body to the handler as a JSON POST.
func fuzzServe(h http.Handler, path, bearer string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// fuzzPost sends body and decodes the answer into out, failing unless it has the status want.
func fuzzPost(tb testing.TB, h http.Handler, path, bearer, body string, want int, out any) {
	tb.Helper()
	rec := fuzzServe(h, path, bearer, []byte(body))
	if rec.Code != want {
		tb.Fatalf("POST %s: got %d %s, want %d", path, rec.Code, rec.Body, want)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
		tb.Fatalf("POST %s: decoding %s: %v", path, rec.Body, err)
	}
}

var fuzzCodePattern = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkFuzzResponse asserts what every answer to a POST must be, whatever its body was.
func checkFuzzResponse(t *testing.T, path string, body []byte, rec *httptest.ResponseRecorder, secrets []string) {
	t.Helper()
	got := rec.Body.Bytes()
	switch {
	case rec.Code >= 500:
		t.Fatalf("POST %s %q: got %d %s, want no server error", path, body, rec.Code, got)
	case rec.Code >= 400:
		var e struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(got, &e); err != nil || !fuzzCodePattern.MatchString(e.Error.Code) || e.Error.Message == "" {
			t.Fatalf("POST %s %q: got %d %s, want a JSON error with a snake_case code and a message", path, body, rec.Code, got)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("POST %s %q: error with Content-Type %q, want application/json", path, body, ct)
		}
	case rec.Code >= 200 && rec.Code < 300:
		if rec.Code != http.StatusNoContent && !json.Valid(got) {
			t.Fatalf("POST %s %q: got %d %s, want a JSON body", path, body, rec.Code, got)
		}
	default:
		t.Fatalf("POST %s %q: got %d %s, want a success or a client error", path, body, rec.Code, got)
	}
	var text strings.Builder
	text.Write(got)
	fuzzStrings(got, &text)
	for _, s := range secrets {
		if strings.Contains(text.String(), s) {
			t.Fatalf("POST %s %q: the answer %s shows the secret %q", path, body, got, s)
		}
	}
}

// fuzzStrings appends every string of the JSON document doc, unescaped, to b.
func fuzzStrings(doc []byte, b *strings.Builder) {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			b.WriteString("\x00" + v)
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
}

// fuzzMinSecret is the shortest secret looked for in answers and logs: a shorter value could
// be in them by chance (a status, a date).
const fuzzMinSecret = 12

// fuzzSecrets returns the values of the body's password, token and code fields, spelled in
// any case (the decoder matches keys so), long enough to be looked for.
func fuzzSecrets(body []byte) []string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	var out []string
	for k, v := range m {
		s, ok := v.(string)
		if !ok || len(s) < fuzzMinSecret {
			continue
		}
		switch strings.ToLower(k) {
		case "password", "password_confirm", "current_password", "token", "code":
			out = append(out, s)
			if esc, err := json.Marshal(s); err == nil {
				out = append(out, string(esc[1:len(esc)-1]))
			}
		}
	}
	return out
}

// fuzzRepeatsKey reports whether body is a JSON object (as far as it reads) with a top-level
// key written twice, exactly.
func fuzzRepeatsKey(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		k, _ := tok.(string)
		if seen[k] {
			return true
		}
		seen[k] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

func fuzzErrorCode(body []byte) string {
	var e struct{ Error struct{ Code string } }
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}

// fuzzLogWatch is the log's writer during fuzzing: it keeps nothing, and remembers the first
// secret of the request in flight that a log record held.
type fuzzLogWatch struct {
	mu      sync.Mutex
	secrets []string
	found   string
}

func (w *fuzzLogWatch) set(secrets []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.secrets, w.found = secrets, ""
}

func (w *fuzzLogWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.secrets {
		if w.found == "" && bytes.Contains(p, []byte(s)) {
			w.found = s
		}
	}
	return len(p), nil
}

func (w *fuzzLogWatch) leaked() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.found
}

package oidcop_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"kilt/internal/oidc"
)

// TestRefreshNarrowsOneResponse: a refresh may ask for fewer scopes; that response's access
// token has them (its scope, userinfo), but the rotated refresh token keeps the
// grant's, so a later refresh asking for the original scopes — or for none — gets them all
// (RFC 6749 §6: the new refresh token's scope MUST be identical to that of the one
// presented). (Before: the narrowed scopes became the grant's for good, and the original
// scopes asked again got invalid_scope.)
func TestRefreshNarrowsOneResponse(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		k := startKilt(t, dbURL)
		addAccount(t, k, "a@mail.kz")
		r := newRP(t, k, oidc.NewClient{FirstParty: true})
		f := newFlow()
		tok, err := r.conf.Exchange(ctx, login(t, k, r, browser(t), "a@mail.kz", f), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		type answer struct {
			Access  string `json:"access_token"`
			Refresh string `json:"refresh_token"`
			IDToken string `json:"id_token"`
			Scope   string `json:"scope"`
		}
		post := func(rt, scope string) answer {
			t.Helper()
			v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			if scope != "" {
				v.Set("scope", scope)
			}
			req, _ := http.NewRequest("POST", k.url+"/oauth/token", strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(r.conf.ClientID), url.QueryEscape(r.conf.ClientSecret))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out answer
			var raw map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&raw)
			b, _ := json.Marshal(raw)
			_ = json.Unmarshal(b, &out)
			if resp.StatusCode != 200 || out.Refresh == "" {
				t.Fatalf("refresh with scope %q: %d %v", scope, resp.StatusCode, raw)
			}
			return out
		}
		// email reports whether userinfo tells the e-mail to the response's access token (the
		// ID token never does when an access token is issued with it: OIDC Core 5.4).
		email := func(a answer) bool {
			t.Helper()
			if _, err := r.verifier.Verify(ctx, a.IDToken); err != nil {
				t.Fatal(err)
			}
			ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: a.Access, TokenType: "Bearer"}))
			if err != nil {
				t.Fatal(err)
			}
			return ui.Email != ""
		}
		full := []string{"openid", "email", "phone", "offline_access"}

		narrow := post(tok.RefreshToken, "openid offline_access")
		if got := strings.Fields(narrow.Scope); !slices.Equal(got, []string{"openid", "offline_access"}) {
			t.Errorf("narrowed response's scope: %q", narrow.Scope)
		}
		if email(narrow) {
			t.Error("userinfo tells the e-mail to the narrowed access token")
		}
		again := post(narrow.Refresh, strings.Join(full, " "))
		if got := strings.Fields(again.Scope); !slices.Equal(got, full) {
			t.Errorf("the original scopes asked again: scope %q, want %q", again.Scope, full)
		}
		if !email(again) {
			t.Error("the original scopes asked again: userinfo does not tell the e-mail")
		}
		narrow = post(again.Refresh, "openid")
		if none := post(narrow.Refresh, ""); !slices.Equal(strings.Fields(none.Scope), full) {
			t.Errorf("a refresh asking for no scope after a narrowed one: scope %q, want %q", none.Scope, full)
		}
	})
}

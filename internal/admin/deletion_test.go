package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"kilt/internal/account"
	"kilt/internal/desk"
	"kilt/internal/i18n"
	"kilt/internal/kilttest"
	"kilt/internal/sqlstore/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// TestLookupShowsDeletion: the desk's look-up, JSON and page, shows a pending deletion and
// its date, and none once it is cancelled; on both databases.
func TestLookupShowsDeletion(t *testing.T) {
	for _, d := range kilttest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := kilttest.Start(t, d, nil)
			srv := httptest.NewServer(e.App.AdminHandler())
			t.Cleanup(srv.Close)
			c := &console{Env: e, URL: srv.URL}
			op := c.enrol(t, "desk@mail.kz", desk.RoleSupport)
			a := addAccount(t, e, "aigerim@mail.kz", "")
			lookup := func() desk.AccountView {
				t.Helper()
				r := c.call(t, "GET", "/admin/api/v1/accounts?identifier=aigerim@mail.kz", op.Token, nil)
				var v struct {
					Account desk.AccountView `json:"account"`
				}
				if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &v) != nil {
					t.Fatalf("look-up: %d %s", r.Status, r.Body)
				}
				return v.Account
			}
			if v := lookup(); v.DeletionAt != nil {
				t.Errorf("no deletion asked: got %v", v.DeletionAt)
			}
			del, err := e.App.Accounts.RequestDeletion(context.Background(), a.ID, goodPassword, account.Client{Lang: "kk"})
			if err != nil {
				t.Fatal(err)
			}
			if v := lookup(); v.DeletionAt == nil || !v.DeletionAt.Equal(del.DueAt) || !del.DueAt.Equal(e.Clock.Now().Add(14*24*time.Hour)) {
				t.Errorf("pending deletion: got %v, want %v", v.DeletionAt, del.DueAt)
			}

			b := newBrowser(t, c)
			code, err := desk.CodeAt(op.Secret, e.Clock.Now().Add(30*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			e.Clock.Advance(30 * time.Second)
			if r := b.post("/admin/login", url.Values{"identifier": {"desk@mail.kz"}, "password": {goodPassword}, "totp": {code}}); r.Status != http.StatusSeeOther {
				t.Fatalf("console sign-in: %d %s", r.Status, r.Body)
			}
			r := b.post("/admin/lookup", url.Values{"identifier": {"aigerim@mail.kz"}})
			want := i18n.T("kk", "admin_state_deletion", "date", "")
			if r.Status != http.StatusOK || !strings.Contains(r.Body, want) {
				t.Errorf("the account page does not show the deletion (%q): %d\n%s", want, r.Status, r.Body)
			}

			if err := e.App.Accounts.CancelDeletion(context.Background(), a.ID, account.Client{}); err != nil {
				t.Fatal(err)
			}
			if v := lookup(); v.DeletionAt != nil {
				t.Errorf("after the cancel: got %v, want none", v.DeletionAt)
			}
		})
	}
}

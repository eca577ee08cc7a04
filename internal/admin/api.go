package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"kilt"
	"kilt/internal/desk"
	"kilt/internal/httpx"
)

func contextWith(r *http.Request, p *desk.Principal) context.Context {
	return context.WithValue(r.Context(), principalKey{}, p)
}

type tokenResponse struct {
	Token string `json:"token"`
}

// apiSignIn serves POST /admin/api/v1/sessions {"identifier","password","totp"} → 201
// {"token"}. An operator without a second factor gets 403 totp_enrolment_required: the
// enrolment (a QR code, a key to show) belongs to the sign-in page.
func (c *Console) apiSignIn(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Identifier string `json:"identifier"`
		Password   string `json:"password"`
		TOTP       string `json:"totp"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	res, err := c.desk.SignIn(r.Context(), c.client(r), req.Identifier, req.Password, req.TOTP)
	if err != nil {
		return err
	}
	if res.Enrolment != nil {
		return kilt.E(kilt.KindForbidden, desk.CodeEnrolmentRequired)
	}
	writeJSON(w, http.StatusCreated, tokenResponse{Token: res.Token})
	return nil
}

type accountResponse struct {
	Account *desk.AccountView `json:"account"`
}

// apiLookup serves GET /admin/api/v1/accounts?identifier=… → 200 {"account"} / 404.
func (c *Console) apiLookup(w http.ResponseWriter, r *http.Request) error {
	v, err := c.desk.Lookup(r.Context(), principalOf(r), c.client(r), r.URL.Query().Get("identifier"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accountResponse{Account: v})
	return nil
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

// apiAct serves POST /admin/api/v1/accounts/{id}/lock|unlock|revoke-sessions {"reason"} →
// 200 {"account"}.
func (c *Console) apiAct(kind string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := accountID(r)
		if err != nil {
			return err
		}
		var req reasonRequest
		if err := httpx.DecodeJSON(r, &req); err != nil {
			return err
		}
		p := principalOf(r)
		if err := c.desk.Act(r.Context(), p, c.client(r), id, kind, req.Reason); err != nil {
			return err
		}
		v, err := c.desk.Account(r.Context(), p, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, accountResponse{Account: v})
		return nil
	}
}

// apiRecoveryCode serves POST /admin/api/v1/accounts/{id}/recovery-code
// {"reason","identity_checked":true} → 201 {"code","expires_at"}.
func (c *Console) apiRecoveryCode(w http.ResponseWriter, r *http.Request) error {
	id, err := accountID(r)
	if err != nil {
		return err
	}
	var req struct {
		Reason          string `json:"reason"`
		IdentityChecked bool   `json:"identity_checked"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	iss, err := c.desk.IssueSlip(r.Context(), principalOf(r), c.client(r), id, req.Reason, req.IdentityChecked)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, iss)
	return nil
}

// apiSetChannel serves PUT /admin/api/v1/accounts/{id}/channels/email|phone
// {"value","reason","identity_checked":true} → 200 {"account"}.
func (c *Console) apiSetChannel(w http.ResponseWriter, r *http.Request) error {
	id, err := accountID(r)
	if err != nil {
		return err
	}
	var req struct {
		Value           string `json:"value"`
		Reason          string `json:"reason"`
		IdentityChecked bool   `json:"identity_checked"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	v, err := c.desk.SetChannel(r.Context(), principalOf(r), c.client(r), id, r.PathValue("kind"), req.Value, req.Reason, req.IdentityChecked)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accountResponse{Account: v})
	return nil
}

// parseTime reads a time of a query: RFC 3339, or a date and time without a zone (what a
// datetime-local field sends), or a date, both taken as UTC.
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// apiAudit serves GET /admin/api/v1/audit?from=…&to=… → the audit trail of the period
// (from ≤ at < to) as JSON lines, oldest first: admins only (403 for support).
func (c *Console) apiAudit(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r)
	if err := desk.RequireAdmin(p); err != nil {
		return err
	}
	from, ok1 := parseTime(r.URL.Query().Get("from"))
	to, ok2 := parseTime(r.URL.Query().Get("to"))
	if !ok1 || !ok2 {
		return kilt.E(kilt.KindInvalid, desk.CodePeriodInvalid)
	}
	started := false
	var bw *bufio.Writer
	err := c.desk.Export(r.Context(), p, from, to, func(e desk.Event) error {
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="kilt-audit.jsonl"`)
			w.WriteHeader(http.StatusOK)
			bw = bufio.NewWriter(w)
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		bw.Write(b)
		return bw.WriteByte('\n')
	})
	if started {
		// The status is sent: a failure midway can only cut the stream short.
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
		if err != nil {
			httpx.InfoFrom(r.Context()).Logger.Error("audit export cut short", "err", err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="kilt-audit.jsonl"`)
	w.WriteHeader(http.StatusOK)
	return nil
}

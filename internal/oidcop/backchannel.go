package oidcop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/crypto"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"kilt"
	kiltoidc "kilt/internal/oidc"
	"kilt/internal/outbox"
)

// LogoutTokenSigner returns the domain's logout token maker (Back-Channel Logout 1.0: iss,
// aud, iat, exp, jti, sub, sid and the back-channel logout event; never a nonce), signed
// with the active key by op's signer, issued at now (Kilt's clock) for
// kiltoidc.LogoutTokenLifetime.
func LogoutTokenSigner(issuer string) func(*kiltoidc.SigningKey, *kiltoidc.Client, string, int64, time.Time) (string, error) {
	issuer = strings.TrimSuffix(issuer, "/")
	return func(k *kiltoidc.SigningKey, c *kiltoidc.Client, subject string, sessionID int64, now time.Time) (string, error) {
		jti, err := kilt.NewID()
		if err != nil {
			return "", err
		}
		claims := oidc.NewLogoutTokenClaims(issuer, subject, oidc.Audience{c.ID}, now.Add(kiltoidc.LogoutTokenLifetime), jti, sid(sessionID), 0)
		claims.IssuedAt = oidc.FromTime(now) // op's constructor reads the machine's clock
		signer, err := op.SignerFromKey(signingKey{k: k})
		if err != nil {
			return "", err
		}
		return crypto.Sign(claims, signer)
	}
}

// BackchannelSender posts logout tokens to relying parties for the outbox: a 2xx is
// delivered, a 4xx permanent (the relying party refused the token), anything else retried.
// The token is signed here, at each attempt, by Sign (oidc.Service.LogoutToken) from the
// message's parameters: the outbox never holds a token, and a retry a day later does not
// send one that has expired. A client removed meanwhile is told nothing.
type BackchannelSender struct {
	Client *http.Client
	Sign   func(ctx context.Context, params map[string]string) (string, error)
}

// Send implements outbox.Sender.
func (b BackchannelSender) Send(ctx context.Context, m outbox.Rendered) error {
	params, err := url.ParseQuery(m.Text)
	if err != nil || b.Sign == nil {
		return outbox.Permanent(errors.New("back-channel logout: a malformed message"))
	}
	flat := make(map[string]string, len(params))
	for k := range params {
		flat[k] = params.Get(k)
	}
	tok, err := b.Sign(ctx, flat)
	if kilt.ErrorKind(err) == kilt.KindNotFound {
		return outbox.Permanent(errors.New("back-channel logout: the client is gone"))
	}
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.To, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return outbox.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := b.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("back-channel logout: %s", ue.Err) // the URL is the client's, not a secret, but keep it short
		}
		return err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode/100 == 4:
		return outbox.Permanent(fmt.Errorf("back-channel logout refused: %d", resp.StatusCode))
	}
	return fmt.Errorf("back-channel logout: %d", resp.StatusCode)
}

// Renderer renders back-channel messages (their parameters, form-encoded, as the text: the
// sender signs the token) and hands every other message to next.
type Renderer struct{ Next outbox.Renderer }

// Render implements outbox.Renderer.
func (r Renderer) Render(kind outbox.Kind, ch outbox.Channel, lang string, data map[string]string) (outbox.Rendered, error) {
	if ch != outbox.Backchannel {
		return r.Next.Render(kind, ch, lang, data)
	}
	if kind != outbox.BackchannelLogout || data[kiltoidc.ParamSessionID] == "" {
		return outbox.Rendered{}, fmt.Errorf("oidcop: no back-channel message %s", kind)
	}
	v := url.Values{}
	for _, k := range []string{kiltoidc.ParamClientID, kiltoidc.ParamSubject, kiltoidc.ParamSessionID} {
		v.Set(k, data[k])
	}
	return outbox.Rendered{Channel: ch, Lang: lang, Text: v.Encode()}, nil
}

package oidcop

import (
	"context"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	kiltoidc "kilt/internal/oidc"
)

// hintKeys is op's key set for id_token_hint (end_session, authorize): the keys a hint may
// be signed with (oidc.Service.HintKeys), which include keys retired within a session's
// lifetime, gone from the JWKS. The JWKS itself (storage.KeySet) and everything relying
// parties verify keep the shorter publication.
type hintKeys struct{ svc *kiltoidc.Service }

var _ oidc.KeySet = hintKeys{}

// VerifySignature implements oidc.KeySet.
func (h hintKeys) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	ks, err := h.svc.HintKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("error fetching keys: %w", err)
	}
	jwks := make([]jose.JSONWebKey, 0, len(ks))
	for _, k := range ks {
		jwks = append(jwks, jose.JSONWebKey{KeyID: k.ID, Algorithm: k.Alg, Use: oidc.KeyUseSignature, Key: publicOf(k)})
	}
	keyID, alg := oidc.GetKeyIDAndAlg(jws)
	key, err := oidc.FindMatchingKey(keyID, oidc.KeyUseSignature, alg, jwks...)
	if err != nil {
		return nil, fmt.Errorf("invalid signature: %w", err)
	}
	return jws.Verify(&key)
}

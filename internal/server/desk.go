package server

import (
	"kilt/internal/config"
	"kilt/internal/desk"
	"kilt/internal/sqlstore"
)

// newDesk builds the service-centre desk on the app's database and accounts.
func newDesk(a *App, cfg *config.Config, secret []byte) *desk.Service {
	name := cfg.ProductName
	if name == "" {
		name = "Kilt"
	}
	a.Metrics.Limits("operator_lookup")
	return desk.NewService(sqlstore.NewDesk(a.DB), a.Accounts, a.Clock, desk.Config{
		Secret: secret, Issuer: name + " console",
		Lookup:      limit("operator_lookup", cfg.LimitOperatorLookup),
		RecoveryURL: recoveryURL(cfg), Wake: a.Dispatcher,
		OnLookup:       a.Metrics.OperatorLookup,
		OnAction:       a.Metrics.OperatorAction,
		OnSignInFailed: a.Metrics.ConsoleSignInFailed,
	})
}

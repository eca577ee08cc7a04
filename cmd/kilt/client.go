package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"kilt"
	"kilt/internal/config"
	"kilt/internal/oidc"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// clientCmd is `kilt client add|list|show|remove|rotate-secret`: the applications that sign
// citizens in through Kilt (OpenID Connect).
func clientCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"want add, list, show, remove or rotate-secret"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("client "+sub, flag.ContinueOnError)
	var name *string
	var public, firstParty *bool
	var redirects, postLogout, scopes listFlag
	var backchannel *string
	switch sub {
	case "add":
		name = fs.String("name", "", "the application's name, shown on the sign-in page")
		fs.Var(&redirects, "redirect-uri", "a redirect URI, exactly as the application sends it (repeatable)")
		public = fs.Bool("public", false, "a public client (native or single-page app): no secret, PKCE only")
		firstParty = fs.Bool("first-party", false, "the portal's own application: never asks for consent")
		fs.Var(&postLogout, "post-logout-redirect-uri", "where the application may be sent after signing out (repeatable)")
		backchannel = fs.String("backchannel-logout-uri", "", "where logout tokens are sent when a session ends")
		fs.Var(&scopes, "scope", "a scope the client may ask for: openid, email, phone, offline_access (repeatable; default all)")
	case "list", "show", "remove", "rotate-secret":
	default:
		return usageError{fmt.Sprintf("unknown client command %q: want add, list, show, remove or rotate-secret", sub)}
	}
	cfg, err := load(fs, args, stderr, config.Options{})
	if err != nil {
		return err
	}
	wantArgs := 1
	if sub == "add" || sub == "list" {
		wantArgs = 0
	}
	if fs.NArg() != wantArgs {
		if wantArgs == 0 {
			return usageError{"unexpected arguments: " + strings.Join(fs.Args(), " ")}
		}
		return usageError{"want one client ID"}
	}
	if sub == "add" && (*name == "" || len(redirects) == 0) {
		return usageError{"want --name NAME and at least one --redirect-uri URI"}
	}
	app, err := openApp(ctx, cfg, stdout, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	svc := app.OIDC
	switch sub {
	case "add":
		c, secret, err := svc.AddClient(ctx, oidc.NewClient{Name: *name, RedirectURIs: redirects, PostLogoutRedirectURIs: postLogout,
			BackchannelLogoutURI: *backchannel, Scopes: scopes, Public: *public, FirstParty: *firstParty})
		if err != nil {
			return clientError(err)
		}
		fmt.Fprintf(stdout, "client_id: %s\n", c.ID)
		if secret != "" {
			fmt.Fprintf(stdout, "client_secret: %s\n", secret)
			fmt.Fprintln(stderr, "The secret is shown this once; Kilt keeps only its hash.")
		}
		return nil
	case "list":
		cs, err := svc.Clients(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT ID\tNAME\tTYPE\tCREATED")
		for _, c := range cs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Name, clientType(&c), c.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "show":
		c, err := svc.Client(ctx, fs.Arg(0))
		if err != nil {
			return clientError(err)
		}
		fmt.Fprintf(stdout, "client_id:                 %s\n", c.ID)
		fmt.Fprintf(stdout, "name:                      %s\n", c.Name)
		fmt.Fprintf(stdout, "type:                      %s\n", clientType(c))
		for _, u := range c.RedirectURIs {
			fmt.Fprintf(stdout, "redirect_uri:              %s\n", u)
		}
		for _, u := range c.PostLogoutRedirectURIs {
			fmt.Fprintf(stdout, "post_logout_redirect_uri:  %s\n", u)
		}
		if c.BackchannelLogoutURI != "" {
			fmt.Fprintf(stdout, "backchannel_logout_uri:    %s\n", c.BackchannelLogoutURI)
		}
		fmt.Fprintf(stdout, "scopes:                    %s\n", strings.Join(c.Scopes, " "))
		fmt.Fprintf(stdout, "created:                   %s\n", c.CreatedAt.Format(time.RFC3339))
		return nil
	case "remove":
		if err := svc.RemoveClient(ctx, fs.Arg(0)); err != nil {
			return clientError(err)
		}
		fmt.Fprintf(stdout, "client %s removed; its tokens no longer work\n", fs.Arg(0))
		return nil
	}
	secret, err := svc.RotateSecret(ctx, fs.Arg(0))
	if err != nil {
		return clientError(err)
	}
	fmt.Fprintf(stdout, "client_secret: %s\n", secret)
	fmt.Fprintln(stderr, "The old secret no longer works; the new one is shown this once.")
	return nil
}

func clientType(c *oidc.Client) string {
	t := "confidential"
	if c.Public {
		t = "public"
	}
	if c.FirstParty {
		t += ", first-party"
	}
	return t
}

// clientError is a client command's failure in the operator's words.
func clientError(err error) error {
	e, ok := kilt.AsError(err)
	if !ok || e.Kind == kilt.KindInternal {
		return err
	}
	if e.Code == oidc.CodeUnknownClient {
		return errors.New("no such client")
	}
	if e.Message != "" {
		return errors.New(e.Message)
	}
	return errors.New(e.Code)
}

// keysCmd is `kilt keys rotate [--alg RS256|ES256]`: a new signing key; the old one stays
// published until every token it signed has expired.
func keysCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return usageError{"want rotate"}
	}
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	alg := fs.String("alg", "", "algorithm of the new key: RS256 (default) or ES256")
	cfg, err := load(fs, args[1:], stderr, config.Options{})
	if err != nil {
		return err
	}
	if *alg != "" && *alg != oidc.AlgRS256 && *alg != oidc.AlgES256 {
		return usageError{"--alg: want RS256 or ES256"}
	}
	app, err := openApp(ctx, cfg, stdout, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	k, err := app.OIDC.RotateKeys(ctx, *alg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new signing key %s (%s); the previous key stays published for %s and is accepted in id_token_hint for %s\n",
		k.ID, k.Alg, oidc.KeyGrace, cfg.SessionLifetime)
	return nil
}

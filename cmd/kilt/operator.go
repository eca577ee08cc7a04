package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"kilt"
	"kilt/internal/config"
	"kilt/internal/desk"
)

// operatorCmd runs `kilt operator add E-MAIL|PHONE --role support|admin`, `kilt operator
// remove E-MAIL|PHONE` and `kilt operator list`: the operators of the service-centre
// console, existing accounts given a role.
func operatorCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"want add, remove or list"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("operator "+sub, flag.ContinueOnError)
	var role *string
	if sub == "add" {
		role = fs.String("role", "", "support or admin")
	}
	// The account comes first (kilt operator add E-MAIL --role R): flags may follow it.
	var target string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		target, args = args[0], args[1:]
	}
	cfg, err := load(fs, args, stderr, config.Options{})
	if err != nil {
		return err
	}
	if target == "" && fs.NArg() == 1 {
		target = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usageError{"unexpected arguments"}
	}
	switch sub {
	case "add", "remove":
		if target == "" {
			return usageError{"want the operator's account: its e-mail or phone"}
		}
	case "list":
		if target != "" {
			return usageError{"list takes no account"}
		}
	default:
		return usageError{fmt.Sprintf("unknown operator command %q: want add, remove or list", sub)}
	}
	var r desk.Role
	if sub == "add" {
		if r, err = desk.ParseRole(*role); err != nil {
			return usageError{"want --role support or --role admin"}
		}
	}
	app, err := openApp(ctx, cfg, stdout, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	switch sub {
	case "add":
		a, err := app.Desk.AddOperator(ctx, target, r)
		if err != nil {
			return domainError(err)
		}
		fmt.Fprintf(stdout, "account %d is an operator (%s); the first console sign-in enrols its second factor\n", a.ID, r)
	case "remove":
		a, err := app.Desk.RemoveOperator(ctx, target)
		if kilt.ErrorCode(err) == desk.CodeNotOperator {
			return errors.New("not_operator: the account is not an operator")
		}
		if err != nil {
			return domainError(err)
		}
		fmt.Fprintf(stdout, "account %d is no longer an operator\n", a.ID)
	case "list":
		list, err := app.Desk.Operators(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ACCOUNT\tROLE\tTOTP\tE-MAIL\tPHONE\tSINCE")
		for _, o := range list {
			totp := "enrolled"
			if !o.Enrolled() {
				totp = "not yet"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", o.AccountID, o.Role, totp, dash(o.Email), dash(o.Phone),
				o.CreatedAt.Format(time.DateOnly))
		}
		return tw.Flush()
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

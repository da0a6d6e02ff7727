package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/store"
)

const tokenUsage = `usage: consentdesk token create --name NAME [--scope orders|admin] [--expires 90d] [--store NAME] [--db PATH]
       consentdesk token list [--db PATH]
       consentdesk token revoke --name NAME [--db PATH]`

// tokenCmd is the API tokens' life cycle: create (scope, expiry), list
// (with the last use) and revoke.
func tokenCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(tokenUsage)
	}
	switch args[0] {
	case "create":
		var name, scope, expires, store *string
		return withDB(ctx, "token create", args[1:], stderr, func(fs *flag.FlagSet) {
			name = fs.String("name", "", "what the token is for")
			store = fs.String("store", "", "the store the token acts for (its orders and consents happen there); may be left out while the chain has one store")
			scope = fs.String("scope", orders.ScopeOrders, "orders (create and read orders, read consents) or admin (everything)")
			expires = fs.String("expires", "", "when it stops working: 90d, 12h or 2027-06-30; empty: never")
		}, func(db *orders.DB) error {
			id, err := storeID(ctx, db, *store, false)
			if err != nil {
				return err
			}
			spec := orders.NewAPIToken{Name: *name, Scope: *scope, StoreID: id}
			if *expires != "" {
				t, err := parseExpiry(*expires, db.Now())
				if err != nil {
					return err
				}
				spec.Expires = t
			}
			token, err := db.CreateAPIToken(ctx, spec)
			if err != nil {
				return explain(err)
			}
			fmt.Fprintln(stdout, token)
			return nil
		})
	case "list":
		return withDB(ctx, "token list", args[1:], stderr, nil, func(db *orders.DB) error {
			list, err := db.APITokens(ctx)
			if err != nil {
				return err
			}
			now := db.Now()
			w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tSCOPE\tSTATE\tCREATED\tEXPIRES\tLAST USED\tSTORE")
			for _, t := range list {
				state := "active"
				switch {
				case !t.Revoked.IsZero():
					state = "revoked " + day(t.Revoked)
				case !t.Expires.IsZero() && !now.Before(t.Expires):
					state = "expired"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Scope, state, day(t.Created), orNever(t.Expires), orNever(t.LastUsed), t.Store)
			}
			return w.Flush()
		})
	case "revoke":
		var name *string
		return withDB(ctx, "token revoke", args[1:], stderr, func(fs *flag.FlagSet) {
			name = fs.String("name", "", "the token's name, as token list shows it")
		}, func(db *orders.DB) error {
			n, err := db.RevokeAPIToken(ctx, *name)
			if err != nil {
				return explain(err)
			}
			fmt.Fprintf(stdout, "%d token(s) named %q revoked; requests with them now get 401\n", n, strings.TrimSpace(*name))
			return nil
		})
	}
	return errors.New(tokenUsage)
}

// parseExpiry reads "90d" (days), a Go duration ("12h") or a day
// ("2027-06-30", the end of that day in the store's zone).
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			return now.AddDate(0, 0, n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, orders.Berlin); err == nil {
		return t.AddDate(0, 0, 1), nil
	}
	return time.Time{}, fmt.Errorf("--expires %q: give days (90d), hours (12h) or a day (2027-06-30)", s)
}

func day(t time.Time) string { return t.In(orders.Berlin).Format("2006-01-02 15:04") }

func orNever(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return day(t)
}

const staffUsage = `usage: consentdesk staff add --name NAME --pin PIN [--role counter|manager] [--store NAME] [--db PATH]
       consentdesk staff unlock --name NAME [--db PATH]`

func staffCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(staffUsage)
	}
	switch args[0] {
	case "add":
		var name, pin, role, store *string
		return withDB(ctx, "staff add", args[1:], stderr, func(fs *flag.FlagSet) {
			name = fs.String("name", "", "staff member's name")
			pin = fs.String("pin", "", "personal PIN, 4 to 8 digits")
			role = fs.String("role", orders.RoleCounter, "counter or manager")
			store = fs.String("store", "", "the store they work in; a manager without one manages the whole chain; counter staff may leave it out while the chain has one store")
		}, func(db *orders.DB) error {
			if _, err := setup(ctx, db, stdout); err != nil {
				return err
			}
			id, err := storeID(ctx, db, *store, *role == orders.RoleManager)
			if err != nil {
				return err
			}
			s, err := db.AddStaff(ctx, *name, *pin, *role, id)
			if err != nil {
				return explain(err)
			}
			where := "the whole chain"
			if s.StoreID != 0 {
				st, err := db.Store(ctx, s.StoreID)
				if err != nil {
					return err
				}
				where = fmt.Sprintf("store %q", st.Name)
			}
			fmt.Fprintf(stdout, "staff member %d added as %s of %s\n", s.ID, s.Role, where)
			return nil
		})
	case "unlock":
		// The way back when the only manager is locked out: whoever may
		// run commands on the store's PC may lift it.
		var name *string
		return withDB(ctx, "staff unlock", args[1:], stderr, func(fs *flag.FlagSet) {
			name = fs.String("name", "", "staff member's name")
		}, func(db *orders.DB) error {
			s, err := db.StaffByName(ctx, *name)
			if err != nil {
				return explain(err)
			}
			if err := db.Unlock(ctx, s.ID); err != nil {
				return explain(err)
			}
			if err := db.LogAccess(ctx, orders.Access{Action: orders.AuditStaff, Detail: fmt.Sprintf("unlock %d", s.ID)}); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "staff member %d unlocked; every lockout lifted\n", s.ID)
			return nil
		})
	}
	return errors.New(staffUsage)
}

const keysUsage = `usage: consentdesk keys rotate [--retire-old-links] [--db PATH]`

// keysCmd rotates the secret beside the database (store.RotateKeys).
func keysCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return errors.New(keysUsage)
	}
	var retire *bool
	return withDB(ctx, "keys rotate", args[1:], stderr, func(fs *flag.FlagSet) {
		retire = fs.Bool("retire-old-links", false, "older secrets check no link any more (after a leak): printed QR codes and links already sent stop working")
	}, func(db *orders.DB) error {
		v, err := store.RotateKeys(db.Path+".key", *retire)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key file %s.key: secret %d added; restart the server to use it for new links and prescriptions\n", db.Path, v)
		if *retire {
			fmt.Fprintln(stdout, "older secrets retired, the joined stores' too: printed QR codes and links sent before now lead to \"Diese Seite gibt es nicht\" (404); customers use the link in their next mail or ask the store. Prescriptions stay readable, and joined stores' blocking lists keep blocking.")
		} else {
			fmt.Fprintln(stdout, "printed QR codes and links sent before keep working; prescriptions stay readable")
		}
		fmt.Fprintln(stdout, "back up the key file again now, apart from the backups")
		return nil
	})
}

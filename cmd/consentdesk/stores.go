package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/chain"
)

const storeUsage = `usage: consentdesk store add --name NAME [--street S] [--postal-code P] [--city C] [--phone T] [--email E] [--hours H] [--company …] [--db PATH]
       consentdesk store update --name NAME [--rename NEW] [--street S] [--postal-code P] [--city C] [--phone T] [--email E] [--hours H] [--company …] [--db PATH]
       consentdesk store list [--db PATH]
       consentdesk store franchise on|off [--db PATH]   # each store its own controller, or the chain the one
  The company's flags (each store's own, where each is its own controller): --company NAME --legal-form F
  --registered-seat S --register-court C --register-number N --managing-directors D --vat-id V --dpo CONTACT
  --authority A --website URL`

// storeCmd keeps the chain's stores: each has its own address, phone,
// e-mail and opening hours for its letterhead (empty: the company's).
func storeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(storeUsage)
	}
	var name, rename, street, postal, city, phone, email, hours *string
	company := map[string]*string{}
	companyFlags := []struct{ flag, usage string }{
		{"company", "the store's own company, where each store is its own controller (store franchise on)"},
		{"legal-form", "its legal form (GmbH, e.K., …)"}, {"registered-seat", "its registered seat"},
		{"register-court", "its register court"}, {"register-number", "its register number"},
		{"managing-directors", "its managing directors"}, {"vat-id", "its VAT id"},
		{"dpo", "its data protection officer's contact"}, {"authority", "its supervisory authority (empty: the chain's)"},
		{"website", "its website"},
	}
	fields := func(fs *flag.FlagSet) {
		for _, f := range companyFlags {
			company[f.flag] = fs.String(f.flag, "", f.usage)
		}
		name = fs.String("name", "", "the store's name, e.g. the town")
		street = fs.String("street", "", "street and number")
		postal = fs.String("postal-code", "", "postal code")
		city = fs.String("city", "", "town")
		phone = fs.String("phone", "", "the store's phone, as printed")
		email = fs.String("email", "", "the store's e-mail address (replies to its mails go there)")
		hours = fs.String("hours", "", `opening hours, lines separated by "\n" or ";"`)
	}
	companyField := func(co *consent.Company, flag string) *string {
		return map[string]*string{"company": &co.Name, "legal-form": &co.LegalForm, "registered-seat": &co.Seat, "register-court": &co.RegCourt,
			"register-number": &co.RegNumber, "managing-directors": &co.Directors, "vat-id": &co.VATID, "dpo": &co.DPOContact,
			"authority": &co.Authority, "website": &co.Website}[flag]
	}
	store := func() orders.Store {
		s := orders.Store{Name: *name, Street: *street, PostalCode: *postal, City: *city, Phone: *phone, Email: *email,
			OpeningHours: strings.ReplaceAll(strings.ReplaceAll(*hours, `\n`, "\n"), ";", "\n")}
		for _, f := range companyFlags {
			*companyField(&s.Company, f.flag) = *company[f.flag]
		}
		return s
	}
	switch args[0] {
	case "add":
		return withDB(ctx, "store add", args[1:], stderr, fields, func(db *orders.DB) error {
			if _, err := setup(ctx, db, stdout); err != nil {
				return err
			}
			s, err := chain.AddStore(ctx, db, store())
			if err != nil {
				return explain(err)
			}
			fmt.Fprintf(stdout, "store %d %q added\n", s.ID, s.Name)
			return nil
		})
	case "update":
		var given *flag.FlagSet
		return withDB(ctx, "store update", args[1:], stderr, func(fs *flag.FlagSet) {
			fields(fs)
			rename = fs.String("rename", "", "a new name for the store")
			given = fs
		}, func(db *orders.DB) error {
			old, err := db.StoreByName(ctx, *name)
			if err != nil {
				return explain(err)
			}
			// Only the fields given change.
			in := old
			set := map[string]bool{}
			given.Visit(func(f *flag.Flag) { set[f.Name] = true })
			next := store()
			for f, p := range map[string]*string{"street": &in.Street, "postal-code": &in.PostalCode, "city": &in.City, "phone": &in.Phone, "email": &in.Email} {
				if set[f] {
					*p = map[string]string{"street": next.Street, "postal-code": next.PostalCode, "city": next.City, "phone": next.Phone, "email": next.Email}[f]
				}
			}
			if set["hours"] {
				in.OpeningHours = next.OpeningHours
			}
			for _, f := range companyFlags {
				if set[f.flag] {
					*companyField(&in.Company, f.flag) = *companyField(&next.Company, f.flag)
				}
			}
			if *rename != "" {
				in.Name = *rename
			}
			s, err := chain.UpdateStore(ctx, db, in)
			if err != nil {
				return explain(err)
			}
			fmt.Fprintf(stdout, "store %d %q updated\n", s.ID, s.Name)
			return nil
		})
	case "list":
		return withDB(ctx, "store list", args[1:], stderr, nil, func(db *orders.DB) error {
			list, err := db.Stores(ctx)
			if err != nil {
				return err
			}
			on, err := db.Franchise(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tADDRESS\tPHONE\tE-MAIL\tCOMPANY")
			for _, s := range list {
				addr := strings.TrimSpace(strings.Trim(s.Street+", "+strings.TrimSpace(s.PostalCode+" "+s.City), ", "))
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Name, orDash(addr), orDash(s.Phone), orDash(s.Email), orDash(s.Company.Name))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if on {
				fmt.Fprintln(stdout, "each store is its own controller (store franchise on)")
			}
			return nil
		})
	case "franchise":
		if len(args) < 2 || (args[1] != "on" && args[1] != "off") {
			return errors.New(storeUsage)
		}
		on := args[1] == "on"
		return withDB(ctx, "store franchise", args[2:], stderr, nil, func(db *orders.DB) error {
			if _, err := setup(ctx, db, stdout); err != nil {
				return err
			}
			if err := chain.SetFranchise(ctx, db, on, 0); err != nil {
				return explain(err)
			}
			if on {
				fmt.Fprintln(stdout, "each store is its own controller now: its customers, orders and mails are its own, and its letterhead and privacy notice name its company")
			} else {
				fmt.Fprintln(stdout, "the chain is the one controller of every store's customers again")
			}
			return nil
		})
	}
	return errors.New(storeUsage)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// storeID resolves --store NAME. Empty: the first store where the chain
// has one store only; with several, counter staff and tokens must name
// theirs, and a manager without one is the whole chain's (0).
func storeID(ctx context.Context, db *orders.DB, name string, chainWide bool) (int64, error) {
	if name != "" {
		s, err := db.StoreByName(ctx, name)
		if err != nil {
			return 0, explain(err)
		}
		return s.ID, nil
	}
	if chainWide {
		return 0, nil
	}
	list, err := db.Stores(ctx)
	if err != nil {
		return 0, err
	}
	if len(list) == 1 {
		return list[0].ID, nil
	}
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = s.Name
	}
	return 0, fmt.Errorf("the chain has %d stores: name one with --store (%s) / die Kette hat %d Filialen: bitte eine mit --store angeben (%s)",
		len(list), strings.Join(names, ", "), len(list), strings.Join(names, ", "))
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/chain"
	"github.com/consentdesk/consentdesk/orders/store"
)

// joinChain moves a store's SQLite database into the chain's database
// (orders.JoinChain): it checks the store's ledger
// before, moves everything in one transaction, and checks the chain's
// ledger after. Running it again with the same database changes nothing.
func joinChain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("join-chain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the store's SQLite database file (its key file FROM.key beside it)")
	to := fs.String("to", "", "the chain's database: postgres://user@host/db (or a SQLite file)")
	files := fs.String("files", "", "on PostgreSQL: base name of the chain's files (FILES.key, FILES.heads), as for serve")
	storeName := fs.String("store", "", `the store's name in the chain, e.g. "Freiburg" (made from the store's letterhead if the chain has no store of that name)`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" || *storeName == "" {
		return errors.New("join-chain needs --from FILE, --to DATABASE and --store NAME / join-chain braucht --from DATEI, --to DATENBANK und --store NAME")
	}
	if store.IsPostgres(*from) {
		return errors.New("--from is a store's SQLite file / --from ist die SQLite-Datei einer Filiale")
	}
	// The store's key file opens its prescriptions and names it for the
	// chain; without it nothing is moved (and none is made).
	for _, f := range []string{*from, *from + ".key"} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("join-chain: %s is missing, nothing was moved / %s fehlt, nichts wurde übernommen: %w", f, f, err)
		}
	}
	base, err := (&dbFlags{db: to, files: files}).base()
	if err != nil {
		return err
	}
	if abs, _ := filepath.Abs(*from); abs != "" {
		if other, _ := filepath.Abs(base); other == abs {
			return errors.New("--from and --to are the same database / --from und --to sind dieselbe Datenbank")
		}
	}
	// Read, and nothing more: a refused join leaves the store's database
	// as it was (no migration, no blocking list filled).
	src, err := orders.Open(ctx, *from, assets.Migrations(), orders.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("open the store's database: %w", err)
	}
	defer src.Close()
	// Checked as verify checks it, heads file included, before the
	// chain's database is opened.
	before, err := src.VerifyReach(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "store's ledger %s: %d events, intact=%v\n", *from, before.Events, before.OK)
	if !before.OK {
		return fmt.Errorf("das Einwilligungsprotokoll der Filiale ist nicht intakt (Ereignis %d: %s); nichts wurde übernommen / the store's consent ledger is not intact (event %d: %s); nothing was moved",
			before.Broken, before.Reason, before.Broken, before.Reason)
	}
	var opts orders.Options
	if store.IsPostgres(*to) {
		opts.Files = base
	}
	dst, err := orders.Open(ctx, *to, assets.Migrations(), opts)
	if err != nil {
		return fmt.Errorf("open the chain's database: %w", err)
	}
	defer func() {
		if err := dst.Close(); err != nil {
			slog.Error("closing the database", "err", err)
		}
	}()
	// A chain's database that was never set up gets its settings and
	// first manager as with migrate.
	if _, err := setup(ctx, dst, stdout); err != nil {
		return err
	}
	r, err := chain.Join(ctx, dst, src, *storeName, filepath.Base(*from))
	if err != nil {
		return explain(err)
	}
	if r.Already {
		fmt.Fprintf(stdout, "%s joined the chain already as store %d %q (join %d, ledger head %d %s): nothing changed\n",
			*from, r.Store.ID, r.Store.Name, r.Join, r.SourceHeadSeq, r.SourceHeadHash)
	} else {
		fmt.Fprintf(stdout, "joined as store %d %q (join %d): %d staff, %d customers (%d merged with customers of the chain), %d orders, %d documents, %d mails, %d consent events (head %d %s)\n",
			r.Store.ID, r.Store.Name, r.Join, r.Staff, r.Customers, r.Merged, r.Orders, r.Documents, r.Mails, r.Events, r.SourceHeadSeq, r.SourceHeadHash)
		if r.Rewithdrawn > 0 || r.KeptWithdrawn > 0 {
			fmt.Fprintf(stdout, "merged histories: %d newer withdrawals recorded again; %d consents stay withdrawn where an older withdrawal now comes last (ask the customer again)\n", r.Rewithdrawn, r.KeptWithdrawn)
		}
	}
	// The store's secrets go into the chain's key file, so that its
	// printed QR codes and mailed links keep working and its blocking
	// list keeps blocking. Again on a second run: a first one may have
	// stopped between the two.
	if _, err := store.AddJoinedKeys(dst.Path+".key", *from+".key"); err != nil {
		return fmt.Errorf("the store's data is in the chain, but its secrets are not in the chain's key file (run join-chain again): %w", err)
	}
	fmt.Fprintf(stdout, "the store's secrets are in %s.key: copy it to every server of the chain and restart them, so that the store's printed QR codes and links keep working\n", dst.Path)
	after, err := dst.Verify(ctx)
	if err != nil {
		return err
	}
	if !after.OK {
		return fmt.Errorf("the chain's consent ledger does not verify after the join: event %d: %s", after.Broken, after.Reason)
	}
	fmt.Fprintf(stdout, "chain's ledger intact: %d events\n", after.Events)
	printChains(stdout, after)
	return nil
}

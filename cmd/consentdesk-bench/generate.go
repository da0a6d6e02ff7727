package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/store"
)

// generate fills a new database with made-up customers and consent
// events at a chain's size (orders.Synthesize), for the benchmarks in
// BENCHMARKS.md: made-up people, into a new database only.
func generate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbFlag := fs.String("db", "consentdesk.db", "SQLite database file, or a chain's PostgreSQL database as postgres://user@host/db")
	files := fs.String("files", "", "on PostgreSQL: base name of the files kept beside the database (FILES.key, FILES.heads, …), a local path; on SQLite they sit beside the database file")
	customers := fs.Int("customers", 1000000, "made-up customers")
	events := fs.Int("events", 10000000, "consent events in the ledger, spread over the customers")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	pg := store.IsPostgres(*dbFlag)
	base := *dbFlag // where the files beside the database are kept (orders.DB.Path)
	switch {
	case !pg && *files != "":
		return errors.New("--files is for PostgreSQL; on SQLite the files sit beside the database file / --files gilt nur für PostgreSQL; bei SQLite liegen die Dateien neben der Datenbankdatei")
	case pg && *files == "":
		return errors.New("a PostgreSQL database needs --files, a local path for its key file and anchors / eine PostgreSQL-Datenbank braucht --files, einen lokalen Pfad für Schlüsseldatei und Anker")
	case pg:
		base = *files
	}
	// Before the database is made: a bad count left an empty one.
	if *customers < 1 || *events < 0 {
		return errors.New("generate: --customers at least 1, --events not below zero (nothing was created) / " +
			"--customers mindestens 1, --events nicht unter null (nichts wurde angelegt)")
	}
	// A run that made the database and then failed (or was interrupted)
	// takes it away again: half a chain's data is worth nothing, and a
	// second run refuses a database with customers.
	var made []string
	if !pg {
		if _, err := os.Stat(base); errors.Is(err, os.ErrNotExist) {
			for _, f := range []string{base, base + "-wal", base + "-shm", base + "-journal", base + ".key", base + ".heads"} {
				if _, err := os.Lstat(f); errors.Is(err, os.ErrNotExist) {
					made = append(made, f)
				}
			}
		}
	}
	var opts orders.Options
	if pg {
		opts.Files = base
	}
	db, err := orders.Open(ctx, *dbFlag, assets.Migrations(), opts)
	if err != nil {
		return err
	}
	err = synthesize(ctx, db, *customers, *events, stdout, stderr)
	if cerr := db.Close(); cerr != nil {
		slog.Error("closing the database", "err", cerr)
		if err == nil {
			err = cerr
		}
	}
	if err != nil && len(made) > 0 {
		for _, f := range made {
			os.Remove(f) // only what this command made
		}
		err = fmt.Errorf("%w\n(the new database %s is removed again / die neue Datenbank ist wieder entfernt)", err, base)
	}
	return err
}

func synthesize(ctx context.Context, db *orders.DB, customers, events int, stdout, stderr io.Writer) error {
	if _, err := db.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		return err
	}
	start := time.Now()
	last := time.Now()
	err := db.Synthesize(ctx, customers, events, func(c, e int) {
		if time.Since(last) > 10*time.Second {
			fmt.Fprintf(stderr, "generate: %d customers, %d events (%s)\n", c, e, time.Since(start).Round(time.Second))
			last = time.Now()
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generated %d customers and %d consent events in %s\n", customers, events, time.Since(start).Round(time.Second))
	return nil
}

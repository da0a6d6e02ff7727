// Command consentdesk is the store's consent-capture server and its tools.
//
//	consentdesk serve   [--db PATH] [--addr HOST:PORT] [--public-addr HOST:PORT] [--public-url URL]
//	                    [--smtp-url URL] [--mail-dir DIR] [--double-opt-in true|false]
//	consentdesk migrate [--db PATH]
//	consentdesk token create --name NAME [--scope orders|admin] [--expires 90d] [--store NAME] [--db PATH]
//	consentdesk token list | token revoke --name NAME [--db PATH]
//	consentdesk staff add --name NAME --pin PIN [--role counter|manager] [--store NAME] [--db PATH]
//	consentdesk staff unlock --name NAME [--db PATH]
//	consentdesk store add|update --name NAME [--street …] [--phone …] [--hours …] | store list [--db PATH]
//	consentdesk keys rotate [--retire-old-links] [--db PATH]
//	consentdesk verify  [--anchor SEQ:HASH] [--db PATH]
//	consentdesk backup  --to FILE [--db PATH]
//	consentdesk demo    [--db PATH]
//
// Every flag also reads CONSENTDESK_<FLAG> from the environment.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/followup/send"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/store"
	"github.com/consentdesk/consentdesk/pos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	// Go's default GOGC=100. A confirmation PDF leaves 5.7 MB of garbage
	// in gofpdf; GOGC=200 renders it 7-16 % faster, and cost the server
	// about 15 MB of peak heap under load (BENCHMARKS.md).
	if err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "consentdesk:", err)
		os.Exit(1)
	}
}

// Run executes one subcommand; tests call it directly.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "migrate":
		return withDB(ctx, "migrate", args, stderr, nil, func(db *orders.DB) error {
			_, err := setup(ctx, db, stdout)
			return err
		})
	case "token":
		return tokenCmd(ctx, args, stdout, stderr)
	case "staff":
		return staffCmd(ctx, args, stdout, stderr)
	case "store":
		return storeCmd(ctx, args, stdout, stderr)
	case "join-chain":
		return joinChain(ctx, args, stdout, stderr)
	case "verify":
		var anchor *string
		return withDB(ctx, "verify", args, stderr, func(fs *flag.FlagSet) {
			anchor = fs.String("anchor", "", "SEQ:HASH of a head recorded earlier (backup prints it); default: every head in the heads file beside the database")
		}, func(db *orders.DB) error {
			// verify runs as a process of its own and reads every event
			// once: at 10,000,000 events the driver's short-lived strings
			// made the collector run thousands of times with a heap of a
			// few MB, a seventh of the time. SQLite's
			// ledger is now read without them (orders/ledgerread.go);
			// PostgreSQL's still goes through the driver. Four times the
			// heap target costs about 20 MB.
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(400)
			}
			v, err := db.Verify(ctx)
			if err != nil {
				return err
			}
			if !v.OK {
				return fmt.Errorf("consent ledger broken at event %d of %d: %s", v.Broken, v.Events, v.Reason)
			}
			// An intact chain may still have lost its newest events; a
			// head recorded outside the database shows that.
			var anchors []store.Anchor
			from := "the heads file " + store.HeadsPath(db.Path)
			if *anchor != "" {
				a, err := store.ParseAnchor(*anchor)
				if err != nil {
					return err
				}
				anchors, from = []store.Anchor{a}, "--anchor"
			} else if anchors, err = store.ReadHeads(db.Path); err != nil {
				return err
			}
			if err := db.CheckAnchors(ctx, anchors); err != nil {
				return fmt.Errorf("consent ledger cut short or rewritten: %w", err)
			}
			if len(anchors) == 0 {
				fmt.Fprintf(stdout, "consent ledger intact: %d events (no recorded head to check against; backups record one)\n", v.Events)
			} else {
				ledger := 0
				for _, a := range anchors {
					if a.Store == 0 {
						ledger++
					}
				}
				fmt.Fprintf(stdout, "consent ledger intact: %d events, reaches %d recorded head(s) from %s", v.Events, ledger, from)
				if n := len(anchors) - ledger; n > 0 {
					fmt.Fprintf(stdout, ", and %d recorded head(s) of stores' chains", n)
				}
				fmt.Fprintln(stdout)
			}
			printChains(stdout, v)
			return nil
		})
	case "backup":
		var to *string
		return withDB(ctx, "backup", args, stderr, func(fs *flag.FlagSet) { to = fs.String("to", "", "file to write the copy to") }, func(db *orders.DB) error {
			if *to == "" {
				return errors.New("backup needs --to FILE")
			}
			if _, err := os.Stat(*to); err == nil {
				return fmt.Errorf("%s exists already; choose a new file", *to)
			}
			v, seq, hash, err := db.BackupChecked(ctx, *to)
			if err != nil {
				return err
			}
			if err := store.AppendHead(db.Path, "head", seq, hash, *to, db.Now(), v.Chains...); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "backup written to %s; keep %s.key with it, or the prescriptions in it cannot be read\n", *to, db.Path)
			// The head, noted outside the file, anchors the chain: a copy
			// cut short at its end would show a different head.
			fmt.Fprintf(stdout, "consent ledger intact: %t, %d events, head %d %s\n", v.OK, v.Events, seq, hash)
			printChains(stdout, v)
			return nil
		})
	case "demo":
		return withDB(ctx, "demo", args, stderr, nil, func(db *orders.DB) error {
			if _, err := setup(ctx, db, stdout); err != nil {
				return err
			}
			n, err := db.Demo(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "demo store filled: %d orders\n", n)
			return nil
		})
	case "keys":
		return keysCmd(ctx, args, stdout, stderr)
	case "restore":
		return restore(ctx, args, stdout, stderr)
	case "load", "generate":
		// The benchmark tooling is a command of its own, so that a
		// store's binary carries none of it.
		return fmt.Errorf("%q is not part of the store's binary: it is a command of its own, run from the source as\n"+
			"  go run ./cmd/consentdesk-bench %s …\n(see BENCHMARKS.md)", cmd, cmd)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, "usage: consentdesk [serve|migrate|token create|list|revoke|staff add|unlock|store add|update|list|join-chain|keys rotate|verify|backup|restore|demo] [flags]")
		return nil
	}
	return fmt.Errorf("unknown command %q (serve, migrate, token create|list|revoke, staff add|unlock, store add|update|list, keys rotate, verify, backup, restore, demo)", cmd)
}

// printChains lists each store's chain: verify checks every one.
func printChains(w io.Writer, v consent.Verification) {
	for _, c := range v.Chains {
		fmt.Fprintf(w, "  store %d: %d events, head %d %s\n", c.Store, c.Events, c.Seq, c.Hash)
	}
	for _, j := range v.Joined {
		fmt.Fprintf(w, "  joined ledger %d (store %d): %d events as they were, head %d %s, each recorded again in the chain\n", j.Join, j.Store, j.Events, j.HeadSeq, j.HeadHash)
	}
}

// explain turns a domain error into a sentence for the terminal.
func explain(err error) error {
	var e *consentdesk.Error
	if errors.As(err, &e) {
		parts := []string{assets.T("en", e.Key, e.Args...)}
		for f, key := range e.Fields {
			parts = append(parts, f+": "+assets.T("en", key))
		}
		return errors.New(strings.Join(parts, " "))
	}
	return err
}

// newFlags makes a flag set whose defaults come from CONSENTDESK_<FLAG>.
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *dbFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs, &dbFlags{
		db:    fs.String("db", "consentdesk.db", "SQLite database file, or a chain's PostgreSQL database as postgres://user@host/db"),
		files: fs.String("files", "", "on PostgreSQL: base name of the files kept beside the database (FILES.key, FILES.heads, …), a local path; on SQLite they sit beside the database file"),
	}
}

// dbFlags are the flags that name the database.
type dbFlags struct{ db, files *string }

// base is where the files beside the database are kept (orders.DB.Path):
// the database file on SQLite, --files on PostgreSQL.
func (f *dbFlags) base() (string, error) {
	if !store.IsPostgres(*f.db) {
		if *f.files != "" {
			return "", errors.New("--files is for PostgreSQL; on SQLite the files sit beside the database file / --files gilt nur für PostgreSQL; bei SQLite liegen die Dateien neben der Datenbankdatei")
		}
		return *f.db, nil
	}
	if *f.files == "" {
		return "", errors.New("a PostgreSQL database needs --files, a local path for its key file and anchors / eine PostgreSQL-Datenbank braucht --files, einen lokalen Pfad für Schlüsseldatei und Anker")
	}
	return *f.files, nil
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	// Environment first, flags win.
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := "CONSENTDESK_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s: %w", env, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return fs.Parse(args)
}

func withDB(ctx context.Context, name string, args []string, stderr io.Writer, define func(*flag.FlagSet), run func(*orders.DB) error) error {
	return withDBOptions(ctx, name, args, stderr, define, nil, run)
}

// withDBOptions is withDB whose options (orders.Options, fixed at Open)
// come from the parsed flags and the database's path.
func withDBOptions(ctx context.Context, name string, args []string, stderr io.Writer, define func(*flag.FlagSet), options func(path string) (orders.Options, error), run func(*orders.DB) error) error {
	fs, flags := newFlags(name, stderr)
	if define != nil {
		define(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	base, err := flags.base()
	if err != nil {
		return err
	}
	switch name {
	case "verify", "backup", "token list", "token revoke", "staff unlock", "keys rotate", "store list", "store update", "store franchise":
		// Found: "verify --db typo.db" created an empty database and
		// reported "intact: 0 events"; a nightly check against a
		// mistyped path would have reported success for ever. (On
		// PostgreSQL the database must exist to connect; the key file
		// tells a chain's database apart from a new one.)
		if _, err := os.Stat(base); err != nil && !store.IsPostgres(*flags.db) {
			return fmt.Errorf("%s: no database at %s (nothing was created): %w", name, base, err)
		} else if _, err := os.Stat(base + ".key"); err != nil && store.IsPostgres(*flags.db) {
			return fmt.Errorf("%s: no key file at %s.key (nothing was created): %w", name, base, err)
		}
	}
	var opts orders.Options
	if options != nil {
		if opts, err = options(base); err != nil {
			return err
		}
	}
	// A short command that made the database and then failed on its
	// input ("staff add --pin 12" on a mistyped --db) takes it away
	// again: nothing was saved, so nothing new is left behind.
	var made []string
	if undoNew[name] && !store.IsPostgres(*flags.db) {
		if _, err := os.Stat(base); errors.Is(err, os.ErrNotExist) {
			for _, f := range []string{base, base + "-wal", base + "-shm", base + "-journal", base + ".key", base + ".heads"} {
				if _, err := os.Lstat(f); errors.Is(err, os.ErrNotExist) {
					made = append(made, f)
				}
			}
		}
	}
	if store.IsPostgres(*flags.db) {
		opts.Files = base
	}
	db, err := orders.Open(ctx, *flags.db, assets.Migrations(), opts)
	if err != nil {
		return err
	}
	err = run(db)
	if cerr := db.Close(); cerr != nil {
		slog.Error("closing the database", "err", cerr)
		if err == nil {
			err = cerr
		}
	} else if name == "serve" {
		slog.Info("database closed")
	}
	if err != nil && len(made) > 0 {
		for _, f := range made {
			os.Remove(f) // only what this command made
		}
		err = fmt.Errorf("%w\n(the new database %s is removed again / die neue Datenbank ist wieder entfernt)", err, base)
	}
	return err
}

// undoNew are the commands whose failure takes away a database they
// made (withDBOptions): one use case each, so a failure leaves nothing
// in it worth keeping.
var undoNew = map[string]bool{"token create": true, "staff add": true, "store add": true}

// setup makes sure a store exists and prints a new manager's PIN once.
func setup(ctx context.Context, db *orders.DB, stdout io.Writer) (bool, error) {
	pin, err := db.EnsureStore(ctx, assets.DefaultNotices())
	if err != nil {
		return false, err
	}
	if pin != "" {
		fmt.Fprintf(stdout, "Neue Filiale eingerichtet. Anmelden als %q mit der PIN %s; sie wird nur dieses eine Mal angezeigt.\n", orders.FirstManagerName, pin)
		fmt.Fprintf(stdout, "New store set up. Sign in as %q with PIN %s; it is shown only this once.\n", orders.FirstManagerName, pin)
	}
	return pin != "", nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var addr, publicAddr, publicURL, smtpURL, mailDir, doubleOptIn, proxies, backupDir, backupAt, acmeEmail, acmeDirectory *string
	var insecure, useACME *bool
	var lanAddr, pairAddr *string
	var backupKeep *int
	var mailStaleAfter *time.Duration
	// Fixed before the database opens (orders.Options): the mail folder,
	// the backups kept, and the sender's wake-up, which the database
	// signals from its first commit on.
	wake := make(chan struct{}, 1)
	var dir, bdir string
	var optIn *bool               // --double-opt-in, when given
	var smtp *followup.SMTPConfig // --smtp-url, when given
	checkFlags := func() error {
		// Keep it above an attempt's 2-minute limit in production: a
		// mail still in a slow server's hand would otherwise be sent by
		// another as well. Tests shorten it to see a dead server's mail
		// taken up.
		if *mailStaleAfter < 0 {
			return fmt.Errorf("--mail-stale-after %s: not below zero / nicht unter null", *mailStaleAfter)
		}
		if *doubleOptIn != "" {
			on, err := strconv.ParseBool(*doubleOptIn)
			if err != nil {
				return fmt.Errorf("--double-opt-in (CONSENTDESK_DOUBLE_OPT_IN): %q is neither true nor false / weder true noch false", *doubleOptIn)
			}
			optIn = &on
		}
		if *publicURL != "" {
			if err := publicURLError("--public-url (CONSENTDESK_PUBLIC_URL)", *publicURL); err != nil {
				return err
			}
		}
		if *smtpURL != "" {
			cfg, err := followup.ParseSMTPURL(*smtpURL)
			if err != nil {
				return err
			}
			smtp = &cfg
		}
		if *useACME && *publicAddr == "" {
			return errors.New("--acme needs --public-addr: the certificate is for the public listener, which the internet reaches (e.g. --public-addr :443)\n" +
				"--acme braucht --public-addr: das Zertifikat gilt für die öffentliche Adresse, die aus dem Internet erreichbar ist (z. B. --public-addr :443)")
		}
		_, err := nextBackup(time.Now(), *backupAt)
		return err
	}
	options := func(path string) (orders.Options, error) {
		dir = *mailDir
		if dir == "" {
			dir = filepath.Join(filepath.Dir(path), "mail")
		}
		bdir = *backupDir
		if bdir == "" {
			bdir = filepath.Join(filepath.Dir(path), "backups")
		}
		if *backupKeep < 1 {
			return orders.Options{}, fmt.Errorf("--backup-keep %d: keep at least one", *backupKeep)
		}
		// What the flags alone decide is checked before the database is
		// opened, for the reason below.
		if err := checkFlags(); err != nil {
			return orders.Options{}, err
		}
		// Every address is tried before the database is opened: a first
		// start on a taken port set the store up, printed its manager's
		// PIN "only this once" and then failed, and the next start, on a
		// free port, printed no PIN at all.
		addrs := []string{*addr}
		if *publicAddr != "" {
			addrs = append(addrs, *publicAddr)
		}
		if *lanAddr != "" {
			_, pair, err := lanAddresses(*lanAddr, *pairAddr)
			if err != nil {
				return orders.Options{}, err
			}
			addrs = append(addrs, *lanAddr, pair)
		}
		if err := canListen(addrs); err != nil {
			return orders.Options{}, err
		}
		opts := orders.Options{MailDir: dir, MailQueued: func() { send.Signal(wake) }}
		if bdir != "off" {
			opts.BackupKeep = *backupKeep // the erasure's answer names how long backups hold data
		}
		return opts, nil
	}
	return withDBOptions(ctx, "serve", args, stderr, func(fs *flag.FlagSet) {
		addr = fs.String("addr", "127.0.0.1:8080", "address of the tablet, back office and API (store network only)")
		publicAddr = fs.String("public-addr", "", "separate address for the customers' public pages only")
		publicURL = fs.String("public-url", "", "base URL printed in links and QR codes (overrides the store setting)")
		lanAddr = fs.String("lan-addr", "", "the counter (tablet, back office, API) over HTTPS on the store's network, with the store's own CA, e.g. 0.0.0.0:8443")
		pairAddr = fs.String("pair-addr", "", "plain-HTTP pairing page for new tablets on the store's network (default: the host of --lan-addr, port 8480)")
		useACME = fs.Bool("acme", false, "obtain and renew the public listener's certificate for the host of --public-url (ACME, Let's Encrypt by default)")
		acmeEmail = fs.String("acme-email", "", "contact address for the ACME account (expiry warnings)")
		acmeDirectory = fs.String("acme-directory", "", "ACME directory URL (default: Let's Encrypt's production directory)")
		insecure = fs.Bool("insecure-cookies", false, "drop the Secure cookie flag, for tablets reaching the server over plain HTTP on the store network")
		smtpURL = fs.String("smtp-url", "", "SMTP server, smtp://user:pass@host:587?tls=starttls&from=...; without it mails are kept and written to --mail-dir (prefer the environment variable: it keeps the password out of the process list)")
		mailDir = fs.String("mail-dir", "", "folder for the .eml files of mails kept without SMTP (default: mail/ beside the database)")
		proxies = fs.String("trusted-proxies", "", "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed, for the public pages' rate limit")
		backupDir = fs.String("backup-dir", "", `folder for the nightly backups (default: backups/ beside the database; "off" for none)`)
		backupAt = fs.String("backup-at", "02:30", "time of day (store time, HH:MM) of the nightly backup")
		backupKeep = fs.Int("backup-keep", 14, "how many nightly backups to keep; older ones are deleted")
		mailStaleAfter = fs.Duration("mail-stale-after", 10*time.Minute, "on a chain's PostgreSQL database: how long a mail may stay \"sending\" before another server takes its sender for gone and sends it again (same Message-ID)")
		doubleOptIn = fs.String("double-opt-in", "", "true or false: e-mail consent waits for the customer's confirmation (stored in the store settings)")
	}, options, func(db *orders.DB) error {
		if _, err := setup(ctx, db, stdout); err != nil {
			return err
		}
		if optIn != nil {
			// Stored in the store settings, so that the settings page
			// shows what applies.
			if err := db.SetDoubleOptIn(ctx, *optIn); err != nil {
				return err
			}
		}
		if err := checkPublicURL(ctx, db, *publicURL); err != nil {
			return err
		}
		var transport followup.Transport
		from, relay := "", ""
		if smtp != nil {
			cfg := *smtp
			var err error
			if transport, err = followup.NewSMTP(cfg); err != nil {
				return err
			}
			from, relay = cfg.From, net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
			slog.Info("mail goes out by SMTP", "server", cfg.String())
		} else {
			transport = followup.Folder{Dir: dir}
			fmt.Fprintf(stdout, "No SMTP server set (CONSENTDESK_SMTP_URL): mails are kept in the outbox and written to %s\n", dir)
		}
		sender := send.NewSender(db, db.Keys.LinkTokens(), transport, send.SenderConfig{PublicURL: *publicURL, From: from, Wake: wake, Shared: db.Postgres(), StaleAfter: *mailStaleAfter})

		var trusted []string
		for _, p := range strings.Split(*proxies, ",") {
			if p = strings.TrimSpace(p); p != "" {
				trusted = append(trusted, p)
			}
		}
		certs := &certStatus{}
		cfg := pos.Config{DB: db, PublicURL: *publicURL, InsecureCookies: *insecure, TrustedProxies: trusted, MailRelay: relay}
		var lan *lanSetup
		if *lanAddr != "" {
			var err error
			if lan, err = newLAN(ctx, db, *lanAddr, *pairAddr); err != nil {
				return err
			}
			cfg.Pairing = lan.pairing
		}
		if *useACME {
			cfg.CertStatus = certs.Status // the dashboard shows the certificate, and a failed renewal
		}
		srv, err := pos.New(cfg)
		if err != nil {
			return err
		}
		servers := []*http.Server{newHTTPServer(srv.Handler())}
		listeners := []string{*addr}
		if *publicAddr != "" {
			servers = append(servers, newHTTPServer(srv.PublicHandler()))
			listeners = append(listeners, *publicAddr)
		}
		if lan != nil {
			stopMDNS := announceCounter(lan, lan.pairing.Name)
			defer stopMDNS()
			lanServer := newHTTPServer(srv.Handler())
			lanServer.TLSConfig = lan.cert.tlsConfig()
			servers = append(servers, lanServer, newHTTPServer(srv.PairHandler()))
			listeners = append(listeners, lan.addr, lan.pairAddr)
		}
		var acmeWatch func(context.Context)
		if *useACME {
			a, err := newACMEConfig(*publicURL, *acmeEmail, *acmeDirectory, db.Path)
			if err != nil {
				return err
			}
			m, err := a.manager()
			if err != nil {
				return err
			}
			servers[1].TLSConfig = m.TLSConfig()
			acmeWatch = func(ctx context.Context) { watchCertificate(ctx, m, a.host, certs) }
			slog.Info("public listener uses ACME", "host", a.host, "directory", a.directory, "cache", a.cacheDir)
		}
		// The erasure list names every erased customer, and the
		// withdrawal journal every withdrawal, before anything is served
		// (a line an earlier failure left out is added now).
		if _, err := db.SyncErasureList(ctx); err != nil {
			return err
		}
		if _, err := db.SyncWithdrawalJournal(ctx); err != nil {
			return err
		}
		background, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
		var wg sync.WaitGroup
		if bdir != "off" {
			wg.Add(1)
			go func() { defer wg.Done(); backupLoop(background, db, bdir, *backupKeep, *backupAt) }()
			fmt.Fprintf(stdout, "Nightly backup at %s into %s, keeping %d\n", *backupAt, bdir, *backupKeep)
		}
		if acmeWatch != nil {
			wg.Add(1)
			go func() { defer wg.Done(); acmeWatch(background) }()
		}
		wg.Add(2)
		go func() { defer wg.Done(); sender.Run(background) }()
		go func() { defer wg.Done(); housekeeping(background, db) }()
		err = listenAndServe(ctx, servers, listeners, stdout)
		// The web servers have stopped taking requests; now the sender
		// finishes the mail in hand, and only then does the database close.
		stopBackground()
		wg.Wait()
		slog.Info("sender stopped")
		return err
	})
}

// checkPublicURL refuses to serve links that lead nowhere: the public URL
// in use (the flag, else the store setting) must be https:// unless it
// names this machine itself. Said in German and English, as the store
// owner reads it. The flag's URL is checked before the database is
// opened (serve's checkFlags); here the store setting, when no flag is
// given.
func checkPublicURL(ctx context.Context, db *orders.DB, flagURL string) error {
	if flagURL != "" {
		return nil
	}
	ctrl, err := db.Controller(ctx)
	if err != nil {
		return err
	}
	return publicURLError("the store setting \"public address\" / die Einstellung „Öffentliche Adresse“", ctrl.PublicURL)
}

// publicURLError is the refusal of a public URL u read from from, nil
// for one that will do.
func publicURLError(from, u string) error {
	if key := consent.PublicURLProblem(u); key != "" {
		return fmt.Errorf("%s = %q:\n%s\n%s", from, u, assets.T("de", key), assets.T("en", key))
	}
	return nil
}

// housekeeping runs at start and then every hour: unconfirmed e-mail
// consents expire, whatever has outlived its retention period is deleted
// (GDPR Art. 5(1)(e); §147 AO, §257 HGB), and so are the copies a
// restore moved aside, after store.AsideKeep (they hold erased data).
// Where several servers share a chain's database, one of them does it
// each hour (orders.OncePer); a failed run is left to the next asking.
func housekeeping(ctx context.Context, db *orders.DB) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		_, err := db.OncePer(ctx, "housekeeping", 50*time.Minute, func(ctx context.Context) error {
			var failed []error
			if _, err := db.ExpireUnconfirmed(ctx); err != nil {
				failed = append(failed, fmt.Errorf("expire unconfirmed consents: %w", err))
			}
			if _, err := db.ApplyRetention(ctx); err != nil {
				failed = append(failed, fmt.Errorf("retention: %w", err))
			}
			if _, err := db.RemoveAside(ctx, store.AsideKeep, time.Now()); err != nil {
				failed = append(failed, fmt.Errorf("copies from before a restore: %w", err))
			}
			return errors.Join(failed...)
		})
		if err != nil && ctx.Err() == nil {
			slog.Error("housekeeping", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// listenAndServe runs the servers until ctx ends, then lets requests in
// flight finish before the database closes. Every address is bound before
// any server starts: if the public listener cannot start, the counter's
// is closed again and the command fails, rather than running half a
// server whose customer links lead nowhere. A server that stops with an
// error takes the others down with it, for the same reason.
func listenAndServe(ctx context.Context, servers []*http.Server, addrs []string, stdout io.Writer) error {
	lns := make([]net.Listener, 0, len(servers))
	for i := range servers {
		ln, err := net.Listen("tcp", addrs[i])
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("listen on %s: %w", addrs[i], err)
		}
		lns = append(lns, ln)
	}
	errs := make(chan error, len(servers))
	for i, s := range servers {
		scheme := "http"
		if s.TLSConfig != nil {
			lns[i], scheme = tls.NewListener(lns[i], s.TLSConfig), "https"
		}
		fmt.Fprintf(stdout, "ConsentDesk listening on %s://%s\n", scheme, lns[i].Addr())
		go func(s *http.Server, ln net.Listener) {
			if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- err
			}
		}(s, lns[i])
	}
	var failed error
	select {
	case <-ctx.Done():
	case failed = <-errs:
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(shutdown); err != nil {
			slog.Error("shutdown", "err", err)
		}
	}
	if failed != nil {
		return failed
	}
	slog.Info("stopped")
	return nil
}

// canListen binds each address and lets it go again: whether serve can
// start at all, found out before anything is set up. listenAndServe
// binds them for good, and still fails whole if one was taken meanwhile.
func canListen(addrs []string) error {
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("listen on %s: %w (nothing was set up / nichts wurde eingerichtet)", a, err)
		}
		ln.Close()
	}
	return nil
}

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
}

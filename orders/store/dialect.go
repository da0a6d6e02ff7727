package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// This file is where ConsentDesk meets PostgreSQL: a chain's
// stores share one database there. The queries of every package are
// written once, with SQLite's "?" placeholders; the connections opened
// here number them as PostgreSQL wants ($1, $2, …) before pgx sees them.
// What is done differently on PostgreSQL, and why, is in the functions
// of this file; elsewhere the code asks which engine it runs on only to
// call one of them (Open, the committer's lock, Checkpoint, the backups,
// RemoveAside, the checkpointer that SQLite alone needs).

// IsPostgres says whether location names a PostgreSQL database (a
// postgres:// or postgresql:// URL) rather than a SQLite file.
func IsPostgres(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// Name is the database for people: its file, or its PostgreSQL URL
// without a password.
func (db *DB) Name() string {
	if !db.pg {
		return db.Path
	}
	if u, err := url.Parse(db.location); err == nil {
		return u.Redacted()
	}
	return "(PostgreSQL)"
}

// OpenSQL opens a bare handle on the database at location, with the
// server's connection settings and none of its work (no migration, no
// committer), for tools and tests that look at the tables themselves.
func OpenSQL(location string) (*sql.DB, error) {
	if IsPostgres(location) {
		return openPostgres(location)
	}
	return sql.Open("sqlite", DSN(location))
}

// openPostgres opens a pool on the database at url whose connections take
// "?" placeholders.
func openPostgres(url string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return sql.OpenDB(qmarkConnector{stdlib.GetConnector(*cfg)}), nil
}

// pgConn is what database/sql uses of pgx's connection; the wrapper
// passes each through with the query renumbered.
type pgConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.NamedValueChecker
	driver.SessionResetter
}

type qmarkConnector struct{ driver.Connector }

func (c qmarkConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := conn.(pgConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("open database: pgx's connection lacks an interface database/sql needs")
	}
	return qmarkConn{pc}, nil
}

type qmarkConn struct{ pgConn }

func (c qmarkConn) Prepare(query string) (driver.Stmt, error) {
	return c.pgConn.Prepare(dollars(query))
}

func (c qmarkConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.pgConn.PrepareContext(ctx, dollars(query))
}

func (c qmarkConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.pgConn.ExecContext(ctx, dollars(query), args)
}

func (c qmarkConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.pgConn.QueryContext(ctx, dollars(query), args)
}

// CheckNamedValue passes a bool as 1 or 0: the schema keeps flags in
// integer columns on both engines (SQLite has no boolean type), and
// SQLite's driver sends a bool so.
func (c qmarkConn) CheckNamedValue(nv *driver.NamedValue) error {
	if b, ok := nv.Value.(bool); ok {
		nv.Value = int64(0)
		if b {
			nv.Value = int64(1)
		}
	}
	return c.pgConn.CheckNamedValue(nv)
}

// lockWriters makes a write transaction on PostgreSQL wait for those it
// could conflict with, in every server process of the chain. On SQLite,
// BEGIN IMMEDIATE makes every writer wait (DSN's _txlock). Each store's
// hash chain needs it: each event names the hash of the store's one
// before, so two transactions appending to one chain at once would both
// link to the same predecessor. A batch of use cases that all keep to
// their store (consent.InStore) takes the writers' lock shared and each of its
// stores' locks, so that stores append at the same time; any
// other use case takes the writers' lock alone. Always the writers' lock
// first and the stores' in ascending order: no two batches wait for each
// other in a circle. The locks are released with the transaction's end.
func lockWriters(ctx context.Context, tx *sql.Tx, stores []int64) error {
	if stores == nil {
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, writerLock)
		return err
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock_shared(?)`, writerLock); err != nil {
		return err
	}
	for _, s := range stores {
		// The two-key form: its keys never meet the one-key form's.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?, ?)`, int32(writerLock), int32(s)); err != nil {
			return err
		}
	}
	return nil
}

// writerLock is the advisory lock's number: "CDsk" in ASCII.
const writerLock = 0x4344736b

// batchStores is the stores whose locks a batch takes, ascending; nil
// when one of its use cases needs the writers' lock alone.
func batchStores(jobs []*job) []int64 {
	stores := []int64{}
	for _, j := range jobs {
		if !consent.KeepsToStore(j.ctx) {
			return nil
		}
		stores = append(stores, consent.StoreOf(j.ctx))
	}
	slices.Sort(stores)
	return slices.Compact(stores)
}

// dollars numbers the "?" placeholders of query as $1, $2, … It leaves
// alone what is quoted ('…', "…", $tag$…$tag$) and commented (--, /* */),
// where a question mark is text.
func dollars(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			end := strings.IndexByte(query[i+1:], c)
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			// A doubled quote inside is two quoted runs side by side.
			b.WriteString(query[i : i+end+2])
			i += end + 2
		case strings.HasPrefix(query[i:], "--"):
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				end = len(query) - i
			}
			b.WriteString(query[i : i+end])
			i += end
		case strings.HasPrefix(query[i:], "/*"):
			end := strings.Index(query[i+2:], "*/")
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end+4])
			i += end + 4
		case c == '$':
			// A dollar-quoted body: $$…$$ or $tag$…$tag$.
			tag := dollarTag(query[i:])
			if tag == "" {
				b.WriteByte(c)
				i++
				continue
			}
			end := strings.Index(query[i+len(tag):], tag)
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+len(tag)+end+len(tag)])
			i += len(tag) + end + len(tag)
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// dollarTag returns the opening tag of a dollar-quoted string at the
// start of s ("$$", "$body$"), "" if s does not start with one.
func dollarTag(s string) string {
	for j := 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '$':
			return s[:j+1]
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 1 && c >= '0' && c <= '9':
		default:
			return ""
		}
	}
	return ""
}

// beginSnapshot starts a read transaction on one connection whose reads
// all see one state of the database (the export, Art. 15(3) GDPR).
// SQLite: a deferred BEGIN takes its snapshot at the first read in WAL
// mode and holds up no writer (BeginTx would begin IMMEDIATE). PostgreSQL:
// READ COMMITTED, its default, would see each statement's own state.
func (db *DB) BeginSnapshot() string {
	if db.pg {
		return `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`
	}
	return `BEGIN DEFERRED`
}

// erasedTables are the tables an erasure or the retention job changes
// that hold personal data.
const erasedTables = `customers, orders, order_items, prescriptions, documents, customer_changes, consent_event_details, outbox`

// vacuumErased is the erasure's Checkpoint on PostgreSQL. An UPDATE or
// DELETE there leaves the old row version in the table's file (MVCC)
// (GDPR Art. 17: the data must go, not only be hidden). A plain VACUUM
// is not enough: it frees the old versions' space in the page but leaves
// their bytes there until something is written over them, and a test
// found the erased address in the file one run in three. VACUUM FULL
// writes the tables anew and removes the old files; it locks each table
// while it does, which is milliseconds for a store and grows with a
// chain's tables (docs/chain.md, "Roles"). CHECKPOINT then writes the new pages out. Only a
// superuser or a member of pg_checkpoint may run CHECKPOINT: without it,
// PostgreSQL's own next checkpoint writes them (checkpoint_timeout, 5
// minutes by default), and the answer says false.
func (db *DB) vacuumErased(ctx context.Context) bool {
	// VACUUM skips a table its role does not own with a mere warning,
	// which the driver does not pass on: the erasure would report clean
	// files that still hold the data.
	var notOwned string
	if err := db.sql.QueryRowContext(ctx, `SELECT COALESCE(string_agg(relname, ', '), '') FROM pg_class
		WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace AND relname = ANY (string_to_array(?, ', '))
		AND NOT pg_has_role(current_user, relowner, 'USAGE')`, erasedTables).Scan(&notOwned); err != nil {
		slog.Error("vacuum after an erasure", "err", err)
		return false
	}
	if notOwned != "" {
		slog.Error("vacuum after an erasure: the server's role does not own these tables, so VACUUM skips them and erased data stays in their files (docs/chain.md, Roles)", "tables", notOwned)
		return false
	}
	// VACUUM (FULL) keeps the old row versions that a snapshot taken
	// before the erasure may still read. Found: with tests of other
	// packages running, the erased address stayed in the customers file
	// in 3 of 6 runs (TestPostgresRoles), although no other session of
	// this database was older; sessions elsewhere in the cluster (other
	// databases being created from a template) held the horizon. So it
	// waits, as SQLite's checkpoint waits for readers, until no other
	// session of the cluster holds a snapshot from before the erasure's
	// end: 2 s at most, then it says false. Seeing other roles' sessions
	// needs pg_read_all_stats (docs/chain.md, "Roles").
	var horizon int64
	if err := db.sql.QueryRowContext(ctx, `SELECT mod(pg_snapshot_xmax(pg_current_snapshot())::text::bigint, 4294967296)`).Scan(&horizon); err != nil {
		slog.Error("vacuum after an erasure", "err", err)
		return false
	}
	for try := 0; ; try++ {
		var older int
		// backend_xmin precedes horizon, in the 32-bit circle of xids.
		if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()
			AND backend_xmin IS NOT NULL AND mod(? - backend_xmin::text::bigint + 4294967296, 4294967296) BETWEEN 1 AND 2147483647`, horizon).Scan(&older); err != nil {
			slog.Error("vacuum after an erasure", "err", err)
			return false
		}
		if older == 0 {
			break
		}
		if try == 40 {
			slog.Warn("vacuum after an erasure: sessions that began before it still read; the next erasure or VACUUM removes what they keep", "sessions", older)
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	if _, err := db.sql.DB.ExecContext(ctx, `VACUUM (FULL) `+erasedTables); err != nil {
		slog.Error("vacuum after an erasure", "err", err)
		return false
	}
	if _, err := db.sql.DB.ExecContext(ctx, `CHECKPOINT`); err != nil {
		slog.Warn("checkpoint after an erasure: the files get the cleaned pages at PostgreSQL's next checkpoint", "err", err)
		return false
	}
	return true
}

// backupExt is the backups' file name extension.
func (db *DB) backupExt() string {
	if db.pg {
		return ".dump"
	}
	return ".db"
}

// dump is the backup on PostgreSQL: pg_dump's custom archive (restored
// with pg_restore, docs/chain.md "Backups") of the same snapshot in
// which the ledger is verified and its head read, so that the head
// recorded beside the database is the archive's. pg_dump copies a live
// database consistently without holding up writers; its version must be
// the server's or newer.
func (db *DB) dump(ctx context.Context, file string) (consent.Verification, int64, string, error) {
	var v consent.Verification
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		return v, 0, "", errors.New("backup: pg_dump fehlt; bitte die Client-Programme von PostgreSQL installieren (Debian: postgresql-client) / pg_dump is missing; install PostgreSQL's client tools (Debian: postgresql-client)")
	}
	conn, err := db.sql.DB.Conn(ctx)
	if err != nil {
		return v, 0, "", fmt.Errorf("backup: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`); err != nil {
		return v, 0, "", fmt.Errorf("backup: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
	var snapshot string
	if err := conn.QueryRowContext(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot); err != nil {
		return v, 0, "", fmt.Errorf("backup: %w", err)
	}
	if v, err = consent.VerifyWith(ctx, conn, true); err != nil {
		return v, 0, "", fmt.Errorf("backup: %w", err)
	}
	seq, hash, err := consent.Head(ctx, conn)
	if err != nil {
		return v, 0, "", fmt.Errorf("backup: %w", err)
	}
	// The password, if the URL has one, goes by the environment: the
	// command line is visible to every user of the machine.
	u, err := url.Parse(db.location)
	if err != nil {
		return v, 0, "", fmt.Errorf("backup: %w", err)
	}
	env := os.Environ()
	if pw, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pw)
		u.User = url.User(u.User.Username())
	}
	cmd := exec.CommandContext(ctx, bin, "--snapshot="+snapshot, "--format=custom", "--file="+file, "--dbname="+u.String())
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(file)
		return v, 0, "", fmt.Errorf("backup: pg_dump: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return v, seq, hash, nil
}

// RestorePostgres puts the pg_dump archive from in place of the
// PostgreSQL database at location, as restore does with a SQLite file:
// the archive goes into a new database first and its ledger is checked
// there (a broken one changes nothing); then the current database is
// renamed aside (NAME_before_restore_TIME, dropped by the server after
// AsideKeep, as it holds erased data) and the new one takes its name. A
// database with connections is refused unless force, which ends them
// (after a crash). It returns the archive's ledger check and head, and
// the aside database's name ("" where there was none). The caller then
// opens the result and erases again whom the erasure list names.
func RestorePostgres(ctx context.Context, location, from string, force bool, now time.Time, check func(ctx context.Context, q consent.Querier, headSeq int64) error) (v consent.Verification, seq int64, hash, aside string, err error) {
	// The recovery steps below (dropping the staging copy, renaming the
	// database back) report their own failures beside the one that made
	// them run: the admin must know what state the server is left in.
	bin, err := exec.LookPath("pg_restore")
	if err != nil {
		return v, 0, "", "", errors.New("restore: pg_restore fehlt; bitte die Client-Programme von PostgreSQL installieren (Debian: postgresql-client) / pg_restore is missing; install PostgreSQL's client tools (Debian: postgresql-client)")
	}
	if _, err := os.Stat(from); err != nil {
		return v, 0, "", "", fmt.Errorf("restore: %w", err)
	}
	u, err := url.Parse(location)
	if err != nil {
		return v, 0, "", "", fmt.Errorf("restore: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	stamp := now.UTC().Format("20060102150405")
	staging, aside := name+"_restoring_"+stamp, name+asideInfix+stamp
	if name == "" || len(aside) > 63 || !plainName(name) {
		return v, 0, "", "", fmt.Errorf("restore: the database name %q must be letters, digits and _ and at most %d characters", name, 63-len(asideInfix+stamp))
	}
	// The server's maintenance database: the target cannot be renamed
	// from a connection to itself.
	admin, err := openPostgres(withPath(u, "postgres"))
	if err != nil {
		return v, 0, "", "", fmt.Errorf("restore: %w", err)
	}
	defer admin.Close()
	var users, exists int
	// A command that just closed its connections leaves their server
	// processes a moment to end; a running server keeps its pool open.
	for try := 0; try < 20; try++ {
		if err := admin.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM pg_stat_activity WHERE datname = ?), (SELECT COUNT(*) FROM pg_database WHERE datname = ?)`, name, name).Scan(&users, &exists); err != nil {
			return v, 0, "", "", fmt.Errorf("restore: %w", err)
		}
		if users == 0 || force {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if users > 0 && !force {
		return v, 0, "", "", fmt.Errorf("restore: database %s looks in use (%d connections): stop the servers first; after a crash, use --force", name, users)
	}
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+staging+` TEMPLATE template0`); err != nil {
		return v, 0, "", "", fmt.Errorf("restore: %w", err)
	}
	keep := false
	defer func() {
		if keep {
			return
		}
		if _, derr := admin.ExecContext(context.WithoutCancel(ctx), `DROP DATABASE IF EXISTS `+staging+` WITH (FORCE)`); derr != nil {
			err = errors.Join(err, fmt.Errorf("restore: the staging copy %s could not be dropped; drop it by hand: %w", staging, derr))
		}
	}()
	env := os.Environ()
	su := *u
	if pw, ok := su.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pw)
		su.User = url.User(su.User.Username())
	}
	cmd := exec.CommandContext(ctx, bin, "--exit-on-error", "--no-owner", "--dbname="+withPath(&su, staging), from)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return v, 0, "", "", fmt.Errorf("restore: %s is not a ConsentDesk backup that pg_restore can read: %w: %s", from, err, strings.TrimSpace(string(out)))
	}
	staged, err := openPostgres(withPath(u, staging))
	if err != nil {
		return v, 0, "", "", fmt.Errorf("restore: %w", err)
	}
	v, err = consent.VerifyWith(ctx, staged, true)
	if err == nil {
		seq, hash, err = consent.Head(ctx, staged)
	}
	if err != nil {
		staged.Close()
		return v, 0, "", "", fmt.Errorf("restore: %s is not a ConsentDesk backup: %w", from, err)
	}
	if !v.OK {
		staged.Close()
		return v, 0, "", "", fmt.Errorf("restore: the backup's consent ledger is broken at event %d (%s); nothing was changed", v.Broken, v.Reason)
	}
	if check != nil {
		err = check(ctx, staged, seq)
	}
	staged.Close()
	if err != nil {
		return v, 0, "", "", fmt.Errorf("restore: %w", err)
	}
	if exists == 0 {
		aside = ""
	} else {
		if force {
			// Connections left by a crashed server would hold the rename.
			if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ?`, name); err != nil {
				return v, 0, "", "", fmt.Errorf("restore: ending the connections to %s: %w", name, err)
			}
		}
		if _, err := admin.ExecContext(ctx, `ALTER DATABASE `+name+` RENAME TO `+aside); err != nil {
			return v, 0, "", "", fmt.Errorf("restore: moving the current database aside: %w", err)
		}
	}
	if _, err := admin.ExecContext(ctx, `ALTER DATABASE `+staging+` RENAME TO `+name); err != nil {
		err = fmt.Errorf("restore: %w", err)
		if aside != "" {
			if _, berr := admin.ExecContext(context.WithoutCancel(ctx), `ALTER DATABASE `+aside+` RENAME TO `+name); berr != nil {
				err = errors.Join(err, fmt.Errorf("restore: the previous database stays under the name %s; rename it back to %s by hand: %w", aside, name, berr))
			}
		}
		return v, 0, "", "", err
	}
	keep = true
	return v, seq, hash, aside, nil
}

// asideInfix names the databases a restore moved aside.
const asideInfix = "_before_restore_"

// removeOldAsideDatabases drops the databases a restore moved aside that
// are older than keep, by the time in their name (RemoveOldAside).
func (db *DB) removeOldAsideDatabases(ctx context.Context, keep time.Duration, now time.Time) ([]string, error) {
	u, err := url.Parse(db.location)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimPrefix(u.Path, "/") + asideInfix
	// The names hold no blank: RestorePostgres made them of letters,
	// digits and _.
	var names string
	if err := db.sql.QueryRowContext(ctx, `SELECT COALESCE(string_agg(datname, ' '), '') FROM pg_database WHERE starts_with(datname, ?)`, prefix).Scan(&names); err != nil {
		return nil, err
	}
	var gone []string
	for _, n := range strings.Fields(names) {
		t, err := time.Parse("20060102150405", strings.TrimPrefix(n, prefix))
		if err != nil || now.Sub(t) < keep {
			continue
		}
		if _, err := db.sql.DB.ExecContext(ctx, `DROP DATABASE `+n+` WITH (FORCE)`); err != nil {
			return gone, fmt.Errorf("drop %s: %w", n, err)
		}
		gone = append(gone, n)
	}
	return gone, nil
}

// withPath is u naming another database.
func withPath(u *url.URL, database string) string {
	c := *u
	c.Path = "/" + database
	return c.String()
}

// plainName says whether s can stand unquoted as a database name.
func plainName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

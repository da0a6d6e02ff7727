// Package store is the storage engine under the counter's use cases: one
// SQLite file, or a chain's PostgreSQL database. It alone knows which of
// the two it runs on. It opens and migrates the database, commits the
// use cases' transactions in groups through one writer, checkpoints the
// log, reads the ledger fast, makes and checks backups, keeps the heads
// and the key file beside the database, and runs the jobs a chain's
// servers share. It knows nothing of customers or orders.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	_ "modernc.org/sqlite"
)

// DB is the database and the keys kept beside it.
type DB struct {
	sql *consent.Prepared // readers: many connections, which WAL lets read while one writes
	// w is the one connection that writes. Writers wait for it in Go, in
	// order, instead of in SQLite's busy handler, which sleeps in steps of
	// up to 100 ms and let a burst of one-click unsubscribes take seconds
	// behind the sender (BENCHMARKS.md, load).
	w *consent.Prepared
	// Path is the base name of the files kept beside the database: the
	// key file (Path.key), the heads, the erasure list, the store's CA.
	// On SQLite it is the database file; on PostgreSQL, Options.Files.
	Path string
	Keys *Keys
	// pg is set on PostgreSQL (dialect.go), and location is its URL.
	pg       bool
	location string

	opts Options // fixed at Open: nothing changes them under the running goroutines

	commit *committer // group commit of the use cases (commit.go)

	stopCheckpoints, checkpointsDone chan struct{}
	stopOnce                         sync.Once
	// restartLog is set by checkpoints when its checkpoint copied the
	// whole log as it found it, quickly; the writer then finishes the checkpoint
	// between two batches, so that its next transaction starts the log
	// over (run).
	restartLog atomic.Bool
}

// Options configure a DB at Open. They are fixed from then on: the
// committer and the other goroutines Open starts read them without a
// lock.
type Options struct {
	// Now is the clock; tests pass their own. A use case reads it once,
	// at the start of its transaction. Default time.Now.
	Now func() time.Time
	// MailQueued, when set, is called after a use case committed a mail
	// to the outbox, so that the sender need not wait for its next poll.
	MailQueued func()
	// MailDir is where mails are written as .eml files when there is no
	// SMTP server; an erasure removes the customer's files from it.
	MailDir string
	// Files is the base name of the files kept beside the database (DB.Path)
	// where the database is PostgreSQL, whose server holds no files of
	// ours: a local path such as /var/lib/consentdesk/chain. On SQLite
	// it is the database file, and Files must be empty or the same.
	Files string
	// BackupKeep is how many nightly backups are kept (serve's
	// --backup-keep); 0 when there are none. The erasure's answer says
	// from it how long backups still hold the data.
	BackupKeep int
	// ReadOnly opens a SQLite file to read it and nothing more (a store
	// that joins the chain, join-chain's --from): no migration, no key
	// made, nothing written; a schema behind this version is refused.
	ReadOnly bool
}

// MailDir is where mails are written as .eml files (Options.MailDir).
func (db *DB) MailDir() string { return db.opts.MailDir }

// Now is the time by the database's clock (Options.Now).
func (db *DB) Now() time.Time { return db.opts.Now() }

// Options are the options the database was opened with.
func (db *DB) Options() Options { return db.opts }

// MailQueued tells the sender that a use case committed a mail
// (Options.MailQueued).
func (db *DB) MailQueued() {
	if db.opts.MailQueued != nil {
		db.opts.MailQueued()
	}
}

// Read is the readers' pool, with prepared statements, for the use
// cases' queries outside a transaction.
func (db *DB) Read() *consent.Prepared { return db.sql }

// Postgres reports whether the database is a chain's PostgreSQL.
func (db *DB) Postgres() bool { return db.pg }

// DSN returns the connection string for path. The pragmas sit in the
// string so that every pooled connection gets them: foreign keys, WAL,
// a busy timeout, synchronous=FULL so that an acknowledged order survives
// a power cut, secure_delete so that erased data is overwritten in the
// file and not merely unlinked (GDPR Art. 17), and _txlock=immediate so that a transaction that reads and
// then writes holds the write lock from BEGIN.
func DSN(path string) string {
	v := url.Values{}
	// wal_autocheckpoint(0): the log is copied into the file by the
	// checkpointer (DB.checkpoints), not inside a commit.
	for _, p := range []string{"foreign_keys(1)", "journal_mode(WAL)", "busy_timeout(10000)", "synchronous(FULL)", "secure_delete(1)", "wal_autocheckpoint(0)"} {
		v.Add("_pragma", p)
	}
	v.Set("_txlock", "immediate")
	return "file:" + path + "?" + v.Encode()
}

// readOnlyDSN opens a SQLite file to read only: SQLite refuses every
// write (mode=ro), and query_only refuses one before it reaches the file.
func readOnlyDSN(path string) string {
	v := url.Values{}
	for _, p := range []string{"foreign_keys(1)", "busy_timeout(10000)", "query_only(1)"} {
		v.Add("_pragma", p)
	}
	v.Set("mode", "ro")
	return "file:" + path + "?" + v.Encode()
}

// Open opens (and creates) the database at path, applies the migrations
// and loads or creates the key file beside it.
func Open(ctx context.Context, path string, migrations fs.FS, opts Options) (*DB, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	pg := IsPostgres(path)
	files := path
	switch {
	case pg && opts.Files == "":
		return nil, errors.New("orders: a PostgreSQL database needs Options.Files, where its key file and anchors are kept (--files)")
	case pg:
		files = opts.Files
	case opts.Files != "" && opts.Files != path:
		return nil, errors.New("orders: on SQLite the files are kept beside the database file; Options.Files must be empty")
	}
	if opts.ReadOnly && pg {
		return nil, errors.New("orders: read-only is for a store's SQLite file")
	}
	_, statErr := os.Stat(files + ".key")
	newKey := errors.Is(statErr, fs.ErrNotExist)
	if opts.ReadOnly {
		if newKey {
			return nil, fmt.Errorf("the key file %s.key is missing / die Schlüsseldatei %s.key fehlt", files, files)
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	keys, err := LoadOrCreateKeys(files + ".key")
	if err != nil {
		return nil, err
	}
	if !pg && !opts.ReadOnly {
		// The file holds personal data: made readable by its owner only
		// before SQLite creates it with the process's umask.
		if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
			f.Close()
		}
	}
	open := func() (*sql.DB, error) { return sql.Open("sqlite", DSN(path)) }
	if opts.ReadOnly {
		open = func() (*sql.DB, error) { return sql.Open("sqlite", readOnlyDSN(path)) }
	}
	if pg {
		open = func() (*sql.DB, error) { return openPostgres(path) }
	}
	sdb, err := open()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	wdb, err := open()
	if err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	// Readers are bounded: reads are CPU work in this process, so more
	// connections than cores add no speed, and each holds a page cache
	// and prepared statements. Unbounded, a burst of 1,000 one-click
	// unsubscribes opened hundreds of connections and took the server
	// past 110 MB. No read path holds one connection
	// while it asks for another (the whole suite passes with one reader).
	readers := max(4, 2*runtime.GOMAXPROCS(0))
	sdb.SetMaxOpenConns(readers)
	sdb.SetMaxIdleConns(readers)
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxIdleTime(0)
	if pg {
		// Found: a refused login went unnoticed until the first query,
		// and Close then waited for a committer that had not started.
		if err := sdb.PingContext(ctx); err != nil {
			sdb.Close()
			wdb.Close()
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	db := &DB{sql: consent.NewPrepared(sdb), w: consent.NewPrepared(wdb), Path: files, Keys: keys, opts: opts, commit: newCommitter(),
		stopCheckpoints: make(chan struct{}), checkpointsDone: make(chan struct{}), pg: pg, location: path}
	go db.run()
	go db.checkpoints(checkpointEvery)
	migrate := db.migrate
	if opts.ReadOnly {
		migrate = db.migrated
	}
	if err := migrate(ctx, migrations); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.checkKeyFingerprint(ctx, files+".key"); err != nil {
		db.Close()
		if newKey {
			// Made by this start for a database that has a key: nothing
			// of this start is left behind.
			os.Remove(files + ".key")
		}
		return nil, err
	}
	if !pg && !opts.ReadOnly {
		// And its log and index, now that they exist, and a file an
		// earlier version left readable by others.
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Chmod(path+suffix, 0o600); err != nil && !os.IsNotExist(err) {
				slog.Warn("database file's mode", "err", err)
			}
		}
	}
	return db, nil
}

// SQL exposes the readers' handle for other packages' storage code
// (consent, followup) and for tests.
func (db *DB) SQL() *sql.DB { return db.sql.DB }

// Close closes the database: the writer last, so that its close
// checkpoints the log into the file.
func (db *DB) Close() error {
	db.commit.stop()
	db.stopOnce.Do(func() { close(db.stopCheckpoints) }) // Close may be called twice
	<-db.checkpointsDone
	err := db.sql.Close()
	if werr := db.w.Close(); werr != nil {
		err = werr
	}
	return err
}

// checkpointEvery is how often checkpoints runs; read by Open, tests
// change it.
var checkpointEvery = time.Second

// checkpoints copies the log into the database file once a second, on a
// reader's connection, beside the writer. SQLite's automatic checkpoint
// ran inside the commit that crossed 1,000 pages, and after a long read
// had held the log back (a backup of a chain's 5 GB file takes 40 s),
// that commit first copied everything since: an order at the counter
// waited 805 ms (BENCHMARKS.md). A passive checkpoint
// waits for no one, and writers go on meanwhile.
func (db *DB) checkpoints(every time.Duration) {
	defer close(db.checkpointsDone)
	if db.pg {
		return // PostgreSQL checkpoints by itself, beside the writers
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-db.stopCheckpoints:
			return
		case <-t.C:
		}
		db.checkpoint()
	}
}

// finishAfter is how long a checkpoint may take for the writer to
// finish it (finishCheckpoint): what was committed meanwhile, at most
// that long's orders, is what the writer copies.
const finishAfter = 100 * time.Millisecond

// checkpoint is one of checkpoints. When it copied the whole log as it
// found it, and quickly, the writer finishes it between two batches.
// After a backup's long read the log holds a GB and the first checkpoint
// takes a second or more; the writer is not left to copy what came in
// meanwhile (when it was, orders after a backup waited 0.9–1.1 s in three
// runs out of three); the next checkpoint, a second later, is short.
func (db *DB) checkpoint() {
	t0 := time.Now()
	if logFrames, done, err := walCheckpoint(db.sql.DB); err != nil {
		slog.Warn("wal checkpoint", "err", err)
	} else if logFrames > 0 && done == logFrames && time.Since(t0) <= finishAfter {
		db.restartLog.Store(true)
	}
}

// walCheckpoint copies the log into the file on one of q's connections,
// waiting for no one (PASSIVE): the pages in the log, and how many of
// them are in the file now.
func walCheckpoint(q *sql.DB) (logFrames, done int, err error) {
	var busy int
	err = q.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done)
	return logFrames, done, err
}

// finishCheckpoint runs on the writer's connection between two batches
// (run), after checkpoints copied the log: it copies what was committed
// meanwhile, and as no one else writes, the log is then all in the file,
// so that the writer's next transaction starts the log over from its
// beginning. SQLite starts it over only in a transaction that begins
// when the whole log is in the file; beside a writer that never paused,
// the checkpointer always ended behind the newest commit, and the log
// grew without end: 2.7 GB after 30 s of orders, and every read looked
// through its index. The file keeps its size and is
// written over from its beginning, as SQLite does by default.
func (db *DB) finishCheckpoint() {
	if _, _, err := walCheckpoint(db.w.DB); err != nil {
		slog.Warn("wal checkpoint by the writer", "err", err)
	}
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.sql.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// Stamp formats a time as stored: RFC 3339 in UTC with nanoseconds.
func Stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (db *DB) migrate(ctx context.Context, migrations fs.FS) error {
	// Created only where it is missing: on PostgreSQL the server's own
	// role may not create tables (docs/chain.md, "Roles"), and
	// CREATE TABLE IF NOT EXISTS asks for that right even when the table
	// is there.
	var applied int
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&applied); err != nil {
		if err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, _ time.Time) error {
			_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`)
			return err
		}); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	names, err := migrationFiles(migrations, db.pg)
	if err != nil {
		return err
	}
	for _, name := range names {
		version, _ := migrationVersion(name)
		raw, err := fs.ReadFile(migrations, name)
		if err != nil {
			return err
		}
		body := engineBlocks(string(raw), db.pg)
		err = db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, Stamp(now))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// migrated checks, instead of migrating, that every migration is applied
// (a database opened read-only).
func (db *DB) migrated(ctx context.Context, migrations fs.FS) error {
	names, err := migrationFiles(migrations, db.pg)
	if err != nil {
		return err
	}
	var applied int
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&applied); err != nil {
		return fmt.Errorf("%s is not a ConsentDesk database: %w", db.location, err)
	}
	if applied < len(names) {
		return fmt.Errorf("die Datenbank %s ist von einer älteren Version (%d von %d Migrationen): bitte zuerst `consentdesk migrate --db %s` / "+
			"the database %s is of an older version (%d of %d migrations): run `consentdesk migrate --db %s` first",
			db.location, applied, len(names), db.location, db.location, applied, len(names), db.location)
	}
	return nil
}

// Verify checks the consent ledger: every store's chain, and the
// ledgers of the stores that joined the chain as they were kept
// (JoinChain).
func (db *DB) Verify(ctx context.Context) (consent.Verification, error) {
	v, err := consent.VerifyReading(ctx, db.sql, db.pg, db.HashedReader())
	if err != nil || !v.OK {
		return v, err
	}
	v.Joined, err = consent.VerifyJoins(ctx, db.sql)
	if je := (*consent.JoinError)(nil); errors.As(err, &je) {
		v.OK, v.Reason = false, je.Error()
		return v, nil
	}
	return v, err
}

// HashedReader is the reader Verify takes the events with: on SQLite
// one through its C API on connections of its own (ledgerread.go), on
// PostgreSQL nil, the pool's.
func (db *DB) HashedReader() consent.HashedReader {
	if db.pg {
		return nil
	}
	return sqliteHashed(fileURI(db.Path, "mode=ro"))
}

// fileURI is SQLite's URI of the file at path, with query.
func fileURI(path, query string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: query}
	if !strings.HasPrefix(u.Path, "/") { // Windows drive letters
		u.Path = "/" + u.Path
	}
	return u.String()
}

// syncing syncs file every 20 ms, until stop is called, while SQLite
// writes much into it: the pages are handed to the disk a few MB at a
// time, and the orders' commits do not wait behind one large flush. A
// sync every 200 ms left order p99 at 17–25 ms during a backup of a
// chain's 5 GB file on this VM, every 20 ms at 10–16 ms (BENCHMARKS.md).
func syncing(file string) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			if f, err := os.Open(file); err == nil {
				f.Sync() // the file's dirty pages, whichever descriptor wrote them
				f.Close()
			}
		}
	}()
	return func() { close(quit); <-done }
}

// Backup writes a consistent copy of the live database to file.
func (db *DB) Backup(ctx context.Context, file string) error {
	// pg_dump is a process of its own; the write-back below is for the
	// copy VACUUM INTO grows here (before, it was started for a dump too,
	// and never stopped).
	if db.pg {
		_, _, _, err := db.dump(ctx, file)
		return err
	}
	// The copy is written back to the disk as it grows (syncing).
	// Otherwise the operating system held gigabytes of it in memory, and
	// the sync that ended VACUUM INTO flushed them all at once while the
	// counter's commits waited for the same disk: 202 ms for one order at
	// the end of a 30 s backup of a chain's 5 GB file
	// (BENCHMARKS.md).
	stop := syncing(file)
	_, err := db.sql.ExecContext(ctx, `VACUUM INTO ?`, file)
	stop()
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// A copy of the personal data: its owner's only.
	if err := os.Chmod(file, 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// Checkpoint folds the write-ahead log into the database file and
// truncates it, so that erased content is left in neither. On
// PostgreSQL it rewrites the changed tables instead (vacuumErased). A reader in
// the middle of a transaction can hold it up; it is tried a few times and
// reports whether it completed (the next one will, otherwise).
func (db *DB) Checkpoint(ctx context.Context) bool {
	if db.pg {
		return db.vacuumErased(ctx)
	}
	for try := 0; try < 20; try++ {
		var busy, logFrames, done int
		if err := db.sql.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
			slog.Error("wal checkpoint", "err", err)
			return false
		}
		if busy == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// LedgerHead checks the whole chain and names its newest event, for the
// proof and the receipt.
func (db *DB) LedgerHead(ctx context.Context) (consent.Verification, int64, string, error) {
	v, err := consent.VerifyReading(ctx, db.sql, db.pg, db.HashedReader())
	if err != nil {
		return v, 0, "", err
	}
	seq, hash, err := consent.Head(ctx, db.sql)
	return v, seq, hash, err
}

// migrationFiles are the migrations to apply, in order. SQLite applies
// every file of the folder. PostgreSQL came later, with one schema file
// for SQLite's first migrations (postgres/0013_schema.sql) and, up to
// 0018, a file of its own for each: it applies postgres/*.sql, then every
// file of the folder numbered above them. From there on one file per
// number holds both engines, with engine blocks only where they differ
// (engineBlocks); orders' TestOneSchemaOnBothEngines holds the two
// schemas to one.
func migrationFiles(migrations fs.FS, pg bool) ([]string, error) {
	shared, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		return nil, err
	}
	if !pg {
		sort.Strings(shared)
		return shared, checkVersions(shared)
	}
	own, err := fs.Glob(migrations, "postgres/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(own)
	if err := checkVersions(own); err != nil {
		return nil, err
	}
	last := 0
	if len(own) > 0 {
		last, _ = migrationVersion(own[len(own)-1])
	}
	sort.Strings(shared)
	if err := checkVersions(shared); err != nil {
		return nil, err
	}
	for _, name := range shared {
		if v, _ := migrationVersion(name); v > last {
			own = append(own, name)
		}
	}
	return own, nil
}

func checkVersions(names []string) error {
	for _, name := range names {
		if _, err := migrationVersion(name); err != nil {
			return err
		}
	}
	return nil
}

// migrationVersion is the number a migration's file name starts with.
func migrationVersion(name string) (int, error) {
	v, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0])
	if err != nil {
		return 0, fmt.Errorf("migrate: bad file name %q", name)
	}
	return v, nil
}

// engineBlocks is a migration's text for one engine. A line
// "-- engine: sqlite" or "-- engine: postgres" starts a block for that
// engine alone, "-- engine: both" ends it; the rest is for both.
func engineBlocks(body string, pg bool) string {
	var out strings.Builder
	keep := true
	for _, line := range strings.SplitAfter(body, "\n") {
		switch strings.TrimSpace(line) {
		case "-- engine: sqlite":
			keep = !pg
			continue
		case "-- engine: postgres":
			keep = pg
			continue
		case "-- engine: both":
			keep = true
			continue
		}
		if keep {
			out.WriteString(line)
		}
	}
	return out.String()
}

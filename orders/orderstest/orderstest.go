// Package orderstest runs a package's tests on both database engines:
// once on SQLite files, then once more on PostgreSQL. It is
// imported by tests only.
package orderstest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/store"
	_ "github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/crypto/bcrypt"
)

// Env names the PostgreSQL server of the tests' second pass: a URL of a
// database the tests may connect to as a role that may create databases,
// such as postgres:///postgres?host=/var/run/postgresql.
const Env = "CONSENTDESK_TEST_POSTGRES"

var (
	pass struct {
		sync.Mutex
		server   string // the URL of Env, on the PostgreSQL pass
		template string // the database each test's is copied from
		admin    *sql.DB
		dbs      map[string]string // a test's path → its database's URL
	}
)

// PINCost is orders.PINCost as Main found it, before it lowered it.
var PINCost int

// Main runs the tests on SQLite, then, where Env is set, on PostgreSQL.
// Without Env the second pass is skipped with a message, and fails
// under CONSENTDESK_REQUIRE_TOOLS=1, as a missing tool does; Env=off
// leaves it out on purpose. A
// package's TestMain calls it and exits with its result. The staff's
// PINs are hashed at bcrypt's least cost (orders.PINCost): what the
// tests check of them is the same at every cost.
func Main(m *testing.M) int {
	PINCost, orders.PINCost = orders.PINCost, bcrypt.MinCost
	// Read before the first run: go test's cache notes only the
	// variables read while a run is on, and must know these.
	server, require := os.Getenv(Env), os.Getenv("CONSENTDESK_REQUIRE_TOOLS") == "1"
	if code := m.Run(); code != 0 {
		return code
	}
	if server == "off" {
		// Chosen, not missing: .ci/run's race pass runs on SQLite alone
		// to stay within its time.
		fmt.Printf("PostgreSQL pass left out: %s=off\n", Env)
		return 0
	}
	if server == "" {
		if require {
			fmt.Fprintf(os.Stderr, "FAIL: the PostgreSQL pass needs %s (CONSENTDESK_REQUIRE_TOOLS=1)\n", Env)
			return 1
		}
		fmt.Printf("PostgreSQL pass skipped: set %s=postgres://… to run these tests on PostgreSQL too\n", Env)
		return 0
	}
	if err := startPass(server); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: PostgreSQL pass: %v\n", err)
		return 1
	}
	defer endPass()
	fmt.Println("PostgreSQL pass: the same tests on", redact(server))
	return m.Run()
}

// Postgres says whether the tests run on PostgreSQL now.
func Postgres() bool {
	pass.Lock()
	defer pass.Unlock()
	return pass.server != ""
}

// Open opens the test database that path names: on SQLite the file at
// path; on the PostgreSQL pass a database of its own, copied from the
// migrated template the first time path is opened and dropped when the
// test ends, with its files (key, heads) at path.
//
// A benchmark's database given as a PostgreSQL URL (CONSENTDESK_BENCH_DB,
// made by consentdesk-bench generate) is opened as it is, with its files at
// CONSENTDESK_BENCH_FILES.
func Open(ctx context.Context, t testing.TB, path string, migrations fs.FS, opts ...orders.Options) (*orders.DB, error) {
	t.Helper()
	db, files := path, os.Getenv("CONSENTDESK_BENCH_FILES")
	if !store.IsPostgres(path) {
		db, files = Location(t, path)
	} else if files == "" {
		t.Fatal("a PostgreSQL database for a benchmark needs CONSENTDESK_BENCH_FILES, the --files it was generated with")
	}
	var o orders.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Files = files
	return orders.Open(ctx, db, migrations, o)
}

// Location returns what a command's --db and --files flags are for
// path: the file and "" on SQLite; the test's database and path on the
// PostgreSQL pass.
func Location(t testing.TB, path string) (db, files string) {
	t.Helper()
	return location(t, path, false)
}

// EmptyLocation is Location for a database without tables, for
// pg_restore to fill (a restored backup). On SQLite it is Location.
func EmptyLocation(t testing.TB, path string) (db, files string) {
	t.Helper()
	return location(t, path, true)
}

func location(t testing.TB, path string, empty bool) (db, files string) {
	t.Helper()
	pass.Lock()
	defer pass.Unlock()
	if pass.server == "" {
		return path, ""
	}
	if u, ok := pass.dbs[path]; ok {
		return u, path
	}
	sum := sha256.Sum256([]byte(path))
	name := fmt.Sprintf("cdt_%d_%s", os.Getpid(), hex.EncodeToString(sum[:6]))
	template := pass.template
	if empty {
		template = "template0"
	}
	if _, err := pass.admin.Exec(`CREATE DATABASE ` + name + ` TEMPLATE ` + template); err != nil {
		t.Fatalf("PostgreSQL pass: create the test's database: %v", err)
	}
	u, err := withDatabase(pass.server, name)
	if err != nil {
		t.Fatal(err)
	}
	pass.dbs[path] = u
	t.Cleanup(func() {
		pass.Lock()
		defer pass.Unlock()
		delete(pass.dbs, path)
		if pass.admin == nil {
			return
		}
		// With the ones a restore left beside it (NAME_before_restore_…).
		var names string
		if err := pass.admin.QueryRow(`SELECT COALESCE(string_agg(datname, ' '), '') FROM pg_database WHERE datname = $1 OR starts_with(datname, $1 || '_')`, name).Scan(&names); err != nil {
			t.Errorf("PostgreSQL pass: the test's databases: %v", err)
			return
		}
		for _, n := range strings.Fields(names) {
			if _, err := pass.admin.Exec(`DROP DATABASE IF EXISTS ` + n + ` WITH (FORCE)`); err != nil {
				t.Errorf("PostgreSQL pass: drop the test's database: %v", err)
			}
		}
	})
	return u, path
}

// Named is the URL of the database called name on the PostgreSQL pass's
// server (one a restore moved aside).
func Named(t testing.TB, name string) string {
	t.Helper()
	pass.Lock()
	defer pass.Unlock()
	u, err := withDatabase(pass.server, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// startPass makes the template: an empty database with the migrations
// applied, so that each test's copy starts migrated.
func startPass(server string) error {
	admin, err := sql.Open("pgx", server)
	if err != nil {
		return err
	}
	if err := admin.Ping(); err != nil {
		admin.Close()
		return fmt.Errorf("%s: %w", redact(server), err)
	}
	template := fmt.Sprintf("cdt_%d_template", os.Getpid())
	if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + template + ` WITH (FORCE)`); err != nil {
		admin.Close()
		return err
	}
	if _, err := admin.Exec(`CREATE DATABASE ` + template); err != nil {
		admin.Close()
		return err
	}
	u, err := withDatabase(server, template)
	if err != nil {
		admin.Close()
		return err
	}
	dir, err := os.MkdirTemp("", "orderstest")
	if err != nil {
		admin.Close()
		return err
	}
	defer os.RemoveAll(dir)
	db, err := orders.Open(context.Background(), u, assets.Migrations(), orders.Options{Files: dir + "/template"})
	if err != nil {
		admin.Exec(`DROP DATABASE IF EXISTS ` + template + ` WITH (FORCE)`)
		admin.Close()
		return fmt.Errorf("migrate the template: %w", err)
	}
	db.Close()
	// Each test's copy is started with a key file of its own: the
	// template keeps none's fingerprint (orders/store, keys.go).
	tdb, err := sql.Open("pgx", u)
	if err == nil {
		err = store.ForgetKeyFingerprint(context.Background(), tdb)
		tdb.Close()
	}
	if err != nil {
		admin.Exec(`DROP DATABASE IF EXISTS ` + template + ` WITH (FORCE)`)
		admin.Close()
		return fmt.Errorf("the template's key fingerprint: %w", err)
	}
	pass.Lock()
	pass.server, pass.template, pass.admin, pass.dbs = server, template, admin, map[string]string{}
	pass.Unlock()
	return nil
}

func endPass() {
	pass.Lock()
	defer pass.Unlock()
	pass.admin.Exec(`DROP DATABASE IF EXISTS ` + pass.template + ` WITH (FORCE)`)
	pass.admin.Close()
	pass.server, pass.admin = "", nil
}

// withDatabase returns server's URL with the database name replaced.
func withDatabase(server, name string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("%s: %w", Env, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// redact hides a password in a URL for the log.
func redact(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return "(unparsable URL)"
	}
	return strings.TrimSpace(u.Redacted())
}

// Files returns the files that hold db's data at rest, with everything
// committed written into them first: on SQLite the database file and
// its log; on PostgreSQL the database's table and index files in the
// cluster's data directory (read as the superuser the tests run as).
// A test searches them for what must not be there.
func Files(t testing.TB, db *orders.DB) []string {
	t.Helper()
	if !Postgres() {
		if _, err := db.SQL().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			t.Fatal(err)
		}
		return []string{db.Path, db.Path + "-wal"}
	}
	// As the pass's own role (the cluster's superuser): the database's
	// may be a server's role that may do neither.
	var name, dir string
	var oid int64
	if err := db.SQL().QueryRow(`SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	pass.Lock()
	admin := pass.admin
	pass.Unlock()
	if _, err := admin.Exec(`CHECKPOINT`); err != nil {
		t.Fatal(err)
	}
	if err := admin.QueryRow(`SELECT current_setting('data_directory'), (SELECT oid FROM pg_database WHERE datname = $1)`, name).Scan(&dir, &oid); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "base", strconv.FormatInt(oid, 10), "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("PostgreSQL pass: the database's files in %s: %v (the tests read them as the cluster's owner or root)", dir, err)
	}
	return files
}

// Unguard are the statements that switch off the ledger's append-only
// guards (and those of the joined stores' ledgers kept as they were), as
// someone with the database in hand (the file on SQLite, the superuser
// on PostgreSQL) would before tampering with it.
func Unguard() []string {
	if Postgres() {
		return []string{`ALTER TABLE consent_events DISABLE TRIGGER ALL`, `ALTER TABLE consent_event_details DISABLE TRIGGER ALL`,
			`ALTER TABLE joined_events DISABLE TRIGGER ALL`}
	}
	return []string{`DROP TRIGGER consent_events_no_update`, `DROP TRIGGER consent_events_no_delete`,
		`DROP TRIGGER joined_events_no_update`, `DROP TRIGGER joined_events_no_delete`, `PRAGMA foreign_keys = OFF`}
}

// Restore puts a backup made by consentdesk backup where path names a
// database, as a person restoring it would: on SQLite a copy of the
// file; on PostgreSQL pg_restore into an empty database of its own. It
// returns the --db and --files values for it (Location).
func Restore(t testing.TB, backup, path string) (db, files string) {
	t.Helper()
	if !Postgres() {
		raw, err := os.ReadFile(backup)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return path, ""
	}
	db, files = EmptyLocation(t, path)
	if out, err := exec.Command("pg_restore", "--exit-on-error", "--no-owner", "--dbname="+db, backup).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore %s: %v: %s", backup, err, out)
	}
	return db, files
}

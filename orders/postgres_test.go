package orders_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/orderstest"
	"github.com/consentdesk/consentdesk/orders/store"
)

// docs/chain.md, "Roles": the two SQL blocks
// run as they stand (with this test's own role and database names). The
// server's role then takes orders and erases, and cannot change, delete,
// truncate or unguard the ledger (GDPR Art. 7(1): the proof of consent
// must hold against the server itself). An erasure whose tables the
// role does not own says so instead of reporting clean files.
func TestPostgresRoles(t *testing.T) {
	if !orderstest.Postgres() {
		t.Skip("roles are PostgreSQL's; on SQLite the triggers guard the ledger (consent.TestLedgerRefusesUpdateAndDelete)")
	}
	ctx := context.Background()
	doc, err := os.ReadFile("../docs/chain.md")
	if err != nil {
		t.Fatal(err)
	}
	superuser, owner := sqlBlock(t, doc, "CREATE ROLE consentdesk_admin"), sqlBlock(t, doc, "-- roles: hand the server its tables")
	suffix := fmt.Sprintf("_%d", os.Getpid())
	admin, server, dbname := "consentdesk_admin"+suffix, "consentdesk_server"+suffix, "cdt_roles"+suffix
	names := strings.NewReplacer("consentdesk_admin", admin, "consentdesk_server", server, "DATABASE consentdesk ", "DATABASE "+dbname+" ")

	root, err := sql.Open("pgx", orderstest.Named(t, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	// Roles belong to the cluster, not to the test's database: they go
	// with it at the end (found: a deferred Close of this handle ran
	// before the cleanup, which then dropped nothing, silently).
	drop := func() error {
		for _, s := range []string{`DROP DATABASE IF EXISTS ` + dbname + ` WITH (FORCE)`, `DROP ROLE IF EXISTS ` + admin, `DROP ROLE IF EXISTS ` + server} {
			if _, err := root.Exec(s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	}
	if err := drop(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
		root.Close()
	})
	// One statement at a time, as psql sends a script: CREATE DATABASE
	// may not share a transaction.
	for _, line := range strings.Split(names.Replace(superuser), "\n") {
		stmt, _, _ := strings.Cut(line, "--")
		if stmt = strings.TrimSpace(stmt); stmt == "" {
			continue
		}
		if _, err := root.Exec(stmt); err != nil {
			t.Fatalf("the superuser's block, %s: %v", stmt, err)
		}
	}
	// The tests connect as the cluster's superuser over the socket and
	// take on a role for the session, as a login with its password would.
	as := func(role string) string {
		u, err := url.Parse(orderstest.Named(t, dbname))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("options", "-c role="+role)
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // pgx reads a + as itself
		return u.String()
	}
	files := filepath.Join(t.TempDir(), "chain")
	migrated, err := orders.Open(ctx, as(admin), assets.Migrations(), orders.Options{Files: files})
	if err != nil {
		t.Fatalf("migrate as %s: %v", admin, err)
	}
	migrated.Close()
	adminSQL, err := store.OpenSQL(as(admin))
	if err != nil {
		t.Fatal(err)
	}
	defer adminSQL.Close()
	if _, err := adminSQL.Exec(names.Replace(owner)); err != nil {
		t.Fatalf("the owner's block: %v", err)
	}

	db, err := orders.Open(ctx, as(server), assets.Migrations(), orders.Options{Files: files})
	if err != nil {
		t.Fatalf("open as %s: %v", server, err)
	}
	defer db.Close()
	if _, err := db.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	in := sampleOrder(t)
	in.Customer.Email = "role.test.4b1d@example.org"
	p, err := db.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatalf("an order as the server's role: %v", err)
	}
	for _, s := range []string{`UPDATE consent_events SET action = 'withdraw'`, `DELETE FROM consent_events`, `TRUNCATE consent_events CASCADE`,
		`ALTER TABLE consent_events DISABLE TRIGGER ALL`, `DROP TRIGGER consent_events_append_only ON consent_events`,
		`UPDATE notice_versions SET text = ''`, `DELETE FROM breaches`} {
		_, err := db.SQL().Exec(s)
		if err == nil || !strings.Contains(err.Error(), "permission denied") && !strings.Contains(err.Error(), "must be owner") {
			t.Errorf("as the server's role, %s: %v", s, err)
		}
	}
	res, err := db.Erase(ctx, p.Customer.ID, 0)
	if err != nil {
		t.Fatalf("erasure as the server's role: %v", err)
	}
	if !res.Checkpointed {
		t.Error("the erasure did not vacuum and checkpoint as the server's role")
	}
	for _, f := range orderstest.Files(t, db) {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(in.Customer.Email)) {
			t.Errorf("%s still holds the erased address", f)
		}
	}
	if v, err := db.Verify(ctx); err != nil || !v.OK {
		t.Errorf("ledger: %+v %v", v, err)
	}

	// A table the server may change but does not own: VACUUM would skip
	// it with a warning only. The erasure says it is not clean.
	if _, err := adminSQL.Exec(`ALTER TABLE documents OWNER TO ` + admin + `; GRANT SELECT, INSERT, UPDATE, DELETE ON documents TO ` + server); err != nil {
		t.Fatal(err)
	}
	in.Customer.Email = "role.test.second@example.org"
	p, err = db.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := db.Erase(ctx, p.Customer.ID, 0); err != nil || res.Checkpointed {
		t.Errorf("erasure with a table the role does not own: checkpointed %v, %v", res.Checkpointed, err)
	}
}

// sqlBlock returns the fenced sql block of the document that holds marker.
func sqlBlock(t *testing.T, doc []byte, marker string) string {
	t.Helper()
	for _, part := range strings.Split(string(doc), "```sql\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		if strings.Contains(block, marker) {
			return block
		}
	}
	t.Fatalf("docs/chain.md: no sql block with %q", marker)
	return ""
}

// A database that cannot be opened is an error at Open, at once: found
// on PostgreSQL, where a refused login went unnoticed until Close waited
// for a committer that had not started, and the command hung.
func TestOpenFailsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "store.db")
	loc, files := orderstest.Location(t, path)
	if orderstest.Postgres() {
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		u.RawQuery += "&options=-c%20role%3Dno_such_role_cdt"
		loc = u.String()
	} else {
		loc = filepath.Join(path, "not", "a", "folder.db")
	}
	done := make(chan error, 1)
	go func() {
		db, err := orders.Open(ctx, loc, assets.Migrations(), orders.Options{Files: files})
		if err == nil {
			db.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Open succeeded on a database it cannot use")
		}
	case <-ctx.Done():
		t.Fatal("Open hangs on a database it cannot use")
	}
}

// Retention, expiry and backups once per chain: two
// handles on one database, as two server processes, ask for the same
// job at once; one runs it. Within the period nobody runs it again;
// after it, one does; a failed run is run again by the next asking.
func TestOncePerRunsOnce(t *testing.T) {
	first := openDB(t)
	clock := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	setClock(first, func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	second, err := orderstest.Open(context.Background(), t, first.Path, assets.Migrations(), orders.Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	ctx := context.Background()
	var runs atomic.Int32
	job := func(context.Context) error { runs.Add(1); time.Sleep(20 * time.Millisecond); return nil }
	ask := func() {
		var wg sync.WaitGroup
		for _, db := range []*orders.DB{first, second, first, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := db.OncePer(ctx, "housekeeping", time.Hour, job); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	ask()
	if n := runs.Load(); n != 1 {
		t.Fatalf("four servers asking at once: %d runs, want 1", n)
	}
	advance(59 * time.Minute)
	ask()
	if n := runs.Load(); n != 1 {
		t.Errorf("within the hour: %d runs, want still 1", n)
	}
	advance(2 * time.Minute)
	ask()
	if n := runs.Load(); n != 2 {
		t.Errorf("after the hour: %d runs, want 2", n)
	}
	// A failed run gives its claim back.
	advance(2 * time.Hour)
	failing := errors.New("disk full")
	if ran, err := second.OncePer(ctx, "housekeeping", time.Hour, func(context.Context) error { return failing }); !ran || !errors.Is(err, failing) {
		t.Errorf("failing run: ran %v, %v", ran, err)
	}
	if ran, err := first.OncePer(ctx, "housekeeping", time.Hour, job); !ran || err != nil {
		t.Errorf("after a failed run: ran %v, %v; want it run again", ran, err)
	}
}

package consent_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/chain"
	"github.com/consentdesk/consentdesk/orders/orderstest"
)

func TestMain(m *testing.M) { os.Exit(orderstest.Main(m)) }

// ledger opens a real database with n events of customers 1..3.
func ledger(t *testing.T, n int) *sql.DB {
	t.Helper()
	return ledgerIn(t, n, 1)
}

// ledgerIn is ledger with the events taken in turn in that many stores,
// each store's events a chain of their own.
func ledgerIn(t *testing.T, n, stores int) *sql.DB {
	t.Helper()
	return ledgerDB(t, n, stores).SQL()
}

// readers are the ways verify reads the ledger of db: through
// database/sql, and on SQLite through its C API (orders).
func readers(db *orders.DB) map[string]consent.HashedReader {
	out := map[string]consent.HashedReader{"database/sql": nil}
	if r := db.HashedReader(); r != nil {
		out["SQLite's C API"] = r
	}
	return out
}

// ledgerDB is ledgerIn's database.
func ledgerDB(t *testing.T, n, stores int) *orders.DB {
	t.Helper()
	db, err := orderstest.Open(context.Background(), t, filepath.Join(t.TempDir(), "ledger.db"), assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fill(t, db, n, stores)
	return db
}

// fill appends n events to db's ledger, taken in turn in that many stores.
func fill(t *testing.T, db *orders.DB, n, stores int) {
	t.Helper()
	ctx := context.Background()
	ids := []int64{consent.FirstStore}
	for i := 1; i < stores; i++ {
		st, err := chain.AddStore(ctx, db, orders.Store{Name: fmt.Sprintf("Filiale %d", i+1)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, st.ID)
	}
	for i := 0; i < n; i++ {
		ctx := consent.WithStore(ctx, ids[i%stores])
		err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
			e := consent.Event{CustomerID: int64(i%3 + 1), Channel: consent.Channels[i%4], Action: consent.Grant, OptInLevel: consent.SingleOptIn,
				LegalBasis: consent.BasisConsent, Source: consent.CounterTablet, Actor: consent.ByCustomer, NoticeVersionID: "de-1",
				NoticeSHA256: strings.Repeat("a", 64), CreatedAt: orders.Stamp(now), Contact: fmt.Sprintf("kunde%d@example.org", i)}
			return consent.Append(ctx, tx, &e)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// tamper runs SQL as someone with the file in hand would: with the
// append-only triggers dropped first. On PostgreSQL, as the cluster's
// superuser: the triggers and the foreign keys' checks switched off.
func tamper(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range append(orderstest.Unguard(), stmts...) {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestLedgerVerifiesIntact(t *testing.T) {
	db := ledger(t, 10)
	v, err := consent.Verify(context.Background(), db)
	if err != nil || !v.OK || v.Events != 10 {
		t.Fatalf("%+v %v", v, err)
	}
}

func TestLedgerRefusesUpdateAndDelete(t *testing.T) {
	db := ledger(t, 3)
	for _, s := range []string{`UPDATE consent_events SET action = 'withdraw' WHERE seq = 2`, `DELETE FROM consent_events WHERE seq = 3`} {
		if _, err := db.Exec(s); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v", s, err)
		}
	}
}

func TestLedgerDetectsTampering(t *testing.T) {
	cases := []struct {
		name   string
		stmts  []string
		broken int64
	}{
		{"changed action", []string{`UPDATE consent_events SET action = 'withdraw' WHERE seq = 4`}, 4},
		{"changed customer", []string{`UPDATE consent_events SET customer_id = 99 WHERE seq = 2`}, 2},
		{"changed time", []string{`UPDATE consent_events SET created_at = '2020-01-01T00:00:00Z' WHERE seq = 7`}, 7},
		{"deleted event", []string{`DELETE FROM consent_event_details WHERE event_seq = 5`, `DELETE FROM consent_events WHERE seq = 5`}, 5},
		{"deleted and renumbered", []string{`DELETE FROM consent_event_details`, `DELETE FROM consent_events WHERE seq = 5`,
			`UPDATE consent_events SET seq = seq - 1 WHERE seq > 5`}, 5},
		{"reordered", []string{`DELETE FROM consent_event_details`, `UPDATE consent_events SET seq = 100 WHERE seq = 3`, `UPDATE consent_events SET seq = 3 WHERE seq = 4`,
			`UPDATE consent_events SET seq = 4 WHERE seq = 100`}, 3},
		{"changed and rehashed", []string{`UPDATE consent_events SET action = 'withdraw', hash = 'ff' || substr(hash, 3) WHERE seq = 6`}, 6},
		// At the seams of the parts below (1–3, 4–6, 7–10).
		{"deleted first of a part", []string{`DELETE FROM consent_event_details WHERE event_seq = 4`, `DELETE FROM consent_events WHERE seq = 4`}, 4},
		{"deleted last of a part", []string{`DELETE FROM consent_event_details WHERE event_seq = 3`, `DELETE FROM consent_events WHERE seq = 3`}, 3},
		{"deleted a whole part", []string{`DELETE FROM consent_event_details WHERE event_seq BETWEEN 4 AND 6`, `DELETE FROM consent_events WHERE seq BETWEEN 4 AND 6`}, 4},
		{"deleted the first", []string{`DELETE FROM consent_event_details WHERE event_seq = 1`, `DELETE FROM consent_events WHERE seq = 1`}, 1},
		{"relinked at a seam", []string{`UPDATE consent_events SET prev_hash = '` + strings.Repeat("0", 64) + `' WHERE seq = 7`}, 7},
	}
	// Large ledgers are checked in parts at the same time; every break
	// is found as in one walk. With two stores the events alternate
	// between two chains (odd numbers in the first store's). Where seq
	// may leave gaps (a chain's PostgreSQL database), a missing event
	// shows in its chain and is named by the gap it left, as before.
	// Each break is found by both readers.
	//
	// Each case makes a ledger of its own, at the same time as the others
	// (most of the time is there: a database and ten commits); the
	// number of parts is the package's, so the verifying is one case at
	// a time.
	var inParts sync.Mutex
	for _, gaps := range []bool{false, true} {
		for _, stores := range []int{1, 2} {
			for _, parts := range []int{1, 3} {
				for _, tc := range cases {
					t.Run(fmt.Sprintf("%s in %d parts, %d stores, gaps %t", tc.name, parts, stores, gaps), func(t *testing.T) {
						t.Parallel()
						odb := ledgerDB(t, 10, stores)
						db := odb.SQL()
						tamper(t, db, tc.stmts...)
						inParts.Lock()
						defer inParts.Unlock()
						defer consent.VerifyInParts(parts)()
						for name, read := range readers(odb) {
							v, err := consent.VerifyReading(context.Background(), db, gaps, read)
							if err != nil {
								t.Fatalf("%s: %v", name, err)
							}
							if v.OK || v.Broken != tc.broken {
								t.Errorf("%s: verify = %+v, want broken at %d", name, v, tc.broken)
							}
						}
					})
				}
			}
		}
	}
	// Two stores: an event linked to the other store's chain, at a seam
	// and inside a part.
	for _, parts := range []int{1, 3} {
		for _, seq := range []int{4, 6} {
			t.Run(fmt.Sprintf("event %d linked to the other store's chain in %d parts", seq, parts), func(t *testing.T) {
				t.Parallel()
				db := ledgerIn(t, 10, 2)
				tamper(t, db, fmt.Sprintf(`UPDATE consent_events SET prev_hash = (SELECT hash FROM consent_events WHERE seq = %d) WHERE seq = %d`, seq-1, seq))
				inParts.Lock()
				defer inParts.Unlock()
				defer consent.VerifyInParts(parts)()
				if v, err := consent.Verify(context.Background(), db); err != nil || v.OK || v.Broken != int64(seq) {
					t.Errorf("verify = %+v %v, want broken at %d", v, err, seq)
				}
			})
		}
	}
	defer consent.VerifyInParts(3)()
	if v, err := consent.Verify(context.Background(), ledger(t, 10)); err != nil || !v.OK || v.Events != 10 {
		t.Errorf("intact in 3 parts: %+v %v", v, err)
	}
	v, err := consent.Verify(context.Background(), ledgerIn(t, 10, 2))
	if err != nil || !v.OK || v.Events != 10 || len(v.Chains) != 2 || v.Chains[0].Events != 5 || v.Chains[1].Events != 5 || v.Chains[1].Seq != 10 {
		t.Errorf("two stores intact in 3 parts: %+v %v", v, err)
	}
}

// SQLite keeps a value of another kind than its column's where it cannot
// convert it. Both readers take such a value alike: text or a real where
// a number was hashed is an error that names it (as the typed scan of
// old refused it), text kept as a blob is read as its text.
func TestReadersAgreeOnValuesOfAnotherKind(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ name, stmt, err string }{
		{"text for a customer", `UPDATE consent_events SET customer_id = 'abc' WHERE seq = 2`, "a number column holds string"},
		{"a real for a customer", `UPDATE consent_events SET customer_id = 1.5 WHERE seq = 3`, "a number column holds float64"},
		{"a blob for a channel", `UPDATE consent_events SET channel = CAST(channel AS BLOB) WHERE seq = 2`, ""},
	} {
		// On SQLite whichever engine the suite runs on: only SQLite keeps
		// such values.
		db, err := orders.Open(ctx, filepath.Join(t.TempDir(), "kinds.db"), assets.Migrations(), orders.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fill(t, db, 4, 1)
		for _, stmt := range []string{`DROP TRIGGER consent_events_no_update`, tc.stmt} {
			if _, err := db.SQL().Exec(stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		var kind string
		db.SQL().QueryRow(`SELECT typeof(customer_id) || '/' || typeof(channel) FROM consent_events WHERE seq IN (2, 3) AND typeof(customer_id) || typeof(channel) <> 'integertext'`).Scan(&kind)
		if kind == "" {
			t.Fatalf("%s: SQLite converted the value", tc.name)
		}
		for name, read := range readers(db) {
			v, err := consent.VerifyReading(ctx, db.SQL(), false, read)
			switch {
			case tc.err == "" && (err != nil || !v.OK):
				t.Errorf("%s, %s: %+v %v, want intact", tc.name, name, v, err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("%s, %s: %+v %v, want %q", tc.name, name, v, err, tc.err)
			}
		}
		if len(readers(db)) != 2 {
			t.Errorf("readers on SQLite: %d", len(readers(db)))
		}
		db.Close()
	}
}

func TestLedgerSurvivesErasingDetails(t *testing.T) {
	// Personal details sit outside the hash (GDPR Art. 17): removing them
	// leaves the chain intact.
	db := ledger(t, 6)
	if _, err := db.Exec(`DELETE FROM consent_event_details WHERE event_seq IN (SELECT seq FROM consent_events WHERE customer_id = 1)`); err != nil {
		t.Fatal(err)
	}
	v, err := consent.Verify(context.Background(), db)
	if err != nil || !v.OK {
		t.Fatalf("%+v %v", v, err)
	}
}

// §37a HGB: a sole trader's business letters name the owner
// (Inhaber/in), a GmbH's its managing directors (§35a GmbHG).
func TestCompanyLineNamesOwnerOrDirectors(t *testing.T) {
	label := func(k string) string {
		return map[string]string{"company.directors": "Geschäftsführung", "company.owner": "Inhaber/in", "company.seat": "Sitz", "company.court": "Registergericht", "company.vat_id": "USt-IdNr."}[k]
	}
	gmbh := consent.DefaultController()
	if l := gmbh.CompanyLine(label); !strings.Contains(l, "Geschäftsführung: Max Muster") {
		t.Errorf("GmbH: %s", l)
	}
	ek := gmbh
	ek.Name, ek.LegalForm, ek.Directors = "Optik Müller e.K.", "e.K.", "Anna Müller"
	if l := ek.CompanyLine(label); !strings.Contains(l, "Inhaber/in: Anna Müller") || strings.Contains(l, "Geschäftsführung") {
		t.Errorf("e.K.: %s", l)
	}
}

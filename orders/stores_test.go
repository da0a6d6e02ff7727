package orders_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/chain"
	"github.com/consentdesk/consentdesk/orders/orderstest"
	"github.com/consentdesk/consentdesk/orders/store"
)

// Stores: every order, consent event, mail and access
// log entry records the store where it happened; customers and their
// consents are the chain's, so a withdrawal in one store holds in every
// store; each store's events form a hash chain of their own.
func TestStoresOnEveryRecord(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if err := db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	stores, err := db.Stores(ctx)
	if err != nil || len(stores) != 1 || stores[0].ID != consent.FirstStore {
		t.Fatalf("a database starts with its first store: %+v %v", stores, err)
	}
	freiburg, err := chain.AddStore(ctx, db, orders.Store{Name: "Freiburg", Street: "Kaiser-Joseph-Straße 1", PostalCode: "79098", City: "Freiburg",
		Phone: "0761 123456", Email: "freiburg@optik.example", OpeningHours: "Mo–Fr 9–18 Uhr\nSa 9–14 Uhr"})

	if err != nil {
		t.Fatal(err)
	}
	inFreiburg := consent.WithStore(ctx, freiburg.ID)

	// The order in the first store, then the same customer in Freiburg.
	first, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	// The Freiburg counter finds the customer the first store made.
	found, err := db.SearchCustomers(inFreiburg, "Weiß", 10)
	if err != nil || len(found) != 1 || found[0].ID != first.Customer.ID {
		t.Fatalf("Freiburg's search: %+v %v", found, err)
	}
	again := sampleOrder(t)
	again.Customer.ID = first.Customer.ID
	second, err := db.PlaceOrder(inFreiburg, again)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id    int64
		store int64
		name  string
	}{{first.Order.ID, consent.FirstStore, stores[0].Name}, {second.Order.ID, freiburg.ID, "Freiburg"}} {
		o, err := db.Order(ctx, c.id)
		if err != nil || o.StoreID != c.store || o.StoreName != c.name {
			t.Errorf("order %d: store %d %q, want %d %q (%v)", c.id, o.StoreID, o.StoreName, c.store, c.name, err)
		}
		mails, err := followup.List(ctx, db.SQL(), followup.Filter{OrderID: c.id})
		if err != nil || len(mails) != 1 || mails[0].StoreID != c.store {
			t.Errorf("order %d's thank-you mail: %+v %v, want store %d", c.id, mails, err, c.store)
		}
	}

	// A withdrawal at the Freiburg counter holds in every store.
	if _, err := db.RecordConsents(inFreiburg, orders.ConsentChange{CustomerID: first.Customer.ID, Channels: map[consent.Channel]bool{consent.Email: false},
		Source: consent.InPerson, StaffID: 1}); err != nil {
		t.Fatal(err)
	}
	states, events, err := db.Consents(ctx, first.Customer.ID)
	if err != nil || states[consent.Email].State != consent.Withdrawn {
		t.Fatalf("e-mail after the withdrawal in Freiburg: %+v %v", states[consent.Email], err)
	}
	byStore := map[int64]int{}
	var lastFreiburg *consent.Event
	for i, e := range events {
		byStore[e.StoreID]++
		if e.StoreID == 0 {
			t.Errorf("event %d without a store", e.Seq)
		}
		if e.StoreID == freiburg.ID {
			// Each store's chain: the event links to Freiburg's event
			// before it, not to the ledger's.
			if lastFreiburg != nil && e.PrevHash != lastFreiburg.Hash {
				t.Errorf("event %d links to %s, not to Freiburg's event %d", e.Seq, e.PrevHash, lastFreiburg.Seq)
			}
			lastFreiburg = &events[i]
		}
	}
	if byStore[consent.FirstStore] == 0 || byStore[freiburg.ID] < 2 {
		t.Errorf("events by store: %v", byStore)
	}

	// A change from the public pages (no store in the request) happens
	// in the store of the customer's newest order: Freiburg.
	evs, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: first.Customer.ID, Channels: map[consent.Channel]bool{consent.Post: false},
		Source: consent.PreferencePage, ByCustomer: true, Object: true})
	if err != nil || len(evs) == 0 || evs[0].StoreID != freiburg.ID {
		t.Errorf("preference page: %+v %v, want store %d", evs, err, freiburg.ID)
	}

	// The access log names the store.
	if err := db.LogAccess(inFreiburg, orders.Access{StaffID: 1, Action: orders.AuditExport, CustomerID: first.Customer.ID}); err != nil {
		t.Fatal(err)
	}
	log, err := db.AuditLog(ctx, orders.AuditFilter{CustomerID: first.Customer.ID})
	if err != nil || len(log) == 0 || log[0].StoreID != freiburg.ID || log[0].StoreName != "Freiburg" {
		t.Errorf("access log: %+v %v", log, err)
	}

	// The export names the store of each record, and the stores.
	x, err := db.Export(ctx, first.Customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Stores) != 2 || x.Stores[1].Name != "Freiburg" || x.Stores[1].Phone != "0761 123456" {
		t.Errorf("export's stores: %+v", x.Stores)
	}

	// Each chain verifies, and the verification names each.
	v, err := db.Verify(ctx)
	if err != nil || !v.OK || len(v.Chains) != 2 || v.Chains[0].Store != consent.FirstStore || v.Chains[1].Store != freiburg.ID ||
		v.Chains[0].Events+v.Chains[1].Events != v.Events {
		t.Fatalf("verify: %+v %v", v, err)
	}

	// The letterhead of a store's mails and confirmations: the company,
	// with the store's address and phone.
	lh, err := db.Letterhead(ctx, freiburg.ID)
	if err != nil || lh.Street != "Kaiser-Joseph-Straße 1" || lh.Phone != "0761 123456" || lh.Email != "freiburg@optik.example" {
		t.Errorf("letterhead: %+v %v", lh, err)
	}
	if ctrl, _ := db.Controller(ctx); lh.Name != ctrl.Name || lh.DPOContact != ctrl.DPOContact {
		t.Errorf("the letterhead is the company's: %q, %q", lh.Name, lh.DPOContact)
	}

	// The store is hashed: an event moved to another store's chain is
	// found.
	for _, s := range append(orderstest.Unguard(), `UPDATE consent_events SET store_id = 1, position = position + 1000 WHERE seq = `+strconv.FormatInt(lastFreiburg.Seq, 10)) {
		if _, err := db.SQL().ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := db.Verify(ctx); err != nil || v.OK || v.Broken > lastFreiburg.Seq {
		t.Errorf("an event moved between stores: %+v %v", v, err)
	}
}

// Stores are named once; bad input changes nothing; staff of a store.
func TestStoresRefuseBadInput(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if _, err := chain.AddStore(ctx, db, orders.Store{Name: "Freiburg"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []orders.Store{{Name: ""}, {Name: "freiburg"}, {Name: "Köln", Email: "nicht-gültig"}, {Name: "Bonn\x00"},
		{Name: "Trier", OpeningHours: strings.Repeat("Mo\n", 8)}} {
		if _, err := chain.AddStore(ctx, db, bad); consentdesk.ErrorCode(err) != consentdesk.Invalid && consentdesk.ErrorCode(err) != consentdesk.Conflict {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	if list, _ := db.Stores(ctx); len(list) != 2 {
		t.Errorf("refused stores were kept: %+v", list)
	}
	if _, err := db.Store(ctx, 99); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("store 99: %v", err)
	}
	// Counter staff belong to a store; a manager may be chain-wide.
	if _, err := db.AddStaff(ctx, "Ohne Filiale", "4711", orders.RoleCounter, 0); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Errorf("counter staff without a store: %v", err)
	}
	if _, err := db.AddStaff(ctx, "Falsche Filiale", "4711", orders.RoleCounter, 99); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("counter staff of store 99: %v", err)
	}
	st, err := db.StoreByName(ctx, "FREIBURG")
	if err != nil {
		t.Fatal(err)
	}
	anna, err := db.AddStaff(ctx, "Anna Freiburg", "4711", orders.RoleCounter, st.ID)
	if err != nil || anna.StoreID != st.ID {
		t.Fatalf("staff in Freiburg: %+v %v", anna, err)
	}
	boss, err := db.AddStaff(ctx, "Chefin", "864297", orders.RoleManager, 0)
	if err != nil || boss.StoreID != 0 {
		t.Fatalf("chain-wide manager: %+v %v", boss, err)
	}
	// Sessions work in the staff's store; only a chain-wide manager
	// moves to another.
	token, _, err := db.SignIn(ctx, orders.Login{StaffID: anna.ID, PIN: "4711", Lang: "de", Client: "local"})
	if err != nil {
		t.Fatal(err)
	}
	if sess, _ := db.Session(ctx, token); sess.StoreID != st.ID {
		t.Errorf("Anna's session works in store %d", sess.StoreID)
	}
	if err := db.SetSessionStore(ctx, token, consent.FirstStore); consentdesk.ErrorCode(err) != consentdesk.Denied {
		t.Errorf("counter staff moved to another store: %v", err)
	}
	token, _, err = db.SignIn(ctx, orders.Login{StaffID: boss.ID, PIN: "864297", Lang: "de", Client: "local"})
	if err != nil {
		t.Fatal(err)
	}
	if sess, _ := db.Session(ctx, token); sess.StoreID != consent.FirstStore {
		t.Errorf("a chain-wide manager starts in store %d", sess.StoreID)
	}
	if err := db.SetSessionStore(ctx, token, 99); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("to store 99: %v", err)
	}
	if err := db.SetSessionStore(ctx, token, st.ID); err != nil {
		t.Fatal(err)
	}
	if sess, _ := db.Session(ctx, token); sess.StoreID != st.ID {
		t.Errorf("the manager's session did not move: %d", sess.StoreID)
	}
	// An API token acts for its store.
	tok, err := db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "ERP Freiburg", StoreID: st.ID})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := db.APIToken(ctx, tok); err != nil || c.StoreID != st.ID {
		t.Errorf("token's store: %+v %v", c, err)
	}
	if _, err := db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "store:1"}); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Errorf("a token named like the ledger's store field: %v", err)
	}
}

// A ledger from before stores (events without a store, hashed without
// one) verifies after the migration, and the first store's chain goes on
// from its last event.
func TestLedgerFromBeforeStores(t *testing.T) {
	ctx := context.Background()
	old, reopen := openOlder(t, 15)
	prev := consent.GenesisHash
	for seq := int64(1); seq <= 3; seq++ {
		e := consent.Event{Seq: seq, CustomerID: 7, Channel: consent.Email, Action: consent.Grant, LegalBasis: consent.BasisConsent, Source: consent.CounterTablet,
			Actor: consent.ByCustomer, CreatedAt: time.Date(2025, 3, int(seq), 10, 0, 0, 0, time.UTC).Format(time.RFC3339), PrevHash: prev}
		e.Hash = e.ComputeHash()
		if _, err := old.SQL().ExecContext(ctx, `INSERT INTO consent_events (seq, customer_id, channel, action, opt_in_level, legal_basis, source, actor, created_at, prev_hash, hash)
			VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?)`, e.Seq, e.CustomerID, e.Channel, e.Action, e.LegalBasis, e.Source, e.Actor, e.CreatedAt, e.PrevHash, e.Hash); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
	}
	old.Close()

	db := reopen()
	defer db.Close()
	if _, err := db.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	if v, err := db.Verify(ctx); err != nil || !v.OK || v.Events != 3 || len(v.Chains) != 1 || v.Chains[0].Store != consent.FirstStore {
		t.Fatalf("the old ledger after the migration: %+v %v", v, err)
	}
	p, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	_, events, err := db.Consents(ctx, p.Customer.ID)
	if err != nil || len(events) == 0 {
		t.Fatal(err)
	}
	if events[0].Seq != 4 || events[0].PrevHash != prev || events[0].StoreID != consent.FirstStore {
		t.Errorf("the first store's chain goes on from event 3: %+v", events[0])
	}
	if v, err := db.Verify(ctx); err != nil || !v.OK || len(v.Chains) != 1 || v.Chains[0].Events != v.Events {
		t.Errorf("verify: %+v %v", v, err)
	}
	// Moving an old event into a store's chain, at its place there,
	// changes its hash.
	for _, s := range append(orderstest.Unguard(), `UPDATE consent_events SET store_id = 1, position = 2 WHERE seq = 2`) {
		if _, err := db.SQL().ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := db.Verify(ctx); v.OK || v.Broken != 2 || !strings.Contains(v.Reason, "changed") {
		t.Errorf("old event given a store: %+v", v)
	}
}

// openOlder opens a new database as an older ConsentDesk left it: the
// migrations before number n. reopen opens it again with all migrations,
// as an upgrade does; the test closes both.
func openOlder(t *testing.T, n int) (old *orders.DB, reopen func() *orders.DB) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("v%d.db", n-1))
	loc, files := path, ""
	if orderstest.Postgres() {
		loc, files = orderstest.EmptyLocation(t, path)
	}
	old, err := orders.Open(ctx, loc, migrationsBefore(t, n), orders.Options{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	return old, func() *orders.DB {
		t.Helper()
		db, err := orders.Open(ctx, loc, assets.Migrations(), orders.Options{Files: files})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
}

// migrationsBefore is the migrations of both engines up to (not
// including) number n: a database as an older ConsentDesk left it.
func migrationsBefore(t *testing.T, n int) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(assets.Migrations(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		var num int
		for _, r := range filepath.Base(p)[:4] {
			num = num*10 + int(r-'0')
		}
		if num < n {
			b, err := fs.ReadFile(assets.Migrations(), p)
			if err != nil {
				return err
			}
			out[p] = &fstest.MapFile{Data: b}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Backups record the head of every store's chain, in
// the .head file and the heads file, and verify checks them.
func TestBackupRecordsEveryChainsHead(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	freiburg, err := chain.AddStore(ctx, db, orders.Store{Name: "Freiburg"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.PlaceOrder(ctx, sampleOrder(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PlaceOrder(consent.WithStore(ctx, freiburg.ID), sampleOrder(t)); err != nil {
		t.Fatal(err)
	}
	v, err := db.Verify(ctx)
	if err != nil || len(v.Chains) != 2 {
		t.Fatalf("%+v %v", v, err)
	}
	file, err := db.BackupInto(ctx, filepath.Join(t.TempDir(), "backups"), 3)
	if err != nil {
		t.Fatal(err)
	}
	head, err := os.ReadFile(file + ".head")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Chains {
		if want := fmt.Sprintf("store_%d: %d events, head %d %s\n", c.Store, c.Events, c.Seq, c.Hash); !strings.Contains(string(head), want) {
			t.Errorf(".head file lacks %q:\n%s", want, head)
		}
	}
	anchors, err := store.ReadHeads(db.Path)
	if err != nil || len(anchors) != 3 || anchors[0].Store != 0 || anchors[1].Store != consent.FirstStore || anchors[2].Store != freiburg.ID ||
		anchors[2].Seq != v.Chains[1].Seq || anchors[2].Hash != v.Chains[1].Hash || anchors[1].Hash != v.Chains[0].Hash {
		t.Fatalf("anchors: %+v %v", anchors, err)
	}
	if v, err := db.VerifyReach(ctx); err != nil || !v.OK {
		t.Errorf("verify against the heads: %+v %v", v, err)
	}
	// A store's head changed by hand in the file is refused, not skipped.
	lines, _ := os.ReadFile(store.HeadsPath(db.Path))
	bad := strings.Replace(string(lines), fmt.Sprintf(" store:%d:", freiburg.ID), " store:x:", 1)
	if err := os.WriteFile(store.HeadsPath(db.Path), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := store.ReadHeads(db.Path); err == nil || !strings.Contains(err.Error(), "changed by hand") {
		t.Errorf("a broken store field: %v", err)
	}
	// A recorded store head the chain does not reach is found.
	wrong := strings.Replace(string(lines), fmt.Sprintf(":%s\n", v.Chains[1].Hash), fmt.Sprintf(":%s\n", strings.Repeat("ab", 32)), 1)
	if err := os.WriteFile(store.HeadsPath(db.Path), []byte(wrong), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := db.VerifyReach(ctx); err != nil || v.OK || !strings.Contains(v.Reason, fmt.Sprintf("store %d", freiburg.ID)) {
		t.Errorf("a store's head the chain does not reach: %+v %v", v, err)
	}
}

// On a chain's PostgreSQL database seq comes from a sequence, which an
// append rolled back skips: the gap is no broken ledger, while a store's
// chain stays numbered without one (its positions).
func TestRolledBackAppendIsNoBreak(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	place := func() orders.Placed {
		p, err := db.PlaceOrder(ctx, sampleOrder(t))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	before := place()
	boom := errors.New("the use case fails after its append")
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		e := consent.Event{CustomerID: before.Customer.ID, Channel: consent.Email, Action: consent.Withdraw, LegalBasis: consent.BasisConsent,
			Source: consent.InPerson, Actor: consent.ByStaff, CreatedAt: orders.Stamp(now)}
		if err := consent.Append(ctx, tx, &e); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("the failing use case: %v", err)
	}
	after := place()
	last, first := before.Events[len(before.Events)-1], after.Events[0]
	if first.Position != last.Position+1 || first.PrevHash != last.Hash {
		t.Errorf("the chain goes on from %+v with %+v", last, first)
	}
	if gap := first.Seq - last.Seq; orderstest.Postgres() && gap != 2 || !orderstest.Postgres() && gap != 1 {
		t.Errorf("seq %d after %d", first.Seq, last.Seq)
	}
	if v, err := db.Verify(ctx); err != nil || !v.OK {
		t.Errorf("verify: %+v %v", v, err)
	}
}

// A database from before positions (migration 0015, stores already)
// gets its stores' events numbered by the migration: each chain 1, 2, 3,
// …, the first store's going on from the events from before stores.
func TestMigrationNumbersTheChains(t *testing.T) {
	ctx := context.Background()
	old, reopen := openOlder(t, 16)
	if _, err := old.SQL().ExecContext(ctx, `INSERT INTO stores (name, created_at, updated_at) VALUES ('Freiburg', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	heads := map[int64]string{}
	for i, store := range []int64{0, 0, 1, 2, 1} {
		e := consent.Event{Seq: int64(i + 1), CustomerID: 7, Channel: consent.Email, Action: consent.Grant, LegalBasis: consent.BasisConsent,
			Source: consent.CounterTablet, Actor: consent.ByCustomer, CreatedAt: time.Date(2026, 3, i+1, 10, 0, 0, 0, time.UTC).Format(time.RFC3339), StoreID: store}
		e.PrevHash = heads[e.Chain()]
		if e.PrevHash == "" {
			e.PrevHash = consent.GenesisHash
		}
		e.Hash = e.ComputeHash()
		heads[e.Chain()] = e.Hash
		var sid any
		if store != 0 {
			sid = store
		}
		if _, err := old.SQL().ExecContext(ctx, `INSERT INTO consent_events (seq, customer_id, channel, action, opt_in_level, legal_basis, source, actor, created_at, prev_hash, hash, store_id)
			VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?)`, e.Seq, e.CustomerID, e.Channel, e.Action, e.LegalBasis, e.Source, e.Actor, e.CreatedAt, e.PrevHash, e.Hash, sid); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db := reopen()
	defer db.Close()
	if _, err := db.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	events, err := consent.Events(ctx, db.SQL(), 7)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, e := range events {
		got = append(got, e.Position)
	}
	if fmt.Sprint(got) != "[0 0 3 1 4]" {
		t.Errorf("positions after the migration: %v, want [0 0 3 1 4] (events from before stores keep none)", got)
	}
	if v, err := db.Verify(ctx); err != nil || !v.OK || len(v.Chains) != 2 || v.Chains[0].Events != 4 || v.Chains[1].Events != 1 {
		t.Fatalf("verify after the migration: %+v %v", v, err)
	}
	p, err := db.PlaceOrder(consent.WithStore(ctx, 2), sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	if e := p.Events[0]; e.Position != 2 || e.PrevHash != heads[2] || e.Seq != 6 {
		t.Errorf("Freiburg's next event: %+v", e)
	}
	if v, err := db.Verify(ctx); err != nil || !v.OK {
		t.Errorf("verify: %+v %v", v, err)
	}
}

// The confirmation link of a double opt-in carries no store: the
// confirmation happens in the store of the customer's newest order, in
// that store's chain.
func TestConfirmationFromTheLinkInTheCustomersStore(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if err := db.SetDoubleOptIn(ctx, true); err != nil {
		t.Fatal(err)
	}
	freiburg, err := chain.AddStore(ctx, db, orders.Store{Name: "Freiburg", Street: "Kaiser-Joseph-Straße 1", PostalCode: "79098", City: "Freiburg"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := db.PlaceOrder(consent.WithStore(ctx, freiburg.ID), sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	ok, err := db.ConfirmEmail(ctx, p.Customer.ID)
	if err != nil || !ok {
		t.Fatalf("confirmation: %v %v", ok, err)
	}
	_, events, err := db.Consents(ctx, p.Customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1]
	if last.Action != consent.Confirm || last.StoreID != freiburg.ID {
		t.Errorf("the confirmation: %s in store %d, want confirm in store %d", last.Action, last.StoreID, freiburg.ID)
	}
}

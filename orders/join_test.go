package orders_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	joining "github.com/consentdesk/consentdesk/orders/chain"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/orderstest"
	"github.com/consentdesk/consentdesk/orders/store"
)

// openStoreFile opens a store's own SQLite database, whatever engine the
// suite runs the chain's on, with a clock the test sets.
func openStoreFile(t *testing.T, path string, now *time.Time) *orders.DB {
	t.Helper()
	db, err := orders.Open(context.Background(), path, assets.Migrations(), orders.Options{Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.EnsureStore(context.Background(), assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	return db
}

// counts are the rows of the tables a join writes to.
func counts(t *testing.T, db *orders.DB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range []string{"stores", "staff", "customers", "orders", "order_items", "prescriptions", "documents", "outbox", "consent_events",
		"consent_event_details", "customer_changes", "audit_log", "block_list", "notice_versions", "joined_sources", "joined_customers", "joined_events"} {
		var n int64
		if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// A store joins the chain: its customers, orders,
// documents, mails and ledger move into the chain's database; the ledger
// keeps its hashes and is checked before and after; a customer the
// chain knows is merged, the histories side by side and the merge
// recorded; running it twice changes nothing.
func TestJoinChain(t *testing.T) {
	ctx := context.Background()
	clock := time.Now().Add(-48 * time.Hour)
	srcPath := filepath.Join(t.TempDir(), "freiburg.db")
	src := openStoreFile(t, srcPath, &clock)
	if err := src.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	// The store's own company: its notice is a text the chain does not
	// have.
	srcCtrl, err := src.Controller(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srcCtrl.Name = "Optik Freiburg Einzelhandel GmbH"
	if err := src.SaveController(ctx, srcCtrl, 0); err != nil {
		t.Fatal(err)
	}

	// The store: Jürgen Weiß (whom the chain knows by e-mail) grants post
	// and e-mail; Erika Muster withdraws e-mail; Max Gelöscht is erased.
	weiss, err := src.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	erika := sampleOrder(t)
	erika.Customer.FirstName, erika.Customer.LastName, erika.Customer.Email, erika.Customer.Mobile = "Erika", "Muster", "erika@example.org", "0170 7654321"
	erika.Prescription = nil
	erikaOrder, err := src.PlaceOrder(ctx, erika)
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Hour)
	if _, err := src.RecordConsents(ctx, orders.ConsentChange{CustomerID: erikaOrder.Customer.ID, Channels: map[consent.Channel]bool{consent.Email: false},
		Source: consent.PhoneRequest, Note: "rief an"}); err != nil {
		t.Fatal(err)
	}
	gone := sampleOrder(t)
	gone.Customer.FirstName, gone.Customer.LastName, gone.Customer.Email, gone.Customer.Mobile = "Max", "Gelöscht", "max@example.org", ""
	gone.Prescription = nil
	goneOrder, err := src.PlaceOrder(ctx, gone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Erase(ctx, goneOrder.Customer.ID, 0); err != nil {
		t.Fatal(err)
	}
	srcRx, err := src.Prescription(ctx, weiss.Order.ID)
	if err != nil || srcRx == nil {
		t.Fatalf("the store's prescription: %v %v", srcRx, err)
	}
	srcBefore, err := src.Verify(ctx)
	if err != nil || !srcBefore.OK {
		t.Fatalf("the store's ledger: %+v %v", srcBefore, err)
	}
	srcSeq, srcHash, err := consent.Head(ctx, src.SQL())
	if err != nil {
		t.Fatal(err)
	}

	// The chain knows Jürgen Weiß by his e-mail address (another spelling
	// of it): he ordered there a day later and then objected to post.
	chainPath := filepath.Join(t.TempDir(), "chain.db")
	chain := openDBAt(t, chainPath, orders.Options{})
	if err := chain.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	setClock(chain, func() time.Time { return clock.Add(24 * time.Hour) })
	known := sampleOrder(t)
	known.Customer.Email, known.Customer.Mobile, known.Customer.Street = "J.Weiss@example.org", "", ""
	known.Prescription = nil
	known.Consent.Channels = map[consent.Channel]bool{consent.Email: true}
	knownOrder, err := chain.PlaceOrder(ctx, known)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.RecordConsents(ctx, orders.ConsentChange{CustomerID: knownOrder.Customer.ID, Channels: map[consent.Channel]bool{consent.Post: false},
		Source: consent.PhoneRequest}); err != nil {
		t.Fatal(err)
	}
	setClock(chain, time.Now)

	// Bad input changes nothing.
	before := counts(t, chain)
	if _, err := joining.Join(ctx, chain, src, " ", "freiburg.db"); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Fatalf("a join without a store's name: %v", err)
	}
	if got := counts(t, chain); !reflect.DeepEqual(got, before) {
		t.Fatalf("a refused join changed the chain: %v → %v", before, got)
	}

	r, err := joining.Join(ctx, chain, src, "Freiburg", "freiburg.db")
	if err != nil {
		t.Fatal(err)
	}
	if r.Already || r.Customers != 3 || r.Merged != 1 || r.Orders != 3 || r.Events != int(srcBefore.Events) || r.Rewithdrawn != 1 ||
		r.SourceHeadSeq != srcSeq || r.SourceHeadHash != srcHash || r.Store.ID == consent.FirstStore {
		t.Fatalf("report: %+v (store's ledger %d events, head %d)", r, srcBefore.Events, srcSeq)
	}
	// The new store has the store's letterhead.
	if r.Store.Name != "Freiburg" {
		t.Fatalf("store: %+v", r.Store)
	}

	// After: the chain's ledger and the store's ledger as it was.
	v, err := chain.Verify(ctx)
	if err != nil || !v.OK || len(v.Joined) != 1 || v.Joined[0].Events != srcBefore.Events || v.Joined[0].HeadHash != srcHash || v.Joined[0].Store != r.Store.ID {
		t.Fatalf("the chain after the join: %+v %v", v, err)
	}
	// Every event of the store is in the chain's ledger, in the store's
	// chain, naming its original.
	var recorded int64
	if err := chain.SQL().QueryRow(`SELECT COUNT(*) FROM consent_events WHERE joined_from <> '' AND store_id = ?`, r.Store.ID).Scan(&recorded); err != nil || recorded != srcBefore.Events {
		t.Fatalf("events recorded again: %d of %d (%v)", recorded, srcBefore.Events, err)
	}

	// The moved order: its number in the store's series, its items, its
	// prescription opened with the chain's key, its store.
	var movedID int64
	if err := chain.SQL().QueryRow(`SELECT id FROM orders WHERE number = ?`, "S"+itoa(r.Store.ID)+"-"+weiss.Order.Number).Scan(&movedID); err != nil {
		t.Fatalf("the moved order by its number: %v", err)
	}
	moved, err := chain.Order(ctx, movedID)
	if err != nil || moved.StoreID != r.Store.ID || moved.CustomerID != knownOrder.Customer.ID || len(moved.Items) != len(weiss.Order.Items) || moved.TotalCents != weiss.Order.TotalCents {
		t.Fatalf("moved order: %+v %v", moved, err)
	}
	// Its notice, a text the chain does not have, kept under the store's
	// name and never the chain's version in force.
	if n, err := chain.Notice(ctx, moved.NoticeVersionID); err != nil || moved.NoticeVersionID != "de-S"+itoa(r.Store.ID)+"-2" ||
		!strings.Contains(n.Text, "Optik Freiburg Einzelhandel GmbH") {
		t.Fatalf("the moved order's notice %q: %v", moved.NoticeVersionID, err)
	}
	if n, err := chain.CurrentNotice(ctx, "de"); err != nil || n.ID != "de-1" {
		t.Fatalf("the chain's notice in force after the join: %s %v", n.ID, err)
	}
	rx, err := chain.Prescription(ctx, movedID)
	if err != nil || !reflect.DeepEqual(rx, srcRx) {
		t.Fatalf("the prescription in the chain: %+v %v, want %+v", rx, err, srcRx)
	}

	// The merged customer: the chain's record, with what the store knew
	// and the chain did not; both histories and the merge in the ledger;
	// the chain's newer objection to post holds over the store's older
	// consent; e-mail stays granted.
	c, err := chain.Customer(ctx, knownOrder.Customer.ID)
	if err != nil || c.Street != "Hauptstraße 1" || c.Mobile == "" {
		t.Fatalf("merged customer: %+v %v", c, err)
	}
	events, err := consent.Events(ctx, chain.SQL(), knownOrder.Customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	var fromStore, merges int
	for _, e := range events {
		if e.JoinedFrom != "" {
			fromStore++
		}
		if e.Action == consent.Merge {
			merges++
		}
	}
	if fromStore == 0 || merges != 1 {
		t.Fatalf("merged history: %d events from the store, %d merges: %+v", fromStore, merges, events)
	}
	state := consent.Derive(events)
	if state[consent.Post].State != consent.Withdrawn || state[consent.Email].State != consent.Granted {
		t.Fatalf("merged customer's consents: post %+v, e-mail %+v", state[consent.Post], state[consent.Email])
	}
	// Erika's withdrawal holds in the chain; the erased customer stays
	// erased.
	found, err := chain.SearchCustomers(ctx, "Muster", 10)
	if err != nil || len(found) != 1 {
		t.Fatalf("the chain finds the moved customer: %+v %v", found, err)
	}
	if st, err := consent.CurrentState(ctx, chain.SQL(), found[0].ID); err != nil || st[consent.Email].State != consent.Withdrawn || st[consent.Post].State != consent.Granted {
		t.Fatalf("moved customer's consents: %+v %v", st, err)
	}
	var erased int64
	if err := chain.SQL().QueryRow(`SELECT COUNT(*) FROM customers WHERE erased_at <> '' AND last_name = ''`).Scan(&erased); err != nil || erased != 1 {
		t.Fatalf("erased customers in the chain: %d %v", erased, err)
	}
	// The store's mails are the chain's to send, from the store.
	var mails int64
	if err := chain.SQL().QueryRow(`SELECT COUNT(*) FROM outbox WHERE store_id = ?`, r.Store.ID).Scan(&mails); err != nil || mails == 0 || int(mails) != r.Mails {
		t.Fatalf("moved mails: %d (%d reported) %v", mails, r.Mails, err)
	}

	// Nothing changed in the store's file.
	if seq, hash, err := consent.Head(ctx, src.SQL()); err != nil || seq != srcSeq || hash != srcHash {
		t.Fatalf("the store's ledger after the join: %d %s %v", seq, hash, err)
	}

	// The store's printed QR codes and mailed links name its own customer
	// numbers, made with its key; its blocking list was hashed with its
	// key, and holds the e-mail address of the customer it erased. With
	// the store's secrets in the chain's key file, a server of the chain
	// reads both; without, neither.
	srcErika := erikaOrder.Customer.ID
	token := src.Keys.LinkTokens().Make(consent.PreferencesToken, srcErika)
	if _, ok := chain.Keys.LinkTokens().Check(consent.PreferencesToken, token); ok {
		t.Fatal("the chain's key checks the store's token")
	}
	blockedMail := func(db *orders.DB) consent.ChannelState {
		t.Helper()
		o := sampleOrder(t)
		o.Customer.FirstName, o.Customer.LastName, o.Customer.Email, o.Customer.Mobile = "Maximilian", "Neu", "Max@Example.org", ""
		o.Prescription = nil
		o.Consent.Channels = map[consent.Channel]bool{consent.Post: true}
		placed, err := db.PlaceOrder(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		st, err := consent.CurrentState(ctx, db.SQL(), placed.Customer.ID)
		if err != nil {
			t.Fatal(err)
		}
		return st[consent.Email]
	}
	if st := blockedMail(chain); st.State != consent.None {
		t.Fatalf("without the store's key, the chain cannot read the store's blocking list: e-mail %+v", st)
	}
	source, err := store.AddJoinedKeys(chain.Path+".key", srcPath+".key")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := store.AddJoinedKeys(chain.Path+".key", srcPath+".key"); err != nil || again != source {
		t.Fatalf("adding the store's secrets twice: %q %v", again, err)
	}
	// A rotation of the chain's secrets keeps them.
	if _, err := store.RotateKeys(chain.Path+".key", false); err != nil {
		t.Fatal(err)
	}
	chain2 := openDBAt(t, chainPath, orders.Options{})
	if len(chain2.Keys.Joined) != 1 || chain2.Keys.Joined[0].Source != source {
		t.Fatalf("the chain's keys after the join: %+v", chain2.Keys.Joined)
	}
	from, ok := chain2.Keys.Joined[0].Tokens.Check(consent.PreferencesToken, token)
	if !ok || from != srcErika {
		t.Fatalf("the store's token in the chain: %d %v", from, ok)
	}
	if id, err := chain2.JoinedCustomer(ctx, source, from); err != nil || id != found[0].ID {
		t.Fatalf("the store's customer %d is the chain's %d: %d %v", from, found[0].ID, id, err)
	}
	if _, err := chain2.JoinedCustomer(ctx, source, 999); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Fatalf("a customer number the store never had: %v", err)
	}
	if st := blockedMail(chain2); st.State != consent.Withdrawn || !st.Blocked {
		t.Fatalf("the store's blocking list in the chain: e-mail %+v", st)
	}
	// keys rotate --retire-old-links retires the joined store's link
	// secrets too (a leaked key file leaked them); its blocking list
	// keeps blocking.
	if _, err := store.RotateKeys(chain.Path+".key", true); err != nil {
		t.Fatal(err)
	}
	chain3 := openDBAt(t, chainPath, orders.Options{})
	if id, ok := chain3.CheckLink(ctx, chain3.Keys.LinkTokens(), consent.PreferencesToken, token, nil); ok {
		t.Errorf("a link made with the joined store's secret opens customer %d after keys rotate --retire-old-links", id)
	}
	if id, ok := chain2.CheckLink(ctx, chain2.Keys.LinkTokens(), consent.PreferencesToken, token, nil); !ok || id != found[0].ID {
		t.Errorf("before the rotation the store's link opened %d %v", id, ok)
	}
	if st := blockedMail(chain3); st.State != consent.Withdrawn || !st.Blocked {
		t.Fatalf("the store's blocking list after retiring its links: e-mail %+v", st)
	}

	// Twice: nothing changes.
	after := counts(t, chain)
	again, err := joining.Join(ctx, chain, src, "Freiburg", "freiburg.db")
	if err != nil || !again.Already || again.Join != r.Join || again.Store.ID != r.Store.ID {
		t.Fatalf("the second join: %+v %v", again, err)
	}
	if got := counts(t, chain); !reflect.DeepEqual(got, after) {
		t.Fatalf("the second join changed the chain: %v → %v", after, got)
	}
	// A store that went on working after it joined is refused, and
	// nothing changes: its new records would count twice otherwise.
	if _, err := src.PlaceOrder(ctx, erika); err != nil {
		t.Fatal(err)
	}
	if _, err := joining.Join(ctx, chain, src, "Freiburg", "freiburg.db"); consentdesk.ErrorCode(err) != consentdesk.Conflict {
		t.Fatalf("joining a changed store database again: %v", err)
	}
	if got := counts(t, chain); !reflect.DeepEqual(got, after) {
		t.Fatalf("a refused join changed the chain: %v → %v", after, got)
	}

	// An event that claims to record a kept event the chain does not
	// have shows in verify, though its own hash is right.
	if err := chain.Tx(consent.WithStore(ctx, r.Store.ID), func(ctx context.Context, tx consent.Tx, now time.Time) error {
		return consent.Append(ctx, tx, &consent.Event{CustomerID: found[0].ID, Channel: consent.Email, Action: consent.Withdraw, LegalBasis: consent.BasisConsent,
			Source: consent.System, Actor: consent.BySystem, CreatedAt: orders.Stamp(now), JoinedFrom: strings.Repeat("f", 64)})
	}); err != nil {
		t.Fatal(err)
	}
	if v, err := chain.Verify(ctx); err != nil || v.OK || !strings.Contains(v.Reason, "names a kept event that is not there") {
		t.Fatalf("verify with an event recorded again from nothing: %+v %v", v, err)
	}

	// Tampering with the kept ledger or with an event recorded again
	// shows in verify.
	for _, q := range orderstest.Unguard() {
		if _, err := chain.SQL().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	tamper := func(table, set, where string) {
		t.Helper()
		if _, err := chain.SQL().Exec(`UPDATE ` + table + ` SET ` + set + ` WHERE ` + where); err != nil {
			t.Fatal(err)
		}
	}
	var withdrawal int64
	if err := chain.SQL().QueryRow(`SELECT seq FROM joined_events WHERE action = 'withdraw' ORDER BY seq LIMIT 1`).Scan(&withdrawal); err != nil {
		t.Fatal(err)
	}
	tamper("joined_events", "source = 'counter_tablet'", "seq = "+itoa(withdrawal))
	if v, err := chain.Verify(ctx); err != nil || v.OK || !strings.Contains(v.Reason, "joined ledger") || !strings.Contains(v.Reason, "was changed") {
		t.Fatalf("verify after changing a kept event: %+v %v", v, err)
	}
	tamper("joined_events", "source = 'phone_request', action = 'grant'", "seq = "+itoa(withdrawal))
	if v, err := chain.Verify(ctx); err != nil || v.OK || !strings.Contains(v.Reason, "joined ledger") {
		t.Fatalf("verify after changing a kept event: %+v %v", v, err)
	}
	tamper("joined_events", "action = 'withdraw'", "seq = "+itoa(withdrawal))
	if v, err := chain.Verify(ctx); err != nil || v.OK || !strings.Contains(v.Reason, "names a kept event that is not there") {
		t.Fatalf("verify after changing it back (the event from nothing is still there): %+v %v", v, err)
	}
	tamper("consent_events", "joined_from = ''", "seq = (SELECT MAX(seq) FROM consent_events WHERE joined_from <> '')")
	if v, err := chain.Verify(ctx); err != nil || v.OK {
		t.Fatalf("verify after unlinking an event recorded again: %+v %v", v, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A store joins a franchise group: its customers stay its own (none is
// merged with another store's, even with the same e-mail address), its
// company is the one its own settings name, and its notice names it.
func TestJoinChainIntoAFranchiseGroup(t *testing.T) {
	ctx := context.Background()
	clock := time.Now()
	srcPath := filepath.Join(t.TempDir(), "loerrach.db")
	src := openStoreFile(t, srcPath, &clock)
	ctrl, err := src.Controller(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctrl.Name = "Augenblick Lörrach e.K."
	if err := src.SaveController(ctx, ctrl, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := src.PlaceOrder(ctx, sampleOrder(t)); err != nil {
		t.Fatal(err)
	}

	chain := openDB(t)
	first, err := chain.Store(ctx, consent.FirstStore)
	if err != nil {
		t.Fatal(err)
	}
	first.Company.Name = "Optik Freiburg GmbH"
	if _, err := joining.UpdateStore(ctx, chain, first); err != nil {
		t.Fatal(err)
	}
	if err := joining.SetFranchise(ctx, chain, true, 0); err != nil {
		t.Fatal(err)
	}
	known, err := chain.PlaceOrder(consent.WithStore(ctx, first.ID), sampleOrder(t)) // the same person, Freiburg's customer
	if err != nil {
		t.Fatal(err)
	}
	r, err := joining.Join(ctx, chain, src, "Lörrach", "loerrach.db")
	if err != nil {
		t.Fatal(err)
	}
	if r.Merged != 0 || r.Customers != 1 || r.Store.Company.Name != "Augenblick Lörrach e.K." {
		t.Fatalf("join into a franchise group: %+v", r)
	}
	inLoerrach := consent.WithStore(ctx, r.Store.ID)
	found, err := chain.SearchCustomers(inLoerrach, "Weiß", 10)
	if err != nil || len(found) != 1 || found[0].ID == known.Customer.ID || found[0].StoreID != r.Store.ID {
		t.Fatalf("Lörrach's customer in the group: %+v %v (Freiburg's is %d)", found, err, known.Customer.ID)
	}
	if found, err := chain.SearchCustomers(consent.WithStore(ctx, first.ID), "Weiß", 10); err != nil || len(found) != 1 || found[0].ID != known.Customer.ID {
		t.Fatalf("Freiburg's search after the join: %+v %v", found, err)
	}
	n, err := chain.CurrentNotice(inLoerrach, "de")
	if err != nil || !strings.HasPrefix(n.ID, "de-S"+itoa(r.Store.ID)+"-") || !strings.Contains(n.Text, "Augenblick Lörrach e.K.") {
		t.Fatalf("Lörrach's notice in the group: %s %v", n.ID, err)
	}
	if v, err := chain.Verify(ctx); err != nil || !v.OK || len(v.Joined) != 1 {
		t.Fatalf("the group's ledger: %+v %v", v, err)
	}
}

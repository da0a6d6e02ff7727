package orders_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/chain"
)

// franchiseChain is a chain of two stores, each with its own company.
func franchiseChain(t *testing.T) (*orders.DB, orders.Store, orders.Store) {
	t.Helper()
	ctx := context.Background()
	db := openDB(t)
	if err := db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	first, err := db.Store(ctx, consent.FirstStore)
	if err != nil {
		t.Fatal(err)
	}
	second, err := chain.AddStore(ctx, db, orders.Store{Name: "Lörrach", Street: "Tumringer Straße 1", PostalCode: "79539", City: "Lörrach", Email: "loerrach@optik.example"})
	if err != nil {
		t.Fatal(err)
	}
	return db, first, second
}

// A setting makes each store its own controller (franchise
// groups): then customers and consents are kept apart per
// store, and no store sees another's.
func TestFranchiseKeepsStoresApart(t *testing.T) {
	ctx := context.Background()
	db, first, second := franchiseChain(t)

	// Each store must name its own company first; nothing changes.
	err := chain.SetFranchise(ctx, db, true, 0)
	if consentdesk.ErrorCode(err) != consentdesk.Conflict || !strings.Contains(explainEN(err), first.Name) || !strings.Contains(explainEN(err), "Lörrach") {
		t.Fatalf("franchise without the stores' companies: %v", err)
	}
	if on, _ := db.Franchise(ctx); on {
		t.Fatal("a refused switch switched")
	}
	first.Company = consent.Company{Name: "Optik Freiburg GmbH", LegalForm: "GmbH", RegCourt: "AG Freiburg", RegNumber: "HRB 1", DPOContact: "dsb@freiburg.example"}
	second.Company = consent.Company{Name: "Augenblick Lörrach e.K.", LegalForm: "e.K.", DPOContact: "dsb@loerrach.example"}
	for _, s := range []orders.Store{first, second} {
		if _, err := chain.UpdateStore(ctx, db, s); err != nil {
			t.Fatal(err)
		}
	}
	in1, in2 := consent.WithStore(ctx, first.ID), consent.WithStore(ctx, second.ID)
	a, err := db.PlaceOrder(in1, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := chain.SetFranchise(ctx, db, true, 0); err != nil {
		t.Fatal(err)
	}
	// The settings form does not switch it back.
	ctrl, err := db.Controller(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctrl.Franchise = false
	if _, err := db.SaveSettings(ctx, ctrl, 0); err != nil {
		t.Fatal(err)
	}
	if on, _ := db.Franchise(ctx); !on {
		t.Fatal("saving the settings switched the franchise setting off")
	}

	// Store 2 does not find, open or use store 1's customer and order.
	if _, err := db.Customer(in2, a.Customer.ID); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("store 2 opens store 1's customer: %v", err)
	}
	if found, err := db.SearchCustomers(in2, "Weiß", 10); err != nil || len(found) != 0 {
		t.Errorf("store 2's search finds store 1's customer: %+v %v", found, err)
	}
	if found, err := db.SearchCustomers(in1, "Weiß", 10); err != nil || len(found) != 1 {
		t.Errorf("store 1's search: %+v %v", found, err)
	}
	if _, err := db.Order(in2, a.Order.ID); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("store 2 opens store 1's order: %v", err)
	}
	if _, _, err := db.Consents(in2, a.Customer.ID); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("store 2 reads store 1's customer's consents: %v", err)
	}
	if _, err := db.ConsentTopics(in2, a.Customer.ID); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("store 2 reads store 1's customer's consent topics: %v", err)
	}
	if _, err := db.Export(in2, a.Customer.ID); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("store 2 exports store 1's customer: %v", err)
	}
	if _, err := db.Erase(in2, a.Customer.ID, 0); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("store 2 erases store 1's customer: %v", err)
	}
	again := sampleOrder(t)
	again.Customer.ID = a.Customer.ID
	if _, err := db.PlaceOrder(in2, again); err == nil || !strings.Contains(err.Error(), "customer_not_found") {
		t.Errorf("store 2 takes an order for store 1's customer: %v", err)
	}
	if mails, err := db.Mails(in2, followup.Filter{}); err != nil || len(mails) != 0 {
		t.Errorf("store 2 sees store 1's mails: %d %v", len(mails), err)
	}
	if mails, err := db.Mails(in1, followup.Filter{}); err != nil || len(mails) == 0 {
		t.Errorf("store 1's mails: %d %v", len(mails), err)
	} else if _, err := db.Mail(in2, mails[0].ID); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("store 2 opens store 1's mail: %v", err)
	}
	if day, err := db.Today(in2); err != nil || len(day.Open)+len(day.Ready)+len(day.Pickups) != 0 {
		t.Errorf("store 2's counter day shows store 1's orders: %+v %v", day, err)
	}
	if d, err := db.DashboardData(in2, 4); err != nil || d.Customers != 0 || d.Outbox[followup.Queued]+d.Outbox[followup.Sent] != 0 {
		t.Errorf("store 2's dashboard counts store 1's: %+v %v", d, err)
	}
	if d, err := db.DashboardData(in1, 4); err != nil || d.Customers != 1 {
		t.Errorf("store 1's dashboard: %+v %v", d, err)
	}

	// The same person in store 2 is store 2's own customer, with consents
	// of their own; an objection in store 1 blocks in store 1 only.
	b, err := db.PlaceOrder(in2, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	if b.Customer.ID == a.Customer.ID || b.Customer.StoreID != second.ID {
		t.Fatalf("the same person in store 2: %+v (store 1's is %d)", b.Customer, a.Customer.ID)
	}
	if _, err := db.RecordConsents(in1, orders.ConsentChange{CustomerID: a.Customer.ID, Channels: map[consent.Channel]bool{consent.Email: false},
		Source: consent.PhoneRequest, Object: true}); err != nil {
		t.Fatal(err)
	}
	if st, err := consent.CurrentState(ctx, db.SQL(), b.Customer.ID); err != nil || st[consent.Email].State != consent.Granted {
		t.Errorf("store 1's withdrawal reached store 2's customer: %+v %v", st[consent.Email], err)
	}
	postOnly := func(store context.Context) consent.ChannelState {
		t.Helper()
		o := sampleOrder(t)
		o.Customer.FirstName, o.Customer.Mobile, o.Prescription = "Jürgen jun.", "", nil
		o.Consent.Channels = map[consent.Channel]bool{consent.Post: true}
		p, err := db.PlaceOrder(store, o)
		if err != nil {
			t.Fatal(err)
		}
		st, err := consent.CurrentState(ctx, db.SQL(), p.Customer.ID)
		if err != nil {
			t.Fatal(err)
		}
		return st[consent.Email]
	}
	if st := postOnly(in1); st.State != consent.Withdrawn || !st.Blocked {
		t.Errorf("store 1's blocking list in store 1: %+v", st)
	}
	if st := postOnly(in2); st.State != consent.None || st.Blocked {
		t.Errorf("store 1's blocking list in store 2: %+v", st)
	}

	// Each store's letterhead and privacy notice name its own company;
	// its orders record its own notice.
	for _, tc := range []struct {
		ctx     context.Context
		store   orders.Store
		other   string
		noticeP string
	}{{in1, first, "Augenblick", "de-S1-"}, {in2, second, "Optik Freiburg", "de-S2-"}} {
		n, err := db.CurrentNotice(tc.ctx, "de")
		if err != nil || !strings.HasPrefix(n.ID, tc.noticeP) || !strings.Contains(n.Text, tc.store.Company.Name) || strings.Contains(n.Text, tc.other) ||
			!strings.Contains(n.Text, tc.store.Company.DPOContact) {
			t.Errorf("store %d's notice %s: %v\n%.400s", tc.store.ID, n.ID, err, n.Text)
		}
		lh, err := db.Letterhead(ctx, tc.store.ID)
		if err != nil || lh.Name != tc.store.Company.Name || lh.LegalForm != tc.store.Company.LegalForm || lh.RegNumber != tc.store.Company.RegNumber {
			t.Errorf("store %d's letterhead: %+v %v", tc.store.ID, lh, err)
		}
	}
	if o, err := db.Order(in2, b.Order.ID); err != nil || !strings.HasPrefix(o.NoticeVersionID, "de-S2-") {
		t.Errorf("store 2's order's notice: %q %v", o.NoticeVersionID, err)
	}
	// A store's new company details are a new version of its notice.
	second.Company.DPOContact = "datenschutz@loerrach.example"
	if _, err := chain.UpdateStore(ctx, db, second); err != nil {
		t.Fatal(err)
	}
	if n, err := db.CurrentNotice(in2, "de"); err != nil || n.ID != "de-S2-2" || !strings.Contains(n.Text, "datenschutz@loerrach.example") {
		t.Errorf("store 2's notice after its change: %s %v", n.ID, err)
	}
	// A new store names its company, or is refused.
	if _, err := chain.AddStore(ctx, db, orders.Store{Name: "Basel"}); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Errorf("a store without its company: %v", err)
	}

	// The public pages answer for the customer's own store: a link
	// carries no store, the customer's is theirs.
	if c, err := db.Customer(ctx, a.Customer.ID); err != nil || c.StoreID != first.ID {
		t.Errorf("store 1's customer from a link: %+v %v", c, err)
	}

	// Back to one controller: refused while two stores have customers.
	if err := chain.SetFranchise(ctx, db, false, 0); consentdesk.ErrorCode(err) != consentdesk.Conflict {
		t.Errorf("franchise off with two stores' customers: %v", err)
	}
	if on, _ := db.Franchise(ctx); !on {
		t.Error("a refused switch switched")
	}
}

// A customer served in two stores while the chain was one controller
// cannot be split between two: the switch is refused, nothing changes.
func TestFranchiseRefusedForSharedCustomers(t *testing.T) {
	ctx := context.Background()
	db, first, second := franchiseChain(t)
	first.Company.Name, second.Company.Name = "Optik Freiburg GmbH", "Augenblick Lörrach e.K."
	for _, s := range []orders.Store{first, second} {
		if _, err := chain.UpdateStore(ctx, db, s); err != nil {
			t.Fatal(err)
		}
	}
	a, err := db.PlaceOrder(consent.WithStore(ctx, first.ID), sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	again := sampleOrder(t)
	again.Customer.ID = a.Customer.ID
	if _, err := db.PlaceOrder(consent.WithStore(ctx, second.ID), again); err != nil {
		t.Fatal(err)
	}
	err = chain.SetFranchise(ctx, db, true, 0)
	if consentdesk.ErrorCode(err) != consentdesk.Conflict || !strings.Contains(explainEN(err), "1 customers") {
		t.Fatalf("franchise with a customer of two stores: %v", err)
	}
	if on, _ := db.Franchise(ctx); on {
		t.Fatal("a refused switch switched")
	}
	if n, err := db.CurrentNotice(consent.WithStore(ctx, second.ID), "de"); err != nil || strings.Contains(n.ID, "-S") {
		t.Fatalf("a refused switch published store notices: %s %v", n.ID, err)
	}
}

// explainEN is a domain error's message in English, with its values.
func explainEN(err error) string {
	var e *consentdesk.Error
	if errors.As(err, &e) {
		return assets.T("en", e.Key, e.Args...)
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

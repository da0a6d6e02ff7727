package orders_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/orders"
)

func mails(t *testing.T, db *orders.DB) []followup.Mail {
	t.Helper()
	m, err := followup.List(context.Background(), db.SQL(), followup.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOrderQueuesItsMails: the thank-you mail and, for a pending e-mail
// consent, the double opt-in mail commit with the order.
func TestOrderQueuesItsMails(t *testing.T) {
	var woken atomic.Int32
	db := openDBWith(t, orders.Options{MailQueued: func() { woken.Add(1) }})
	p, err := db.PlaceOrder(context.Background(), sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	m := mails(t, db) // newest first
	if len(m) != 2 || m[1].Kind != followup.ThankYou || m[1].OrderID != p.Order.ID || m[0].Kind != followup.DoubleOptIn || m[0].OrderID != 0 {
		t.Fatalf("queued %+v", m)
	}
	if m[0].Status != followup.Queued || m[0].MessageID == "" || m[0].MessageID == m[1].MessageID {
		t.Errorf("status %s, Message-IDs %q %q", m[0].Status, m[0].MessageID, m[1].MessageID)
	}
	if woken.Load() != 1 {
		t.Errorf("sender woken %d times, want 1", woken.Load())
	}
}

// TestDoubleOptInSwitchedOff: CONSENTDESK_DOUBLE_OPT_IN=false grants at
// once, as single opt-in, and sends no confirmation request.
func TestDoubleOptInSwitchedOff(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if err := db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	p, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	states, _, _ := db.Consents(ctx, p.Customer.ID)
	if st := states[consent.Email]; st.State != consent.Granted || st.OptInLevel != consent.SingleOptIn {
		t.Fatalf("e-mail %+v, want granted single", st)
	}
	if m := mails(t, db); len(m) != 1 || m[0].Kind != followup.ThankYou || !m[0].Marketing {
		t.Fatalf("queued %+v, want one thank-you mail that may advertise", m)
	}
}

// TestPaperTickQueuesConfirmation: an e-mail tick transcribed from paper
// waits for the customer's confirmation too.
func TestPaperTickQueuesConfirmation(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	in := sampleOrder(t)
	in.Consent = orders.ConsentInput{Mode: orders.ModePaper}
	in.Prescription = nil
	p, err := db.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if m := mails(t, db); len(m) != 1 {
		t.Fatalf("%d mails after a paper order, want the thank-you mail", len(m))
	}
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p.Customer.ID, Source: consent.PaperForm,
		Channels: map[consent.Channel]bool{consent.Email: true}}); err != nil {
		t.Fatal(err)
	}
	if m := mails(t, db); len(m) != 2 || m[0].Kind != followup.DoubleOptIn {
		t.Fatalf("queued %+v, want the double opt-in mail", m)
	}
}

func TestMarkReady(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	p, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	o, err := db.MarkReady(ctx, p.Order.ID)
	if err != nil || o.Status != "ready" {
		t.Fatalf("%v, %s", err, o.Status)
	}
	if m := mails(t, db); len(m) != 3 || m[0].Kind != followup.Pickup || m[0].OrderID != p.Order.ID {
		t.Fatalf("queued %+v", m)
	}
	if _, err := db.MarkReady(ctx, p.Order.ID); consentdesk.ErrorCode(err) != consentdesk.Conflict {
		t.Fatalf("second time: %v, want conflict", err)
	}
	if _, err := db.MarkReady(ctx, 9999); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Fatalf("unknown order: %v", err)
	}
	if m := mails(t, db); len(m) != 3 {
		t.Fatalf("refused calls queued mails: %d", len(m))
	}
}

// TestUnconfirmedConsentExpires after the store's window, as a ledger
// event; a confirmed one and a fresh one stay.
func TestUnconfirmedConsentExpires(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	setClock(db, func() time.Time { return now })
	old, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	in := sampleOrder(t)
	in.Customer.Email = "confirmed@example.org"
	confirmed, err := db.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := db.ConfirmEmail(ctx, confirmed.Customer.ID); !ok || err != nil {
		t.Fatal("confirm", ok, err)
	}
	now = now.AddDate(0, 0, 29)
	in.Customer.Email = "fresh@example.org"
	fresh, err := db.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.ExpireUnconfirmed(ctx); n != 0 || err != nil {
		t.Fatalf("day 29: %d expired (%v), want 0", n, err)
	}
	now = now.AddDate(0, 0, 2) // day 31 for the first order
	n, err := db.ExpireUnconfirmed(ctx)
	if n != 1 || err != nil {
		t.Fatalf("day 31: %d expired (%v), want 1", n, err)
	}
	states, events, _ := db.Consents(ctx, old.Customer.ID)
	last := events[len(events)-1]
	if states[consent.Email].State != consent.None || last.Action != consent.Expire || last.Source != consent.System || last.Actor != consent.BySystem {
		t.Fatalf("state %s, last event %+v", states[consent.Email].State, last)
	}
	for _, id := range []int64{confirmed.Customer.ID, fresh.Customer.ID} {
		st, _, _ := db.Consents(ctx, id)
		if st[consent.Email].State == consent.None {
			t.Errorf("customer %d lost a consent that should stay", id)
		}
	}
	if n, _ := db.ExpireUnconfirmed(ctx); n != 0 {
		t.Errorf("a second run expired %d more", n)
	}
	if v, err := db.Verify(ctx); err != nil || !v.OK {
		t.Fatalf("ledger after expiry: %+v %v", v, err)
	}
}

func TestImportCustomers(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	list := []orders.Customer{{LastName: "Weiß", Email: "a@example.org"}, {LastName: "Nowak", Mobile: "0170 1234567"}}
	if n, err := db.ImportCustomers(ctx, list); n != 2 || err != nil {
		t.Fatalf("%d, %v", n, err)
	}
	// The caller's slice is left as it was.
	if list[1].Mobile != "0170 1234567" || list[0].ID != 0 {
		t.Errorf("ImportCustomers changed its caller's slice: %+v", list)
	}
	found, _ := db.SearchCustomers(ctx, "0170 1234567", 10)
	if len(found) != 1 || found[0].Mobile != "+491701234567" {
		t.Fatalf("imported customer not found by phone: %+v", found)
	}
	bad := []orders.Customer{{LastName: "Gut", Email: "gut@example.org"}, {LastName: "Schlecht", Email: "kein-at"}}
	if _, err := db.ImportCustomers(ctx, bad); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Fatalf("invalid record: %v", err)
	}
	var n int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM customers`).Scan(&n)
	if n != 2 {
		t.Fatalf("%d customers after a refused import, want 2", n)
	}
	if states, _, _ := db.Consents(ctx, 1); states[consent.Email].State != consent.None {
		t.Error("an import must bring no consent")
	}
}

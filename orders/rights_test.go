package orders_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/followup/send"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/orderstest"
	"github.com/consentdesk/consentdesk/orders/store"
)

// richCustomer places an order with everything a customer can leave
// behind: contact details, a signature, a prescription, consents, a note
// from a phone call, a correction, a paper order with a scan, and mails
// written as .eml files.
func richCustomer(t *testing.T, db *orders.DB, email string) (orders.Placed, string) {
	t.Helper()
	ctx := context.Background()
	in := sampleOrder(t)
	in.Customer.Email = "old." + email
	in.Customer.Mobile = "0170 7654321"
	p, err := db.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	// Rectification: the old address stays only in the change log.
	c := p.Customer
	c.Email = email
	if _, err := db.UpdateCustomer(ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: c.ID, Channels: map[consent.Channel]bool{consent.SMS: false},
		Source: consent.PhoneRequest, Note: "Rief an: keine SMS, Nummer 0170 7654321"}); err != nil {
		t.Fatal(err)
	}
	paper := sampleOrder(t)
	paper.Customer = orders.Customer{ID: c.ID}
	paper.Consent = orders.ConsentInput{Mode: orders.ModePaper}
	paper.Prescription = nil
	p2, err := db.PlaceOrder(ctx, paper)
	if err != nil {
		t.Fatal(err)
	}
	scan := append([]byte("%PDF-1.4\n"), []byte("scan of the signed form "+email)...)
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: c.ID, OrderID: p2.Order.ID, Channels: map[consent.Channel]bool{consent.Phone: true},
		Source: consent.PaperForm, Scan: scan}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.MarkReady(ctx, p.Order.ID); err != nil {
		t.Fatal(err)
	}
	dir := db.MailDir()
	if dir == "" {
		t.Fatal("richCustomer needs a database opened with a MailDir")
	}
	sender := send.NewSender(db, consent.NewTokens(db.Keys.Tokens), followup.Folder{Dir: dir},
		send.SenderConfig{PublicURL: "https://optik.example", From: "Optik <info@optik.example>"})
	if n, err := sender.Drain(ctx); err != nil || n == 0 {
		t.Fatalf("drain: %d %v", n, err)
	}
	if err := db.LogAccess(ctx, orders.Access{Action: orders.AuditView, CustomerID: c.ID, StaffID: 0}); err != nil {
		t.Fatal(err)
	}
	return p, dir
}

func TestUpdateCustomerLogsEveryChange(t *testing.T) {
	db := openDB(t)
	fixedNow(db)
	ctx := context.Background()
	staff, err := db.AddStaff(ctx, "Anna", "4711", orders.RoleCounter, orders.HomeStore(orders.RoleCounter))
	if err != nil {
		t.Fatal(err)
	}
	p, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	c := p.Customer
	c.Email = "neu@example.org"
	c.City = "Freiburg im Breisgau"
	changes, err := db.UpdateCustomer(ctx, c, staff.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 {
		t.Fatalf("changes = %+v", changes)
	}
	logged, err := db.Changes(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{"email": {"j.weiss@example.org", "neu@example.org"}, "city": {"Freiburg", "Freiburg im Breisgau"}}
	for _, ch := range logged {
		if w := want[ch.Field]; w[0] != ch.OldValue || w[1] != ch.NewValue || ch.StaffName != "Anna" || ch.CreatedAt == "" {
			t.Errorf("logged %+v", ch)
		}
	}
	got, _ := db.Customer(ctx, c.ID)
	if got.Email != "neu@example.org" || got.City != "Freiburg im Breisgau" {
		t.Errorf("not saved: %+v", got)
	}
	// The counter's search finds the new address, not the old one.
	if l, _ := db.SearchCustomers(ctx, "neu@example", 5); len(l) != 1 {
		t.Errorf("search by new address: %d", len(l))
	}
	if l, _ := db.SearchCustomers(ctx, "j.weiss", 5); len(l) != 0 {
		t.Errorf("search by old address still finds: %d", len(l))
	}

	// Nothing different: nothing logged.
	if changes, err := db.UpdateCustomer(ctx, got, staff.ID); err != nil || len(changes) != 0 {
		t.Errorf("no-op update: %v %v", changes, err)
	}
	// Bad input: refused with the field, nothing changed.
	bad := got
	bad.Email = "not an address"
	bad.LastName = ""
	_, err = db.UpdateCustomer(ctx, bad, staff.ID)
	var ce *consentdesk.Error
	if !asError(err, &ce) || ce.Code != consentdesk.Invalid || ce.Fields["email"] == "" || ce.Fields["last_name"] == "" {
		t.Fatalf("bad update: %v", err)
	}
	after, _ := db.Customer(ctx, c.ID)
	if after != got {
		t.Errorf("bad update changed the customer: %+v", after)
	}
	if n := countRows(t, db, "customer_changes"); n != 2 {
		t.Errorf("change log rows = %d", n)
	}
	if _, err := db.UpdateCustomer(ctx, orders.Customer{ID: 999, LastName: "X", Email: "x@example.org"}, staff.ID); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("unknown customer: %v", err)
	}
}

func asError(err error, target **consentdesk.Error) bool {
	e, ok := err.(*consentdesk.Error)
	if ok {
		*target = e
	}
	return ok
}

// TestExportHoldsEveryStoredField reads every row the database holds
// about the customer, column by column, and finds each value in the
// export: nothing stored is left out (GDPR Art. 15).
func TestExportHoldsEveryStoredField(t *testing.T) {
	db := openDBWith(t, orders.Options{MailDir: filepath.Join(t.TempDir(), "mail")})
	fixedNow(db)
	ctx := context.Background()
	p, _ := richCustomer(t, db, "export.me@example.org")
	id := p.Customer.ID
	x, err := db.Export(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	js := string(body)
	tables := map[string]string{
		"customers":             `SELECT * FROM customers WHERE id = ?`,
		"orders":                `SELECT * FROM orders WHERE customer_id = ?`,
		"order_items":           `SELECT * FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE customer_id = ?)`,
		"documents":             `SELECT * FROM documents WHERE customer_id = ?`,
		"consent_events":        `SELECT * FROM consent_events WHERE customer_id = ?`,
		"consent_event_details": `SELECT * FROM consent_event_details WHERE event_seq IN (SELECT seq FROM consent_events WHERE customer_id = ?)`,
		"outbox":                `SELECT * FROM outbox WHERE customer_id = ?`,
		"customer_changes":      `SELECT * FROM customer_changes WHERE customer_id = ?`,
		"audit_log":             `SELECT * FROM audit_log WHERE customer_id = ?`,
		// The prescription's ciphertext is shown decrypted (checked below).
		"prescriptions": `SELECT id, order_id, customer_id, legal_basis, created_at FROM prescriptions WHERE customer_id = ?`,
	}
	checked := 0
	for table, query := range tables {
		rows, err := db.SQL().QueryContext(ctx, query, id)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		n := 0
		for rows.Next() {
			n++
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				var want string
				switch v := v.(type) {
				case nil:
					continue
				case int64:
					want = fmt.Sprint(v)
				case string:
					if v == "" || (table == "customers" && cols[i] == "search") {
						continue // search is an index of the name, address and numbers shown anyway
					}
					enc, _ := json.Marshal(v)
					want = strings.Trim(string(enc), `"`)
				case []byte:
					if len(v) == 0 {
						continue
					}
					if table == "outbox" { // the message, as text
						enc, _ := json.Marshal(string(v))
						want = strings.Trim(string(enc), `"`)
					} else {
						want = base64.StdEncoding.EncodeToString(v)
					}
				default:
					t.Fatalf("%s.%s: unexpected type %T", table, cols[i], v)
				}
				checked++
				if !strings.Contains(js, want) {
					t.Errorf("%s.%s = %.80q is not in the export", table, cols[i], want)
				}
			}
		}
		rows.Close()
		if n == 0 {
			t.Errorf("table %s holds nothing of the customer: the test would prove nothing", table)
		}
	}
	t.Logf("%d stored values found in the export", checked)
	// The prescription, decrypted.
	var rx *orders.ExportPrescription
	for _, o := range x.Orders {
		if o.Prescription != nil {
			rx = o.Prescription
		}
	}
	if rx == nil || rx.Values.Right.Sph == nil || *rx.Values.Right.Sph != -1.25 || *rx.Values.Left.PD != 31.5 || rx.LegalBasis != consent.BasisExplicitConsent {
		t.Errorf("prescription not in the export: %+v", rx)
	}
	if len(x.Notices) != 1 || x.Notices[0].Text == "" {
		t.Errorf("notice texts: %+v", x.Notices)
	}
	if x.Orders[0].KeptUntil != "2034-12-31" {
		t.Errorf("kept until %q", x.Orders[0].KeptUntil)
	}
}

func TestErasure(t *testing.T) {
	db := openDBWith(t, orders.Options{MailDir: filepath.Join(t.TempDir(), "mail")})
	fixedNow(db)
	ctx := context.Background()
	const email = "erase.me.7f3a@example.org"
	p, mailDir := richCustomer(t, db, email)
	id := p.Customer.ID
	// Another customer, who must keep everything.
	other := sampleOrder(t)
	other.Customer.Email = "stays@example.org"
	other.Customer.Mobile = "0171 5550000"
	op, err := db.PlaceOrder(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	sender := send.NewSender(db, consent.NewTokens(db.Keys.Tokens), followup.Folder{Dir: mailDir},
		send.SenderConfig{PublicURL: "https://optik.example", From: "Optik <info@optik.example>"})
	if _, err := sender.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(mailDir, "*.eml"))
	if len(files) < 4 {
		t.Fatalf("mail files before: %v", files)
	}
	eventsBefore := countRows(t, db, "consent_events")

	res, err := db.Erase(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Checkpointed {
		t.Error("WAL not checkpointed")
	}
	// The signature goes; the scan of the paper form that granted phone
	// stays as the proof of a phone consent (§7a UWG).
	if res.Removed.Prescriptions != 1 || res.Removed.Documents != 1 || res.Removed.Mails < 2 || res.Removed.Changes != 1 || res.Removed.EventDetails == 0 {
		t.Errorf("removed %+v", res.Removed)
	}
	if res.PhoneProof == nil || res.PhoneProof.Documents != 1 || res.PhoneProof.Events != 1 || res.PhoneProof.DeleteAfter != "2031-11-22" {
		t.Errorf("phone proof %+v", res.PhoneProof)
	}
	if len(res.Kept) != 2 {
		t.Fatalf("kept %+v", res.Kept)
	}
	for _, k := range res.Kept {
		if k.DeleteAfter != "2034-12-31" || !strings.Contains(k.Reason, "§147 AO") {
			t.Errorf("kept %+v", k)
		}
	}

	// The ledger still verifies, and shows the erasure pseudonymously.
	v, err := db.Verify(ctx)
	if err != nil || !v.OK {
		t.Fatalf("ledger after erasure: %+v %v", v, err)
	}
	if n := countRows(t, db, "consent_events"); n != eventsBefore+5 { // four channels and the health data purpose
		t.Errorf("events %d → %d", eventsBefore, n)
	}
	states, events, _ := db.Consents(ctx, id)
	for _, ch := range consent.Channels {
		if states[ch].State != consent.Withdrawn {
			t.Errorf("%s after erasure: %s", ch, states[ch].State)
		}
	}
	for _, e := range events {
		if e.Channel == consent.Phone && e.Action == consent.Grant {
			if e.Contact != "+491707654321" {
				t.Errorf("phone grant %d lost the number it covered: %q", e.Seq, e.Contact)
			}
			continue
		}
		if e.Contact != "" || e.Note != "" {
			t.Errorf("event %d keeps personal details", e.Seq)
		}
	}
	cu, _ := db.Customer(ctx, id)
	if !cu.Erased() || cu.Name() != "" || cu.Email != "" || cu.Mobile != "" || cu.Street != "" {
		t.Errorf("customer after erasure: %+v", cu)
	}
	// Orders kept, reduced: over 250 euros the invoice recipient stays.
	o, err := db.Order(ctx, p.Order.ID)
	if err != nil || len(o.Items) != 2 || o.Pickup != nil || o.HasPrescription || o.SignatureSHA256 != "" {
		t.Errorf("kept order: %+v %v", o, err)
	}
	var billing string
	db.SQL().QueryRow(`SELECT billing_name FROM orders WHERE id = ?`, p.Order.ID).Scan(&billing)
	if billing != "Frau Jürgen Weiß" {
		t.Errorf("billing name %q", billing)
	}
	for _, table := range []string{"prescriptions", "customer_changes"} {
		var n int
		db.SQL().QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE customer_id = ?`, id).Scan(&n)
		if n != 0 {
			t.Errorf("%s keeps %d rows", table, n)
		}
	}
	var docs []string
	rows, _ := db.SQL().Query(`SELECT kind || ' ' || retained_until FROM documents WHERE customer_id = ?`, id)
	for rows.Next() {
		var d string
		rows.Scan(&d)
		docs = append(docs, d)
	}
	rows.Close()
	if len(docs) != 1 || docs[0] != "scan 2031-11-22" {
		t.Errorf("documents kept: %v", docs)
	}
	var raws int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM outbox WHERE customer_id = ? AND (raw IS NOT NULL OR last_error <> '')`, id).Scan(&raws)
	if raws != 0 {
		t.Errorf("%d mails keep their message", raws)
	}
	left, _ := filepath.Glob(filepath.Join(mailDir, "*.eml"))
	for _, f := range left {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(email)) {
			t.Errorf("%s still holds the address", f)
		}
	}
	if len(left) == 0 {
		t.Error("the other customer's mail files went too")
	}
	// Gone from the database's files too, not only from its answers:
	// SQLite's secure_delete and checkpoint, PostgreSQL's VACUUM. (The
	// address itself stays in the scan kept as the phone consent's
	// proof; the one before the rectification stood in the change log,
	// a consent event and mails.)
	for _, f := range orderstest.Files(t, db) {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte("old."+email)) {
			t.Errorf("%s still holds the old address", f)
		}
	}
	// The other customer is untouched.
	oc, _ := db.Customer(ctx, op.Customer.ID)
	if oc.Email != "stays@example.org" || oc.Erased() {
		t.Errorf("other customer: %+v", oc)
	}
	if rx, err := db.Prescription(ctx, op.Order.ID); err != nil || rx == nil {
		t.Errorf("other prescription: %v %v", rx, err)
	}

	// Refused afterwards: a second erasure, a consent, an order for them.
	if _, err := db.Erase(ctx, id, 0); consentdesk.ErrorCode(err) != consentdesk.Conflict {
		t.Errorf("second erasure: %v", err)
	}
	if _, err := db.Erase(ctx, 9999, 0); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("unknown: %v", err)
	}
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: id, Channels: map[consent.Channel]bool{consent.Post: true}, Source: consent.PreferencePage, ByCustomer: true}); consentdesk.ErrorCode(err) != consentdesk.Conflict {
		t.Errorf("consent for erased: %v", err)
	}
	again := sampleOrder(t)
	again.Customer = orders.Customer{ID: id}
	if _, err := db.PlaceOrder(ctx, again); consentdesk.ErrorCode(err) != consentdesk.Conflict {
		t.Errorf("order for erased: %v", err)
	}
	if l, _ := db.SearchCustomers(ctx, "weiß", 10); len(l) != 1 || l[0].ID != op.Customer.ID {
		t.Errorf("search finds the erased: %+v", l)
	}

	// Five years after the phone grant the retention job deletes its
	// proof (§7a UWG), and the ledger still verifies.
	setClock(db, func() time.Time { return time.Date(2031, 11, 23, 9, 0, 0, 0, time.UTC) })
	ret, err := db.ApplyRetention(ctx)
	if err != nil || ret.PhoneProofDetails != 1 || ret.PhoneProofDocuments != 1 || ret.Orders != 0 {
		t.Errorf("retention after five years: %+v %v", ret, err)
	}
	if v, err := db.Verify(ctx); err != nil || !v.OK {
		t.Errorf("ledger after the retention job: %+v %v", v, err)
	}

	// Nothing of the address is left in the file, nor in the log.
	path := db.Path
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-journal"} {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{email, "old." + email, "+491707654321", "Rief an: keine SMS", "scan of the signed form"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s still contains %q", filepath.Base(f), secret)
			}
		}
		if f == path && !bytes.Contains(b, []byte("stays@example.org")) {
			t.Errorf("the check would not find an address that is there")
		}
	}
}

func TestRetentionJob(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	at := func(y int) { setClock(db, func() time.Time { return time.Date(y, 6, 1, 10, 0, 0, 0, time.UTC) }) }
	place := func(y int) orders.Placed {
		at(y)
		in := sampleOrder(t)
		in.Pickup = nil
		p, err := db.PlaceOrder(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := place(2017)    // kept until 2025-12-31: due
	rx2022 := place(2022) // order kept until 2030, prescription until 2025: due
	fresh := place(2026)
	gone := place(2026) // erased below; its orders are kept until 2034
	at(2026)
	if _, err := db.Erase(ctx, gone.Customer.ID, 0); err != nil {
		t.Fatal(err)
	}
	res, err := db.ApplyRetention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Orders != 1 || res.Prescriptions != 1 {
		t.Errorf("2026: %+v", res)
	}
	if _, err := db.Order(ctx, old.Order.ID); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("2017 order still there: %v", err)
	}
	var items int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM order_items WHERE order_id = ?`, old.Order.ID).Scan(&items)
	if items != 0 {
		t.Errorf("items of the deleted order: %d", items)
	}
	// The signature of a customer who was not erased stays as proof of
	// the consent, loosened from the deleted order.
	var docs int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM documents WHERE customer_id = ? AND order_id IS NULL`, old.Customer.ID).Scan(&docs)
	if docs != 1 {
		t.Errorf("signature of the deleted order: %d", docs)
	}
	if o, err := db.Order(ctx, rx2022.Order.ID); err != nil || o.HasPrescription {
		t.Errorf("2022 order: %+v %v", o, err)
	}
	if o, err := db.Order(ctx, fresh.Order.ID); err != nil || !o.HasPrescription {
		t.Errorf("2026 order: %+v %v", o, err)
	}
	// Run again: nothing more is due.
	if res, err := db.ApplyRetention(ctx); err != nil || res.Orders+res.Prescriptions != 0 {
		t.Errorf("second run: %+v %v", res, err)
	}
	// 2035: the erased customer's kept order has reached its date.
	at(2035)
	res, err = db.ApplyRetention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Order(ctx, gone.Order.ID); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("erased customer's order kept past its date: %v", err)
	}
	if v, err := db.Verify(ctx); err != nil || !v.OK {
		t.Errorf("ledger: %+v %v", v, err)
	}
}

func TestContactable(t *testing.T) {
	db := openDB(t)
	fixedNow(db)
	ctx := context.Background()
	place := func(email string, chans map[consent.Channel]bool) orders.Placed {
		in := sampleOrder(t)
		in.Customer.Email = email
		// Five different people at one address: the erased one's name
		// and address go on the blocking list for post.
		in.Customer.LastName = strings.Split(email, "@")[0]
		in.Customer.Mobile = ""
		in.Consent.Channels = chans
		p, err := db.PlaceOrder(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	pending := place("pending@example.org", map[consent.Channel]bool{consent.Email: true, consent.Post: true})
	confirmed := place("confirmed@example.org", map[consent.Channel]bool{consent.Email: true})
	withdrawn := place("withdrawn@example.org", map[consent.Channel]bool{consent.Email: true})
	erased := place("erased@example.org", map[consent.Channel]bool{consent.Email: true})
	place("none@example.org", nil) // no consent at all: in no export
	for _, id := range []int64{confirmed.Customer.ID, withdrawn.Customer.ID, erased.Customer.ID} {
		if ok, err := db.ConfirmEmail(ctx, id); err != nil || !ok {
			t.Fatal(err)
		}
	}
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: withdrawn.Customer.ID, Channels: map[consent.Channel]bool{consent.Email: false},
		Source: consent.EmailLink, ByCustomer: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Erase(ctx, erased.Customer.ID, 0); err != nil {
		t.Fatal(err)
	}
	list, err := db.Contactable(ctx, consent.Email)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].CustomerID != confirmed.Customer.ID || list[0].Contact != "confirmed@example.org" ||
		list[0].OptInLevel != consent.ConfirmedOptIn || list[0].NoticeVersion != "de-1" || list[0].ConsentDate == "" {
		t.Errorf("e-mail contactable: %+v", list)
	}
	post, err := db.Contactable(ctx, consent.Post)
	if err != nil {
		t.Fatal(err)
	}
	if len(post) != 1 || post[0].CustomerID != pending.Customer.ID || post[0].Contact != "Hauptstraße 1, 79098 Freiburg" {
		t.Errorf("post contactable: %+v", post)
	}
	if _, err := db.Contactable(ctx, "fax"); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Errorf("unknown channel: %v", err)
	}
}

func TestDashboardData(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	// Renewal reminders are off by default (BGH III ZR 196/17); this
	// store flags consents older than 24 months.
	ctrl, _ := db.Controller(ctx)
	ctrl.RenewalMonths = 24
	if err := db.SaveController(ctx, ctrl, 0); err != nil {
		t.Fatal(err)
	}
	setClock(db, func() time.Time { return time.Date(2023, 11, 1, 10, 0, 0, 0, time.UTC) })
	in := sampleOrder(t)
	in.Pickup = nil
	in.Customer.Email = "old@example.org"
	in.Consent.Channels = map[consent.Channel]bool{consent.Post: true}
	if _, err := db.PlaceOrder(ctx, in); err != nil {
		t.Fatal(err)
	}
	fixedNow(db)                                                  // 2026-11-22, a Sunday
	if _, err := db.PlaceOrder(ctx, sampleOrder(t)); err != nil { // post granted, e-mail pending
		t.Fatal(err)
	}
	in = sampleOrder(t)
	in.Customer.Email = "none@example.org"
	in.Consent.Channels = nil
	if _, err := db.PlaceOrder(ctx, in); err != nil {
		t.Fatal(err)
	}
	d, err := db.DashboardData(ctx, 12)
	if err != nil {
		t.Fatal(err)
	}
	if d.OrdersToday != 2 || d.Customers != 3 {
		t.Errorf("today %d, customers %d", d.OrdersToday, d.Customers)
	}
	last := d.Weeks[len(d.Weeks)-1]
	if len(d.Weeks) != 12 || last.Start.Weekday() != time.Monday || last.Orders != 2 || last.Rate(consent.Post) != 0.5 || last.Rate(consent.Email) != 0.5 || last.Rate(consent.SMS) != 0 {
		t.Errorf("last week: %+v", last)
	}
	if len(d.Pending) != 1 || d.Pending[0].Channel != consent.Email {
		t.Errorf("pending: %+v", d.Pending)
	}
	if len(d.Renewal) != 1 || d.Renewal[0].Channel != consent.Post || d.RenewalMonths != 24 {
		t.Errorf("renewal: %+v", d.Renewal)
	}
	if d.Outbox[followup.Queued] != 4 { // three thank-you mails and one confirmation request
		t.Errorf("outbox: %+v", d.Outbox)
	}
}

func TestStaffManagement(t *testing.T) {
	db := openDB(t)
	fixedNow(db)
	ctx := context.Background()
	boss, _ := db.AddStaff(ctx, "Max", "864297", orders.RoleManager, orders.HomeStore(orders.RoleManager))
	anna, _ := db.AddStaff(ctx, "Anna", "4711", orders.RoleCounter, orders.HomeStore(orders.RoleCounter))
	token, _, err := db.SignIn(ctx, orders.Login{StaffID: anna.ID, PIN: "4711", Lang: "de", Client: "local"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetStaffDisabled(ctx, boss.ID, true, boss.ID); consentdesk.ErrorCode(err) != consentdesk.Conflict {
		t.Errorf("disable self: %v", err)
	}
	other, _ := db.AddStaff(ctx, "Eva", "975318", orders.RoleManager, orders.HomeStore(orders.RoleManager))
	if err := db.SetStaffDisabled(ctx, other.ID, true, boss.ID); err != nil {
		t.Fatal(err)
	}
	all, _ := db.AllStaff(ctx)
	for _, s := range all {
		if s.Name == "Filialleitung" { // made by EnsureStore
			if err := db.SetStaffDisabled(ctx, s.ID, true, boss.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.SetStaffDisabled(ctx, boss.ID, true, anna.ID); consentdesk.ErrorCode(err) != consentdesk.Conflict {
		t.Errorf("disable the last manager: %v", err)
	}
	if err := db.SetStaffDisabled(ctx, anna.ID, true, boss.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Session(ctx, token); err == nil {
		t.Error("a disabled member's session still works")
	}
	if _, _, err := db.SignIn(ctx, orders.Login{StaffID: anna.ID, PIN: "4711", Lang: "de", Client: "local"}); err == nil {
		t.Error("a disabled member signs in")
	}
	if err := db.SetStaffDisabled(ctx, anna.ID, false, boss.ID); err != nil {
		t.Fatal(err)
	}
	// Locked out by wrong PINs; a reset lifts it.
	for i := 0; i < orders.MaxPINTries; i++ {
		db.SignIn(ctx, orders.Login{StaffID: anna.ID, PIN: "0000", Lang: "de", Client: "local"})
	}
	if _, _, err := db.SignIn(ctx, orders.Login{StaffID: anna.ID, PIN: "4711", Lang: "de", Client: "local"}); consentdesk.ErrorCode(err) != consentdesk.Locked {
		t.Fatalf("not locked: %v", err)
	}
	if err := db.ResetPIN(ctx, anna.ID, "1111"); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Errorf("trivial PIN: %v", err)
	}
	if err := db.ResetPIN(ctx, anna.ID, "3851"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.SignIn(ctx, orders.Login{StaffID: anna.ID, PIN: "3851", Lang: "de", Client: "local"}); err != nil {
		t.Errorf("new PIN: %v", err)
	}
	if err := db.ResetPIN(ctx, 999, "3851"); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("unknown: %v", err)
	}
	all, _ = db.AllStaff(ctx)
	if len(all) != 4 || all[0].Name != "Anna" || all[0].Disabled || !all[3].Disabled {
		t.Errorf("all staff: %+v", all)
	}
}

// BGH III ZR 196/17: consent does not expire with time. Renewal reminders
// are a setting, off by default: an old consent is flagged only when the
// store switched them on.
func TestRenewalRemindersOffByDefault_BGH_III_ZR_196_17(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	setClock(db, func() time.Time { return time.Date(2020, 1, 10, 10, 0, 0, 0, time.UTC) })
	in := sampleOrder(t)
	in.Pickup = nil
	in.Consent.Channels = map[consent.Channel]bool{consent.Post: true}
	if _, err := db.PlaceOrder(ctx, in); err != nil {
		t.Fatal(err)
	}
	fixedNow(db)
	d, err := db.DashboardData(ctx, 4)
	if err != nil || len(d.Renewal) != 0 || d.RenewalMonths != 0 {
		t.Fatalf("default: %d flagged after %d months, %v", len(d.Renewal), d.RenewalMonths, err)
	}
	ctrl, _ := db.Controller(ctx)
	ctrl.RenewalMonths = 36
	if err := db.SaveController(ctx, ctrl, 0); err != nil {
		t.Fatal(err)
	}
	if d, _ := db.DashboardData(ctx, 4); len(d.Renewal) != 1 {
		t.Errorf("switched on: %d flagged", len(d.Renewal))
	}
}

// API tokens have a life cycle: a scope, an optional
// expiry, revocation by name, and the last use recorded.
func TestAPITokenLifeCycle(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	setClock(db, func() time.Time { return now })

	erp, err := db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "ERP"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.APIToken(ctx, erp)
	if err != nil || c.Scope != orders.ScopeOrders || c.Name != "ERP" {
		t.Fatalf("default token: %+v %v", c, err)
	}
	if _, err := db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "ERP"}); consentdesk.ErrorCode(err) != consentdesk.Conflict {
		t.Errorf("a second working token of the same name: %v", err)
	}
	if _, err := db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "representative:mother"}); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Errorf("a name that would hash like a representative: %v", err)
	}
	// Every prefix of a hashed field, "joined:" too; the message names
	// them all.
	for _, name := range []string{"topic:offers", "store:2", "joined:abc"} {
		if _, err := db.CreateAPIToken(ctx, orders.NewAPIToken{Name: name}); consentdesk.ErrorCode(err) != consentdesk.Invalid {
			t.Errorf("a token named %q: %v", name, err)
		}
	}
	for _, prefix := range consent.ReservedPrefixes {
		if !strings.Contains(assets.T("en", "err.token_name_reserved"), prefix) || !strings.Contains(assets.T("de", "err.token_name_reserved"), prefix) {
			t.Errorf("the message does not name %q", prefix)
		}
	}
	if _, err := db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "x", Scope: "root"}); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Errorf("unknown scope: %v", err)
	}
	if _, err := db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "x", Expires: now.Add(-time.Hour)}); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Errorf("expiry in the past: %v", err)
	}
	dpo, err := db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "DSB", Scope: orders.ScopeAdmin, Expires: now.Add(90 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := db.APIToken(ctx, dpo); err != nil || c.Scope != orders.ScopeAdmin {
		t.Fatalf("admin token: %+v %v", c, err)
	}

	// Last use: written on first use, then at most once a minute.
	list, _ := db.APITokens(ctx)
	if len(list) != 2 || !list[0].LastUsed.Equal(now) || !list[1].Expires.Equal(now.Add(90*24*time.Hour)) {
		t.Fatalf("list: %+v", list)
	}
	now = now.Add(30 * time.Second)
	db.APIToken(ctx, erp)
	if list, _ := db.APITokens(ctx); !list[0].LastUsed.Equal(now.Add(-30 * time.Second)) {
		t.Errorf("last use rewritten within the minute: %v", list[0].LastUsed)
	}
	now = now.Add(time.Minute)
	db.APIToken(ctx, erp)
	if list, _ := db.APITokens(ctx); !list[0].LastUsed.Equal(now) {
		t.Errorf("last use not recorded after a minute: %v", list[0].LastUsed)
	}

	// Expiry.
	now = now.Add(91 * 24 * time.Hour)
	if _, err := db.APIToken(ctx, dpo); consentdesk.ErrorCode(err) != consentdesk.Denied || err.(*consentdesk.Error).Key != "err.token_expired" {
		t.Errorf("expired token: %v", err)
	}
	// Revocation: by name, at once; a typo is an error.
	if _, err := db.RevokeAPIToken(ctx, "ERPP"); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("revoke unknown: %v", err)
	}
	if n, err := db.RevokeAPIToken(ctx, "ERP"); err != nil || n != 1 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	if _, err := db.APIToken(ctx, erp); consentdesk.ErrorCode(err) != consentdesk.Denied {
		t.Errorf("revoked token works: %v", err)
	}
	if _, err := db.RevokeAPIToken(ctx, "ERP"); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("revoking twice: %v", err)
	}
	// The name is free again for a new token.
	if _, err := db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "ERP"}); err != nil {
		t.Errorf("new token after revocation: %v", err)
	}
}

// Wrong PINs lock the client they came from, not the account for
// everyone, so that a stranger on the store's network cannot lock the
// manager out; the account locks after many from several
// clients, and Unlock lifts every lock.
func TestLockoutPerClient(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	boss, err := db.AddStaff(ctx, "Max", "864297", orders.RoleManager, orders.HomeStore(orders.RoleManager))
	if err != nil {
		t.Fatal(err)
	}
	try := func(client, pin string) error {
		_, _, err := db.SignIn(ctx, orders.Login{Name: "max", PIN: pin, Client: client})
		return err
	}
	for i := 0; i < orders.MaxPINTries; i++ {
		try("10.0.0.66", "000000")
	}
	if err := try("10.0.0.66", "864297"); consentdesk.ErrorCode(err) != consentdesk.Locked {
		t.Errorf("the guessing client is not locked: %v", err)
	}
	if err := try("10.0.0.20", "864297"); err != nil {
		t.Errorf("the tablet is locked out by another client's guesses: %v", err)
	}
	for c := 0; c < orders.AccountMaxPINTries/orders.MaxPINTries+1; c++ {
		for i := 0; i < orders.MaxPINTries; i++ {
			try(fmt.Sprintf("10.0.1.%d", c), "000000")
		}
	}
	if err := try("10.0.0.20", "864297"); consentdesk.ErrorCode(err) != consentdesk.Locked {
		t.Errorf("guesses from many clients do not lock the account: %v", err)
	}
	if err := db.Unlock(ctx, boss.ID); err != nil {
		t.Fatal(err)
	}
	if err := try("10.0.0.66", "864297"); err != nil {
		t.Errorf("after Unlock: %v", err)
	}
	if err := db.Unlock(ctx, 999); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("unlock unknown: %v", err)
	}
}

// A name with a control character or a byte that is not UTF-8 is
// refused like an unknown name, on both engines (PostgreSQL answered
// them with an error), with the right PIN too.
func TestSignInNameWithControlCharacters(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if _, err := db.AddStaff(ctx, "Max", "864297", orders.RoleManager, orders.HomeStore(orders.RoleManager)); err != nil {
		t.Fatal(err)
	}
	_, _, unknown := db.SignIn(ctx, orders.Login{Name: "Moritz", PIN: "864297", Client: "10.0.0.1"})
	if unknown == nil || consentdesk.ErrorCode(unknown) == "" {
		t.Fatalf("unknown name: %v", unknown)
	}
	for i, name := range []string{"Max\x00", "\x00", "Ma\x00x", "Max\x1b", "Max\xff", "\xff\xfe"} {
		// A client each: wrong sign-ins from one would lock it out.
		_, _, err := db.SignIn(ctx, orders.Login{Name: name, PIN: "864297", Client: fmt.Sprintf("10.0.1.%d", i)})
		if consentdesk.ErrorCode(err) != consentdesk.ErrorCode(unknown) {
			t.Errorf("%q: %v, want %v as for an unknown name", name, err, unknown)
		}
	}
	if _, _, err := db.SignIn(ctx, orders.Login{Name: " max ", PIN: "864297", Client: "10.0.0.3"}); err != nil {
		t.Errorf("the name itself: %v", err)
	}
	// An umlaut typed decomposed (a Mac) is the same name.
	if _, err := db.AddStaff(ctx, "Jo\u0308rg", "135790", orders.RoleCounter, orders.HomeStore(orders.RoleCounter)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Jörg", "jo\u0308rg"} {
		if _, s, err := db.SignIn(ctx, orders.Login{Name: name, PIN: "135790", Client: "10.0.0.4"}); err != nil || s.Name != "Jörg" {
			t.Errorf("%+q: %+q, %v", name, s.Name, err)
		}
	}
}

// The API's ledger check (monitoring) reports a cut the way it reports a
// broken link: a head the nightly backup recorded is no longer reached.
func TestVerifyReachFindsACut(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := db.PlaceOrder(ctx, sampleOrder(t)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.BackupInto(ctx, filepath.Join(t.TempDir(), "backups"), 3); err != nil {
		t.Fatal(err)
	}
	if v, err := db.VerifyReach(ctx); err != nil || !v.OK {
		t.Fatalf("before the cut: %+v %v", v, err)
	}
	for _, s := range append(orderstest.Unguard(),
		`DELETE FROM consent_event_details WHERE event_seq = (SELECT MAX(seq) FROM consent_events)`,
		`DELETE FROM consent_events WHERE seq = (SELECT MAX(seq) FROM consent_events)`) {
		if _, err := db.SQL().Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if v, _ := db.Verify(ctx); !v.OK {
		t.Fatal("the probe: a chain cut at its end should verify on its own")
	}
	if v, err := db.VerifyReach(ctx); err != nil || v.OK || !strings.Contains(v.Reason, "removed from its end") {
		t.Errorf("after the cut: %+v %v", v, err)
	}
}

// Keys: one secret derived the link key and the
// prescription key, and ciphertexts carried no key id, so the link secret
// could not be rotated without losing prescriptions. Now each ciphertext
// names its key version: after `keys rotate` old prescriptions open, new
// ones use the new secret, printed links keep working until the old
// secrets are retired, and the blocking list's hashes never change.
func TestKeyRotationKeepsPrescriptionsAndLinks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	open := func() *orders.DB {
		db, err := orderstest.Open(ctx, t, path, assets.Migrations())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	first, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	id := first.Customer.ID
	v1Link := db.Keys.LinkTokens().Make(consent.PreferencesToken, id)
	block := append([]byte{}, db.Keys.Block...)
	db.Close()

	if v, err := store.RotateKeys(path+".key", false); err != nil || v != 2 {
		t.Fatalf("rotate: %d %v", v, err)
	}
	if fi, err := os.Stat(path + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode after rotation: %v %v", fi.Mode(), err)
	}
	db = open()
	if p, err := db.Prescription(ctx, first.Order.ID); err != nil || p == nil || *p.Right.Sph != -1.25 {
		t.Fatalf("the prescription sealed before the rotation: %+v %v", p, err)
	}
	o := sampleOrder(t)
	o.Customer.Email, o.Customer.Mobile = "zweite@example.org", ""
	second, err := db.PlaceOrder(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var version int
	db.SQL().QueryRow(`SELECT key_version FROM prescriptions WHERE order_id = ?`, second.Order.ID).Scan(&version)
	if version != 2 {
		t.Errorf("new prescription sealed with key version %d, want 2", version)
	}
	if p, err := db.Prescription(ctx, second.Order.ID); err != nil || p == nil {
		t.Fatalf("the new prescription: %v", err)
	}
	tokens := db.Keys.LinkTokens()
	v2Link := tokens.Make(consent.PreferencesToken, id)
	if v2Link == v1Link {
		t.Error("new links are still signed with the old secret")
	}
	for name, link := range map[string]string{"old": v1Link, "new": v2Link} {
		if got, ok := tokens.Check(consent.PreferencesToken, link); !ok || got != id {
			t.Errorf("%s link after the rotation: %v", name, ok)
		}
	}
	if !bytes.Equal(db.Keys.Block, block) {
		t.Error("the blocking list's key changed: its hashes would no longer match")
	}
	db.Close()

	// After a leak: the old secrets check no link any more, and still
	// open their prescriptions.
	if v, err := store.RotateKeys(path+".key", true); err != nil || v != 3 {
		t.Fatalf("rotate --retire-old-links: %d %v", v, err)
	}
	db = open()
	defer db.Close()
	tokens = db.Keys.LinkTokens()
	for name, link := range map[string]string{"v1": v1Link, "v2": v2Link} {
		if _, ok := tokens.Check(consent.PreferencesToken, link); ok {
			t.Errorf("%s link works after its secret was retired", name)
		}
	}
	if _, ok := tokens.Check(consent.PreferencesToken, tokens.Make(consent.PreferencesToken, id)); !ok {
		t.Error("a new link does not work")
	}
	for _, oid := range []int64{first.Order.ID, second.Order.ID} {
		if p, err := db.Prescription(ctx, oid); err != nil || p == nil {
			t.Errorf("prescription of order %d after retiring: %v", oid, err)
		}
	}
}

// A damaged key file is refused with a clear message, never half read.
func TestDamagedKeyFiles(t *testing.T) {
	dir := t.TempDir()
	good := strings.Repeat("ab", 32)
	for name, content := range map[string]string{
		"short":       "abcd\n",
		"bad secret":  "secret 1 " + good + "\nsecret 2 xyz\n",
		"no secret 1": "secret 2 " + good + "\n",
		"twice":       "secret 1 " + good + "\nsecret 1 " + good + "\n",
		"retired":     "secret 1 " + good + "\nretired 4\n",
		"unknown":     "secret 1 " + good + "\nsomething else\n",
	} {
		file := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".key")
		os.WriteFile(file, []byte(content), 0o600)
		if _, err := store.LoadOrCreateKeys(file); err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := store.RotateKeys(file, false); err == nil {
			t.Errorf("%s: rotated", name)
		}
	}
	file := filepath.Join(dir, "v.key")
	os.WriteFile(file, []byte("# note\nsecret 1 "+good+"\nsecret 2 "+strings.Repeat("cd", 32)+"\nretired 1\n"), 0o600)
	k, err := store.LoadOrCreateKeys(file)
	if err != nil || k.PrescriptionVersion != 2 || len(k.OlderTokens) != 0 {
		t.Errorf("versioned file: %+v %v", k, err)
	}
}

// A server started with another key file than the database's (a chain's
// server with another --files, a copy of the database without its key)
// does not start: it would make a new key that reads no prescription,
// signs links the other servers refuse and misses the blocking list. The
// error names the file expected; the key it would have made is not left
// behind; with the right file it starts.
func TestAnotherKeyFileIsRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "store.db")
	db := openDBAt(t, path, orders.Options{})
	if _, err := db.PlaceOrder(ctx, sampleOrder(t)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	location, files := orderstest.Location(t, path)
	if files == "" {
		files = path
	}
	other := filepath.Join(t.TempDir(), "other.db")
	opts := orders.Options{}
	if orderstest.Postgres() {
		opts.Files = other // a third server with its own --files
	} else {
		// A copy of the database file without its key file.
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(other, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		location = other
	}
	wrong, err := orders.Open(ctx, location, assets.Migrations(), opts)
	if err == nil {
		wrong.Close()
		t.Fatal("a server with another key file started")
	}
	abs, _ := filepath.Abs(files + ".key")
	if !strings.Contains(err.Error(), "does not belong to this database") || !strings.Contains(err.Error(), abs) || !strings.Contains(err.Error(), "gehört nicht") {
		t.Errorf("the refusal does not say which key file is expected (%s): %v", abs, err)
	}
	if _, err := os.Stat(other + ".key"); !os.IsNotExist(err) {
		t.Errorf("the refused start left a new key file behind: %v", err)
	}
	// With the right key file it starts.
	if err := os.Rename(files+".key", other+".key"); err != nil {
		t.Fatal(err)
	}
	right, err := orders.Open(ctx, location, assets.Migrations(), opts)
	if err != nil {
		t.Fatalf("with the database's own key file: %v", err)
	}
	right.Close()
}

// The withdrawal journal holds every withdrawal and block as it is
// committed; a journal lost or cut short (a full disk) is written again
// from the ledger and the blocking list by the next sync (at start and
// before each backup), and a second sync adds nothing.
func TestWithdrawalJournalSync(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j.db")
	db := openDBAt(t, path, orders.Options{})
	p, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p.Customer.ID, Source: consent.PhoneRequest,
		Channels: map[consent.Channel]bool{consent.Post: false}}); err != nil {
		t.Fatal(err)
	}
	_, files := orderstest.Location(t, path)
	if files == "" {
		files = path
	}
	lines, _, err := store.ReadJournal(files)
	// The block comes first: it is written before the event.
	if err != nil || len(lines) != 2 || lines[1].Kind != consent.JournalWithdraw || lines[1].Channel != consent.Post || lines[1].Customer != p.Customer.ID ||
		lines[1].Identity == "-" || lines[0].Kind != consent.JournalBlock {
		t.Fatalf("the journal after a withdrawal by phone: %+v %v", lines, err)
	}
	if err := os.Remove(store.JournalPath(files)); err != nil {
		t.Fatal(err)
	}
	if n, err := db.SyncWithdrawalJournal(ctx); err != nil || n != 2 {
		t.Fatalf("sync of a lost journal: %d %v", n, err)
	}
	again, synced, err := store.ReadJournal(files)
	if err != nil || len(again) != 2 || again[0].Identity != lines[1].Identity || again[0].Hash != lines[1].Hash || again[1].KeyHash != lines[0].KeyHash || synced.IsZero() {
		t.Errorf("the journal written again: %+v %v %v", again, synced, err)
	}
	if n, err := db.SyncWithdrawalJournal(ctx); err != nil || n != 0 {
		t.Errorf("a second sync: %d %v", n, err)
	}
}

package orders_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/orderstest"
)

// Tests of the legal core: each names
// the rule it enforces, and the ledger must verify after every step.

func verified(t *testing.T, db *orders.DB) {
	t.Helper()
	if v, err := db.Verify(context.Background()); err != nil || !v.OK {
		t.Fatalf("ledger: %+v %v", v, err)
	}
}

func stateOf(t *testing.T, db *orders.DB, id int64) map[consent.Channel]consent.ChannelState {
	t.Helper()
	st, _, err := db.Consents(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func noConsentOrder(t *testing.T, c orders.Customer) orders.NewOrder {
	in := sampleOrder(t)
	in.Customer = c
	in.Consent = orders.ConsentInput{Mode: orders.ModeTablet}
	in.Prescription = nil
	return in
}

// GDPR Art. 21(3), §7(3) Nr. 4 UWG: an objection counts whatever the
// channel's state. Before, a customer's "no" on a channel that was never
// granted recorded nothing, and §7(3) advertising went on.
func TestObjectionWithoutGrantIsRecorded_Art21(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	p, err := db.PlaceOrder(ctx, noConsentOrder(t, sampleOrder(t).Customer))
	if err != nil {
		t.Fatal(err)
	}
	id := p.Customer.ID
	// A switch that merely stays off on the preference page is no objection.
	ev, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: id, Source: consent.PreferencePage, ByCustomer: true,
		Channels: map[consent.Channel]bool{consent.Post: false, consent.Email: false, consent.SMS: false, consent.Phone: false}})
	if err != nil || len(ev) != 0 {
		t.Fatalf("saved with all off: %d events, %v", len(ev), err)
	}
	// The one-click unsubscribe, the mail link, the QR code and "withdraw
	// all" are objections: recorded on every channel in state none.
	for _, src := range []consent.Source{consent.EmailLink, consent.QRCode} {
		ev, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: id, Source: src, ByCustomer: true, Object: true,
			Channels: map[consent.Channel]bool{consent.Email: false, consent.SMS: false, consent.Post: false}})
		if err != nil {
			t.Fatal(err)
		}
		if src == consent.EmailLink && len(ev) != 3 {
			t.Fatalf("objection recorded %d events, want 3", len(ev))
		}
		if src == consent.QRCode && len(ev) != 0 { // already withdrawn: nothing new
			t.Fatalf("second objection recorded %d events", len(ev))
		}
	}
	st := stateOf(t, db, id)
	for _, ch := range []consent.Channel{consent.Email, consent.SMS, consent.Post} {
		if st[ch].State != consent.Withdrawn {
			t.Errorf("%s after objection: %s", ch, st[ch].State)
		}
	}
	if st[consent.Phone].State != consent.None {
		t.Errorf("phone was not objected to: %s", st[consent.Phone].State)
	}
	verified(t, db)
}

// §35(3) BDSG, Art. 17(3), OLG Frankfurt 6 U 54/19: an objection or an
// erasure leaves a blocking entry that outlives the erasure; a new record
// of the same person starts withdrawn, for a new order, an API order and
// an import; only a fresh explicit consent of the customer lifts it.
func TestBlockListOutlivesErasure_BDSG35(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	first := sampleOrder(t) // Jürgen Weiß, Hauptstraße 1, j.weiss@Example.ORG, 0170 1234567
	p, err := db.PlaceOrder(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p.Customer.ID, Source: consent.EmailLink, ByCustomer: true, Object: true,
		Channels: map[consent.Channel]bool{consent.SMS: false}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Erase(ctx, p.Customer.ID, 0); err != nil {
		t.Fatal(err)
	}
	// The list holds no readable personal data.
	rows, err := db.SQL().Query(`SELECT channel, key_hash, reason FROM block_list`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var ch, hash, reason string
		rows.Scan(&ch, &hash, &reason)
		n++
		if len(hash) != 64 || strings.ContainsAny(hash, "@+ ") {
			t.Errorf("block entry %s holds %q", ch, hash)
		}
	}
	rows.Close()
	if n != 4 {
		t.Errorf("%d block entries, want 4 (post, e-mail, SMS, phone)", n)
	}

	// The same person comes back, written a little differently.
	back := sampleOrder(t).Customer
	back.Email = "J.Weiss@example.org"
	back.Street = "Hauptstr. 1"
	again, err := db.PlaceOrder(ctx, noConsentOrder(t, back))
	if err != nil {
		t.Fatal(err)
	}
	st := stateOf(t, db, again.Customer.ID)
	for _, ch := range consent.Channels {
		if st[ch].State != consent.Withdrawn || !st[ch].Blocked {
			t.Errorf("%s of the returning customer: %+v", ch, st[ch])
		}
	}
	if l, err := db.Contactable(ctx, consent.Post); err != nil || len(l) != 0 {
		t.Errorf("post contactable: %+v %v", l, err)
	}
	// An import of the same person starts blocked too.
	if _, err := db.ImportCustomers(ctx, []orders.Customer{{LastName: "Weiß", Email: "j.weiss@example.org"}, {LastName: "Neu", Email: "neu@example.org"}}); err != nil {
		t.Fatal(err)
	}
	imported, _ := db.SearchCustomers(ctx, "weiss", 10)
	blocked := 0
	for _, c := range imported {
		if stateOf(t, db, c.ID)[consent.Email].Blocked {
			blocked++
		}
	}
	if blocked != 2 { // the order's record and the import's
		t.Errorf("%d blocked records of j.weiss, want 2", blocked)
	}
	neu, _ := db.SearchCustomers(ctx, "neu@", 1)
	if len(neu) != 1 || stateOf(t, db, neu[0].ID)[consent.Email].State != consent.None {
		t.Errorf("an unrelated import was blocked: %+v", neu)
	}

	// A grant that another program sends cannot lift the block: refused,
	// and nothing of the order is stored.
	orderCount := countRows(t, db, "orders")
	api := sampleOrder(t)
	api.Customer = orders.Customer{ID: again.Customer.ID}
	api.Consent = orders.ConsentInput{Mode: orders.ModeTablet, Channels: map[consent.Channel]bool{consent.Email: true}}
	api.Prescription, api.APIToken = nil, "ERP"
	_, err = db.PlaceOrder(ctx, api)
	var e *consentdesk.Error
	if !asError(err, &e) || e.Fields["consent.channels.email"] != "err.channel_blocked" || countRows(t, db, "orders") != orderCount {
		t.Fatalf("API grant on a blocked channel: %v", err)
	}
	// Staff typing a grant from a call cannot either.
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: again.Customer.ID, Source: consent.PhoneRequest,
		Channels: map[consent.Channel]bool{consent.Email: true}}); !asError(err, &e) || e.Fields["channels.email"] != "err.channel_blocked" {
		t.Fatalf("staff grant on a blocked channel: %v", err)
	}
	// The customer's own tap at the counter lifts it, recorded as such.
	counter := api
	counter.APIToken = ""
	placed, err := db.PlaceOrder(ctx, counter)
	if err != nil {
		t.Fatal(err)
	}
	if len(placed.Events) != 2 || placed.Events[0].Action != consent.Unblock || placed.Events[1].Action != consent.Grant ||
		placed.Events[0].Actor != consent.ByCustomer {
		t.Fatalf("counter grant events: %+v", placed.Events)
	}
	if st := stateOf(t, db, again.Customer.ID)[consent.Email]; st.State != consent.Pending || st.Blocked {
		t.Errorf("e-mail after the fresh consent: %+v", st)
	}
	if b, _ := db.BlockedChannels(ctx, placed.Customer); b[consent.Email] || !b[consent.SMS] {
		t.Errorf("blocked channels after the lift: %v", b)
	}
	verified(t, db)
}

// §35(3) BDSG, Art. 18: after an erasure the order records kept for
// §147 AO / §257 HGB are locked until their date.
func TestRestrictedRecordsAfterErasure_BDSG35(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	p, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Erase(ctx, p.Customer.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	o, err := db.Order(ctx, p.Order.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Restricted() || o.RestrictedUntil != res.Kept[0].DeleteAfter {
		t.Fatalf("kept order not locked: %q, kept %+v", o.RestrictedUntil, res.Kept)
	}
	if _, err := db.MarkReady(ctx, o.ID); consentdesk.ErrorCode(err) != consentdesk.Conflict {
		t.Errorf("a locked order was marked ready: %v", err)
	}
	if n := countRows(t, db, "outbox WHERE kind = 'pickup'"); n != 0 {
		t.Errorf("%d pickup mails queued for a locked order", n)
	}
	verified(t, db)
}

// §7a UWG: phone consent proof is kept five years from the grant and from
// each use, through an erasure; then the retention job deletes it.
func TestPhoneProofKeptFiveYearsFromLastUse_UWG7a(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	now := time.Now().UTC()
	setClock(db, func() time.Time { return now })
	in := sampleOrder(t)
	in.Consent.Channels = map[consent.Channel]bool{consent.Phone: true}
	p, err := db.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	id := p.Customer.ID
	// A use without a consent is refused, not recorded as lawful.
	if _, err := db.RecordUse(ctx, orders.Use{CustomerID: id, Channel: consent.SMS}); consentdesk.ErrorCode(err) != consentdesk.Conflict {
		t.Errorf("use without consent: %v", err)
	}
	if _, err := db.RecordUse(ctx, orders.Use{CustomerID: id, Channel: "fax"}); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Errorf("use of an unknown channel: %v", err)
	}
	// Two years later the store calls, and records it.
	now = now.AddDate(2, 0, 0)
	use, err := db.RecordUse(ctx, orders.Use{CustomerID: id, Channel: consent.Phone, Note: "Herbstaktion"})
	if err != nil || use.Action != consent.Use || use.Contact != "+491701234567" {
		t.Fatalf("use: %+v %v", use, err)
	}
	if st := stateOf(t, db, id)[consent.Phone]; st.State != consent.Granted || st.LastUsedAt != use.CreatedAt {
		t.Errorf("phone after the use: %+v", st)
	}
	now = now.AddDate(0, 1, 0)
	res, err := db.Erase(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	until := now.AddDate(-0, -1, 0).In(orders.Berlin).AddDate(5, 0, 0).Format("2006-01-02")
	if res.PhoneProof == nil || res.PhoneProof.DeleteAfter != until || res.PhoneProof.Documents != 1 || res.PhoneProof.Events != 2 {
		t.Fatalf("phone proof %+v, want until %s", res.PhoneProof, until)
	}
	kept := func() (details, docs int) {
		db.SQL().QueryRow(`SELECT COUNT(*) FROM consent_event_details d JOIN consent_events e ON e.seq = d.event_seq WHERE e.customer_id = ?`, id).Scan(&details)
		db.SQL().QueryRow(`SELECT COUNT(*) FROM documents WHERE customer_id = ?`, id).Scan(&docs)
		return
	}
	if d, s := kept(); d != 2 || s != 1 {
		t.Fatalf("kept after erasure: %d details, %d signatures", d, s)
	}
	// Five years after the grant (but not after the use) nothing goes.
	now = time.Now().UTC().AddDate(5, 0, 2)
	if r, err := db.ApplyRetention(ctx); err != nil || r.PhoneProofDetails+r.PhoneProofDocuments != 0 {
		t.Fatalf("five years after the grant: %+v %v", r, err)
	}
	// Five years after the use it goes.
	now = time.Now().UTC().AddDate(7, 0, 2)
	if r, err := db.ApplyRetention(ctx); err != nil || r.PhoneProofDetails != 2 || r.PhoneProofDocuments != 1 {
		t.Fatalf("five years after the use: %+v %v", r, err)
	}
	if d, s := kept(); d != 0 || s != 0 {
		t.Errorf("left after its period: %d details, %d signatures", d, s)
	}
	verified(t, db)
}

// GDPR Art. 9(2)(a), Art. 7(3): the prescription consent is withdrawn
// like any other, and the stored prescriptions go with it; under Art.
// 9(2)(h) with §22 BDSG they stay.
func TestPrescriptionConsentWithdrawable_Art9(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	p, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil || !p.PrescriptionStored {
		t.Fatal(err)
	}
	// Given only at the counter, with the values.
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p.Customer.ID, Source: consent.PhoneRequest,
		Channels: map[consent.Channel]bool{consent.HealthData: true}}); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Errorf("health data granted by phone: %v", err)
	}
	ev, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p.Customer.ID, Source: consent.PreferencePage, ByCustomer: true,
		Channels: map[consent.Channel]bool{consent.HealthData: false}})
	if err != nil || len(ev) != 1 || ev[0].Channel != consent.HealthData || ev[0].Action != consent.Withdraw || ev[0].LegalBasis != consent.BasisExplicitConsent {
		t.Fatalf("withdrawal: %+v %v", ev, err)
	}
	if rx, err := db.Prescription(ctx, p.Order.ID); err != nil || rx != nil {
		t.Errorf("prescription after withdrawal: %v %v", rx, err)
	}
	if st := stateOf(t, db, p.Customer.ID)[consent.HealthData]; st.State != consent.Withdrawn {
		t.Errorf("health data state: %s", st.State)
	}
	if st := stateOf(t, db, p.Customer.ID)[consent.Post]; st.State != consent.Granted {
		t.Errorf("marketing touched by the prescription withdrawal: %s", st.State)
	}

	// Under Art. 9(2)(h) the values never rested on consent: they stay.
	ctrl, _ := db.Controller(ctx)
	ctrl.HealthBasis = string(consent.BasisHealthCare)
	if err := db.SaveController(ctx, ctrl, 0); err != nil {
		t.Fatal(err)
	}
	in := sampleOrder(t)
	in.Customer.Email = "h@example.org"
	in.Consent.HealthData = false
	hp, err := db.PlaceOrder(ctx, in)
	if err != nil || !hp.PrescriptionStored {
		t.Fatal(err)
	}
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: hp.Customer.ID, Source: consent.PhoneRequest,
		Channels: map[consent.Channel]bool{consent.HealthData: false}}); err != nil {
		t.Fatal(err)
	}
	if rx, err := db.Prescription(ctx, hp.Order.ID); err != nil || rx == nil {
		t.Errorf("an Art. 9(2)(h) prescription was deleted: %v", err)
	}
	// The notice names (h) with §22 BDSG then, not (a).
	n, err := consent.CurrentNotice(ctx, db.SQL(), "de")
	if err != nil {
		t.Fatal(err)
	}
	// Section c), the prescriptions' own, names (h) and never (a); (a)
	// stands only where the eye test reminder asks its own explicit
	// consent to use the date of a test (section d).
	_, health, _ := strings.Cut(n.Text, "c) Brillenwerte:")
	health, _, _ = strings.Cut(health, "\n")
	if !strings.Contains(health, "Art. 9 Abs. 2 lit. h") || !strings.Contains(health, "§ 22") || strings.Contains(health, "Art. 9 Abs. 2 lit. a") {
		t.Errorf("notice under (h), section c):\n%s", health)
	}
	if strings.Count(n.Text, "Art. 9 Abs. 2 lit. a") != 1 || !strings.Contains(n.Text, "ausdrücklichen Einwilligung in diese Erinnerung (Art. 9 Abs. 2 lit. a DSGVO)") {
		t.Errorf("notice under (h) names (a) beyond the eye test reminder:\n%s", n.Text)
	}
	verified(t, db)
}

// A store whose own notice text still names Art. 9(2)(a) cannot switch
// to (h): the notice would tell the customer something false.
func TestHealthCareBasisNeedsTheNoticeToSayIt_Art13(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	own := strings.Repeat("Unser eigener Hinweistext. Brillenwerte nur mit Einwilligung nach Art. 9 Abs. 2 lit. a DSGVO. ", 4)
	if _, err := db.PublishNotice(ctx, "de", own, 0); err != nil {
		t.Fatal(err)
	}
	ctrl, _ := db.Controller(ctx)
	ctrl.HealthBasis = string(consent.BasisHealthCare)
	err := db.SaveController(ctx, ctrl, 0)
	var e *consentdesk.Error
	if !asError(err, &e) || e.Fields["health_data_basis"] != "err.notice_health_basis" {
		t.Fatalf("switch to (h) with a notice naming (a): %v", err)
	}
	if c, _ := db.Controller(ctx); c.HealthLegalBasis() != consent.BasisExplicitConsent {
		t.Error("the refused switch changed the setting")
	}
}

// CJEU C-61/19, Art. 7(1): who gave a consent, and how, is stated
// truthfully. An API order is recorded as such, with the token's name; a
// grant staff type in needs a signed form, or for e-mail the customer's
// own confirmation. Withdrawals never need evidence.
func TestWhoGaveConsentIsTruthful_Art7_1(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	in := sampleOrder(t)
	in.APIToken = "ERP"
	p, err := db.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Events {
		if e.Source != consent.API || e.Actor != consent.ByAPI || e.APIToken != "ERP" {
			t.Errorf("API event recorded as %s/%s/%q", e.Source, e.Actor, e.APIToken)
		}
	}
	id := p.Customer.ID
	events := countRows(t, db, "consent_events")
	var e *consentdesk.Error
	for _, src := range []consent.Source{consent.PhoneRequest, consent.InPerson} {
		_, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: id, Source: src, StaffID: 1,
			Channels: map[consent.Channel]bool{consent.SMS: true, consent.Phone: true}})
		if !asError(err, &e) || e.Fields["channels.sms"] != "err.grant_needs_evidence" || e.Fields["channels.phone"] != "err.grant_needs_evidence" {
			t.Errorf("%s grant without evidence: %v", src, err)
		}
	}
	if n := countRows(t, db, "consent_events"); n != events {
		t.Errorf("refused grants left %d events", n-events)
	}
	// E-mail by phone waits for the customer's own confirmation.
	in2 := sampleOrder(t)
	in2.Customer.Email = "anruf@example.org"
	in2.Consent = orders.ConsentInput{Mode: orders.ModeTablet}
	p2, err := db.PlaceOrder(ctx, in2)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	ev, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p2.Customer.ID, Source: consent.PhoneRequest, Channels: map[consent.Channel]bool{consent.Email: true}})
	if err != nil || len(ev) != 1 || ev[0].OptInLevel != consent.ConfirmedOptIn || stateOf(t, db, p2.Customer.ID)[consent.Email].State != consent.Pending {
		t.Errorf("e-mail by phone: %+v %v", ev, err)
	}
	// A paper form: without a scan refused for post, with one recorded.
	paper := noConsentOrder(t, orders.Customer{ID: p2.Customer.ID})
	paper.Consent.Mode = orders.ModePaper
	po, err := db.PlaceOrder(ctx, paper)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p2.Customer.ID, OrderID: po.Order.ID, Source: consent.PaperForm,
		Channels: map[consent.Channel]bool{consent.Post: true}}); !asError(err, &e) || e.Fields["channels.post"] != "err.grant_needs_evidence" {
		t.Errorf("paper tick without scan: %v", err)
	}
	scan := []byte("%PDF-1.4\nsigned form")
	ev, err = db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p2.Customer.ID, OrderID: po.Order.ID, Source: consent.PaperForm,
		Channels: map[consent.Channel]bool{consent.Post: true}, Scan: scan})
	if err != nil || len(ev) != 1 || ev[0].EvidenceSHA256 != orders.SHA256Hex(scan) || ev[0].Actor != consent.ByStaff {
		t.Errorf("paper tick with scan: %+v %v", ev, err)
	}
	// Withdrawals need nothing.
	if ev, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: id, Source: consent.PhoneRequest, Channels: map[consent.Channel]bool{consent.Post: false}}); err != nil || len(ev) != 1 {
		t.Errorf("withdrawal by phone: %+v %v", ev, err)
	}
	verified(t, db)
}

// GDPR Art. 4(14), Art. 9: the signature is kept as a flat image only. An
// upload that carries a text chunk and stroke timing must not be stored
// as it came.
func TestSignatureStoredFlatWithoutMetadata_Art9(t *testing.T) {
	db := openDB(t)
	raw := withChunks(t, signaturePNG(t), map[string]string{
		"tEXt": "Comment\x00pressure=0.42,0.57,0.61",
		"zTXt": "",
		"iTXt": "StrokeTiming\x00\x00\x00\x00\x00t=0,16,33,50,66,83 ms",
	})
	in := sampleOrder(t)
	in.Consent.SignaturePNG = raw
	p, err := db.PlaceOrder(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := db.Signature(context.Background(), p.Order.ID)
	if err != nil || len(stored) == 0 {
		t.Fatal(err)
	}
	if bytes.Equal(stored, raw) {
		t.Fatal("the raw upload was stored")
	}
	for _, needle := range []string{"tEXt", "iTXt", "pressure", "StrokeTiming", "t=0,16"} {
		if bytes.Contains(stored, []byte(needle)) {
			t.Errorf("stored signature holds %q", needle)
		}
	}
	if p.Events[0].EvidenceSHA256 != orders.SHA256Hex(stored) {
		t.Error("the ledger's evidence is not the stored image")
	}
}

// withChunks inserts ancillary chunks after IHDR, with valid CRCs, so
// that a PNG decoder reads the image as before.
func withChunks(t *testing.T, png []byte, chunks map[string]string) []byte {
	t.Helper()
	const ihdrEnd = 8 + 4 + 4 + 13 + 4
	out := append([]byte{}, png[:ihdrEnd]...)
	for typ, data := range chunks {
		if data == "" {
			continue
		}
		var b bytes.Buffer
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.WriteString(data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
		out = append(out, b.Bytes()...)
	}
	return append(out, png[ihdrEnd:]...)
}

// §35(3) BDSG: a database from before the blocking list existed gets its
// withdrawals on the list when it is opened, so that a re-import cannot
// contact them again.
func TestBlockListFilledFromEarlierWithdrawals_BDSG35(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	p, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p.Customer.ID, Source: consent.PhoneRequest,
		Channels: map[consent.Channel]bool{consent.Email: false}}); err != nil {
		t.Fatal(err)
	}
	// As it was before: withdrawn in the ledger, nothing on the list.
	if _, err := db.SQL().Exec(`DELETE FROM block_list`); err != nil {
		t.Fatal(err)
	}
	path := db.Path
	db.Close()
	db, err = orderstest.Open(ctx, t, path, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if b, err := db.BlockedChannels(ctx, p.Customer); err != nil || !b[consent.Email] || b[consent.Post] {
		t.Fatalf("blocked after reopening: %v %v", b, err)
	}
	if _, err := db.ImportCustomers(ctx, []orders.Customer{{LastName: "Weiß", Email: "J.WEISS@example.org"}}); err != nil {
		t.Fatal(err)
	}
	l, _ := db.SearchCustomers(ctx, "weiss", 5)
	imported := 0
	for _, c := range l {
		if c.ID != p.Customer.ID && stateOf(t, db, c.ID)[consent.Email].Blocked {
			imported++
		}
	}
	if len(l) != 2 || imported != 1 {
		t.Errorf("re-import after the fill: %d records, %d blocked", len(l), imported)
	}
}

// §147 AO, §257 HGB as amended by BEG IV: commercial letters (the order
// confirmation among them) 6 years, accounting vouchers 8, books 10, each
// from the end of the calendar year; a setting below the minimum is
// refused. Prescriptions: a setting with its stated reason, printed in the
// notice.
func TestRetentionPeriodsAsTheLawSetsThem_AO147_HGB257(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	ctrl, _ := db.Controller(ctx)
	for field, set := range map[string]func(c *consent.Controller){
		"letter_retention_years": func(c *consent.Controller) { c.LetterRetentionYears = 5 },
		"order_retention_years":  func(c *consent.Controller) { c.OrderRetentionYears = 7 },
		"books_retention_years":  func(c *consent.Controller) { c.BooksRetentionYears = 9 },
	} {
		c := ctrl
		set(&c)
		var e *consentdesk.Error
		if err := db.SaveController(ctx, c, 0); !asError(err, &e) || e.Fields[field] == "" {
			t.Errorf("%s below the minimum: %v", field, err)
		}
	}
	// The deletion dates: an order with a deposit is a voucher, one
	// without a commercial letter.
	setClock(db, func() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) })
	withDeposit := sampleOrder(t)
	withDeposit.Pickup = nil
	p1, err := db.PlaceOrder(ctx, withDeposit)
	if err != nil {
		t.Fatal(err)
	}
	without := sampleOrder(t)
	without.Pickup, without.DepositCents = nil, 0
	without.Customer.Email = "ohne@example.org"
	p2, err := db.PlaceOrder(ctx, without)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id    int64
		until string
	}{{p1.Customer.ID, "2034-12-31"}, {p2.Customer.ID, "2032-12-31"}} {
		res, err := db.Erase(ctx, tc.id, 0)
		if err != nil || len(res.Kept) != 1 || res.Kept[0].DeleteAfter != tc.until {
			t.Errorf("kept %+v, want until %s (%v)", res.Kept, tc.until, err)
		}
	}
	setClock(db, func() time.Time { return time.Date(2033, 1, 1, 9, 0, 0, 0, time.UTC) })
	if r, err := db.ApplyRetention(ctx); err != nil || r.Orders != 1 {
		t.Errorf("on 1 January 2033: %+v %v", r, err)
	}
	if _, err := db.Order(ctx, p1.Order.ID); err != nil {
		t.Error("the voucher went before its 8 years")
	}
	setClock(db, func() time.Time { return time.Date(2035, 1, 1, 9, 0, 0, 0, time.UTC) })
	if r, err := db.ApplyRetention(ctx); err != nil || r.Orders != 1 {
		t.Errorf("on 1 January 2035: %+v %v", r, err)
	}
	// The notice prints the periods and the prescriptions' reason.
	setClock(db, time.Now)
	ctrl, _ = db.Controller(ctx)
	ctrl.RxRetentionYears, ctrl.RxRetentionReason = 5, "Folgeaufträge über mehrere Jahre"
	if err := db.SaveController(ctx, ctrl, 0); err != nil {
		t.Fatal(err)
	}
	n, _ := consent.CurrentNotice(ctx, db.SQL(), "de")
	for _, want := range []string{"Handelsbriefe, auch die Auftragsbestätigung, 6 Jahre", "Buchungsbelege, etwa bei einer Anzahlung, 8 Jahre", "Bücher 10 Jahre",
		"Brillenwerte: 5 Jahre", "Grund: Folgeaufträge über mehrere Jahre"} {
		if !strings.Contains(n.Text, want) {
			t.Errorf("notice lacks %q", want)
		}
	}
	if strings.Contains(n.Text, "wie in den Einstellungen") {
		t.Error("the notice still refers to the settings")
	}
	verified(t, db)
}

// Art. 8 GDPR by analogy: for a child under 16 a parent or guardian
// decides about marketing consent, and signs. The ledger names the
// representative (the relationship in the chain, the name beside it, so
// that an erasure removes it); a child who turns 16 is flagged.
func TestChildConsentNeedsAParent_Art8(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	setClock(db, func() time.Time { return time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC) })
	child := sampleOrder(t)
	child.Customer.FirstName, child.Customer.BirthDate = "Mia", "2014-05-01" // 12
	child.Consent.Channels = map[consent.Channel]bool{consent.Email: true}
	var e *consentdesk.Error
	if _, err := db.PlaceOrder(ctx, child); !asError(err, &e) || e.Fields["consent.representative.name"] != "err.child_needs_representative" {
		t.Fatalf("a child's consent without a parent: %v", err)
	}
	if countRows(t, db, "customers") != 0 || countRows(t, db, "consent_events") != 0 {
		t.Fatal("the refused order stored something")
	}
	child.Consent.Representative = &orders.Representative{Name: "Sabine Weiß", Relationship: "aunt"}
	if _, err := db.PlaceOrder(ctx, child); !asError(err, &e) || e.Fields["consent.representative.relationship"] != "err.choice_invalid" {
		t.Fatalf("an aunt as representative: %v", err)
	}
	child.Consent.Representative.Relationship = "mother"
	p, err := db.PlaceOrder(ctx, child)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range p.Events {
		if ev.RepresentativeOf != "mother" || ev.Representative != "Sabine Weiß" {
			t.Errorf("event %d: representative %q (%q)", ev.Seq, ev.Representative, ev.RepresentativeOf)
		}
	}
	// The child on their own preference page cannot consent for themself.
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p.Customer.ID, Source: consent.PreferencePage, ByCustomer: true,
		Channels: map[consent.Channel]bool{consent.Post: true}}); !asError(err, &e) || e.Fields["representative.name"] != "err.child_needs_representative" {
		t.Errorf("a child's own grant: %v", err)
	}
	// Marked under 16 without a date of birth: the same.
	marked := sampleOrder(t)
	marked.Customer.Email, marked.Customer.Under16 = "mark@example.org", true
	if _, err := db.PlaceOrder(ctx, marked); !asError(err, &e) || e.Fields["consent.representative.name"] == "" {
		t.Errorf("under 16 by the switch: %v", err)
	}
	// An adult needs nobody, and a representative for one is refused.
	adult := sampleOrder(t)
	adult.Customer.Email, adult.Customer.BirthDate = "adult@example.org", "1990-01-01"
	adult.Consent.Representative = &orders.Representative{Name: "X", Relationship: "father"}
	if _, err := db.PlaceOrder(ctx, adult); !asError(err, &e) || e.Fields["consent.representative.name"] != "err.representative_adult" {
		t.Errorf("a representative for an adult: %v", err)
	}
	// A birth date in the future is refused.
	bad := sampleOrder(t)
	bad.Customer.BirthDate = "2030-01-01"
	if _, err := db.PlaceOrder(ctx, bad); !asError(err, &e) || e.Fields["customer.birth_date"] != "err.birth_date_range" {
		t.Errorf("a birth date in the future: %v", err)
	}
	// Turning 16: flagged on the dashboard for renewal with the young customer.
	setClock(db, func() time.Time { return time.Date(2030, 5, 2, 9, 0, 0, 0, time.UTC) })
	if _, err := db.ConfirmEmail(ctx, p.Customer.ID); err != nil {
		t.Fatal(err)
	}
	d, err := db.DashboardData(ctx, 4)
	if err != nil || len(d.TurnedSixteen) != 1 || d.TurnedSixteen[0].CustomerID != p.Customer.ID {
		t.Errorf("turned 16: %+v %v", d.TurnedSixteen, err)
	}
	// An erasure removes the representative's name; the chain verifies.
	if _, err := db.Erase(ctx, p.Customer.ID, 0); err != nil {
		t.Fatal(err)
	}
	_, events, _ := db.Consents(ctx, p.Customer.ID)
	for _, ev := range events {
		if ev.Representative != "" {
			t.Errorf("event %d keeps the representative's name", ev.Seq)
		}
	}
	verified(t, db)
}

// GDPR Art. 33(5): the breach register records facts, effects and
// remedies; it is append-only; the 72 hours of Art. 33(1) run from when
// the store noticed, until the authority notification is recorded.
func TestBreachRegister_Art33(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	var e *consentdesk.Error
	if _, err := db.RecordBreach(ctx, orders.Breach{OccurredAt: "2026-11-20T08:00:00+01:00", NoticedAt: "2026-11-19T08:00:00+01:00"}); !asError(err, &e) ||
		e.Fields["facts"] != "err.required" || e.Fields["noticed_at"] != "err.breach_noticed_before" {
		t.Fatalf("an incomplete breach: %v", err)
	}
	if countRows(t, db, "breaches") != 0 {
		t.Fatal("a refused breach was stored")
	}
	b, err := db.RecordBreach(ctx, orders.Breach{OccurredAt: "2026-11-20T08:00:00+01:00", NoticedAt: "2026-11-20T10:00:00+01:00",
		Facts: "Ein Tablet mit angemeldeter Sitzung wurde gestohlen.", Categories: "Kundinnen und Kunden: Name, Anschrift, Brillenwerte",
		People: 40, Records: 55, HealthData: true, Consequences: "Missbrauch der Anschriften möglich.", Measures: "Sitzungen beendet, PINs neu gesetzt."})
	if err != nil {
		t.Fatal(err)
	}
	if b.Deadline != "2026-11-23T09:00:00Z" || b.AuthorityNotifiedAt != "" {
		t.Errorf("deadline %s, notified %q", b.Deadline, b.AuthorityNotifiedAt)
	}
	if open, _ := db.OpenBreaches(ctx); len(open) != 1 {
		t.Errorf("open breaches: %d", len(open))
	}
	for _, q := range []string{`UPDATE breaches SET facts = 'nichts'`, `DELETE FROM breaches`} {
		if _, err := db.SQL().Exec(q); err == nil {
			t.Errorf("%s: the register is not append-only", q)
		}
	}
	if err := db.NoteBreach(ctx, b.ID, "authority_notified", time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), 0, "Meldung über das Online-Formular", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec(`DELETE FROM breach_events`); err == nil {
		t.Error("breach events can be deleted")
	}
	b, _ = db.Breach(ctx, b.ID)
	if b.AuthorityNotifiedAt != "2026-11-21T09:00:00Z" {
		t.Errorf("notified at %q", b.AuthorityNotifiedAt)
	}
	if open, _ := db.OpenBreaches(ctx); len(open) != 0 {
		t.Errorf("still open after the notification: %d", len(open))
	}
	if err := db.NoteBreach(ctx, 99, "note", time.Time{}, 0, "x", 0); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("a note on no breach: %v", err)
	}
}

// Recital 47, Art. 21 GDPR; OLG Frankfurt 6 U 54/19: a store may send
// advertising letters on legitimate interest. Then there is no post box,
// the notice sets the right to object apart, the basis is recorded on post
// events and in the export, and an objection is recorded and blocks.
func TestPostOnLegitimateInterest_Recital47(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	ctrl, _ := db.Controller(ctx)
	ctrl.PostBasis = string(consent.BasisLegitimateInterest)
	if err := db.SaveController(ctx, ctrl, 0); err != nil {
		t.Fatal(err)
	}
	n, _ := consent.CurrentNotice(ctx, db.SQL(), "de")
	if !strings.Contains(n.Text, "Widerspruch gegen Werbung per Brief") || !strings.Contains(n.Text, "Art. 6 Abs. 1 lit. f DSGVO, Erwägungsgrund 47") ||
		strings.Contains(n.Text, "Per Post, E-Mail, SMS oder Telefon informieren wir Sie über Angebote nur") {
		t.Errorf("notice on legitimate interest:\n%s", n.Text)
	}
	in := sampleOrder(t)
	var e *consentdesk.Error
	if _, err := db.PlaceOrder(ctx, in); !asError(err, &e) || e.Fields["consent.channels.post"] != "err.post_legitimate_interest" {
		t.Fatalf("a post box on legitimate interest: %v", err)
	}
	in.Consent.Channels = map[consent.Channel]bool{consent.Email: true}
	p, err := db.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	list, err := db.Contactable(ctx, consent.Post)
	if err != nil || len(list) != 1 || list[0].LegalBasis != consent.BasisLegitimateInterest || list[0].ConsentDate != "" {
		t.Fatalf("post contactable on legitimate interest: %+v %v", list, err)
	}
	if l, _ := db.Contactable(ctx, consent.Email); len(l) != 0 {
		t.Error("e-mail still needs its confirmed consent")
	}
	ev, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p.Customer.ID, Source: consent.QRCode, ByCustomer: true, Object: true,
		Channels: map[consent.Channel]bool{consent.Post: false}})
	if err != nil || len(ev) != 1 || ev[0].LegalBasis != consent.BasisLegitimateInterest || ev[0].Action != consent.Withdraw {
		t.Fatalf("objection to letters: %+v %v", ev, err)
	}
	if l, _ := db.Contactable(ctx, consent.Post); len(l) != 0 {
		t.Error("an objected customer is still in the letter export")
	}
	if b, _ := db.BlockedChannels(ctx, p.Customer); !b[consent.Post] {
		t.Error("the objection to letters does not block")
	}
	// A store whose own notice text does not say it cannot switch.
	db2 := openDB(t)
	own := strings.Repeat("Unser eigener Hinweistext: Werbung nur mit Einwilligung. ", 5)
	if _, err := db2.PublishNotice(ctx, "de", own, 0); err != nil {
		t.Fatal(err)
	}
	c2, _ := db2.Controller(ctx)
	c2.PostBasis = string(consent.BasisLegitimateInterest)
	if err := db2.SaveController(ctx, c2, 0); !asError(err, &e) || e.Fields["post_basis"] != "err.notice_post_basis" {
		t.Errorf("switch with a notice that promises consent: %v", err)
	}
	verified(t, db)
}

// EDPB 05/2020: no switching of the legal basis afterwards. A customer
// asked for a post consent before the store moved letters to legitimate
// interest, who did not give it, gets no letters on the new basis; one who
// consented, or who comes after the switch, does.
func TestNoSwitchOfBasisAfterwards_EDPB(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	setClock(db, func() time.Time { return time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC) })
	place := func(last string, post bool) int64 {
		in := sampleOrder(t)
		in.Pickup = nil
		in.Customer.LastName, in.Customer.Email = last, strings.ToLower(last)+"@example.org"
		in.Consent.Channels = map[consent.Channel]bool{consent.Post: post}
		p, err := db.PlaceOrder(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return p.Customer.ID
	}
	declined, consented := place("Nein", false), place("Ja", true)
	setClock(db, func() time.Time { return time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC) })
	ctrl, _ := db.Controller(ctx)
	ctrl.PostBasis = string(consent.BasisLegitimateInterest)
	if err := db.SaveController(ctx, ctrl, 0); err != nil {
		t.Fatal(err)
	}
	setClock(db, func() time.Time { return time.Date(2026, 8, 1, 10, 0, 0, 0, time.UTC) })
	newcomer := place("Neu", false)
	list, err := db.Contactable(ctx, consent.Post)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, c := range list {
		got = append(got, c.CustomerID)
	}
	if len(got) != 2 || got[0] != consented || got[1] != newcomer {
		t.Errorf("letters on legitimate interest to %v, want %d and %d, not %d", got, consented, newcomer, declined)
	}
}

// PIN guessing really stops after five tries: 64 guesses at
// once get at most five compared, and the right PIN sent after them finds
// the account locked.
func TestPINGuessingStopsAfterFive(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	anna, err := db.AddStaff(ctx, "Anna", "4711", orders.RoleCounter, orders.HomeStore(orders.RoleCounter))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	compared := 0
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, err := db.SignIn(ctx, orders.Login{StaffID: anna.ID, PIN: fmt.Sprintf("%04d", 5000+i), Lang: "de", Client: "local"})
			if consentdesk.ErrorCode(err) == consentdesk.Denied {
				mu.Lock()
				compared++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if compared > orders.MaxPINTries {
		t.Errorf("%d wrong PINs compared before the lock", compared)
	}
	if _, _, err := db.SignIn(ctx, orders.Login{StaffID: anna.ID, PIN: "4711", Lang: "de", Client: "local"}); consentdesk.ErrorCode(err) != consentdesk.Locked {
		t.Errorf("the right PIN after the guesses: %v", err)
	}
}

// Trivial PINs are refused, and a manager's has at least six digits.
func TestTrivialPINsRefused(t *testing.T) {
	for pin, role := range map[string]string{"1234": "counter", "4321": "counter", "0000": "counter", "1212": "counter", "2580": "counter",
		"123456": "manager", "4711": "manager", "12": "counter", "12a4": "counter"} {
		if err := orders.ValidatePIN(pin, role); consentdesk.ErrorCode(err) != consentdesk.Invalid {
			t.Errorf("%s for a %s: accepted", pin, role)
		}
	}
	for pin, role := range map[string]string{"4711": "counter", "3851": "counter", "471108": "manager", "90817263": "manager"} {
		if err := orders.ValidatePIN(pin, role); err != nil {
			t.Errorf("%s for a %s: %v", pin, role, err)
		}
	}
}

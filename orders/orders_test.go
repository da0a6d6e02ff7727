package orders_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/orderstest"
	"golang.org/x/crypto/bcrypt"
)

func openDB(t testing.TB) *orders.DB {
	t.Helper()
	return openDBWith(t, orders.Options{})
}

// openDBWith opens a test database with options; its clock is a
// testClock that setClock moves (Options are fixed at Open).
func openDBWith(t testing.TB, opts orders.Options) *orders.DB {
	t.Helper()
	return openDBAt(t, filepath.Join(t.TempDir(), "test.db"), opts)
}

// openDBAt is openDBWith at path (opened again at the same path, the
// same database on either engine).
func openDBAt(t testing.TB, path string, opts orders.Options) *orders.DB {
	t.Helper()
	c := &testClock{}
	opts.Now = c.Now
	db, err := orderstest.Open(context.Background(), t, path, assets.Migrations(), opts)
	if err != nil {
		t.Fatal(err)
	}
	clocks.Store(db, c)
	t.Cleanup(func() { db.Close() })
	if _, err := db.EnsureStore(context.Background(), assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	return db
}

// testClock is a test's clock: the real time until a test sets another.
// It is safe to set while the database's goroutines read it.
type testClock struct {
	f atomic.Pointer[func() time.Time]
}

func (c *testClock) Now() time.Time {
	if f := c.f.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

var clocks sync.Map // *orders.DB → *testClock

// setClock makes f the clock of a database opened by openDB.
func setClock(db *orders.DB, f func() time.Time) {
	c, ok := clocks.Load(db)
	if !ok {
		panic("setClock: database not opened by openDB")
	}
	c.(*testClock).f.Store(&f)
}

func f(v float64) *float64 { return &v }

func signaturePNG(t testing.TB) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 300, 100))
	for x := 20; x < 280; x++ {
		img.Set(x, 50+(x%20)-10, color.NRGBA{0, 0, 0, 255})
		img.Set(x, 51+(x%20)-10, color.NRGBA{0, 0, 0, 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sampleOrder(t testing.TB) orders.NewOrder {
	// Four days ahead of the day the tests run: a fixed date would turn
	// into "pickup in the past" a day after it, and refuse every order.
	day := time.Now().AddDate(0, 0, 4)
	start := time.Date(day.Year(), day.Month(), day.Day(), 10, 0, 0, 0, time.FixedZone("CET", 3600))
	return orders.NewOrder{
		Customer: orders.Customer{Salutation: "Frau", FirstName: "Jürgen", LastName: "Weiß", Street: "Hauptstraße 1", PostalCode: "79098",
			City: "Freiburg", Email: "j.weiss@Example.ORG", Mobile: "0170 1234567"},
		Items:        []orders.Item{{Description: "Gleitsichtgläser", Quantity: 2, UnitPriceCents: 24900, VATRatePercent: 19}, {Description: "Pflegemittel", Quantity: 1, UnitPriceCents: 1290, VATRatePercent: 7}},
		DepositCents: 10000,
		Pickup:       &orders.Pickup{Start: start, End: start.Add(30 * time.Minute)},
		Consent: orders.ConsentInput{Mode: orders.ModeTablet, Channels: map[consent.Channel]bool{consent.Post: true, consent.Email: true},
			SignaturePNG: signaturePNG(t), HealthData: true},
		Prescription: &orders.Prescription{Right: orders.Eye{Sph: f(-1.25), Cyl: f(-0.5), Axis: f(90), Add: f(2), PD: f(32)},
			Left: orders.Eye{Sph: f(-1), Cyl: f(0), Axis: f(0), Add: f(2), PD: f(31.5)}},
	}
}

func fixedNow(db *orders.DB) {
	setClock(db, func() time.Time { return time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC) })
}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(orderstest.Main(m))
}

func TestPlaceOrder(t *testing.T) {
	db := openDB(t)
	fixedNow(db)
	ctx := context.Background()
	p, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Order.Number != "2026-000001" {
		t.Errorf("number = %q", p.Order.Number)
	}
	if p.Customer.Email != "j.weiss@example.org" || p.Customer.Mobile != "+491701234567" {
		t.Errorf("not normalised: %q %q", p.Customer.Email, p.Customer.Mobile)
	}
	if p.Order.TotalCents != 2*24900+1290 {
		t.Errorf("total = %d", p.Order.TotalCents)
	}
	if !p.PrescriptionStored {
		t.Error("prescription with consent not stored")
	}
	// health data, post, e-mail: three grants; and the cells the customer
	// was shown and left off, recorded as declines (§7(3) UWG asks who was
	// asked): the other three topics by post and by e-mail, and SMS and
	// phone whole (one event for every topic). Each with the notice and
	// the signature's hash.
	grants, declines := 0, map[string]bool{}
	for _, e := range p.Events {
		switch e.Action {
		case consent.Grant:
			grants++
		case consent.Decline:
			declines[string(e.Channel)+":"+e.Topic] = true
		}
	}
	if grants != 3 || len(p.Events) != 3+8 {
		t.Fatalf("events = %d, grants %d", len(p.Events), grants)
	}
	for _, want := range []string{"post:eye_test", "post:contact_lenses", "post:events", "email:eye_test", "email:contact_lenses", "email:events", "sms:*", "phone:*"} {
		if !declines[want] {
			t.Errorf("no decline of %s: %v", want, declines)
		}
	}
	notice, err := db.CurrentNotice(ctx, "de")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Events {
		if e.NoticeVersionID != "de-1" || e.NoticeSHA256 == "" || e.EvidenceSHA256 != p.Order.SignatureSHA256 || e.Actor != consent.ByCustomer || e.OrderID != p.Order.ID {
			t.Errorf("event lacks proof: %+v", e)
		}
		// The notice is cited without its text being read (NoticeRef):
		// by the hash of the very text in force.
		if e.NoticeSHA256 != notice.SHA256 || notice.SHA256 != orders.SHA256Hex([]byte(notice.Text)) {
			t.Errorf("event cites notice hash %s, the text in force hashes to %s", e.NoticeSHA256, orders.SHA256Hex([]byte(notice.Text)))
		}
	}
	states, _, err := db.Consents(ctx, p.Customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[consent.Channel]consent.State{consent.Post: consent.Granted, consent.Email: consent.Pending, consent.SMS: consent.None, consent.Phone: consent.None, consent.HealthData: consent.Granted}
	for ch, s := range want {
		if states[ch].State != s {
			t.Errorf("%s: state %s, want %s", ch, states[ch].State, s)
		}
	}
	got, err := db.Order(ctx, p.Order.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 2 || got.Pickup == nil || !got.Pickup.Start.Equal(sampleOrder(t).Pickup.Start) || !got.HasPrescription {
		t.Errorf("order read back wrong: %+v", got)
	}
	rx, err := db.Prescription(ctx, p.Order.ID)
	if err != nil || rx == nil || *rx.Right.Sph != -1.25 || *rx.Left.PD != 31.5 {
		t.Errorf("prescription read back: %+v %v", rx, err)
	}
	// A second order of the same year gets the next number.
	in := sampleOrder(t)
	in.Customer = orders.Customer{ID: p.Customer.ID}
	p2, err := db.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Order.Number != "2026-000002" || p2.Customer.ID != p.Customer.ID {
		t.Errorf("second order: %s customer %d", p2.Order.Number, p2.Customer.ID)
	}
	// Post and e-mail were already given: no duplicate grants.
	for _, e := range p2.Events {
		if e.Channel == consent.Post || e.Channel == consent.Email {
			t.Errorf("duplicate grant %+v", e)
		}
	}
}

// A withdrawal from the mail's one-click link cites the notice in force
// as the order did, by id and by the hash of its text (NoticeRef); a
// language without a notice is not found.
func TestWithdrawalCitesTheNoticeInForce(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	p, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	notice, err := db.CurrentNotice(ctx, "de")
	if err != nil {
		t.Fatal(err)
	}
	w, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p.Customer.ID, Source: consent.EmailLink, ByCustomer: true,
		Object: true, Channels: map[consent.Channel]bool{consent.Email: false}})
	if err != nil || len(w) == 0 {
		t.Fatalf("withdrawal: %v, %d events", err, len(w))
	}
	for _, e := range w {
		if e.NoticeVersionID != notice.ID || e.NoticeSHA256 != notice.SHA256 {
			t.Errorf("withdrawal cites %s %s, want %s %s", e.NoticeVersionID, e.NoticeSHA256, notice.ID, notice.SHA256)
		}
	}
	if _, err := consent.CurrentNoticeRefIn(ctx, db.SQL(), 0, "fr"); consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("the notice of a language without one: %v", err)
	}
}

func TestOrderWithEveryChannelOff(t *testing.T) {
	// GDPR Art. 7(4): the order never depends on consent.
	db := openDB(t)
	in := sampleOrder(t)
	in.Consent = orders.ConsentInput{Mode: orders.ModeTablet}
	p, err := db.PlaceOrder(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing granted; each channel shown with every topic left off, one
	// decline each, which changes no state.
	for _, e := range p.Events {
		if e.Action != consent.Decline || e.Topic != consent.AllTopics {
			t.Errorf("event with every channel off: %+v", e)
		}
	}
	if len(p.Events) != len(consent.Channels) || p.PrescriptionStored {
		t.Errorf("events %d, prescription stored %v", len(p.Events), p.PrescriptionStored)
	}
	states, _, _ := db.Consents(context.Background(), p.Customer.ID)
	for _, ch := range consent.Channels {
		if states[ch].State != consent.None || !states[ch].Declined {
			t.Errorf("%s after a decline: %+v", ch, states[ch])
		}
	}
	if rx, _ := db.Prescription(context.Background(), p.Order.ID); rx != nil {
		t.Error("prescription stored without explicit consent")
	}
}

func TestHealthCareBasisStoresWithoutConsentEvent(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	c, _ := db.Controller(ctx)
	c.HealthBasis = string(consent.BasisHealthCare)
	if err := db.SaveController(ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	in := sampleOrder(t)
	in.Consent.HealthData = false
	p, err := db.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !p.PrescriptionStored {
		t.Error("health care basis should store the prescription")
	}
	for _, e := range p.Events {
		if e.Channel == consent.HealthData {
			t.Error("no consent event under Art. 9(2)(h)")
		}
	}
}

func countRows(t *testing.T, db *orders.DB, table string) int {
	var n int
	if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestValidationChangesNothing(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		edit  func(*orders.NewOrder)
		field string
		key   string
	}{
		{"no last name", func(o *orders.NewOrder) { o.Customer.LastName = " " }, "customer.last_name", "err.required"},
		{"bad e-mail", func(o *orders.NewOrder) { o.Customer.Email = "jw@" }, "customer.email", "err.email_invalid"},
		{"display name e-mail", func(o *orders.NewOrder) { o.Customer.Email = "J <j@example.org>" }, "customer.email", "err.email_invalid"},
		{"bad mobile", func(o *orders.NewOrder) { o.Customer.Mobile = "12" }, "customer.mobile", "err.phone_invalid"},
		{"landline as mobile", func(o *orders.NewOrder) { o.Customer.Mobile = "0761 123456" }, "customer.mobile", "err.mobile_not_mobile"},
		{"no contact", func(o *orders.NewOrder) {
			o.Customer = orders.Customer{LastName: "Weiß"}
			o.Consent.Channels = nil
		}, "customer.email", "err.contact_required"},
		{"control chars", func(o *orders.NewOrder) { o.Customer.City = "Frei\x00burg" }, "customer.city", "err.control_chars"},
		{"bidi override", func(o *orders.NewOrder) { o.Customer.FirstName = "J\u202eneguJ" }, "customer.first_name", "err.control_chars"},
		{"no items", func(o *orders.NewOrder) { o.Items = nil }, "items", "err.items_required"},
		{"vat 16", func(o *orders.NewOrder) { o.Items[0].VATRatePercent = 16 }, "items.0.vat_rate_percent", "err.vat_rate"},
		{"zero quantity", func(o *orders.NewOrder) { o.Items[1].Quantity = 0 }, "items.1.quantity", "err.quantity_range"},
		{"negative price", func(o *orders.NewOrder) { o.Items[0].UnitPriceCents = -1 }, "items.0.unit_price_cents", "err.price_range"},
		{"deposit above total", func(o *orders.NewOrder) { o.DepositCents = 1_000_000 }, "deposit_cents", "err.deposit_range"},
		{"pickup ends first", func(o *orders.NewOrder) { o.Pickup.End = o.Pickup.Start.Add(-time.Minute) }, "pickup.end", "err.pickup_end_before_start"},
		{"sphere out of range", func(o *orders.NewOrder) { o.Prescription.Right.Sph = f(-42) }, "prescription.right.sph", "err.rx_range_sph"},
		{"sphere off step", func(o *orders.NewOrder) { o.Prescription.Left.Sph = f(-1.1) }, "prescription.left.sph", "err.rx_step_sph"},
		{"axis out of range", func(o *orders.NewOrder) { o.Prescription.Right.Axis = f(181) }, "prescription.right.axis", "err.rx_range_axis"},
		{"cyl without axis", func(o *orders.NewOrder) { o.Prescription.Left.Cyl = f(-1); o.Prescription.Left.Axis = nil }, "prescription.left.axis", "err.rx_axis_required"},
		{"pd out of range", func(o *orders.NewOrder) { o.Prescription.Left.PD = f(80) }, "prescription.left.pd", "err.rx_range_pd"},
		{"unknown mode", func(o *orders.NewOrder) { o.Consent.Mode = "fax" }, "consent.mode", "err.choice_invalid"},
		{"paper with ticks", func(o *orders.NewOrder) { o.Consent.Mode = orders.ModePaper }, "consent.channels.post", "err.paper_mode_no_ticks"},
		{"sms without mobile", func(o *orders.NewOrder) {
			o.Customer.Mobile = ""
			o.Consent.Channels = map[consent.Channel]bool{consent.SMS: true}
		}, "consent.channels.sms", "err.channel_needs_contact_sms"},
		{"unknown channel", func(o *orders.NewOrder) { o.Consent.Channels = map[consent.Channel]bool{"fax": true} }, "consent.channels.fax", "err.channel_unknown"},
		{"not a png", func(o *orders.NewOrder) { o.Consent.SignaturePNG = []byte("GIF89a") }, "consent.signature_png", "err.signature_not_png"},
		{"reused customer missing", func(o *orders.NewOrder) { o.Customer = orders.Customer{ID: 999} }, "customer.id", "err.customer_not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := sampleOrder(t)
			tc.edit(&in)
			_, err := db.PlaceOrder(ctx, in)
			var e *consentdesk.Error
			if !errors.As(err, &e) || e.Code != consentdesk.Invalid {
				t.Fatalf("err = %v, want invalid", err)
			}
			if e.Fields[tc.field] != tc.key {
				t.Errorf("fields = %v, want %s: %s", e.Fields, tc.field, tc.key)
			}
			for _, table := range []string{"customers", "orders", "order_items", "consent_events", "documents", "prescriptions", "outbox"} {
				if n := countRows(t, db, table); n != 0 {
					t.Errorf("%s has %d rows after a refused order", table, n)
				}
			}
		})
	}
}

var plainPD = regexp.MustCompile(`33\.5([^0-9Z]|$)`)

func TestPrescriptionIsEncryptedAtRest(t *testing.T) {
	db := openDB(t)
	in := sampleOrder(t)
	// Distinctive values that would show in plain JSON.
	in.Prescription.Right.Sph = f(-7.75)
	in.Prescription.Left.PD = f(33.5)
	if _, err := db.PlaceOrder(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	files := orderstest.Files(t, db)
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, needle := range []string{"-7.75", `"sph"`, `"pd"`} {
			if bytes.Contains(raw, []byte(needle)) {
				t.Errorf("%s contains %q in plain text", filepath.Base(file), needle)
			}
		}
		// 33.5 also stands in any time stamp written at second 33 of a
		// minute ("…:33.5123Z"); a stored value is not followed by more
		// digits of a fraction or by the Z of a time.
		if m := plainPD.Find(raw); m != nil {
			t.Errorf("%s contains %q in plain text", filepath.Base(file), m)
		}
	}
	// The key lives beside the database, not inside it.
	key, err := os.ReadFile(db.Path + ".key")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		raw, _ := os.ReadFile(file)
		if bytes.Contains(raw, bytes.TrimSpace(key)) {
			t.Error("the key is inside the database")
		}
	}
}

func TestConcurrentOrdersKeepChainAndNumbers(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.PlaceOrder(ctx, sampleOrder(t))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	v, err := db.Verify(ctx)
	if err != nil || !v.OK || v.Events != 16*(3+8) { // three grants and eight declines an order (TestPlaceOrder)
		t.Fatalf("verify = %+v, %v", v, err)
	}
	var distinct int
	db.SQL().QueryRow(`SELECT COUNT(DISTINCT number) FROM orders`).Scan(&distinct)
	if distinct != 16 {
		t.Errorf("distinct numbers = %d", distinct)
	}
}

func TestPaperModeThenTicks(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	in := sampleOrder(t)
	in.Consent = orders.ConsentInput{Mode: orders.ModePaper}
	p, err := db.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	scan := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 100)...)
	events, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p.Customer.ID, Channels: map[consent.Channel]bool{consent.SMS: true, consent.Post: false},
		Source: consent.PaperForm, StaffID: 1, Scan: scan})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Channel != consent.SMS || events[0].Actor != consent.ByStaff || events[0].OrderID != p.Order.ID ||
		events[0].EvidenceSHA256 != orders.SHA256Hex(scan) || events[0].NoticeVersionID != p.Order.NoticeVersionID {
		t.Fatalf("events = %+v", events)
	}
	// A scan that is no PDF, JPEG or PNG is refused, and nothing is written.
	before := countRows(t, db, "consent_events")
	_, err = db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p.Customer.ID, Channels: map[consent.Channel]bool{consent.Phone: true},
		Source: consent.PaperForm, Scan: []byte("#!/bin/sh\nrm -rf /")})
	if consentdesk.ErrorCode(err) != consentdesk.Invalid || countRows(t, db, "consent_events") != before {
		t.Fatalf("bad scan: err %v", err)
	}
	// By phone, "false" withdraws.
	events, err = db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p.Customer.ID, Channels: map[consent.Channel]bool{consent.SMS: false}, Source: consent.PhoneRequest, Note: "Anruf"})
	if err != nil || len(events) != 1 || events[0].Action != consent.Withdraw {
		t.Fatalf("withdraw: %+v %v", events, err)
	}
}

func TestSignInLockout(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	s, err := db.AddStaff(ctx, "Anna", "4711", orders.RoleCounter, orders.HomeStore(orders.RoleCounter))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.SignIn(ctx, orders.Login{StaffID: s.ID, PIN: "4711", Lang: "de", Client: "local"}); err != nil {
		t.Fatalf("right PIN refused: %v", err)
	}
	for i := 0; i < orders.MaxPINTries; i++ {
		if _, _, err := db.SignIn(ctx, orders.Login{StaffID: s.ID, PIN: "0000", Lang: "de", Client: "local"}); consentdesk.ErrorCode(err) != consentdesk.Denied {
			t.Fatalf("try %d: %v", i, err)
		}
	}
	if _, _, err := db.SignIn(ctx, orders.Login{StaffID: s.ID, PIN: "4711", Lang: "de", Client: "local"}); consentdesk.ErrorCode(err) != consentdesk.Locked {
		t.Fatalf("locked account let the right PIN in: %v", err)
	}
	later := time.Now().Add(orders.LockDuration + time.Minute)
	setClock(db, func() time.Time { return later })
	token, _, err := db.SignIn(ctx, orders.Login{StaffID: s.ID, PIN: "4711", Lang: "de", Client: "local"})
	if err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	if sess, err := db.Session(ctx, token); err != nil || sess.Staff.ID != s.ID {
		t.Fatalf("session: %+v %v", sess, err)
	}
	var stored int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM sessions WHERE id_hash = ?`, token).Scan(&stored)
	if stored != 0 {
		t.Error("session token stored in clear")
	}
	var hash string
	db.SQL().QueryRow(`SELECT pin_hash FROM staff WHERE id = ?`, s.ID).Scan(&hash)
	if !strings.HasPrefix(hash, "$2") {
		t.Errorf("PIN not bcrypt-hashed: %q", hash)
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != orders.PINCost {
		t.Errorf("PIN hashed at cost %d (%v), want orders.PINCost %d", cost, err, orders.PINCost)
	}
}

// The stores' PINs are hashed at bcrypt's default cost; only the test
// suites lower it (orderstest.Main, which keeps the value it found).
func TestPINCostIsBcryptsDefaultOutsideTests(t *testing.T) {
	if orderstest.PINCost != bcrypt.DefaultCost || orders.PINCost != bcrypt.MinCost {
		t.Errorf("orders.PINCost: %d before the tests, %d in them; want %d and %d", orderstest.PINCost, orders.PINCost, bcrypt.DefaultCost, bcrypt.MinCost)
	}
}

// A damaged nonce (a hand-edited or half-restored row) is an error on the
// order page, not a panic inside cipher.AEAD.Open.
func TestDamagedPrescriptionNonceIsAnError(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	p, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, nonce := range [][]byte{{}, {1, 2, 3}, bytes.Repeat([]byte{7}, 40)} {
		if _, err := db.SQL().Exec(`UPDATE prescriptions SET nonce = ? WHERE order_id = ?`, nonce, p.Order.ID); err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("nonce of %d bytes: panic %v", len(nonce), r)
				}
			}()
			if rx, err := db.Prescription(ctx, p.Order.ID); err == nil || rx != nil {
				t.Errorf("nonce of %d bytes: %v, %v; want an error", len(nonce), rx, err)
			}
		}()
	}
}

// The public pages mask contacts: enough to recognise, no
// more.
func TestMaskContact(t *testing.T) {
	for in, want := range map[string]string{
		"j.weiss@example.org":           "j.w•••@example.org",
		"jo@example.org":                "j•••@example.org",
		"+491701234567":                 "+49 170 •••• 567",
		"+4976112345678":                "+49 761 •••• 678",
		"Hauptstraße 1, 79098 Freiburg": "Hauptstraße •, 79098 Freiburg",
		"Am Rain 12a, 79098 Freiburg":   "Am Rain •, 79098 Freiburg",
		"":                              "",
	} {
		if got := orders.MaskContact(in); got != want {
			t.Errorf("MaskContact(%q) = %q, want %q", in, got, want)
		}
	}
}

package orders_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
)

// Another program may not grant on the customer's word alone (Art. 7(1);
// CJEU C-61/19): through the API a grant of post, SMS or phone, and the
// prescription consent, needs the customer's signature; an e-mail grant
// without one waits for the customer's own double opt-in.
func TestAPIGrantsNeedEvidence_Art7(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if err := db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	api := func(cells map[consent.Channel][]string, health bool, signed bool) (orders.Placed, error) {
		in := sampleOrder(t)
		in.APIToken = "ERP"
		in.Consent = orders.ConsentInput{Mode: orders.ModeTablet, Cells: cells, HealthData: health}
		if signed {
			in.Consent.SignaturePNG = signaturePNG(t)
		}
		return db.PlaceOrder(ctx, in)
	}
	before := countRows(t, db, "orders")
	for _, tc := range []struct {
		cells  map[consent.Channel][]string
		health bool
		field  string
	}{
		{map[consent.Channel][]string{consent.Post: {consent.TopicOffers}}, false, "consent.cells.post"},
		{map[consent.Channel][]string{consent.SMS: {consent.TopicEyeTest}}, false, "consent.cells.sms"},
		{map[consent.Channel][]string{consent.Phone: {consent.TopicEvents}}, false, "consent.cells.phone"},
		{map[consent.Channel][]string{}, true, "consent.health_data"},
	} {
		_, err := api(tc.cells, tc.health, false)
		var ce *consentdesk.Error
		if !asError(err, &ce) || ce.Fields[tc.field] != "err.grant_needs_signature" {
			t.Errorf("%v without a signature: %v", tc.cells, err)
		}
	}
	if n := countRows(t, db, "orders"); n != before {
		t.Fatalf("a refused order was stored: %d → %d", before, n)
	}
	p, err := api(map[consent.Channel][]string{consent.Email: {consent.TopicEyeTest}}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	cells, _ := db.ConsentTopics(ctx, p.Customer.ID)
	if st := cells[consent.Email][consent.TopicEyeTest]; st.State != consent.Pending {
		t.Errorf("an e-mail grant through the API without a signature: %+v, want pending", st)
	}
	if _, err := api(map[consent.Channel][]string{consent.Post: {consent.TopicOffers}}, true, true); err != nil {
		t.Errorf("signed: %v", err)
	}
}

// The eye test reminder counts from an eye test in this store only: an
// outside prescription is not "your last eye test with us" (CJEU
// C-184/20: the date reveals health data; it is used only as the
// customer explicitly consented).
func TestEyeTestRecallNeverFromAnOutsidePrescription_Art9(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if err := db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	longAgo := time.Now().AddDate(0, -25, 0).Format("2006-01-02")
	place := func(email string, external bool) int64 {
		in := sampleOrder(t)
		in.Customer.Email = email
		in.Consent = orders.ConsentInput{Mode: orders.ModeTablet, HealthData: true, SignaturePNG: signaturePNG(t),
			Cells: map[consent.Channel][]string{consent.Email: {consent.TopicEyeTest}}}
		in.Prescription.MeasuredOn, in.Prescription.External = longAgo, external
		p, err := db.PlaceOrder(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return p.Customer.ID
	}
	here := place("hier@example.org", false)
	place("augenarzt@example.org", true)
	list, err := db.Recalls(ctx, consent.TopicEyeTest)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].CustomerID != here {
		t.Errorf("eye test recalls: %+v, want only the customer measured here", list)
	}
}

// No letter on legitimate interest to a child (GDPR Art. 6(1)(f) "in
// particular where the data subject is a child", recital 38).
func TestNoLettersOnLegitimateInterestToAChild_Recital38(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	ctrl, _ := db.Controller(ctx)
	ctrl.PostBasis = string(consent.BasisLegitimateInterest)
	if _, err := db.SaveSettings(ctx, ctrl, 0); err != nil {
		t.Fatal(err)
	}
	place := func(name string, child bool) int64 {
		in := sampleOrder(t)
		in.Customer.LastName, in.Customer.Email, in.Customer.Under16 = name, strings.ToLower(name)+"@example.org", child
		in.Consent = orders.ConsentInput{Mode: orders.ModePaper}
		in.Prescription = nil
		p, err := db.PlaceOrder(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return p.Customer.ID
	}
	adult, child := place("Erwachsen", false), place("Kind", true)
	list, err := db.Contactable(ctx, consent.Post)
	if err != nil {
		t.Fatal(err)
	}
	found := map[int64]bool{}
	for _, c := range list {
		found[c.CustomerID] = true
	}
	if !found[adult] || found[child] {
		t.Errorf("letters on legitimate interest: adult %v, child %v", found[adult], found[child])
	}
}

// The notice says what the settings make true (Art. 13): topics per
// channel, the eye test reminder's explicit consent, §7(3) UWG when the
// store uses it (and then no promise that advertising comes only on the
// channels switched on), the legitimate interests, and no "profiling"
// that the recalls would belie.
func TestNoticeSaysWhatTheSettingsDo_Art13(t *testing.T) {
	ctrl := consent.DefaultController()
	tmpl := assets.DefaultNotices()["de"]
	text := consent.RenderNotice(tmpl, "de", ctrl)
	for _, want := range []string{"je Thema und Weg einzeln", "Sehtest-Erinnerung nutzen wir das Datum Ihres letzten Sehtests bei uns",
		"ausdrücklichen Einwilligung in diese Erinnerung (Art. 9 Abs. 2 lit. a DSGVO)", "Die Werte selbst nutzen wir nie für Werbung",
		"Werbung schicken wir Ihnen nur mit Ihrer Einwilligung", "keine automatisierten Entscheidungen im Sinne von Art. 22 DSGVO",
		"Art. 7 Abs. 1 mit Art. 6 Abs. 1 lit. c DSGVO"} {
		if !strings.Contains(text, want) {
			t.Errorf("notice lacks %q", want)
		}
	}
	for _, not := range []string{"§ 7 Abs. 3 UWG", "kein Profiling", "nur, wenn Sie für den jeweiligen Weg einzeln eingewilligt"} {
		if strings.Contains(text, not) {
			t.Errorf("notice says %q", not)
		}
	}
	ctrl.ExistingCustomerAds = true
	text = consent.RenderNotice(tmpl, "de", ctrl)
	for _, want := range []string{"Kundinnen und Kunden (§ 7 Abs. 3 UWG)", "nie an Kinder unter 16", "jederzeit widersprechen",
		"nicht zu einem Thema, zu dem wir Sie gefragt haben"} {
		if !strings.Contains(text, want) {
			t.Errorf("notice with §7(3) UWG lacks %q", want)
		}
	}
}

// The notice never prints an empty heading: with a data protection
// officer, their heading and contact; without one (a small store need not
// name one, § 38 BDSG), who answers data protection questions instead,
// in both languages.
func TestNoticeWithoutADataProtectionOfficer_Art13(t *testing.T) {
	ctrl := consent.DefaultController()
	for lang, want := range map[string][2]string{
		"de": {"2. Datenschutzbeauftragte/r\n" + ctrl.DPOContact, "2. Ansprechpartner für Datenschutz\nFragen zum Datenschutz beantwortet Max Muster, E-Mail: info@optik-muster.example"},
		"en": {"2. Data protection officer\n" + ctrl.DPOContact, "2. Contact for data protection\nQuestions about data protection are answered by Max Muster, e-mail: info@optik-muster.example"},
	} {
		tmpl := assets.DefaultNotices()[lang]
		if text := consent.RenderNotice(tmpl, lang, ctrl); !strings.Contains(text, want[0]) {
			t.Errorf("%s notice with an officer lacks %q", lang, want[0])
		}
		none := ctrl
		none.DPOContact = " "
		text := consent.RenderNotice(tmpl, lang, none)
		if !strings.Contains(text, want[1]) || strings.Contains(text, "Datenschutzbeauftragte/r\n\n") || strings.Contains(text, "officer\n\n") {
			t.Errorf("%s notice without an officer:\n%s", lang, text)
		}
	}
}

// A store still on an earlier default notice gets today's at its start,
// as a new version; the consents given keep the version they cite.
func TestEarlierDefaultNoticeIsUpgradedAtStart(t *testing.T) {
	path := t.TempDir() + "/notice.db"
	db := openDBAt(t, path, orders.Options{})
	ctx := context.Background()
	earlier, err := os.ReadFile("testdata/notice-de-earlier-default.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.PublishNotice(ctx, "de", string(earlier), 0); err != nil {
		t.Fatal(err)
	}
	old, _ := db.CurrentNotice(ctx, "de")
	p, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	cur, _ := db.CurrentNotice(ctx, "de")
	if cur.ID == old.ID || cur.Template != assets.DefaultNotices()["de"] || strings.Contains(cur.Text, "kein Profiling") {
		t.Errorf("after the start: %s, still the earlier default", cur.ID)
	}
	if _, events, _ := db.Consents(ctx, p.Customer.ID); events[0].NoticeVersionID != old.ID {
		t.Errorf("a consent now cites %s, want %s", events[0].NoticeVersionID, old.ID)
	}
	// A second start publishes nothing new.
	if _, err := db.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	if again, _ := db.CurrentNotice(ctx, "de"); again.ID != cur.ID {
		t.Errorf("a second start published %s", again.ID)
	}
}

// A stored time that does not parse is an error naming the row, never a
// silent year 1 (an order "placed" in year 1 would be deleted by the
// retention job at once).
func TestBadStoredTimeIsAnErrorWithTheRow(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	p, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec(`UPDATE orders SET created_at = 'gestern' WHERE id = ?`, p.Order.ID); err != nil {
		t.Fatal(err)
	}
	_, err = db.Order(ctx, p.Order.ID)
	if err == nil || !strings.Contains(err.Error(), "order "+strconv.FormatInt(p.Order.ID, 10)) || !strings.Contains(err.Error(), "gestern") {
		t.Errorf("an order with a bad time: %v", err)
	}
	if _, err := db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "ERP"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec(`UPDATE api_tokens SET expires_at = '31.12.' WHERE name = 'ERP'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.APITokens(ctx); err == nil || !strings.Contains(err.Error(), "API token") {
		t.Errorf("a token with a bad expiry: %v", err)
	}
}

// Holding a link is not being the customer: through it, after an
// objection blocked SMS and e-mail, SMS and phone are not granted again
// (nothing is recorded); e-mail is, but waits for the double opt-in to
// that address, whose click alone lifts the block.
func TestALinkIsNotTheCustomer(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if err := db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	p, err := db.PlaceOrder(ctx, sampleOrder(t))
	if err != nil {
		t.Fatal(err)
	}
	id := p.Customer.ID
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: id, Source: consent.PreferencePage, ByCustomer: true, Object: true,
		Channels: map[consent.Channel]bool{consent.SMS: false, consent.Phone: false, consent.Email: false}}); err != nil {
		t.Fatal(err)
	}
	before := countRows(t, db, "consent_events")
	for _, ch := range []consent.Channel{consent.SMS, consent.Phone, consent.Post} {
		_, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: id, Source: consent.QRCode, ByCustomer: true,
			Cells: map[consent.Channel]map[string]bool{ch: {consent.TopicEvents: true}}})
		var ce *consentdesk.Error
		if !asError(err, &ce) || ce.Fields["channels."+string(ch)] != "err.link_grant_in_store" {
			t.Errorf("a grant of %s through a link: %v", ch, err)
		}
	}
	if n := countRows(t, db, "consent_events"); n != before {
		t.Fatalf("a refused grant recorded %d events", n-before)
	}
	blocked := func() bool {
		b, err := db.BlockedChannels(ctx, p.Customer)
		if err != nil {
			t.Fatal(err)
		}
		return b[consent.Email]
	}
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: id, Source: consent.EmailLink, ByCustomer: true,
		Cells: map[consent.Channel]map[string]bool{consent.Email: {consent.TopicEyeTest: true}}}); err != nil {
		t.Fatal(err)
	}
	cells, _ := db.ConsentTopics(ctx, id)
	if cells[consent.Email][consent.TopicEyeTest].State != consent.Pending || !blocked() {
		t.Fatalf("an e-mail grant through a link: %+v, blocked %v", cells[consent.Email][consent.TopicEyeTest], blocked())
	}
	if ok, err := db.ConfirmEmail(ctx, id); err != nil || !ok {
		t.Fatalf("confirm: %v %v", ok, err)
	}
	cells, _ = db.ConsentTopics(ctx, id)
	if cells[consent.Email][consent.TopicEyeTest].State != consent.Granted || blocked() {
		t.Errorf("after the confirmation: %+v, blocked %v", cells[consent.Email][consent.TopicEyeTest], blocked())
	}
}

// Files with personal data are their owner's only (GDPR Art. 32): the
// database with its log, and a backup.
func TestDatabaseFilesAreTheOwnersOnly(t *testing.T) {
	db := openDB(t)
	if db.Postgres() {
		t.Skip("PostgreSQL keeps the data in its server's own files")
	}
	ctx := context.Background()
	if _, err := db.PlaceOrder(ctx, sampleOrder(t)); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "copy.db")
	if err := db.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{db.Path, db.Path + "-wal", backup} {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", filepath.Base(f), info.Mode().Perm())
		}
	}
}

package pos_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/followup/send"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/pos"
)

func TestSecurityHeadersAndCookieFlags(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for _, path := range []string{"/login", "/healthz", "/nowhere", "/static/app.css"} {
		r := c.get(path)
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q", path, h, got)
			}
		}
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	// Sign in with a raw request, to read the Set-Cookie line itself.
	c.get("/login")
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/login", strings.NewReader(url.Values{"staff_id": {itoa(e.counter.ID)}, "pin": {"4711"}, "csrf": {c.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "cd_csrf", Value: c.cookies["cd_csrf"]})
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var found bool
	for _, line := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(line, "cd_session=") {
			found = true
			for _, flag := range []string{"HttpOnly", "Secure", "SameSite=Strict"} {
				if !strings.Contains(line, flag) {
					t.Errorf("session cookie lacks %s: %s", flag, line)
				}
			}
		}
	}
	if !found {
		t.Fatal("no session cookie set")
	}
}

func TestSignInCSRFAndLockout(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	if r := c.get("/orders/new"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("staff page without session: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	c.get("/login")
	// Without the token, and with a token for another browser's cookie.
	if r := c.post("/login", url.Values{"csrf": {"forged"}, "staff_id": {itoa(e.counter.ID)}, "pin": {"4711"}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("forged CSRF token: %d", r.StatusCode)
	}
	other := e.client()
	other.get("/login")
	if r := c.post("/login", url.Values{"csrf": {other.csrf}, "staff_id": {itoa(e.counter.ID)}, "pin": {"4711"}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("another browser's CSRF token: %d", r.StatusCode)
	}
	r := c.post("/login", url.Values{"staff_id": {itoa(e.counter.ID)}, "pin": {"1234"}})
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "Name oder PIN stimmt nicht") {
		t.Fatalf("wrong PIN: %d", r.StatusCode)
	}
	for i := 0; i < 4; i++ {
		c.post("/login", url.Values{"staff_id": {itoa(e.counter.ID)}, "pin": {"1234"}})
	}
	r = c.post("/login", url.Values{"staff_id": {itoa(e.counter.ID)}, "pin": {"4711"}})
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(r.body, "gesperrt") {
		t.Fatalf("locked account: %d", r.StatusCode)
	}
	if c.cookies["cd_session"] != "" {
		t.Fatal("a locked account got a session")
	}
	// A signed-in session still needs the token for every post.
	m := e.client()
	m.signIn(e.manager, "864297")
	if r := m.post("/logout", url.Values{"csrf": {"x"}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without CSRF: %d", r.StatusCode)
	}
}

func TestManagerOnlyPages(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	for _, path := range []string{"/settings", "/notices"} {
		if r := c.get(path); r.StatusCode != http.StatusForbidden {
			t.Errorf("counter staff on %s: %d", path, r.StatusCode)
		}
	}
	m := e.client()
	m.signIn(e.manager, "864297")
	if r := m.get("/settings"); r.StatusCode != http.StatusOK {
		t.Errorf("manager on /settings: %d", r.StatusCode)
	}
}

func signature(t *testing.T) string {
	return "data:image/png;base64," + signatureBase64()
}

// signatureBase64 is a drawn signature as the canvas sends it, base64.
func signatureBase64() string {
	img := image.NewNRGBA(image.Rect(0, 0, 300, 100))
	for x := 10; x < 290; x++ {
		img.Set(x, 50+x%15, color.NRGBA{0, 0, 0, 255})
		img.Set(x, 51+x%15, color.NRGBA{0, 0, 0, 255})
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func orderForm(lastName string) url.Values {
	day := time.Now().AddDate(0, 0, 7).Format("2006-01-02")
	return url.Values{
		"salutation": {"Frau"}, "first_name": {"Jürgen"}, "last_name": {lastName}, "street": {"Hauptstraße 1"}, "postal_code": {"79098"},
		"city": {"Freiburg"}, "email": {"j.weiss@example.org"}, "mobile": {"0170 1234567"}, "customer_lang": {"de"},
		"item_description_0": {"Gleitsichtgläser"}, "item_quantity_0": {"2"}, "item_price_0": {"249,00"}, "item_vat_0": {"19"},
		"item_description_1": {"Pflegemittel"}, "item_quantity_1": {"1"}, "item_price_1": {"12,90"}, "item_vat_1": {"7"},
		"deposit": {"100"}, "pickup_date": {day}, "pickup_from": {"10:00"}, "pickup_to": {"10:30"},
		"rx_right_sph": {"-1,25"}, "rx_right_cyl": {"-0,50"}, "rx_right_axis": {"90"}, "rx_left_sph": {"-1.00"},
		"consent_mode": {"tablet"},
	}
}

var locationID = regexp.MustCompile(`^/orders/(\d+)\?done=1`)

func TestTabletOrderFlow(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	c.get("/orders/new")
	r := c.post("/orders/new", orderForm("Weiß"))
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/orders/consent/") {
		t.Fatalf("staff form: %d %s\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	if e.count("orders") != 0 || e.count("customers") != 0 {
		t.Fatal("something was stored before the customer's decision")
	}
	consentPath := r.Header.Get("Location")
	r = c.get(consentPath)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("consent screen: %d", r.StatusCode)
	}
	// Every switch starts off (GDPR Art. 4(11), CJEU C-61/19), and each
	// shows the address it would use; phone has a number through the mobile.
	if strings.Contains(r.body, " checked") {
		t.Error("a switch starts on")
	}
	// One switch per cell (channel, topic), each with its own sentence.
	for _, want := range []string{"j.weiss@example.org", "0170 1234567", "Hauptstraße 1, 79098 Freiburg", `value="post:offers"`, `value="email:eye_test"`,
		`value="sms:contact_lenses"`, `value="phone:events"`, `name="health_data"`, "Vollständige Datenschutzhinweise", "de-1", "Art. 13 DSGVO",
		"Sehtest-Erinnerung per E-Mail an j.weiss@example.org", "Angebote und Neuheiten per Brief an Hauptstraße 1, 79098 Freiburg"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("consent screen lacks %q", want)
		}
	}
	if strings.Contains(r.body, "select all") || strings.Contains(r.body, "Alle auswählen") {
		t.Error("staff must not get a select-all")
	}
	if strings.Contains(r.body, `href="/settings"`) || strings.Contains(r.body, `action="/logout"`) {
		t.Error("the customer's screen shows the staff menu")
	}
	r = c.post(consentPath, url.Values{"cell": {"post:offers", "email:offers"}, "health_data": {"on"}, "signature": {signature(t)}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/handback" {
		t.Fatalf("consent submit: %d %s\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	r = c.handBack("4711")
	m := locationID.FindStringSubmatch(r.Header.Get("Location"))
	if m == nil {
		t.Fatalf("unlock went to %q", r.Header.Get("Location"))
	}
	r = c.get(r.Header.Get("Location"))
	if !strings.Contains(r.body, "Auftragsnummer") || !regexp.MustCompile(`\d{4}-\d{6}`).MatchString(r.body) {
		t.Error("done page lacks the order number")
	}
	// 2 × 249,00 € at 19 % and 12,90 € at 7 %.
	for _, want := range []string{"510,90 €", "darin MwSt. 19 %", "79,51 €", "darin MwSt. 7 %", "0,84 €", "410,90 €"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("order page lacks %q", want)
		}
	}
	pdfResp := c.get("/orders/" + m[1] + "/confirmation.pdf")
	if pdfResp.StatusCode != http.StatusOK || pdfResp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdfResp.body, "%PDF") {
		t.Fatalf("confirmation: %d %s", pdfResp.StatusCode, pdfResp.Header.Get("Content-Type"))
	}
	var source, actor string
	var n int
	e.store().QueryRow(`SELECT COUNT(*), MIN(source), MIN(actor) FROM consent_events WHERE action = 'grant'`).Scan(&n, &source, &actor)
	if n != 3 || source != string(consent.CounterTablet) || actor != string(consent.ByCustomer) {
		t.Errorf("events: %d %s %s", n, source, actor)
	}
	// The cells left off were shown: each recorded as the customer's no,
	// from the same screen.
	e.store().QueryRow(`SELECT COUNT(*), MIN(source), MAX(source), MIN(actor) FROM consent_events WHERE action = 'decline'`).Scan(&n, &source, &actor, &actor)
	if n != 8 || source != string(consent.CounterTablet) || actor != string(consent.ByCustomer) {
		t.Errorf("declines: %d %s %s", n, source, actor)
	}
	// The draft is gone: posting again does not make a second order.
	if r := c.post(consentPath, url.Values{}); r.StatusCode != http.StatusNotFound || e.count("orders") != 1 {
		t.Errorf("second post of a used draft: %d, orders %d", r.StatusCode, e.count("orders"))
	}
}

func TestOrderFormErrorsChangeNothing(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	c.get("/orders/new")
	f := orderForm(`<script>alert("x")</script>`)
	f.Set("email", "kein-at-zeichen")
	f.Set("item_price_0", "zwölf")
	f.Set("rx_left_sph", "-99")
	r := c.post("/orders/new", f)
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", r.StatusCode)
	}
	for _, want := range []string{"Keine gültige E-Mail-Adresse.", "Keine gültige Zahl.", "Sphäre zwischen", "Es wurde nichts gespeichert",
		`value="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(r.body, `<script>alert`) {
		t.Error("what the customer typed reached the page unescaped")
	}
	for _, table := range []string{"customers", "orders", "consent_events"} {
		if e.count(table) != 0 {
			t.Errorf("%s written", table)
		}
	}
}

func TestOrderWithEverySwitchOffAndEscaping(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	c.get("/orders/new")
	r := c.post("/orders/new", orderForm(`<img src=x onerror=alert(1)>`))
	r = c.get(r.Header.Get("Location"))
	draft := regexp.MustCompile(`action="(/orders/consent/[^"/]+)" id="consent-form"`).FindStringSubmatch(r.body)
	if draft == nil {
		t.Fatal("no consent form")
	}
	if strings.Contains(r.body, "<img src=x") {
		t.Error("name unescaped on the consent screen")
	}
	// Values were typed and the switch is off: the screen asks once.
	r = c.post(draft[1], url.Values{})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `id="rx-question"`) || e.count("orders") != 0 {
		t.Fatalf("no question before dropping the prescription: %d", r.StatusCode)
	}
	r = c.post(draft[1], url.Values{"rx_decided": {"1"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("order with every switch off refused: %d", r.StatusCode)
	}
	loc := c.handBack("4711").Header.Get("Location")
	if !strings.Contains(loc, "rx=dropped") {
		t.Error("prescription without consent should be dropped and said so")
	}
	r = c.get(loc)
	if !strings.Contains(r.body, "nicht gespeichert") || strings.Contains(r.body, "<img src=x") || !strings.Contains(r.body, `class="flash warning"`) {
		t.Error("order page: missing warning or unescaped name")
	}
	// No consent, no prescription: the only events say that each channel
	// was shown with every topic and left off.
	var changes, declines int
	e.store().QueryRow(`SELECT COUNT(*) FROM consent_events WHERE action <> 'decline'`).Scan(&changes)
	e.store().QueryRow(`SELECT COUNT(*) FROM consent_events WHERE action = 'decline' AND topic = '*'`).Scan(&declines)
	if changes != 0 || declines != 4 || e.count("prescriptions") != 0 || e.count("orders") != 1 {
		t.Errorf("wrong rows after an order without consent: %d changes, %d declines", changes, declines)
	}
}

func TestPaperModeAndUpload(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	c.get("/orders/new")
	f := orderForm("Weiß")
	f.Set("consent_mode", "paper")
	r := c.post("/orders/new", f)
	m := locationID.FindStringSubmatch(r.Header.Get("Location"))
	if m == nil {
		t.Fatalf("paper order: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	page := c.get("/orders/" + m[1])
	if !strings.Contains(page.body, "Papierformular nachtragen") {
		t.Fatal("no paper form on a paper-mode order")
	}
	upload := func(fields url.Values, scan []byte) resp {
		return c.upload("/orders/"+m[1]+"/paper", fields, "scan", "../../etc/passwd", scan)
	}
	r = upload(url.Values{"cell": {"sms:offers"}}, []byte("MZ\x90\x00 this is an executable"))
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Nur PDF, JPEG oder PNG") || e.count("consent_events") != 0 {
		t.Fatalf("bad scan: %d", r.StatusCode)
	}
	scan := append([]byte("%PDF-1.4\n%âãÏÓ\n"), bytes.Repeat([]byte("0"), 200)...)
	// The sheet's ticks, cell by cell: the eye test by post, offers by SMS.
	r = upload(url.Values{"cell": {"sms:offers", "post:eye_test"}}, scan)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("paper ticks: %d %s", r.StatusCode, r.body)
	}
	var n int
	e.store().QueryRow(`SELECT COUNT(*) FROM consent_events WHERE action = 'grant' AND source = 'paper_form' AND actor = 'staff' AND evidence_sha256 != ''`).Scan(&n)
	if n != 2 {
		t.Errorf("paper events with scan hash: %d", n)
	}
	// Exactly those cells: post × eye test, not post × offers.
	byTopic, _ := e.db.ConsentTopics(context.Background(), 1)
	if byTopic[consent.Post][consent.TopicEyeTest].State != consent.Granted || byTopic[consent.Post][consent.TopicOffers].State != consent.None ||
		byTopic[consent.SMS][consent.TopicOffers].State != consent.Granted || byTopic[consent.SMS][consent.TopicEyeTest].State != consent.None {
		t.Errorf("paper cells stored: %+v", byTopic)
	}
	// An empty box on the sheet is the customer's no, once saved.
	if !byTopic[consent.Post][consent.TopicOffers].Declined || !byTopic[consent.Email][consent.TopicEyeTest].Declined {
		t.Errorf("empty boxes not recorded as declined: %+v", byTopic)
	}
	// The order page confirms what was saved, shows the recorded ticks
	// and the attached scan.
	page = c.get(r.Header.Get("Location"))
	for _, want := range []string{"Die Kreuze vom Papierformular sind gespeichert", "Angehängte Scans", "Scan des Formulars", "erteilt",
		// The transfer form shows the ticks as saved.
		`id="paper_post_eye_test" name="cell" value="post:eye_test" checked disabled`, `id="paper_sms_offers" name="cell" value="sms:offers" checked disabled`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("order page after the ticks lacks %q", want)
		}
	}
	if strings.Contains(page.body, `value="post:offers" checked`) {
		t.Error("the transfer form shows a tick that was not saved")
	}
	// Without a scan, a tick for post, SMS or phone has no evidence.
	r = upload(url.Values{"cell": {"phone:offers"}}, nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Errorf("tick with the scan of the same order already attached: %d", r.StatusCode)
	}
}

func TestSettingsPublishNewNoticeVersion(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.manager, "864297")
	page := c.get("/settings")
	values := url.Values{}
	for _, m := range regexp.MustCompile(`name="([a-z_]+)" value="([^"]*)"`).FindAllStringSubmatch(page.body, -1) {
		values.Set(m[1], strings.ReplaceAll(strings.ReplaceAll(m[2], "&#43;", "+"), "&amp;", "&"))
	}
	values.Del("csrf")
	values.Set("name", "Optik Sonnenschein GmbH")
	values.Set("health_data_basis", "explicit_consent")
	values.Set("double_opt_in", "on")
	r := c.post("/settings", values)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save settings: %d %s", r.StatusCode, r.body)
	}
	v, err := e.db.CurrentNotice(t.Context(), "de")
	if err != nil || v.ID != "de-2" || !strings.Contains(v.Text, "Optik Sonnenschein GmbH") {
		t.Fatalf("notice after settings change: %s %v", v.ID, err)
	}
	old, _ := e.db.Notice(t.Context(), "de-1")
	if strings.Contains(old.Text, "Sonnenschein") {
		t.Error("an old version changed")
	}
	// The manager is told why a new version came.
	if p := c.get(r.Header.Get("Location")); !strings.Contains(p.body, "Neue Fassung der Datenschutzhinweise veröffentlicht (de-2, en-2)") {
		t.Error("the settings page does not say that a new notice version was published")
	}
	// A setting that is not in the notice text makes no new version.
	values.Set("renewal_months", "36")
	r = c.post("/settings", values)
	if v, _ := e.db.CurrentNotice(t.Context(), "de"); v.ID != "de-2" || strings.Contains(r.Header.Get("Location"), "published") {
		t.Errorf("a change outside the notice text published %s (%s)", v.ID, r.Header.Get("Location"))
	}
	values.Set("email", "kaputt")
	r = c.post("/settings", values)
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Keine gültige E-Mail-Adresse") {
		t.Errorf("bad settings: %d", r.StatusCode)
	}
	// Editing the notice publishes a new version; a stub is refused.
	c.get("/notices")
	if r := c.post("/notices", url.Values{"lang": {"de"}, "template": {"zu kurz"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("short notice: %d", r.StatusCode)
	}
	r = c.post("/notices", url.Values{"lang": {"de"}, "template": {old.Template + "\n10. Änderungen\nWir passen diese Hinweise an, wenn sich etwas ändert."}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("publish notice: %d", r.StatusCode)
	}
	if v, _ := e.db.CurrentNotice(t.Context(), "de"); v.ID != "de-3" {
		t.Errorf("current = %s", v.ID)
	}
	if r := c.get("/notices/de-1"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, old.SHA256) {
		t.Error("old version not viewable")
	}
	// An id no notice has is "not found", also with bytes PostgreSQL
	// refuses in text (it answered them with an error page).
	for _, id := range []string{"de-99", "de-1%00", "%00", "de-%FF"} {
		if r := c.get("/notices/" + id); r.StatusCode != http.StatusNotFound {
			t.Errorf("/notices/%s: %d, want 404", id, r.StatusCode)
		}
	}
}

func TestLanguageSwitch(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	c.get("/orders/new")
	r := c.post("/lang", url.Values{"lang": {"en"}, "back": {"/orders/new"}})
	if r.Header.Get("Location") != "/orders/new" {
		t.Fatalf("back to %q", r.Header.Get("Location"))
	}
	r = c.get("/orders/new")
	if !strings.Contains(r.body, `lang="en"`) || !strings.Contains(r.body, "Find customer") || strings.Contains(r.body, "Kunde suchen") {
		t.Error("page not in English")
	}
	if r := c.post("/lang", url.Values{"lang": {"de"}, "back": {"//evil.example/"}}); r.Header.Get("Location") != "/" {
		t.Errorf("open redirect: %q", r.Header.Get("Location"))
	}
}

func TestCustomerSearch(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	c.get("/orders/new")
	r := c.post("/orders/new", orderForm("Weiß"))
	c.post(r.Header.Get("Location"), url.Values{"rx_decided": {"1"}})
	c.handBack("4711")
	for _, q := range []string{"weiß", "Jürgen Weiß", "j.weiss@", "0170 1234567", "1701234"} {
		r := c.get("/customers/search?q=" + url.QueryEscape(q))
		if !strings.Contains(r.body, `"last_name":"Weiß"`) {
			t.Errorf("search %q: %s", q, r.body)
		}
	}
	if r := c.get("/customers/search?q=" + url.QueryEscape("%")); r.body != "[]" {
		t.Errorf("a lone %% matched: %s", r.body)
	}
}

func TestLogoUpload(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.manager, "864297")
	c.get("/settings")
	send := func(name string, content []byte) resp {
		return c.upload("/settings/logo", nil, "logo", name, content)
	}
	// A script named like an image, with a path in its name: refused by content.
	if r := send("../../logo.png", []byte("<svg onload=alert(1)>")); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("not an image: %d", r.StatusCode)
	}
	img := image.NewRGBA(image.Rect(0, 0, 120, 40))
	var b bytes.Buffer
	png.Encode(&b, img)
	if r := send("../../etc/logo.png", b.Bytes()); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("PNG logo: %d %s", r.StatusCode, r.body)
	}
	ctrl, _ := e.db.Controller(t.Context())
	if ctrl.LogoMIME != "image/png" || !bytes.Equal(ctrl.Logo, b.Bytes()) {
		t.Error("logo not stored")
	}
	// The logo shows wherever the customer looks, and in the settings.
	if r := c.get("/logo"); r.Header.Get("Content-Type") != "image/png" || r.body != b.String() {
		t.Errorf("GET /logo: %s", r.Header.Get("Content-Type"))
	}
	if r := c.get("/settings"); !strings.Contains(r.body, `src="/logo"`) {
		t.Error("no logo preview in the settings")
	}
	if _, err := e.db.ImportCustomers(t.Context(), []orders.Customer{{LastName: "Logo", Email: "logo@example.org"}}); err != nil {
		t.Fatal(err)
	}
	tok := consent.NewTokens(e.db.Keys.Tokens)
	if r := e.client().get("/p/" + tok.Make(consent.PreferencesToken, 1)); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `src="/logo"`) {
		t.Errorf("no logo on the preference page: %d", r.StatusCode)
	}
	big := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 3<<20)...)
	if r := send("big.png", big); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("3 MB logo: %d", r.StatusCode)
	}
}

// The English back office shows English numbers (English mails show
// "€1,234.56", and so must the pages).
func TestEnglishBackOfficeShowsEnglishNumbers(t *testing.T) {
	a := newAPI(t)
	if st := a.call("POST", "/api/v1/orders", apiOrder, nil); st != http.StatusCreated {
		t.Fatalf("order: %d", st)
	}
	c := a.e.client()
	c.signIn(a.e.counter, "4711")
	if page := c.get("/orders/1"); !strings.Contains(page.body, "498,00 €") {
		t.Fatalf("German order page without German money")
	}
	c.post("/lang", url.Values{"lang": {"en"}, "back": {"/orders/1"}})
	page := c.get("/orders/1")
	if !strings.Contains(page.body, "€498.00") || strings.Contains(page.body, "498,00 €") {
		t.Errorf("English order page shows German money")
	}
}

// With --acme, the dashboard shows the public certificate's expiry, and a
// failed renewal as an alert.
func TestDashboardShowsTheCertificate(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		until time.Time
		err   error
		want  string
	}{
		{time.Date(2027, 2, 27, 10, 0, 0, 0, time.UTC), nil, "gültig bis 27.02.2027, 11:00 Uhr"},
		{time.Time{}, errors.New("acme: urn:ietf:params:acme:error:rateLimited"), "konnte nicht geholt oder erneuert werden: acme: urn:ietf:params:acme:error:rateLimited"},
	} {
		s, err := pos.New(pos.Config{DB: e.db, PublicURL: "https://optik.example", CertStatus: func() (time.Time, error) { return c.until, c.err }})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s.Handler())
		other := *e
		other.srv = srv
		cl := other.client()
		cl.signIn(e.manager, "864297")
		if page := cl.get("/dashboard"); !strings.Contains(page.body, c.want) {
			t.Errorf("dashboard lacks %q", c.want)
		}
		srv.Close()
	}
	// Without --acme there is nothing to show.
	c := e.client()
	c.signIn(e.manager, "864297")
	if page := c.get("/dashboard"); strings.Contains(page.body, "HTTPS-Zertifikat") {
		t.Error("certificate shown without --acme")
	}
}

// The consent screen asks per cell (channel, topic), all off, and stores
// exactly the cells switched on: "the eye test by SMS, offers by e-mail"
// can be said without agreeing to more (recital 43, Art. 7(4)). A cell of
// an unknown topic, or of a channel without a contact, is refused with a
// message and nothing is placed.
func TestConsentScreenAsksPerCell(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	_, page := handOver(t, c, orderForm("Themen"))
	for _, ch := range []string{"post", "email", "sms", "phone"} {
		for _, key := range []string{"eye_test", "contact_lenses", "offers", "events"} {
			if !strings.Contains(page.body, `id="cell_`+ch+`_`+key+`" name="cell" value="`+ch+`:`+key+`" data-label="`) {
				t.Errorf("no switch for the cell %s × %s", ch, key)
			}
		}
	}
	if strings.Contains(page.body, " checked") {
		t.Error("a switch starts on")
	}
	if !strings.Contains(page.body, "Ihre Unterschrift bestätigt") || !strings.Contains(page.body, "keine Einwilligung in Werbung") {
		t.Error("the screen does not say what the signature confirms")
	}
	path := page.Request.URL.Path
	for _, bad := range []string{"post:nonsense", "post", "fax:offers"} {
		r := c.post(path, url.Values{"cell": {bad}, "signature": {signature(t)}, "rx_decided": {"1"}})
		if r.StatusCode != http.StatusUnprocessableEntity || e.count("orders") != 0 {
			t.Fatalf("cell %q: %d, %d orders", bad, r.StatusCode, e.count("orders"))
		}
	}
	r := c.post(path, url.Values{"cell": {"sms:eye_test", "email:offers"}, "signature": {signature(t)}, "rx_decided": {"1"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("with two cells: %d %s", r.StatusCode, r.body)
	}
	rows, err := e.store().Query(`SELECT channel, topic FROM consent_events WHERE action = 'grant' AND channel <> 'health_data' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var ch, topic string
		rows.Scan(&ch, &topic)
		got = append(got, ch+":"+topic)
	}
	rows.Close()
	if strings.Join(got, " ") != "email:offers sms:eye_test" {
		t.Errorf("granted %v, want exactly email:offers and sms:eye_test", got)
	}
}

// The counter's form takes a contact-lens supply in days per item and the
// prescription's measuring day: the recalls count from them.
func TestOrderFormSupplyAndMeasuredOn(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	c.get("/orders/new")
	form := orderForm("Linse")
	measured := time.Now().AddDate(0, -3, 0).Format("2006-01-02")
	form.Set("item_supply_1", "90")
	form.Set("rx_measured_on", measured)
	path, _ := handOver(t, c, form)
	if r := c.post(path, url.Values{"health_data": {"on"}, "signature": {signature(t)}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent: %d %s", r.StatusCode, r.body)
	}
	var supply int
	var on string
	e.store().QueryRow(`SELECT supply_days FROM order_items WHERE position = 2`).Scan(&supply)
	e.store().QueryRow(`SELECT measured_on FROM prescriptions`).Scan(&on)
	if supply != 90 || on != measured {
		t.Errorf("supply %d, measured on %q", supply, on)
	}
	staffC := e.client()
	staffC.signIn(e.manager, "864297")
	staffC.get("/orders/new")
	form.Del("csrf")
	form.Set("item_supply_1", "viele")
	form.Set("last_name", "Falsch")
	if r := staffC.post("/orders/new", form); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "0 bis 730") {
		t.Errorf("a supply that is no number: %d", r.StatusCode)
	}
}

// A sale without an appointment (a cleaning cloth): the counter leaves
// the pickup empty, the order is collected when it is placed, the
// thank-you mail says so and carries no calendar file, and no pickup mail
// can follow.
func TestASaleWithoutAnAppointment(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client()
	c.signIn(e.counter, "4711")
	form := url.Values{"salutation": {"Frau"}, "first_name": {"Eva"}, "last_name": {"Kurz"}, "email": {"eva.kurz@example.org"}, "customer_lang": {"de"},
		"item_description_0": {"Putztuch"}, "item_quantity_0": {"1"}, "item_price_0": {"5,00"}, "item_vat_0": {"19"}, "consent_mode": {"tablet"}}
	path, _ := handOver(t, c, form)
	c.post(path, url.Values{})
	r := c.handBack("4711")
	m := locationID.FindStringSubmatch(r.Header.Get("Location"))
	if m == nil {
		t.Fatalf("the sale was not placed: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	o, err := e.db.Order(ctx, id)
	if err != nil || o.Status != "collected" || o.Pickup != nil {
		t.Fatalf("the sale: %+v %v", o, err)
	}
	if _, err := e.db.MarkReady(ctx, id); consentdesk.ErrorCode(err) != consentdesk.Conflict {
		t.Errorf("a collected sale marked ready (a pickup mail): %v", err)
	}
	dir := t.TempDir()
	sender := send.NewSender(e.db, e.db.Keys.LinkTokens(), followup.Folder{Dir: dir}, send.SenderConfig{PublicURL: "https://optik.example"})
	if n, err := sender.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("mails sent: %d %v", n, err)
	}
	mails, _ := e.db.Mails(ctx, followup.Filter{OrderID: id})
	if len(mails) != 1 || mails[0].Kind != followup.ThankYou {
		t.Fatalf("mails of the sale: %+v", mails)
	}
	eml, err := os.ReadFile(followup.Folder{Dir: dir}.File(mails[0].ID))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(eml), "text/calendar") || !strings.Contains(string(eml), "gleich mitgenommen") || strings.Contains(string(eml), "abholbereit ist") {
		t.Errorf("the thank-you mail of a sale taken along:\n%s", eml)
	}
}

package pos_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/chain"
	"github.com/consentdesk/consentdesk/pos"
)

// The first day in a real store: the tablet in the customer's hands,
// nothing typed lost, the customer's language, the order to pickup.

// handOver fills the staff form and opens the customer's screen.
func handOver(t *testing.T, c *client, form url.Values) (consentPath string, page resp) {
	t.Helper()
	c.get("/orders/new")
	r := c.post("/orders/new", form)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("staff form: %d\n%s", r.StatusCode, r.body)
	}
	consentPath = r.Header.Get("Location")
	return consentPath, c.get(consentPath)
}

func TestTabletLockedWhileTheCustomerHoldsIt(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	path, page := handOver(t, c, orderForm("Weiß"))
	// The summary with items, total and deposit, and the way back.
	for _, want := range []string{"Ihr Auftrag", "2 × Gleitsichtgläser", "510,90 €", "Anzahlung", "100,00 €", "Zurück – Angaben korrigieren", "0170 1234567"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("consent screen lacks %q", want)
		}
	}
	if strings.Contains(page.body, `action="/lang"`) || strings.Contains(page.body, `href="/customers"`) {
		t.Error("staff controls on the customer's screen")
	}
	// From the customer's screen every staff page is refused.
	for _, p := range []string{"/", "/customers", "/customers/search?q=a", "/orders/new", "/mailbox", "/dashboard"} {
		if r := c.get(p); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/handback" {
			t.Errorf("GET %s from the customer's screen: %d %s", p, r.StatusCode, r.Header.Get("Location"))
		}
	}
	if r := c.post("/logout", url.Values{}); r.StatusCode != http.StatusForbidden {
		t.Errorf("POST /logout from the customer's screen: %d", r.StatusCode)
	}
	// The customer taps English: their screen changes, the staff's does not.
	if r := c.post(path+"/lang", url.Values{"lang": {"en"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("customer language: %d", r.StatusCode)
	}
	page = c.get(path)
	if !strings.Contains(page.body, `lang="en"`) || !strings.Contains(page.body, "Your order") || !strings.Contains(page.body, "en-1") {
		t.Error("the consent screen did not switch to English with the English notice")
	}
	// "Back – correct my details": locked until the PIN, then the form as typed.
	if r := c.post(path+"/back", url.Values{}); r.Header.Get("Location") != "/handback" {
		t.Fatalf("back: %s", r.Header.Get("Location"))
	}
	if r := c.get("/handback"); !strings.Contains(r.body, "Please hand the tablet back") {
		t.Errorf("hand-back screen not in the customer's language")
	}
	if r := c.handBack("0000"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong PIN: %d", r.StatusCode)
	}
	r := c.handBack("4711")
	if !strings.HasPrefix(r.Header.Get("Location"), "/orders/new?draft=") {
		t.Fatalf("after back: %s", r.Header.Get("Location"))
	}
	r = c.get(r.Header.Get("Location"))
	if !strings.Contains(r.body, `value="j.weiss@example.org"`) || !strings.Contains(r.body, `lang="de"`) {
		t.Error("the form to correct is not filled in, or the staff language changed")
	}
	if e.count("orders") != 0 {
		t.Error("an order was stored before the customer decided")
	}
}

func TestPrescriptionNotLostWithoutAWord(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	path, _ := handOver(t, c, orderForm("Weiß"))
	r := c.post(path, url.Values{"cell": {"post:eye_test"}, "signature": {signature(t)}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `id="rx-question"`) || !strings.Contains(r.body, "Brillenwerte doch speichern") && !strings.Contains(r.body, "Ja, Brillenwerte speichern") {
		t.Fatalf("no question: %d", r.StatusCode)
	}
	if !strings.Contains(r.body, `value="data:image/png;base64,`) || !strings.Contains(r.body, `value="post:eye_test" data-label="Sehtest-Erinnerung per Brief an Hauptstraße 1, 79098 Freiburg" checked`) {
		t.Error("the question lost the signature or the choices")
	}
	c.post(path, url.Values{"cell": {"post:eye_test"}, "signature": {signature(t)}, "rx_decided": {"1"}})
	r = c.handBack("4711")
	loc := r.Header.Get("Location")
	r = c.get(loc)
	if !strings.Contains(r.body, `class="flash warning"`) || !strings.Contains(r.body, "/rx-consent/start") || e.count("prescriptions") != 0 {
		t.Fatal("staff see no warning and no way to ask again")
	}
	id := locationID.FindStringSubmatch(loc)[1]
	// Asked once more, on a fresh customer screen; this time yes.
	if r := c.post("/orders/"+id+"/rx-consent/start", url.Values{}); r.Header.Get("Location") != "/orders/"+id+"/rx-consent" {
		t.Fatalf("start: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if r := c.get("/customers"); r.Header.Get("Location") != "/handback" {
		t.Error("the fresh consent screen is not locked")
	}
	page := c.get("/orders/" + id + "/rx-consent")
	if !strings.Contains(page.body, `name="health_data"`) || strings.Contains(page.body, " checked") {
		t.Fatal("the fresh consent screen")
	}
	c.post("/orders/"+id+"/rx-consent", url.Values{"health_data": {"on"}})
	c.handBack("4711")
	if e.count("prescriptions") != 1 {
		t.Fatal("the prescription was not stored after the consent")
	}
	var n int
	e.store().QueryRow(`SELECT COUNT(*) FROM consent_events WHERE channel = 'health_data' AND action = 'grant' AND actor = 'customer'`).Scan(&n)
	if n != 1 {
		t.Errorf("%d health data grants", n)
	}
	if v, err := e.db.Verify(context.Background()); err != nil || !v.OK {
		t.Fatalf("ledger: %+v %v", v, err)
	}
}

func TestOrderFromCounterToPickup(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	form := orderForm("Ohnemail")
	form.Set("email", "")
	form.Set("phone", "0761 612233")
	path, _ := handOver(t, c, form)
	c.post(path, url.Values{"rx_decided": {"1"}})
	loc := c.handBack("4711").Header.Get("Location")
	id := locationID.FindStringSubmatch(loc)[1]
	r := c.get("/orders/" + id)
	for _, want := range []string{"Gleitsichtgläser", "Brillenwerte gespeichert", "Unterschrift gespeichert", "keine E-Mail-Adresse"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("order page lacks %q", want)
		}
	}
	// The start page lists it as open.
	if r := c.get("/"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Offene Aufträge") || !strings.Contains(r.body, "/orders/"+id) {
		t.Errorf("start page: %d", r.StatusCode)
	}
	r = c.post("/orders/"+id+"/ready", url.Values{})
	r = c.get(r.Header.Get("Location"))
	if !strings.Contains(r.body, "Keine E-Mail – bitte anrufen: 0761 612233") || strings.Contains(r.body, "Abhol-E-Mail ist im Postausgang") {
		t.Errorf("ready without e-mail says nothing about calling: %s", r.body)
	}
	if n := e.count("outbox"); n != 0 {
		t.Errorf("%d mails for a customer without e-mail", n)
	}
	if r := c.get("/"); !strings.Contains(r.body, "abholbereit") {
		t.Error("start page does not list the ready order")
	}
	// The call stays owed, with the number, until the pickup: on the
	// order page opened again later, and on the start page.
	if r := c.get("/orders/" + id); !strings.Contains(r.body, "Keine E-Mail – bitte anrufen: 0761 612233") {
		t.Error("the order page, opened again, forgets the call still owed")
	}
	if r := c.get("/"); !strings.Contains(r.body, "Bitte anrufen: 0761 612233") {
		t.Error("the start page does not show the call still owed")
	}
	r = c.post("/orders/"+id+"/collected", url.Values{})
	if r = c.get(r.Header.Get("Location")); !strings.Contains(r.body, "abgeholt") || strings.Contains(r.body, "bitte anrufen") {
		t.Error("collected not shown, or the call still asked for")
	}
	if r := c.get("/"); strings.Contains(r.body, "Bitte anrufen") {
		t.Error("the start page asks for a call after the pickup")
	}
	if r := c.post("/orders/"+id+"/collected", url.Values{}); r.StatusCode != http.StatusConflict {
		t.Errorf("collected twice: %d", r.StatusCode)
	}
}

// The contactable export for the store opens cleanly in German Excel and
// works for a Word mail merge; the API keeps its machine-readable CSV.
func TestContactableExportForExcel(t *testing.T) {
	a := newAPI(t)
	e := a.e
	id := orderWithEverything(t, a, "excel@example.org")
	m := e.client()
	m.signIn(e.manager, "864297")
	r := m.get("/contactable.csv?channel=post")
	if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.body, "\uFEFF") {
		t.Fatalf("no UTF-8 BOM: %d %q", r.StatusCode, r.body[:min(20, len(r.body))])
	}
	cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(r.body, "\uFEFF")))
	cr.Comma = ';'
	rows, err := cr.ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("rows: %v %v", rows, err)
	}
	want := []string{"Kundennr.", "Anrede", "Vorname", "Nachname", "Straße", "PLZ", "Ort", "E-Mail oder Nummer", "Sprache", "Einwilligung vom", "Bestätigung", "Hinweisfassung", "Rechtsgrundlage"}
	if strings.Join(rows[0], "|") != strings.Join(want, "|") {
		t.Errorf("columns: %v", rows[0])
	}
	today := time.Now().In(orders.Berlin).Format("02.01.2006")
	if row := rows[1]; row[0] != itoa(id) || row[4] != "Hauptstraße 1" || row[5] != "79098" || row[6] != "Freiburg" || row[9] != today {
		t.Errorf("row: %v", row)
	}
	// The API's CSV is unchanged: commas, no BOM, English column names.
	st, _, body := a.raw("GET", "/api/v1/contactable?channel=post")
	if st != http.StatusOK || strings.HasPrefix(string(body), "\uFEFF") || !strings.HasPrefix(string(body), "customer_id,salutation,") {
		t.Errorf("API CSV changed: %d %q", st, body[:min(40, len(body))])
	}
}

// The mailbox lists whom each mail is for, with German labels.
func TestMailboxShowsRecipient(t *testing.T) {
	a := newAPI(t)
	orderWithEverything(t, a, "empfaenger@example.org")
	c := a.e.client()
	c.signIn(a.e.counter, "4711")
	r := c.get("/mailbox")
	if !strings.Contains(r.body, "Empfänger") || !strings.Contains(r.body, "empfaenger@example.org") {
		t.Errorf("mailbox list without the recipient")
	}
}

// The access log speaks German, names what was viewed, and logs a view once.
func TestAccessLogInWords(t *testing.T) {
	a := newAPI(t)
	e := a.e
	id := orderWithEverything(t, a, "log@example.org")
	m := e.client()
	m.signIn(e.manager, "864297")
	m.get("/staff")
	if r := m.post("/staff", url.Values{"name": {"Berta"}, "pin": {"2468"}, "role": {"counter"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("add staff: %d %s", r.StatusCode, r.body)
	}
	m.get("/customers/" + itoa(id))
	r := m.post("/customers/"+itoa(id), url.Values{"salutation": {"Frau"}, "first_name": {"Jürgen"}, "last_name": {"Weiß"}, "street": {"Hauptstraße 2"},
		"postal_code": {"79098"}, "city": {"Freiburg"}, "email": {"log@example.org"}, "mobile": {"0170 1234567"}, "phone": {""}, "lang": {"de"}})
	m.get(r.Header.Get("Location")) // the page again after the change
	views := 0
	list, _ := e.db.AuditLog(context.Background(), orders.AuditFilter{CustomerID: id})
	for _, l := range list {
		if l.Action == orders.AuditView {
			views++
		}
	}
	if views != 1 {
		t.Errorf("%d views logged for one visit and a change", views)
	}
	page := m.get("/audit")
	for _, want := range []string{"Mitarbeiter hinzugefügt: Berta", "Kundenseite", "Straße und Hausnummer"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("access log lacks %q", want)
		}
	}
	if strings.Contains(page.body, "add ") {
		t.Error("the access log shows machine words")
	}
}

// A confirmation link opened after a withdrawal says at once that there is
// nothing to confirm, with no button.
func TestConfirmLinkAfterWithdrawal(t *testing.T) {
	a := newAPI(t)
	id := orderViaAPI(t, a) // e-mail pending
	tokens := consent.NewTokens(a.e.db.Keys.Tokens)
	c := a.e.client()
	if r := c.get("/c/" + tokens.Make(consent.ConfirmToken, id)); !strings.Contains(r.body, `action="/c/`) {
		t.Fatal("a pending consent shows no button")
	}
	c.post("/p/"+tokens.Make(consent.PreferencesToken, id), url.Values{"action": {"withdraw_all"}})
	r := c.get("/c/" + tokens.Make(consent.ConfirmToken, id))
	if strings.Contains(r.body, `action="/c/`) || !strings.Contains(r.body, assets.T("de", "confirm.nothing")) {
		t.Error("the confirmation link after a withdrawal still offers a button")
	}
}

// Changing the language on a form with errors keeps what was typed.
func TestLanguageSwitchKeepsTheForm(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	c.get("/orders/new")
	f := orderForm("Sommerfeld")
	f.Set("email", "kein-at")
	r := c.post("/orders/new", f)
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `name="lang_switch" value="en"`) {
		t.Fatalf("form with errors: %d", r.StatusCode)
	}
	f.Set("lang_switch", "en")
	r = c.post("/orders/new", f)
	if !strings.Contains(r.body, `lang="en"`) || !strings.Contains(r.body, `value="Sommerfeld"`) || !strings.Contains(r.body, "Not a valid e-mail address") {
		t.Errorf("after the switch: %d, English %v, typed %v", r.StatusCode, strings.Contains(r.body, `lang="en"`), strings.Contains(r.body, `value="Sommerfeld"`))
	}
	if e.count("customers") != 0 {
		t.Error("the language switch stored something")
	}
	// A valid form switched is shown again, never handed to the customer.
	f.Set("email", "sommer@example.org")
	if r := c.post("/orders/new", f); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `value="sommer@example.org"`) {
		t.Errorf("valid form switched: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
}

// Found by outside checkers: /favicon.ico answered 404 on both
// listeners; the login's required select had no empty choice; a label
// pointed at the signature canvas; PIN fields said autocomplete="off".
func TestHTMLFindingsOfTheCheckers(t *testing.T) {
	e := newEnv(t)
	s, _ := pos.New(pos.Config{DB: e.db, PublicURL: "https://optik.example"})
	public := httptest.NewServer(s.PublicHandler())
	defer public.Close()
	// The public 404 page shows no form that would 404 there.
	if res, err := http.Get(public.URL + "/p/nonsense"); err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound || strings.Contains(string(b), "<form") {
			t.Errorf("public 404: %d with a form: %v", res.StatusCode, strings.Contains(string(b), "<form"))
		}
	}
	for _, base := range []string{e.srv.URL, public.URL} {
		res, err := http.Get(base + "/favicon.ico")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" {
			t.Errorf("%s/favicon.ico: %d %s", base, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
	c := e.client()
	// The staff list, where the store shows one (by default a name field,
	// so that the screen names nobody), has an empty first choice.
	ctrl, _ := e.db.Controller(context.Background())
	ctrl.LoginStaffList = true
	if _, err := e.db.SaveSettings(context.Background(), ctrl, e.manager.ID); err != nil {
		t.Fatal(err)
	}
	login := c.get("/login")
	if !strings.Contains(login.body, `<option value="">`) || strings.Contains(login.body, `autocomplete="off"`) {
		t.Error("login: no empty first option, or autocomplete=off on the PIN")
	}
	c.signIn(e.counter, "4711")
	_, page := handOver(t, c, orderForm("Weiß"))
	if strings.Contains(page.body, `for="signature-pad"`) || !strings.Contains(page.body, `aria-labelledby="signature-label"`) {
		t.Error("the signature canvas is labelled by a <label for>")
	}
	if r := c.get("/handback"); strings.Contains(r.body, `autocomplete="off"`) {
		t.Error("the hand-back PIN field says autocomplete=off")
	}
}

// A double tap places one order: eight simultaneous
// submits of one consent screen make one order, one customer and its
// mails, not eight.
func TestDoubleTapPlacesOneOrder(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	f := orderForm("Doppel")
	f.Del("rx_right_sph")
	f.Del("rx_right_cyl")
	f.Del("rx_right_axis")
	f.Del("rx_left_sph")
	path, _ := handOver(t, c, f)
	form := url.Values{"cell": {"post:offers"}, "csrf": {c.csrf}}
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range c.cookies {
				req.AddCookie(&http.Cookie{Name: k, Value: v})
			}
			hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			res, err := hc.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			codes[i] = res.StatusCode
		}(i)
	}
	wg.Wait()
	if e.count("orders") != 1 || e.count("customers") != 1 {
		t.Errorf("%d orders, %d customers from one draft (answers %v)", e.count("orders"), e.count("customers"), codes)
	}
	for _, code := range codes {
		if code != http.StatusSeeOther {
			t.Errorf("a tap was answered %d, not with the hand-back screen", code)
		}
	}
}

// Idempotency-Key on POST /api/v1/orders: the same key within 24 hours
// answers the first order again and creates nothing, also when the
// retries come at once.
func TestAPIOrderIdempotencyKey(t *testing.T) {
	a := newAPI(t)
	e := a.e
	token := a.token
	body := apiOrder
	post := func(key string) (int, int64) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/orders", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, 0
		}
		defer res.Body.Close()
		var out struct {
			ID int64 `json:"id"`
		}
		json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out.ID
	}
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	for i := range ids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, ids[i] = post("erp-4711")
		}(i)
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == 0 {
			t.Fatalf("one key, several orders: %v", ids)
		}
	}
	if e.count("orders") != 1 || e.count("outbox") != 2 {
		t.Errorf("%d orders, %d mails for one key", e.count("orders"), e.count("outbox"))
	}
	if st, id := post("erp-4712"); st != http.StatusCreated || id == ids[0] {
		t.Errorf("another key: %d %d", st, id)
	}
	if st, _ := post("mit leerzeichen"); st != http.StatusUnprocessableEntity {
		t.Errorf("a key with a space: %d", st)
	}
	// The same key with another body is no repeat: refused, and the
	// order it would have been is not dropped in silence.
	body = strings.Replace(apiOrder, `"quantity": 2`, `"quantity": 3`, 1)
	placed := e.count("orders")
	if st, _ := post("erp-4711"); st != http.StatusUnprocessableEntity || e.count("orders") != placed {
		t.Errorf("one key, another body: %d, %d orders", st, e.count("orders")-placed)
	}
	// A token of the same name, after the first was revoked, in another
	// store: the key is not its, so a new order, not store 1's.
	body = apiOrder
	if _, err := e.db.RevokeAPIToken(context.Background(), "ERP"); err != nil {
		t.Fatal(err)
	}
	second, err := chain.AddStore(context.Background(), e.db, orders.Store{Name: "Lörrach"})
	if err != nil {
		t.Fatal(err)
	}
	if token, err = e.db.CreateAPIToken(context.Background(), orders.NewAPIToken{Name: "ERP", Scope: orders.ScopeAdmin, StoreID: second.ID}); err != nil {
		t.Fatal(err)
	}
	if st, id := post("erp-4711"); st != http.StatusCreated || id == ids[0] {
		t.Errorf("the same name's new token answered the old one's order: %d %d", st, id)
	}
	// After 24 hours the key is free again.
	e.setClock(func() time.Time { return time.Now().Add(25 * time.Hour) })
	if st, id := post("erp-4711"); st != http.StatusCreated || id == ids[0] {
		t.Errorf("the key after 24 hours: %d %d", st, id)
	}
}

// The same for the settings and a customer's details: the switch keeps
// what was typed and saves nothing.
func TestLanguageSwitchKeepsSettingsAndCustomerForms(t *testing.T) {
	a := newAPI(t)
	e := a.e
	id := orderWithEverything(t, a, "sprache@example.org")
	m := e.client()
	m.signIn(e.manager, "864297")
	m.get("/settings")
	r := m.post("/settings", url.Values{"name": {"Optik Getippt"}, "email": {"kaputt"}, "lang_switch": {"en"}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `value="Optik Getippt"`) || !strings.Contains(r.body, `lang="en"`) {
		t.Errorf("settings after the switch: %d", r.StatusCode)
	}
	if ctrl, _ := e.db.Controller(context.Background()); ctrl.Name == "Optik Getippt" {
		t.Error("the language switch saved the settings")
	}
	m.get("/customers/" + itoa(id))
	r = m.post("/customers/"+itoa(id), url.Values{"last_name": {"Getippt"}, "email": {"sprache@example.org"}, "lang_switch": {"de"}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `value="Getippt"`) || !strings.Contains(r.body, `lang="de"`) {
		t.Errorf("customer form after the switch: %d", r.StatusCode)
	}
	if cu, _ := e.db.Customer(context.Background(), id); cu.LastName == "Getippt" {
		t.Error("the language switch saved the customer")
	}
}

// Preference page posts: a post from another site is
// refused, and an empty or malformed body changes nothing and answers 400.
// The one-click unsubscribe stays as RFC 8058 wants it.
func TestPreferencePostsFromThisSiteOnly(t *testing.T) {
	a := newAPI(t)
	e := a.e
	id := orderViaAPI(t, a)
	tok := consent.NewTokens(e.db.Keys.Tokens).Make(consent.PreferencesToken, id)
	post := func(body string, header map[string]string) int {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/p/"+tok, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	before := e.events()
	for _, h := range []map[string]string{{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}} {
		if st := post("action=withdraw_all", h); st != http.StatusForbidden {
			t.Errorf("withdraw all from %v: %d", h, st)
		}
	}
	for _, body := range []string{"", "src=qr", "action=nonsense", "%%%"} {
		if st := post(body, map[string]string{"Sec-Fetch-Site": "same-origin"}); st != http.StatusBadRequest {
			t.Errorf("body %q: %d", body, st)
		}
	}
	if e.events() != before || e.state(t, id, consent.Post) != consent.Granted {
		t.Fatal("a refused post changed the ledger")
	}
	if st := post("action=withdraw_all", map[string]string{"Origin": e.srv.URL}); st != http.StatusOK || e.state(t, id, consent.Post) != consent.Withdrawn {
		t.Errorf("withdraw all from the page itself: %d", st)
	}
}

// A per-client limit on /login: after ten tries at once,
// one client waits, whichever account it aims at.
func TestLoginLimitedPerClient(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.get("/login")
	codes := []int{}
	for i := 0; i < 12; i++ {
		id := e.counter.ID
		if i%2 == 1 {
			id = e.manager.ID // spread over accounts: no account lock stops it
		}
		r := c.post("/login", url.Values{"staff_id": {itoa(id)}, "pin": {fmt.Sprintf("%04d", 6000+i)}})
		codes = append(codes, r.StatusCode)
	}
	if codes[9] == http.StatusTooManyRequests || codes[10] != http.StatusTooManyRequests || codes[11] != http.StatusTooManyRequests {
		t.Errorf("answers %v: want the 11th and 12th refused", codes)
	}
}

// No lost updates: two staff edit the same customer; the
// second save gets a conflict page with both versions, and nothing is
// reverted silently.
func TestNoLostUpdatesOfACustomer(t *testing.T) {
	a := newAPI(t)
	e := a.e
	id := orderWithEverything(t, a, "zwei@example.org")
	version := regexp.MustCompile(`name="version" value="([^"]*)"`)
	form := func(city, street, v string) url.Values {
		return url.Values{"salutation": {"Frau"}, "first_name": {"Jürgen"}, "last_name": {"Weiß"}, "street": {street}, "postal_code": {"79098"},
			"city": {city}, "email": {"zwei@example.org"}, "mobile": {"0170 1234567"}, "phone": {""}, "lang": {"de"}, "version": {v}}
	}
	anna, max := e.client(), e.client()
	anna.signIn(e.counter, "4711")
	max.signIn(e.manager, "864297")
	va := version.FindStringSubmatch(anna.get("/customers/" + itoa(id)).body)[1]
	vm := version.FindStringSubmatch(max.get("/customers/" + itoa(id)).body)[1]
	if r := anna.post("/customers/"+itoa(id), form("Freiburg im Breisgau", "Hauptstraße 1", va)); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("first save: %d", r.StatusCode)
	}
	r := max.post("/customers/"+itoa(id), form("Freiburg", "Hauptstraße 2", vm))
	if r.StatusCode != http.StatusConflict || !strings.Contains(r.body, "Freiburg im Breisgau") || !strings.Contains(r.body, "Hauptstraße 2") {
		t.Fatalf("second save from the old version: %d", r.StatusCode)
	}
	cu, _ := e.db.Customer(context.Background(), id)
	if cu.City != "Freiburg im Breisgau" || cu.Street != "Hauptstraße 1" {
		t.Errorf("the second save reverted the first: %s, %s", cu.Street, cu.City)
	}
	// Saved again from the conflict page, on purpose: applied.
	vm = version.FindStringSubmatch(r.body)[1]
	if r := max.post("/customers/"+itoa(id), form("Freiburg im Breisgau", "Hauptstraße 2", vm)); r.StatusCode != http.StatusSeeOther {
		t.Errorf("save after the conflict: %d", r.StatusCode)
	}
	if ch, _ := e.db.Changes(context.Background(), id); len(ch) != 2 {
		t.Errorf("change log: %+v", ch)
	}
}

// Smaller security findings, each reproduced: redirects to local paths
// only, no directory listings, HEAD changes nothing, and more.
func TestSmallerSecurityFindings(t *testing.T) {
	a := newAPI(t)
	e := a.e
	c := e.client()
	c.signIn(e.counter, "4711")
	// The /lang redirect takes local paths only.
	for _, back := range []string{`/\evil.example`, "//evil.example/", "https://evil.example", "/x\r\nLocation: //evil", "/\t/evil.example", "/\x00", "/x\x7f"} {
		if r := c.post("/lang", url.Values{"lang": {"de"}, "back": {back}}); r.Header.Get("Location") != "/" {
			t.Errorf("back %q went to %q", back, r.Header.Get("Location"))
		}
	}
	// No directory listings under /static/.
	for _, p := range []string{"/static/", "/static"} {
		if r := c.get(p); r.StatusCode == http.StatusOK && strings.Contains(r.body, "app.css") {
			t.Errorf("%s lists its files", p)
		}
	}
	if r := c.get("/static/app.css"); r.StatusCode != http.StatusOK {
		t.Errorf("a static file: %d", r.StatusCode)
	}
	// An API order with customer.id and other customer fields.
	body := strings.Replace(apiOrder, `"customer": {`, `"customer": {"id": 1, `, 1)
	if st := a.call("POST", "/api/v1/orders", body, nil); st != http.StatusUnprocessableEntity {
		t.Errorf("customer.id with other fields: %d", st)
	}
	id := orderViaAPI(t, a)
	tokens := consent.NewTokens(e.db.Keys.Tokens)
	// HEAD on a public link answers as GET and changes nothing.
	before := e.events()
	for _, p := range []string{"/p/" + tokens.Make(consent.PreferencesToken, id), "/u/" + tokens.Make(consent.UnsubscribeToken, id)} {
		req, _ := http.NewRequest(http.MethodHead, e.srv.URL+p, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("HEAD %s: %d", p[:3], res.StatusCode)
		}
	}
	if e.events() != before {
		t.Error("a HEAD changed the ledger")
	}
	// A paper form posted url-encoded: a 4xx or the ticks, never 500.
	f := orderForm("Papier")
	f.Set("consent_mode", "paper")
	c.get("/orders/new")
	r := c.post("/orders/new", f)
	m := locationID.FindStringSubmatch(r.Header.Get("Location"))
	if m == nil {
		t.Fatalf("paper order: %d", r.StatusCode)
	}
	c.get("/orders/" + m[1])
	if r := c.post("/orders/"+m[1]+"/paper", url.Values{"cell": {"email:offers"}}); r.StatusCode >= 500 {
		t.Errorf("url-encoded paper form: %d", r.StatusCode)
	}
	// The one-click of an erased customer answers 200.
	u := "/u/" + tokens.Make(consent.UnsubscribeToken, id)
	if st := a.call("DELETE", "/api/v1/customers/"+itoa(id), "", nil); st != http.StatusOK {
		t.Fatalf("erase: %d", st)
	}
	res, err := http.Post(e.srv.URL+u, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("one-click of an erased customer: %d", res.StatusCode)
	}
}

// Customer searches are logged like views (by number), and the same scan
// uploaded twice for an order is stored once.
func TestSearchLoggedAndScansNotPiledUp(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	f := orderForm("Suche")
	f.Set("consent_mode", "paper")
	c.get("/orders/new")
	m := locationID.FindStringSubmatch(c.post("/orders/new", f).Header.Get("Location"))
	if m == nil {
		t.Fatal("paper order")
	}
	if r := c.get("/customers/search?q=suche"); !strings.Contains(r.body, "Suche") {
		t.Fatal("search found nothing")
	}
	log, _ := e.db.AuditLog(context.Background(), orders.AuditFilter{})
	if len(log) == 0 || log[0].Action != orders.AuditSearch || log[0].Detail != "1" || strings.Contains(log[0].Detail, "uche") {
		t.Errorf("search not logged by number: %+v", log)
	}
	c.get("/orders/" + m[1])
	scan := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("1"), 100)...)
	for i := 0; i < 3; i++ {
		if r := c.upload("/orders/"+m[1]+"/paper", url.Values{"cell": {"post:offers"}}, "scan", "scan.pdf", scan); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("upload %d: %d", i, r.StatusCode)
		}
	}
	if n := e.count("documents"); n != 1 {
		t.Errorf("%d copies of one scan", n)
	}
}

// A customer cannot lock the counter: wrong PINs on the hand-back screen
// are counted for that tablet and pause its screen for a while; no
// account is locked, so the colleague signs in elsewhere as ever; after
// the pause the colleague's PIN takes the tablet back, and so does a
// manager's. The messages say "PIN", not "Name oder PIN".
func TestACustomerCannotLockTheCounter(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.counter, "4711")
	giveAway := func() {
		t.Helper()
		path, _ := handOver(t, c, orderForm("Weiß"))
		if r := c.post(path+"/back", url.Values{}); r.Header.Get("Location") != "/handback" {
			t.Fatalf("back: %s", r.Header.Get("Location"))
		}
	}
	giveAway()
	for i := 1; i <= orders.HandbackTries; i++ {
		r := c.handBack("0000")
		if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "Die PIN stimmt nicht.") || strings.Contains(r.body, "Name oder PIN") {
			t.Fatalf("wrong PIN %d: %d", i, r.StatusCode)
		}
	}
	if r := c.handBack("4711"); r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "Sekunden warten") {
		t.Fatalf("during the pause: %d", r.StatusCode)
	}
	// Nobody is locked: the colleague signs in on another device.
	e.client().signIn(e.counter, "4711") // fails the test if refused
	now := time.Now()
	e.setClock(func() time.Time { return now.Add(orders.HandbackPause + time.Second) })
	if r := c.handBack("4711"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/orders/new?draft=") {
		t.Fatalf("the colleague's PIN after the pause: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	// Again, and this time a manager takes the tablet back.
	e.setClock(time.Now)
	giveAway()
	for range orders.HandbackTries {
		c.handBack("0000")
	}
	e.setClock(func() time.Time { return time.Now().Add(orders.HandbackPause + time.Second) })
	if r := c.handBack("864297"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("a manager's PIN: %d", r.StatusCode)
	}
}

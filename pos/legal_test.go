package pos_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
)

// The legal core through the web: each test names its rule.

// orderNothingGiven places an API order with every channel off.
func orderNothingGiven(t *testing.T, a *api, email string) int64 {
	t.Helper()
	return postOrder(t, a, strings.Replace(apiOrder, `"post": true, "email": true`, `"post": false, "email": false`, 1), email)
}

// GDPR Art. 21(3), §7(3) Nr. 4 UWG: the one-click unsubscribe, "withdraw
// all" and the object button record an objection on a channel that was
// never granted; a switch left off does not; a GET changes nothing.
func TestObjectionsOnThePublicPages_Art21(t *testing.T) {
	a := newAPI(t)
	e := a.e
	tokens := consent.NewTokens(e.db.Keys.Tokens)

	// One-click, e-mail never granted (the §7(3) UWG case).
	id := orderNothingGiven(t, a, "oneclick@example.org")
	u := tokens.Make(consent.UnsubscribeToken, id)
	c := e.client()
	before := e.events()
	if r := c.get("/u/" + u); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `name="List-Unsubscribe" value="One-Click"`) || e.events() != before {
		t.Fatalf("GET /u: %d, events %d → %d", r.StatusCode, before, e.events())
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/u/"+u, strings.NewReader("List-Unsubscribe=One-Click"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || e.state(t, id, consent.Email) != consent.Withdrawn || e.events() != before+1 {
		t.Fatalf("one-click on state none: %d, %s", res.StatusCode, e.state(t, id, consent.Email))
	}
	// The unsubscribe page's button, pressed by a person, says so in words.
	r := c.post("/u/"+u, url.Values{"List-Unsubscribe": {"One-Click"}, "page": {"1"}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Erledigt") {
		t.Errorf("unsubscribe page button: %d", r.StatusCode)
	}

	// The preference page: switches left off record nothing ...
	id2 := orderNothingGiven(t, a, "prefs@example.org")
	p := "/p/" + tokens.Make(consent.PreferencesToken, id2)
	page := c.get(p + "?src=qr")
	if !strings.Contains(page.body, `name="action" value="object"`) || !strings.Contains(page.body, `value="sms"`) {
		t.Fatalf("no way to object on the page")
	}
	before = e.events()
	c.post(p, url.Values{"action": {"save"}, "src": {"qr"}})
	if e.events() != before {
		t.Fatal("a save with every switch off recorded an event")
	}
	// ... the object button records one, ...
	if r := c.post(p, url.Values{"action": {"object"}, "channel": {"sms"}, "src": {"qr"}}); r.StatusCode != http.StatusOK ||
		e.state(t, id2, consent.SMS) != consent.Withdrawn || e.events() != before+1 {
		t.Fatalf("object button: %d, %s", r.StatusCode, e.state(t, id2, consent.SMS))
	}
	// ... and "withdraw all" objects on every channel left.
	c.post(p, url.Values{"action": {"withdraw_all"}, "src": {"qr"}})
	for _, ch := range consent.Channels {
		if e.state(t, id2, ch) != consent.Withdrawn {
			t.Errorf("%s after withdraw all: %s", ch, e.state(t, id2, ch))
		}
	}
	_, events, _ := e.db.Consents(context.Background(), id2)
	for _, ev := range events {
		if ev.Action == consent.Decline && ev.Source == consent.API {
			continue // the order's answer: every channel asked, left off
		}
		if ev.Source != consent.QRCode || ev.Actor != consent.ByCustomer {
			t.Errorf("objection recorded as %s/%s", ev.Source, ev.Actor)
		}
	}
	if v, err := e.db.Verify(context.Background()); err != nil || !v.OK {
		t.Fatalf("ledger: %+v %v", v, err)
	}
}

// GDPR Art. 9(2)(a), Art. 7(3): the prescription consent is withdrawn by
// the API, on the preference page and on the customer page.
func TestPrescriptionWithdrawnEverywhere_Art9(t *testing.T) {
	a := newAPI(t)
	e := a.e
	ctx := context.Background()
	withRx := func(email string) (int64, int64) {
		id := orderWithEverything(t, a, email)
		list, _ := e.db.CustomerOrders(ctx, id)
		if len(list) != 1 || !list[0].HasPrescription {
			t.Fatalf("order without prescription: %+v", list)
		}
		return id, list[0].ID
	}
	gone := func(orderID int64) bool {
		o, err := e.db.Order(ctx, orderID)
		return err == nil && !o.HasPrescription
	}
	// The API.
	id, oid := withRx("api-rx@example.org")
	var out struct {
		Purposes map[string]struct{ State string } `json:"purposes"`
	}
	if st := a.call("POST", "/api/v1/customers/"+itoa(id)+"/consents", `{"channels": {"health_data": false}, "source": "phone_request"}`, &out); st != http.StatusOK ||
		out.Purposes["health_data"].State != "withdrawn" || !gone(oid) {
		t.Errorf("API withdrawal: %d %+v", st, out)
	}
	if st := a.call("POST", "/api/v1/customers/"+itoa(id)+"/consents", `{"channels": {"health_data": true}, "source": "phone_request"}`, nil); st != http.StatusUnprocessableEntity {
		t.Errorf("API grant of health data: %d", st)
	}
	// The preference page.
	id, oid = withRx("page-rx@example.org")
	c := e.client()
	p := "/p/" + consent.NewTokens(e.db.Keys.Tokens).Make(consent.PreferencesToken, id)
	// Its own switch, apart from marketing: on while given.
	if r := c.get(p); !strings.Contains(r.body, `name="health_data" checked`) || !strings.Contains(r.body, `value="health"`) {
		t.Fatal("the preference page has no switch for the prescription consent")
	}
	if r := c.post(p, url.Values{"action": {"health"}, "health_data": {"on"}}); r.StatusCode != http.StatusOK || gone(oid) {
		t.Errorf("saving the switch on changed something: %d", r.StatusCode)
	}
	if r := c.post(p, url.Values{"action": {"health"}}); r.StatusCode != http.StatusOK || !gone(oid) || e.state(t, id, consent.Post) != consent.Granted {
		t.Errorf("page withdrawal: %d", r.StatusCode)
	}
	// The customer page in the back office.
	id, oid = withRx("office-rx@example.org")
	staffC := e.client()
	staffC.signIn(e.counter, "4711")
	staffC.get("/customers/" + itoa(id))
	if r := staffC.post("/customers/"+itoa(id)+"/consents", url.Values{"withdraw_health_data": {"on"}, "source": {"in_person"}}); r.StatusCode != http.StatusSeeOther || !gone(oid) {
		t.Errorf("back office withdrawal: %d", r.StatusCode)
	}
}

// §7a UWG: an advertising use is recorded through the API and on the
// customer page; a use of a channel without consent is refused.
func TestAdvertisingUseRecorded_UWG7a(t *testing.T) {
	a := newAPI(t)
	e := a.e
	body := strings.Replace(apiOrder, `"phone": false`, `"phone": true`, 1)
	body = strings.Replace(body, `"phone": ""`, `"phone": "0761 123456"`, 1)
	var created struct {
		CustomerID int64 `json:"customer_id"`
	}
	if st := a.call("POST", "/api/v1/orders", body, &created); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	id := itoa(created.CustomerID)
	var use struct {
		Recorded consent.Event `json:"recorded"`
	}
	if st := a.call("POST", "/api/v1/customers/"+id+"/uses", `{"channel": "phone", "note": "Herbstaktion"}`, &use); st != http.StatusCreated ||
		use.Recorded.Action != consent.Use || use.Recorded.APIToken != "ERP" || use.Recorded.Contact != "+49761123456" {
		t.Fatalf("API use: %d %+v", st, use.Recorded)
	}
	if st := a.call("POST", "/api/v1/customers/"+id+"/uses", `{"channel": "sms"}`, nil); st != http.StatusConflict {
		t.Errorf("use without consent: %d", st)
	}
	if st := a.call("POST", "/api/v1/customers/"+id+"/uses", `{"channel": "phone", "when": "now"}`, nil); st != http.StatusUnprocessableEntity {
		t.Errorf("unknown field: %d", st)
	}
	c := e.client()
	c.signIn(e.counter, "4711")
	if r := c.get("/customers/" + id); !strings.Contains(r.body, `action="/customers/`+id+`/uses"`) {
		t.Fatal("no use form on the customer page")
	}
	if r := c.post("/customers/"+id+"/uses", url.Values{"channel": {"phone"}, "note": {"Rückruf"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("back office use: %d %s", r.StatusCode, r.body)
	}
	st, _, _ := e.db.Consents(context.Background(), created.CustomerID)
	if st[consent.Phone].LastUsedAt == "" || st[consent.Phone].State != consent.Granted {
		t.Errorf("phone after uses: %+v", st[consent.Phone])
	}
}

// §35(3) BDSG: an erased customer's kept order is locked. Counter staff
// and API tokens are refused, a manager sees it as retained for the law,
// and every access is logged. The blocking list shows on the customer page.
func TestLockedOrderManagerOnlyAndLogged_BDSG35(t *testing.T) {
	a := newAPI(t)
	e := a.e
	id := orderWithEverything(t, a, "locked@example.org")
	list, _ := e.db.CustomerOrders(context.Background(), id)
	oid := itoa(list[0].ID)
	if st := a.call("DELETE", "/api/v1/customers/"+itoa(id), "", nil); st != http.StatusOK {
		t.Fatalf("erase: %d", st)
	}
	counter := e.client()
	counter.signIn(e.counter, "4711")
	for _, path := range []string{"/orders/" + oid, "/orders/" + oid + "/confirmation.pdf"} {
		if r := counter.get(path); r.StatusCode != http.StatusForbidden || strings.Contains(r.body, "Gleitsichtgläser") {
			t.Errorf("counter %s: %d", path, r.StatusCode)
		}
	}
	if st := a.call("GET", "/api/v1/orders/"+oid, "", nil); st != http.StatusForbidden {
		t.Errorf("API order: %d", st)
	}
	if r := counter.post("/orders/"+oid+"/ready", url.Values{}); r.StatusCode == http.StatusOK {
		t.Errorf("ready on a locked order: %d", r.StatusCode)
	}
	manager := e.client()
	manager.signIn(e.manager, "864297")
	r := manager.get("/orders/" + oid)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "§ 147 AO / § 257 HGB bis "+keptUntilShown()) || !strings.Contains(r.body, "Gleitsichtgläser") ||
		strings.Contains(r.body, "/ready") {
		t.Fatalf("manager view: %d", r.StatusCode)
	}
	log, err := e.db.AuditLog(context.Background(), orders.AuditFilter{CustomerID: id})
	if err != nil {
		t.Fatal(err)
	}
	denied, viewed := 0, 0
	for _, l := range log {
		switch l.Action {
		case orders.AuditRestrictedDenied:
			denied++
		case orders.AuditViewRestricted:
			viewed++
		}
	}
	if denied != 3 || viewed != 1 {
		t.Errorf("audit: %d refused, %d viewed; want 3 and 1", denied, viewed)
	}

	// A new record of the same person shows "blocked".
	again := orderNothingGiven(t, a, "locked@example.org")
	if r := counter.get("/customers/" + itoa(again)); !strings.Contains(r.body, "gesperrt (früherer Widerspruch oder Löschung)") {
		t.Error("the customer page does not show the block")
	}
	for _, ch := range consent.Channels {
		if e.state(t, again, ch) != consent.Withdrawn {
			t.Errorf("%s of the returning customer: %s", ch, e.state(t, again, ch))
		}
	}
}

// Art. 8 GDPR by analogy through the API and the counter: the consent
// screen asks for the parent or guardian, the PDF prints "signed by … for
// …", and the proof shows who decided.
func TestChildOrderSignedByAParent_Art8(t *testing.T) {
	a := newAPI(t)
	e := a.e
	body := strings.Replace(apiOrder, `"phone": ""}`, `"phone": "", "under_16": true}`, 1)
	if st := a.call("POST", "/api/v1/orders", body, nil); st != http.StatusUnprocessableEntity {
		t.Fatalf("a child's order with consent and no parent: %d", st)
	}
	body = strings.Replace(body, `"channels": {"post": true, "email": true, "sms": false, "phone": false}`,
		`"channels": {"post": true, "email": true, "sms": false, "phone": false}, "representative": {"name": "Sabine Weiß", "relationship": "mother"}, "signature_png": "`+signature(t)+`"`, 1)
	var created struct {
		ID         int64 `json:"id"`
		CustomerID int64 `json:"customer_id"`
	}
	if st := a.call("POST", "/api/v1/orders", body, &created); st != http.StatusCreated {
		t.Fatalf("a child's order with a parent: %d", st)
	}
	st, _, doc := a.raw("GET", "/api/v1/orders/"+itoa(created.ID)+"/confirmation.pdf")
	if st != http.StatusOK {
		t.Fatalf("confirmation: %d", st)
	}
	if text := strings.Join(strings.Fields(pdfText(t, doc)), " "); !strings.Contains(text, "Unterschrieben von Sabine Weiß (Mutter) für Jürgen Weiß") ||
		!strings.Contains(text, "Post: Ich möchte") {
		t.Errorf("the confirmation does not say who signed for the child:\n%s", text)
	}
	_, _, proof := a.raw("GET", "/api/v1/customers/"+itoa(created.CustomerID)+"/proof.pdf")
	if text := strings.Join(strings.Fields(pdfText(t, proof)), " "); !strings.Contains(text, "Für das Kind") || !strings.Contains(text, "Sabine Weiß (Mutter)") {
		t.Errorf("the proof does not show the representative: %s", strings.Join(strings.Fields(pdfText(t, proof)), " "))
	}
	// The counter: the consent screen asks for the parent.
	c := e.client()
	c.signIn(e.counter, "4711")
	f := orderForm("Kind")
	f.Set("under_16", "on")
	f.Set("email", "kind@example.org")
	path, page := handOver(t, c, f)
	if !strings.Contains(page.body, `name="rep_name"`) || !strings.Contains(page.body, "Unterschrift des Elternteils oder Vormunds") {
		t.Fatal("the consent screen for a child does not ask for the parent")
	}
	r := c.post(path, url.Values{"cell": {"post:offers"}, "rx_decided": {"1"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "entscheidet ein Elternteil oder Vormund") {
		t.Errorf("a child's consent without a parent on the tablet: %d", r.StatusCode)
	}
	r = c.post(path, url.Values{"cell": {"post:offers"}, "rx_decided": {"1"}, "rep_name": {"Paul Kind"}, "rep_relationship": {"father"}, "signature": {signature(t)}})
	if r.Header.Get("Location") != "/handback" {
		t.Fatalf("with the parent: %d %s", r.StatusCode, r.body)
	}
}

// Art. 33, 34 through the web: the API and the back office record a
// breach, the dashboard counts down the 72 hours, and a notification
// letter for an affected customer carries what Art. 34(2) asks; handing it
// out is in the register and the access log.
func TestBreachRegisterAndLetter_Art33_34(t *testing.T) {
	a := newAPI(t)
	e := a.e
	id := orderWithEverything(t, a, "betroffen@example.org")
	noticed := time.Now().Add(-2 * time.Hour).Format(time.RFC3339)
	var b struct {
		ID       int64  `json:"id"`
		Deadline string `json:"deadline"`
	}
	body := `{"occurred_at": "` + noticed + `", "noticed_at": "` + noticed + `", "facts": "Fehlversand einer Kundenliste", "categories": "Name, E-Mail",
		"people": 3, "records": 3, "health_data": false, "consequences": "Unerwünschte Werbung durch Dritte möglich.", "measures": "Empfänger um Löschung gebeten."}`
	if st := a.call("POST", "/api/v1/breaches", body, &b); st != http.StatusCreated || b.ID == 0 || b.Deadline == "" {
		t.Fatalf("API breach: %d %+v", st, b)
	}
	if st := a.call("POST", "/api/v1/breaches", `{"facts": ""}`, nil); st != http.StatusUnprocessableEntity {
		t.Errorf("an empty breach: %d", st)
	}
	var list struct {
		Breaches []struct{ ID int64 } `json:"breaches"`
	}
	if st := a.call("GET", "/api/v1/breaches", "", &list); st != http.StatusOK || len(list.Breaches) != 1 {
		t.Errorf("API list: %d %+v", st, list)
	}
	m := e.client()
	m.signIn(e.manager, "864297")
	if r := m.get("/dashboard"); !strings.Contains(r.body, "Datenpanne "+itoa(b.ID)+": die Aufsichtsbehörde ist noch nicht benachrichtigt – noch 69 Stunden") &&
		!strings.Contains(r.body, "noch 70 Stunden") {
		t.Errorf("the dashboard shows no countdown")
	}
	r := m.get("/breaches/" + itoa(b.ID) + "/letter.pdf?customer=" + itoa(id))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("letter: %d", r.StatusCode)
	}
	text := strings.Join(strings.Fields(pdfText(t, []byte(r.body))), " ")
	for _, want := range []string{"Fehlversand einer Kundenliste", "Unerwünschte Werbung durch Dritte möglich.", "Empfänger um Löschung gebeten.",
		"datenschutz@optik-muster.example", "Art. 34 DSGVO", "Weiß"} {
		if !strings.Contains(text, want) {
			t.Errorf("letter lacks %q", want)
		}
	}
	reg, _ := e.db.Breach(context.Background(), b.ID)
	if len(reg.Events) != 1 || reg.Events[0].Kind != "customer_notified" || reg.Events[0].CustomerID != id {
		t.Errorf("the letter's sending is not in the register: %+v", reg.Events)
	}
	log, _ := e.db.AuditLog(context.Background(), orders.AuditFilter{CustomerID: id})
	if len(log) == 0 || log[0].Action != orders.AuditBreachLetter {
		t.Errorf("the letter is not in the access log: %+v", log)
	}
	// The back office: the authority notified; the countdown ends.
	m.get("/breaches")
	if r := m.post("/breaches/"+itoa(b.ID)+"/notes", url.Values{"kind": {"authority_notified"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("note: %d %s", r.StatusCode, r.body)
	}
	if r := m.get("/dashboard"); strings.Contains(r.body, "noch nicht benachrichtigt") {
		t.Error("the countdown goes on after the notification")
	}
	// And a breach recorded in the back office.
	m.get("/breaches")
	at := time.Now().In(orders.Berlin).Format("2006-01-02T15:04")
	if r := m.post("/breaches", url.Values{"occurred_at": {at}, "noticed_at": {at}, "facts": {"Test"}, "categories": {"Name"}, "people": {"1"}, "records": {"1"},
		"consequences": {"Keine"}, "measures": {"Keine"}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("back office breach: %d", r.StatusCode)
	}
	counter := e.client()
	counter.signIn(e.counter, "4711")
	if r := counter.get("/breaches"); r.StatusCode != http.StatusForbidden {
		t.Errorf("counter staff on the breach register: %d", r.StatusCode)
	}
}

// Letters on legitimate interest at the counter and on the preference
// page: no switch, the objection instead.
func TestPostOnLegitimateInterestScreens_Recital47(t *testing.T) {
	e := newEnv(t)
	ctrl, _ := e.db.Controller(context.Background())
	ctrl.PostBasis = string(consent.BasisLegitimateInterest)
	if err := e.db.SaveController(context.Background(), ctrl, 0); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.signIn(e.counter, "4711")
	path, page := handOver(t, c, orderForm("Brief"))
	if strings.Contains(page.body, `value="post:`) || !strings.Contains(page.body, "Werbung per Brief – Ihr Widerspruchsrecht") {
		t.Error("the consent screen offers a post box on legitimate interest")
	}
	c.post(path, url.Values{"rx_decided": {"1"}})
	c.handBack("4711")
	tok := consent.NewTokens(e.db.Keys.Tokens).Make(consent.PreferencesToken, 1)
	p := e.client()
	pref := p.get("/p/" + tok)
	if strings.Contains(pref.body, `value="post:`) || !strings.Contains(pref.body, `value="post"`) {
		t.Error("the preference page: a post switch, or no objection")
	}
	before := e.events()
	p.post("/p/"+tok, url.Values{"action": {"save"}, "post_li": {"1"}})
	if e.events() != before {
		t.Error("saving the page recorded a post event")
	}
	p.post("/p/"+tok, url.Values{"action": {"object"}, "channel": {"post"}})
	if e.state(t, 1, consent.Post) != consent.Withdrawn {
		t.Error("the objection to letters was not recorded")
	}
}

// A changed address ends the consent given for the old one: the
// channel closes in the ledger with the reason, the contactable
// list does not show the new address, and the confirmation link sent to
// the old address confirms nothing. Back office and PATCH alike.
func TestChangedAddressEndsTheConsent(t *testing.T) {
	a := newAPI(t)
	e := a.e
	ctx := context.Background()
	id := orderWithEverything(t, a, "alt@example.org") // post granted, e-mail pending
	// Staff confirm? No: the customer confirms at the old address first.
	tokens := consent.NewTokens(e.db.Keys.Tokens)
	oldLink := "/c/" + tokens.MakeFor(consent.ConfirmAddressToken, id, "alt@example.org")
	c := e.client()
	if r := c.get(oldLink); !strings.Contains(r.body, `action="/c/`) {
		t.Fatal("the link to the old address does not open while it is current")
	}
	// The ERP corrects the address.
	var out struct {
		Channels map[string]struct{ State string } `json:"channels"`
		Changes  []struct{ Field string }          `json:"changes"`
	}
	if st := a.call("PATCH", "/api/v1/customers/"+itoa(id), `{"email": "neu@example.org", "mobile": "0171 4455667"}`, &out); st != http.StatusOK {
		t.Fatalf("PATCH: %d", st)
	}
	if out.Channels["email"].State != "none" || out.Channels["post"].State != "granted" || len(out.Changes) != 2 {
		t.Errorf("after the correction: %+v", out)
	}
	_, events, _ := e.db.Consents(ctx, id)
	last := events[len(events)-1]
	if last.Action != consent.Close || last.Channel != consent.Email || last.Contact != "alt@example.org" || last.Note != "contact changed" || last.APIToken != "ERP" {
		t.Errorf("close event: %+v", last)
	}
	// The old link confirms nothing now, even after a new pending grant.
	if st := a.call("POST", "/api/v1/customers/"+itoa(id)+"/consents", `{"channels": {"email": true}, "source": "phone_request"}`, nil); st != http.StatusOK {
		t.Fatalf("new grant: %d", st)
	}
	if r := c.post(oldLink, url.Values{}); r.StatusCode != http.StatusNotFound || e.state(t, id, consent.Email) != consent.Pending {
		t.Errorf("the old address's link confirmed the new one: %d %s", r.StatusCode, e.state(t, id, consent.Email))
	}
	legacy := "/c/" + tokens.Make(consent.ConfirmToken, id)
	if r := c.post(legacy, url.Values{}); r.StatusCode != http.StatusNotFound {
		t.Errorf("a link from before the binding confirmed after a change: %d", r.StatusCode)
	}
	newLink := "/c/" + tokens.MakeFor(consent.ConfirmAddressToken, id, "neu@example.org")
	if r := c.post(newLink, url.Values{}); r.StatusCode != http.StatusOK || e.state(t, id, consent.Email) != consent.Granted {
		t.Errorf("the new address's own link: %d %s", r.StatusCode, e.state(t, id, consent.Email))
	}
	// The back office: a changed mobile number closes SMS.
	start := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
	if _, err := e.db.PlaceOrder(ctx, orders.NewOrder{Customer: orders.Customer{ID: id}, StaffID: e.counter.ID,
		Items:  []orders.Item{{Description: "Pflegemittel", Quantity: 1, UnitPriceCents: 990, VATRatePercent: 19}},
		Pickup: &orders.Pickup{Start: start, End: start.Add(30 * time.Minute)},
		Consent: orders.ConsentInput{Mode: orders.ModeTablet, Cells: map[consent.Channel][]string{consent.SMS: {consent.TopicOffers}},
			SignaturePNG: mustDecodeDataURL(t, signature(t))}}); err != nil {
		t.Fatal(err)
	}
	m := e.client()
	m.signIn(e.counter, "4711")
	m.get("/customers/" + itoa(id))
	r := m.post("/customers/"+itoa(id), url.Values{"salutation": {"Frau"}, "first_name": {"Jürgen"}, "last_name": {"Weiß"}, "street": {"Hauptstraße 1"},
		"postal_code": {"79098"}, "city": {"Freiburg"}, "email": {"neu@example.org"}, "mobile": {"0172 9998887"}, "phone": {""}, "lang": {"de"}})
	if r.StatusCode != http.StatusSeeOther || e.state(t, id, consent.SMS) != consent.None || e.state(t, id, consent.Email) != consent.Granted {
		t.Errorf("back office change of the mobile: %d, SMS %s, e-mail %s", r.StatusCode, e.state(t, id, consent.SMS), e.state(t, id, consent.Email))
	}
	if list, _ := e.db.Contactable(ctx, consent.SMS); len(list) != 0 {
		t.Errorf("the new number is contactable: %+v", list)
	}
	if st := a.call("PATCH", "/api/v1/customers/"+itoa(id), `{"emial": "x@example.org"}`, nil); st != http.StatusUnprocessableEntity {
		t.Errorf("a misspelt field: %d", st)
	}
	if v, err := e.db.Verify(ctx); err != nil || !v.OK {
		t.Fatalf("ledger: %+v %v", v, err)
	}
}

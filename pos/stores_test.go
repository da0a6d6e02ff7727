package pos_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/chain"
)

// Stores in the back office: a manager of the whole
// chain adds and edits stores and switches the store the session works
// in; a store's manager edits their own store and adds staff to it only;
// counter staff see their store and change nothing.
func TestStoresInTheBackOffice(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := e.client()
	m.signIn(e.manager, "864297") // newEnv's manager is the whole chain's
	// One store: no store line, nothing to choose.
	if r := m.get("/"); strings.Contains(r.body, `class="store-line"`) {
		t.Error("a one-store chain shows a store line")
	}
	m.get("/stores")
	if r := m.post("/stores", url.Values{"name": {"Freiburg"}, "street": {"Kaiser-Joseph-Straße 1"}, "postal_code": {"79098"}, "city": {"Freiburg"},
		"phone": {"0761 123456"}, "opening_hours": {"Mo–Fr 9–18 Uhr\r\nSa 9–14 Uhr"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("add a store: %d %s", r.StatusCode, r.body)
	}
	r := m.get("/stores?done=added")
	if !strings.Contains(r.body, "Die Filiale ist angelegt.") || !strings.Contains(r.body, "Kaiser-Joseph-Straße 1, 79098 Freiburg") {
		t.Errorf("stores page after adding: %s", r.body)
	}
	// Bad input: told why, nothing added, what was typed kept.
	for _, bad := range []url.Values{{"name": {""}}, {"name": {"freiburg"}}, {"name": {"Köln"}, "email": {"kein-mail"}}} {
		m.get("/stores")
		r := m.post("/stores", bad)
		if r.StatusCode != http.StatusUnprocessableEntity && r.StatusCode != http.StatusConflict {
			t.Errorf("%v: %d", bad, r.StatusCode)
		}
		if bad.Get("email") != "" && !strings.Contains(r.body, `value="kein-mail"`) {
			t.Errorf("what was typed is lost: %v", bad)
		}
	}
	stores, _ := e.db.Stores(ctx)
	if len(stores) != 2 {
		t.Fatalf("stores after bad input: %+v", stores)
	}
	freiburg := stores[1]

	// Two stores: the manager's pages name the store and offer the switch.
	r = m.get("/dashboard")
	if !strings.Contains(r.body, "Filiale: <strong>"+stores[0].Name+"</strong>") || !strings.Contains(r.body, `action="/store"`) {
		t.Errorf("the store line: %s", r.body)
	}
	if r := m.post("/store", url.Values{"store": {"99"}, "back": {"/dashboard"}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("switch to store 99: %d", r.StatusCode)
	}
	m.get("/dashboard")
	if r := m.post("/store", url.Values{"store": {itoa(freiburg.ID)}, "back": {"//evil.example/"}}); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Errorf("switch: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := m.get("/dashboard"); !strings.Contains(r.body, "Filiale: <strong>Freiburg</strong>") {
		t.Error("the session did not move to Freiburg")
	}
	// What the manager does now happens in Freiburg: the access log says so.
	p, err := e.db.PlaceOrder(ctx, orders.NewOrder{StaffID: e.counter.ID,
		Customer: orders.Customer{Salutation: "Frau", FirstName: "Jana", LastName: "Weiß", Email: "j.weiss@example.org"},
		Items:    []orders.Item{{Description: "Fassung", Quantity: 1, UnitPriceCents: 12900, VATRatePercent: 19}},
		Consent:  orders.ConsentInput{Mode: orders.ModePaper}})
	if err != nil {
		t.Fatal(err)
	}
	if r := m.get("/customers/" + itoa(p.Customer.ID) + "/export.json"); r.StatusCode != http.StatusOK {
		t.Fatalf("export: %d", r.StatusCode)
	}
	log, _ := e.db.AuditLog(ctx, orders.AuditFilter{CustomerID: p.Customer.ID})
	if len(log) == 0 || log[0].StoreID != freiburg.ID {
		t.Errorf("access log: %+v", log)
	}
	if r := m.get("/audit"); !strings.Contains(r.body, "<td>Freiburg</td>") {
		t.Error("the access log page does not name the store")
	}

	// Staff of a store.
	m.get("/staff")
	if r := m.post("/staff", url.Values{"name": {"Eva"}, "pin": {"3851"}, "role": {"counter"}, "store": {""}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("counter staff without a store: %d", r.StatusCode)
	}
	m.get("/staff")
	if r := m.post("/staff", url.Values{"name": {"Eva"}, "pin": {"3851"}, "role": {"counter"}, "store": {itoa(freiburg.ID)}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("counter staff in Freiburg: %d %s", r.StatusCode, r.body)
	}
	m.get("/staff")
	if r := m.post("/staff", url.Values{"name": {"Frieda"}, "pin": {"592817"}, "role": {"manager"}, "store": {itoa(freiburg.ID)}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("Freiburg's manager: %d %s", r.StatusCode, r.body)
	}
	if r := m.get("/staff"); !strings.Contains(r.body, "<td>Freiburg</td>") || !strings.Contains(r.body, "ganze Kette") {
		t.Error("the staff page does not name the stores")
	}
	frieda, _ := e.db.StaffByName(ctx, "Frieda")
	eva, _ := e.db.StaffByName(ctx, "Eva")
	if frieda.StoreID != freiburg.ID || eva.StoreID != freiburg.ID {
		t.Fatalf("Frieda %+v, Eva %+v", frieda, eva)
	}

	// Freiburg's manager: their store only.
	f := e.client()
	f.signIn(frieda, "592817")
	r = f.get("/stores")
	if strings.Contains(r.body, `action="/stores"`) || strings.Contains(r.body, `action="/stores/1"`) || !strings.Contains(r.body, `action="/stores/`+itoa(freiburg.ID)+`"`) {
		t.Errorf("a store's manager sees forms for other stores: %s", r.body)
	}
	if strings.Contains(f.get("/dashboard").body, `action="/store"`) || !strings.Contains(f.get("/dashboard").body, "Filiale: <strong>Freiburg</strong>") {
		t.Error("a store's manager is offered the switch, or not shown the store")
	}
	f.get("/stores")
	if r := f.post("/stores", url.Values{"name": {"Lörrach"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("a store's manager adds a store: %d", r.StatusCode)
	}
	// The company's settings and privacy notice are the chain's: shown
	// with a word why, without a button, and a post is refused.
	ctrlBefore, _ := e.db.Controller(ctx)
	for _, path := range []string{"/settings", "/notices"} {
		if r := f.get(path); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "gelten für die ganze Kette") || strings.Contains(r.body, `type="submit" class="primary"`) {
			t.Errorf("a store's manager on %s: %d", path, r.StatusCode)
		}
		if r := f.post(path, url.Values{"name": {"Übernommen GmbH"}}); r.StatusCode != http.StatusForbidden {
			t.Errorf("a store's manager posts %s: %d", path, r.StatusCode)
		}
	}
	if ctrl, _ := e.db.Controller(ctx); ctrl.Name != ctrlBefore.Name {
		t.Errorf("the company's name changed to %q", ctrl.Name)
	}
	f.get("/stores")
	if r := f.post("/stores/1", url.Values{"name": {"Übernommen"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("a store's manager edits another store: %d", r.StatusCode)
	}
	f.get("/stores")
	if r := f.post("/stores/"+itoa(freiburg.ID), url.Values{"name": {"Freiburg"}, "phone": {"0761 999"}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("a store's manager edits their store: %d %s", r.StatusCode, r.body)
	}
	if st, _ := e.db.Store(ctx, freiburg.ID); st.Phone != "0761 999" || st.Street != "" {
		t.Errorf("after the edit (the form sends every field): %+v", st)
	}
	f.get("/staff")
	if r := f.post("/staff", url.Values{"name": {"Gustav"}, "pin": {"4711"}, "role": {"counter"}, "store": {"1"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("a store's manager adds staff to another store: %d", r.StatusCode)
	}
	f.get("/staff")
	if r := f.post("/staff", url.Values{"name": {"Hanna"}, "pin": {"592817"}, "role": {"manager"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("a store's manager adds a manager: %d", r.StatusCode)
	}
	if h, _ := e.db.StaffByName(ctx, "Hanna"); h.StoreID != freiburg.ID {
		t.Errorf("a store's manager made a manager of the whole chain: %+v", h)
	}
	f.get("/dashboard")
	if r := f.post("/store", url.Values{"store": {"1"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("a store's manager switches stores: %d", r.StatusCode)
	}
	// … and manages their store's staff only: not the first store's, not
	// the chain's manager; the staff page lists their own.
	r = f.get("/staff")
	if strings.Contains(r.body, ">"+e.counter.Name+"<") || strings.Contains(r.body, ">"+e.manager.Name+"<") || !strings.Contains(r.body, ">Eva<") {
		t.Errorf("a store's manager sees other stores' staff:\n%s", r.body)
	}
	for _, path := range []string{"/staff/" + itoa(e.counter.ID) + "/disable", "/staff/" + itoa(e.manager.ID) + "/disable", "/staff/" + itoa(e.counter.ID) + "/unlock"} {
		f.get("/staff")
		if r := f.post(path, url.Values{}); r.StatusCode != http.StatusForbidden {
			t.Errorf("a store's manager: %s answered %d", path, r.StatusCode)
		}
	}
	f.get("/staff")
	if r := f.post("/staff/"+itoa(e.counter.ID)+"/pin", url.Values{"pin": {"592817"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("a store's manager set another store's PIN: %d", r.StatusCode)
	}
	if all, _ := e.db.AllStaff(ctx); func() bool {
		for _, st := range all {
			if st.Disabled {
				return true
			}
		}
		return false
	}() {
		t.Error("a refused change changed something")
	}
	f.get("/staff")
	if r := f.post("/staff/"+itoa(eva.ID)+"/disable", url.Values{}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("a store's manager disables their store's staff: %d", r.StatusCode)
	}
	f.get("/staff")
	if r := f.post("/staff/"+itoa(eva.ID)+"/enable", url.Values{}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("… and enables them again: %d", r.StatusCode)
	}

	// Counter staff: their store shown, the stores page closed.
	c := e.client()
	c.signIn(eva, "3851")
	if r := c.get("/"); !strings.Contains(r.body, "Filiale: <strong>Freiburg</strong>") {
		t.Error("counter staff are not shown their store")
	}
	if r := c.get("/stores"); r.StatusCode != http.StatusForbidden {
		t.Errorf("counter staff on /stores: %d", r.StatusCode)
	}
}

// The confirmation printed for an order carries the letterhead of the
// store that took it: the company, "Filiale …", the store's address,
// phone and opening hours.
func TestConfirmationCarriesItsStoresLetterhead(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	freiburg, err := chain.AddStore(ctx, e.db, orders.Store{Name: "Freiburg", Street: "Kaiser-Joseph-Straße 1", PostalCode: "79098", City: "Freiburg",
		Phone: "0761 123456", OpeningHours: "Mo–Fr 9–18 Uhr\nSa 9–14 Uhr"})

	if err != nil {
		t.Fatal(err)
	}
	place := func(store int64) int64 {
		p, err := e.db.PlaceOrder(consent.WithStore(ctx, store), orders.NewOrder{StaffID: e.counter.ID,
			Customer: orders.Customer{Salutation: "Frau", FirstName: "Jana", LastName: "Weiß", Email: "j.weiss@example.org"},
			Items:    []orders.Item{{Description: "Fassung", Quantity: 1, UnitPriceCents: 12900, VATRatePercent: 19}},
			Consent: orders.ConsentInput{Mode: orders.ModeTablet, Channels: map[consent.Channel]bool{consent.Email: true},
				SignaturePNG: mustDecodeDataURL(t, signature(t))}})
		if err != nil {
			t.Fatal(err)
		}
		return p.Order.ID
	}
	m := e.client()
	m.signIn(e.manager, "864297")
	inFreiburg := place(freiburg.ID)
	text := pdfText(t, []byte(m.get("/orders/"+itoa(inFreiburg)+"/confirmation.pdf").body))
	for _, want := range []string{"Optik Muster GmbH", "Filiale Freiburg", "Kaiser-Joseph-Straße 1, 79098 Freiburg", "Tel. 0761 123456",
		"Öffnungszeiten: Mo–Fr 9–18 Uhr · Sa 9–14 Uhr"} {
		if !strings.Contains(text, want) {
			t.Errorf("Freiburg's confirmation lacks %q:\n%s", want, text)
		}
	}
	ctrl, _ := e.db.Controller(ctx)
	text = pdfText(t, []byte(m.get("/orders/"+itoa(place(consent.FirstStore))+"/confirmation.pdf").body))
	if strings.Contains(text, "Kaiser-Joseph-Straße") || strings.Contains(text, "Öffnungszeiten") || !strings.Contains(text, ctrl.Street) {
		t.Errorf("the first store's confirmation (the company's address, no hours):\n%s", text)
	}
	// The proof of consent names each event's store and checks each
	// store's chain.
	o, _ := e.db.Order(ctx, inFreiburg)
	text = pdfText(t, []byte(m.get("/customers/"+itoa(o.CustomerID)+"/proof.pdf").body))
	for _, want := range []string{"Filiale Freiburg (Nr. 2)", "Hash-Ketten geprüft: intakt", "in 2 Ketten (eine je Filiale)", "Filiale Freiburg (Nr. 2): "} {
		if !strings.Contains(text, want) {
			t.Errorf("the proof lacks %q:\n%s", want, text)
		}
	}
}

// Every way an order comes in records its store: the counter's tablet
// flow (the signed-in staff member's store) and the JSON API (the
// token's store).
func TestOrdersRecordTheirStore(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	freiburg, err := chain.AddStore(ctx, e.db, orders.Store{Name: "Freiburg"})
	if err != nil {
		t.Fatal(err)
	}
	eva, err := e.db.AddStaff(ctx, "Eva", "3851", orders.RoleCounter, freiburg.ID)
	if err != nil {
		t.Fatal(err)
	}
	check := func(how string, id int64) {
		t.Helper()
		o, err := e.db.Order(ctx, id)
		if err != nil || o.StoreID != freiburg.ID || o.StoreName != "Freiburg" {
			t.Errorf("%s: order %d in store %d %q (%v)", how, id, o.StoreID, o.StoreName, err)
		}
		_, events, _ := e.db.Consents(ctx, o.CustomerID)
		for _, ev := range events {
			if ev.OrderID == id && ev.StoreID != freiburg.ID {
				t.Errorf("%s: event %d in store %d", how, ev.Seq, ev.StoreID)
			}
		}
	}

	c := e.client()
	c.signIn(eva, "3851")
	c.get("/orders/new")
	r := c.post("/orders/new", orderForm("Weiß"))
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("staff form: %d", r.StatusCode)
	}
	consentPath := r.Header.Get("Location")
	c.get(consentPath)
	if r := c.post(consentPath, url.Values{"cell": {"email:offers"}, "health_data": {"on"}, "signature": {signature(t)}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent submit: %d", r.StatusCode)
	}
	m := locationID.FindStringSubmatch(c.handBack("3851").Header.Get("Location"))
	if m == nil {
		t.Fatal("no order after the hand-back")
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	check("tablet", id)

	token, err := e.db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "ERP Freiburg", StoreID: freiburg.ID})
	if err != nil {
		t.Fatal(err)
	}
	a := &api{e: e, token: token}
	var created struct {
		ID        int64  `json:"id"`
		StoreID   int64  `json:"store_id"`
		StoreName string `json:"store_name"`
	}
	if code := a.call(http.MethodPost, "/api/v1/orders", apiOrder, &created); code != http.StatusCreated {
		t.Fatalf("API order: %d", code)
	}
	check("API", created.ID)
	if created.StoreID != freiburg.ID {
		t.Errorf("POST /api/v1/orders answered store %d", created.StoreID)
	}
	var got struct {
		StoreID   int64  `json:"store_id"`
		StoreName string `json:"store_name"`
	}
	if code := a.call(http.MethodGet, "/api/v1/orders/"+itoa(created.ID), "", &got); code != http.StatusOK || got.StoreID != freiburg.ID || got.StoreName != "Freiburg" {
		t.Errorf("GET /api/v1/orders/%d: %d %+v", created.ID, code, got)
	}
	// The customer page's timeline names the store of each event.
	o, _ := e.db.Order(ctx, id)
	if r := c.get("/customers/" + itoa(o.CustomerID)); !strings.Contains(r.body, "<td>Freiburg</td>") {
		t.Error("the timeline does not name the store")
	}
}

// Each store its own controller (franchise): a store's staff find and
// open only their store's customers and orders; the stores page names
// each store's company and says which setting holds; a store's
// confirmation names its own company.
func TestFranchiseInTheBackOffice(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, err := e.db.Store(ctx, consent.FirstStore)
	if err != nil {
		t.Fatal(err)
	}
	first.Company = consent.Company{Name: "Optik Freiburg GmbH", LegalForm: "GmbH", RegCourt: "AG Freiburg", RegNumber: "HRB 700001"}
	if _, err := chain.UpdateStore(ctx, e.db, first); err != nil {
		t.Fatal(err)
	}
	second, err := chain.AddStore(ctx, e.db, orders.Store{Name: "Lörrach", Street: "Tumringer Straße 1", PostalCode: "79539", City: "Lörrach",
		Company: consent.Company{Name: "Augenblick Lörrach e.K."}})

	if err != nil {
		t.Fatal(err)
	}
	m := e.client()
	m.signIn(e.manager, "864297")
	if r := m.get("/stores"); !strings.Contains(r.body, "Das Unternehmen aus den Einstellungen ist Verantwortlicher für alle Filialen") {
		t.Errorf("the stores page before: %s", r.body)
	}
	if err := chain.SetFranchise(ctx, e.db, true, e.manager.ID); err != nil {
		t.Fatal(err)
	}
	place := func(store int64, last string) orders.Placed {
		p, err := e.db.PlaceOrder(consent.WithStore(ctx, store), orders.NewOrder{StaffID: e.counter.ID,
			Customer: orders.Customer{Salutation: "Frau", FirstName: "Jana", LastName: last, Email: "j." + strings.ToLower(last) + "@example.org"},
			Items:    []orders.Item{{Description: "Fassung", Quantity: 1, UnitPriceCents: 12900, VATRatePercent: 19}},
			Consent: orders.ConsentInput{Mode: orders.ModeTablet, Channels: map[consent.Channel]bool{consent.Email: true},
				SignaturePNG: mustDecodeDataURL(t, signature(t))}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := place(first.ID, "Freiburger")
	b := place(second.ID, "Loerracher")

	// Lörrach's counter.
	bea, err := e.db.AddStaff(ctx, "Bea", "5813", orders.RoleCounter, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.signIn(bea, "5813")
	if r := c.get("/customers/search?q=Freiburger"); strings.Contains(r.body, "Freiburger") {
		t.Errorf("Lörrach's search finds Freiburg's customer:\n%s", r.body)
	}
	if r := c.get("/customers/search?q=Loerracher"); !strings.Contains(r.body, "Loerracher") {
		t.Errorf("Lörrach's search does not find its customer:\n%s", r.body)
	}
	for _, p := range []string{"/customers/" + itoa(a.Customer.ID), "/orders/" + itoa(a.Order.ID), "/orders/" + itoa(a.Order.ID) + "/confirmation.pdf"} {
		if r := c.get(p); r.StatusCode != http.StatusNotFound {
			t.Errorf("Lörrach's counter opens Freiburg's %s: %d", p, r.StatusCode)
		}
	}
	if r := c.get("/"); strings.Contains(r.body, "Freiburger") || !strings.Contains(r.body, "Loerracher") {
		t.Errorf("Lörrach's counter day:\n%s", r.body)
	}
	text := pdfText(t, []byte(c.get("/orders/"+itoa(b.Order.ID)+"/confirmation.pdf").body))
	if !strings.Contains(text, "Augenblick Lörrach e.K.") || strings.Contains(text, "Optik Freiburg GmbH") || strings.Contains(text, "HRB 700001") {
		t.Errorf("Lörrach's confirmation names another company:\n%s", text)
	}

	// The manager of the whole chain works in one store at a time.
	if r := m.get("/customers/" + itoa(b.Customer.ID)); r.StatusCode != http.StatusNotFound {
		t.Errorf("the manager in Freiburg opens Lörrach's customer: %d", r.StatusCode)
	}
	m.post("/store", url.Values{"store": {itoa(second.ID)}, "back": {"/"}})
	if r := m.get("/customers/" + itoa(b.Customer.ID)); r.StatusCode != http.StatusOK {
		t.Errorf("the manager in Lörrach opens Lörrach's customer: %d", r.StatusCode)
	}
	r := m.get("/stores")
	if !strings.Contains(r.body, "Jede Filiale ist eigener Verantwortlicher") || !strings.Contains(r.body, "Augenblick Lörrach e.K.") {
		t.Errorf("the stores page after:\n%s", r.body)
	}
	// The company's fields in the store's form; a store without its
	// company is refused with the field named.
	form := url.Values{"name": {"Lörrach"}, "street": {"Tumringer Straße 1"}, "postal_code": {"79539"}, "city": {"Lörrach"}, "company_name": {""}}
	if r := m.post("/stores/"+itoa(second.ID), form); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Namen ihres Unternehmens") {
		t.Errorf("a store's company emptied: %d\n%s", r.StatusCode, r.body)
	}
	form.Set("company_name", "Augenblick Lörrach GmbH")
	form.Set("company_register_number", "HRB 700002")
	if r := m.post("/stores/"+itoa(second.ID), form); r.StatusCode != http.StatusOK && r.StatusCode != http.StatusSeeOther {
		t.Errorf("a store's company changed: %d\n%s", r.StatusCode, r.body)
	}
	if st, err := e.db.Store(ctx, second.ID); err != nil || st.Company.Name != "Augenblick Lörrach GmbH" || st.Company.RegNumber != "HRB 700002" {
		t.Errorf("the store after the form: %+v %v", st, err)
	}
}

// Where each store is its own controller, what the customer reads names
// their store's company: the preference page from the store's QR code,
// the consent screen at the counter, the proof of consent.
func TestFranchiseCustomerSeesTheirStoresCompany(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, err := e.db.Store(ctx, consent.FirstStore)
	if err != nil {
		t.Fatal(err)
	}
	first.Company = consent.Company{Name: "Optik Freiburg GmbH"}
	if _, err := chain.UpdateStore(ctx, e.db, first); err != nil {
		t.Fatal(err)
	}
	second, err := chain.AddStore(ctx, e.db, orders.Store{Name: "Lörrach", City: "Lörrach", Street: "Tumringer Straße 1", PostalCode: "79539",
		Company: consent.Company{Name: "Augenblick Lörrach e.K.", DPOContact: "dsb@augenblick.example"}})

	if err != nil {
		t.Fatal(err)
	}
	if err := chain.SetFranchise(ctx, e.db, true, 0); err != nil {
		t.Fatal(err)
	}
	p, err := e.db.PlaceOrder(consent.WithStore(ctx, second.ID), orders.NewOrder{
		Customer: orders.Customer{Salutation: "Frau", FirstName: "Lea", LastName: "Lörracherin", Email: "lea@example.org"},
		Items:    []orders.Item{{Description: "Fassung", Quantity: 1, UnitPriceCents: 12900, VATRatePercent: 19}},
		Consent: orders.ConsentInput{Mode: orders.ModeTablet, Channels: map[consent.Channel]bool{consent.Email: true},
			SignaturePNG: mustDecodeDataURL(t, signature(t))}})
	if err != nil {
		t.Fatal(err)
	}
	tokens := consent.NewTokens(e.db.Keys.Tokens)
	r := e.client().get("/p/" + tokens.Make(consent.PreferencesToken, p.Customer.ID))
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Augenblick Lörrach e.K.") || strings.Contains(r.body, "Optik Freiburg GmbH") {
		t.Errorf("the preference page of a Lörrach customer: %d\n%s", r.StatusCode, r.body)
	}
	m := e.client()
	m.signIn(e.manager, "864297")
	m.post("/store", url.Values{"store": {itoa(second.ID)}, "back": {"/"}})
	text := pdfText(t, []byte(m.get("/customers/"+itoa(p.Customer.ID)+"/proof.pdf").body))
	if !strings.Contains(text, "Augenblick Lörrach e.K.") || strings.Contains(text, "Optik Freiburg GmbH") {
		t.Errorf("the proof of a Lörrach customer:\n%s", text)
	}
	n, err := e.db.Notice(ctx, p.Order.NoticeVersionID)
	if err != nil || !strings.Contains(n.Text, "Augenblick Lörrach e.K.") || !strings.Contains(n.Text, "dsb@augenblick.example") {
		t.Errorf("the notice of the Lörrach order %s: %v", p.Order.NoticeVersionID, err)
	}
}

// Where each store is its own controller, a store sees its own access
// log, figures and ledger chain, and its letters (recalls, breach
// notifications) come from its own company.
func TestFranchiseKeptApartInLogsFiguresLettersAndLedger(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, err := e.db.Store(ctx, consent.FirstStore)
	if err != nil {
		t.Fatal(err)
	}
	first.Company = consent.Company{Name: "Optik Freiburg GmbH"}
	if _, err := chain.UpdateStore(ctx, e.db, first); err != nil {
		t.Fatal(err)
	}
	second, err := chain.AddStore(ctx, e.db, orders.Store{Name: "Lörrach", Street: "Tumringer Straße 1", PostalCode: "79539", City: "Lörrach",
		Company: consent.Company{Name: "Augenblick Lörrach e.K."}})

	if err != nil {
		t.Fatal(err)
	}
	if err := chain.SetFranchise(ctx, e.db, true, e.manager.ID); err != nil {
		t.Fatal(err)
	}
	measured := time.Now().AddDate(0, -25, 0).Format("2006-01-02")
	sph := -1.0
	place := func(store int64, last string, post bool) orders.Placed {
		p, err := e.db.PlaceOrder(consent.WithStore(ctx, store), orders.NewOrder{StaffID: e.counter.ID,
			Customer:     orders.Customer{Salutation: "Frau", FirstName: "Jana", LastName: last, Street: "Hauptstraße 1", PostalCode: "79098", City: "Freiburg"},
			Items:        []orders.Item{{Description: "Fassung", Quantity: 1, UnitPriceCents: 12900, VATRatePercent: 19}},
			Prescription: &orders.Prescription{Right: orders.Eye{Sph: &sph}, Left: orders.Eye{Sph: &sph}, MeasuredOn: measured},
			Consent: orders.ConsentInput{Mode: orders.ModeTablet, Channels: map[consent.Channel]bool{consent.Post: post},
				Topics: map[string]bool{consent.TopicEyeTest: true}, HealthData: true, SignaturePNG: mustDecodeDataURL(t, signature(t))}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := place(first.ID, "Freiburger", true)
	place(first.ID, "Zweite", false) // chain-wide, two of three gave the eye test reminder
	b := place(second.ID, "Loerracher", true)

	m := e.client()
	m.signIn(e.manager, "864297")
	m.get("/customers/" + itoa(a.Customer.ID)) // Freiburg's access log
	lea, err := e.db.AddStaff(ctx, "Lea", "581403", orders.RoleManager, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	l := e.client()
	l.signIn(lea, "581403")
	l.get("/customers/" + itoa(b.Customer.ID))
	for _, p := range []string{"/audit", "/audit?customer=" + itoa(a.Customer.ID)} {
		r := l.get(p)
		if r.StatusCode != http.StatusOK || strings.Contains(r.body, `href="/customers/`+itoa(a.Customer.ID)+`"`) {
			t.Errorf("Lörrach's %s shows Freiburg's access log: %d", p, r.StatusCode)
		}
	}
	if r := l.get("/audit"); !strings.Contains(r.body, `href="/customers/`+itoa(b.Customer.ID)+`"`) {
		t.Error("Lörrach's access log lacks its own entry")
	}
	// Figures: Lörrach's own.
	lctx := consent.WithStore(ctx, second.ID)
	if rates, err := e.db.TopicRates(lctx); err != nil || rates[consent.TopicEyeTest] != 1 {
		t.Errorf("Lörrach's topic rates: %v %v", rates, err)
	}
	if due, err := e.db.RecallsDue(lctx); err != nil || due[consent.TopicEyeTest] != 1 {
		t.Errorf("Lörrach's recalls due: %v %v", due, err)
	}
	// Recall letters from Lörrach's company.
	r := l.post("/recalls/eye_test/send", url.Values{})
	link := regexp.MustCompile(`href="(/recalls/runs/\d+/letters\.pdf)"`).FindStringSubmatch(l.get(r.Header.Get("Location")).body)
	if r.StatusCode != http.StatusSeeOther || link == nil {
		t.Fatalf("Lörrach's recalls: %d", r.StatusCode)
	}
	if r := m.get(link[1]); r.StatusCode != http.StatusNotFound {
		t.Errorf("Freiburg's manager downloads Lörrach's letters: %d", r.StatusCode)
	}
	r = l.get(link[1])
	if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.body, "%PDF") {
		t.Fatalf("Lörrach's letters: %d", r.StatusCode)
	}
	if text := pdfText(t, []byte(r.body)); !strings.Contains(text, "Augenblick Lörrach e.K.") || strings.Contains(text, "Optik Freiburg") ||
		!strings.Contains(text, "Loerracher") || strings.Contains(text, "Freiburger") {
		t.Errorf("Lörrach's recall letters:\n%s", text)
	}
	// A breach notification to Lörrach's customer: from Lörrach's company.
	br, err := e.db.RecordBreach(lctx, orders.Breach{OccurredAt: time.Now().Add(-time.Hour).Format(time.RFC3339), NoticedAt: time.Now().Format(time.RFC3339),
		Facts: "Fehlversand", Categories: "Name", People: 1, Records: 1, Consequences: "Keine.", Measures: "Gelöscht."})
	if err != nil {
		t.Fatal(err)
	}
	r = l.get("/breaches/" + itoa(br.ID) + "/letter.pdf?customer=" + itoa(b.Customer.ID))
	if text := pdfText(t, []byte(r.body)); r.StatusCode != http.StatusOK || !strings.Contains(text, "Augenblick Lörrach e.K.") || strings.Contains(text, "Optik Freiburg") {
		t.Errorf("Lörrach's breach letter: %d\n%s", r.StatusCode, text)
	}
	// A Lörrach token's ledger check: its own chain.
	token, err := e.db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "DSB Lörrach", Scope: orders.ScopeAdmin, StoreID: second.ID})
	if err != nil {
		t.Fatal(err)
	}
	var v consent.Verification
	if code := (&api{e: e, token: token}).call(http.MethodGet, "/api/v1/ledger/verify", "", &v); code != http.StatusOK || !v.OK || len(v.Chains) != 1 || v.Chains[0].Store != second.ID {
		t.Errorf("Lörrach's ledger/verify: %d %+v", code, v)
	}
}

// A sole trader (e.K.) has an owner, not managing directors: the
// settings form and a store's company form say "Inhaber/in" (§19(1)
// Nr. 1 HGB), as the notice and the footer do.
func TestSoleTraderHasAnOwnerInTheForms(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := e.client()
	m.signIn(e.manager, "864297")
	if r := m.get("/settings"); !strings.Contains(r.body, `<label for="s_managing_directors">Geschäftsführung</label>`) {
		t.Error("a GmbH's settings do not ask for the management")
	}
	ctrl, err := e.db.Controller(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctrl.Name, ctrl.LegalForm = "Optik Sonne", "e.K."
	if _, err := e.db.SaveSettings(ctx, ctrl, 0); err != nil {
		t.Fatal(err)
	}
	if r := m.get("/settings"); !strings.Contains(r.body, `<label for="s_managing_directors">Inhaber/in</label>`) {
		t.Error("a sole trader's settings ask for the management, not the owner")
	}
	if _, err := chain.AddStore(ctx, e.db, orders.Store{Name: "Lörrach", Company: consent.Company{Name: "Augenblick Lörrach", LegalForm: "e.K."}}); err != nil {
		t.Fatal(err)
	}
	r := m.get("/stores")
	if !strings.Contains(r.body, `_company_managing_directors">Inhaber/in</label>`) || !strings.Contains(r.body, `_company_managing_directors">Geschäftsführung`) {
		t.Error("the stores' company forms: a sole trader's owner, the others' management")
	}
}

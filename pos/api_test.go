package pos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/followup/send"
	"github.com/consentdesk/consentdesk/orders"
)

// apiOrder is a full order; its pickup lies eleven days ahead of the day
// the tests run, so the fixture never ages into "pickup in the past".
// It carries the customer's signature: a grant of post through the API
// needs it (Art. 7(1), CJEU C-61/19).
var apiOrder = strings.ReplaceAll(strings.ReplaceAll(apiOrderTemplate, "PICKUP", pickupDay), "SIGNATURE", signatureBase64())

var pickupDay = time.Now().In(orders.Berlin).AddDate(0, 0, 11).Format("2006-01-02")

const apiOrderTemplate = `{
  "customer": {"salutation": "Frau", "first_name": "Jürgen", "last_name": "Weiß",
               "street": "Hauptstraße 1", "postal_code": "79098", "city": "Freiburg",
               "email": "j.weiss@example.org", "mobile": "+49 170 1234567", "phone": ""},
  "items": [{"description": "Gleitsichtgläser", "quantity": 2, "unit_price_cents": 24900, "vat_rate_percent": 19}],
  "deposit_cents": 10000,
  "pickup": {"start": "PICKUPT10:00:00+01:00", "end": "PICKUPT10:30:00+01:00"},
  "consent": {"mode": "tablet", "channels": {"post": true, "email": true, "sms": false, "phone": false}, "signature_png": "SIGNATURE"},
  "prescription": {"right": {"sph": -1.25, "cyl": -0.5, "axis": 90, "add": 2.0, "pd": 32.0},
                   "left":  {"sph": -1.0, "cyl": 0, "axis": 0, "add": 2.0, "pd": 31.5}}
}`

type api struct {
	e     *env
	token string
}

// newAPI is a program with an admin token: the tests below use every
// endpoint. TestAPITokenScopes shows what an orders token may not do.
func newAPI(t testing.TB) *api {
	e := newEnv(t)
	token, err := e.db.CreateAPIToken(context.Background(), orders.NewAPIToken{Name: "ERP", Scope: orders.ScopeAdmin})
	if err != nil {
		t.Fatal(err)
	}
	return &api{e: e, token: token}
}

func (a *api) call(method, path, body string, out any) int {
	a.e.t.Helper()
	req, _ := http.NewRequest(method, a.e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.e.t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
	return res.StatusCode
}

type apiErr struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

func TestAPICreateOrderAndConsents(t *testing.T) {
	a := newAPI(t)
	var created struct {
		ID                 int64  `json:"id"`
		Number             string `json:"number"`
		CustomerID         int64  `json:"customer_id"`
		ConfirmationURL    string `json:"confirmation_url"`
		PreferencesURL     string `json:"preferences_url"`
		PrescriptionStored bool   `json:"prescription_stored"`
	}
	if st := a.call("POST", "/api/v1/orders", apiOrder, &created); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	if created.ID == 0 || created.Number == "" || created.CustomerID == 0 || !strings.HasPrefix(created.PreferencesURL, "https://optik.example/p/") ||
		!strings.HasSuffix(created.ConfirmationURL, "/api/v1/orders/1/confirmation.pdf") {
		t.Errorf("created = %+v", created)
	}
	if created.PrescriptionStored {
		t.Error("prescription stored without explicit consent (consent.health_data)")
	}
	var order map[string]any
	if st := a.call("GET", "/api/v1/orders/1", "", &order); st != http.StatusOK || order["number"] != created.Number || order["total_cents"] != float64(49800) {
		t.Errorf("order: %d %v", st, order)
	}
	req, _ := http.NewRequest("GET", created.ConfirmationURL, nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 4)
	io.ReadFull(res.Body, head)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(head) != "%PDF" {
		t.Errorf("confirmation.pdf: %d %q", res.StatusCode, head)
	}

	var cons struct {
		CustomerID int64 `json:"customer_id"`
		Channels   map[string]struct {
			State         string `json:"state"`
			OptInLevel    string `json:"opt_in_level"`
			NoticeVersion string `json:"notice_version"`
		} `json:"channels"`
		Events []map[string]any `json:"events"`
	}
	if st := a.call("GET", "/api/v1/customers/1/consents", "", &cons); st != http.StatusOK {
		t.Fatalf("consents: %d", st)
	}
	if cons.Channels["post"].State != "granted" || cons.Channels["post"].OptInLevel != "single" || cons.Channels["email"].State != "pending" ||
		cons.Channels["email"].OptInLevel != "confirmed" || cons.Channels["sms"].State != "none" || cons.Channels["phone"].State != "none" ||
		cons.Channels["post"].NoticeVersion != "de-1" || len(cons.Events) != 2+8 {
		t.Errorf("consents = %+v", cons)
	}
	// Two grants (offers by post and by e-mail); the channels the order
	// names count as asked, so every other cell is a decline (§7(3) UWG
	// asks who was asked): three topics by post and by e-mail, SMS and
	// phone whole.
	actions := map[string]int{}
	for _, ev := range cons.Events {
		actions[ev["action"].(string)]++
	}
	if actions["grant"] != 2 || actions["decline"] != 8 {
		t.Errorf("events by action: %v", actions)
	}
	// Consents that arrive through the API are recorded as such, with the
	// token's name, never as a tap on the counter tablet (CJEU C-61/19).
	if cons.Events[0]["source"] != "api" || cons.Events[0]["actor"] != "api" || cons.Events[0]["api_token"] != "ERP" ||
		cons.Events[0]["hash"] == "" || cons.Events[0]["id"] != float64(1) {
		t.Errorf("event = %v", cons.Events[0])
	}

	// A withdrawal by phone, recorded by staff.
	var after struct {
		Channels map[string]struct{ State string } `json:"channels"`
	}
	if st := a.call("POST", "/api/v1/customers/1/consents", `{"channels": {"post": false}, "source": "phone_request", "note": "Anruf am Morgen"}`, &after); st != http.StatusOK || after.Channels["post"].State != "withdrawn" {
		t.Errorf("withdraw: %d %+v", st, after)
	}
	var v struct {
		OK     bool  `json:"ok"`
		Events int64 `json:"events"`
	}
	if st := a.call("GET", "/api/v1/ledger/verify", "", &v); st != http.StatusOK || !v.OK || v.Events != 2+8+1 {
		t.Errorf("verify: %d %+v", st, v)
	}
}

func TestAPIBadInputChangesNothing(t *testing.T) {
	a := newAPI(t)
	cases := []struct {
		name, body, field, code string
		status                  int
	}{
		{"bad e-mail", strings.Replace(apiOrder, "j.weiss@example.org", "j.weiss@", 1), "customer.email", "invalid", 422},
		{"float cents", strings.Replace(apiOrder, `"unit_price_cents": 24900`, `"unit_price_cents": 249.5`, 1), "items.unit_price_cents", "invalid", 422},
		{"misspelt field", strings.Replace(apiOrder, `"channels"`, `"channel"`, 1), "channel", "invalid", 422},
		{"bad time", strings.Replace(apiOrder, pickupDay+"T10:00:00+01:00", "3.12.2026 10 Uhr", 1), "pickup.start", "invalid", 422},
		{"sms without mobile", strings.Replace(strings.Replace(apiOrder, `"sms": false`, `"sms": true`, 1), "+49 170 1234567", "", 1), "consent.channels.sms", "invalid", 422},
		{"axis 200", strings.Replace(apiOrder, `"axis": 90`, `"axis": 200`, 1), "prescription.right.axis", "invalid", 422},
		{"not json", `{"customer": `, "body", "invalid", 422},
		{"empty", ``, "body", "invalid", 422},
		{"unknown customer", strings.Replace(apiOrder, `"customer": {`, `"customer": {"id": 77, `, 1), "customer.id", "invalid", 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e apiErr
			st := a.call("POST", "/api/v1/orders", tc.body, &e)
			if st != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("status %d, error %+v", st, e.Error)
			}
			if _, ok := e.Error.Fields[tc.field]; !ok {
				t.Errorf("fields = %v, want %s", e.Error.Fields, tc.field)
			}
			if n := a.e.count("orders") + a.e.count("customers") + a.e.count("consent_events"); n != 0 {
				t.Errorf("%d rows written", n)
			}
		})
	}
}

func TestAPIAuthAndLimits(t *testing.T) {
	a := newAPI(t)
	for _, token := range []string{"", "cdk_wrong", a.token + "x"} {
		req, _ := http.NewRequest("GET", a.e.srv.URL+"/api/v1/ledger/verify", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e apiErr
		json.NewDecoder(res.Body).Decode(&e)
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || e.Error.Code != "denied" {
			t.Errorf("token %q: %d %+v", token, res.StatusCode, e)
		}
	}
	big := `{"customer": {"last_name": "` + strings.Repeat("x", 3<<20) + `"}}`
	var e apiErr
	if st := a.call("POST", "/api/v1/orders", big, &e); st != http.StatusRequestEntityTooLarge || e.Error.Code != "too_large" {
		t.Errorf("oversized: %d %+v", st, e)
	}
	// A body without a length that turns out too large is cut off too.
	req, _ := http.NewRequest("POST", a.e.srv.URL+"/api/v1/orders", io.MultiReader(strings.NewReader(`{"customer": {"last_name": "`), bytes.NewReader(bytes.Repeat([]byte("x"), 3<<20)), strings.NewReader(`"}}`)))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.ContentLength = -1
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked oversized: %d", res.StatusCode)
	}
	if st := a.call("GET", "/api/v1/orders/999", "", &e); st != http.StatusNotFound || e.Error.Code != "not_found" {
		t.Errorf("missing order: %d %+v", st, e)
	}
	if st := a.call("GET", "/api/v1/customers/abc/consents", "", &e); st != http.StatusNotFound {
		t.Errorf("bad id: %d", st)
	}
	if st := a.call("POST", "/api/v1/customers/1/consents", `{"channels": {"sms": true}, "source": "phone_request"}`, &e); st != http.StatusNotFound {
		t.Errorf("consents of a missing customer: %d %+v", st, e)
	}
}

func TestAPIGermanMessages(t *testing.T) {
	a := newAPI(t)
	req, _ := http.NewRequest("POST", a.e.srv.URL+"/api/v1/orders", strings.NewReader(strings.Replace(apiOrder, "j.weiss@example.org", "x", 1)))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Accept-Language", "de-DE")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e apiErr
	json.NewDecoder(res.Body).Decode(&e)
	res.Body.Close()
	if e.Error.Fields["customer.email"] != "Keine gültige E-Mail-Adresse." {
		t.Errorf("German message: %+v", e.Error)
	}
}

// API tokens have scopes: an ERP that only sends
// orders cannot erase customers, export them or record consents; a
// revoked or expired token gets 401.
func TestAPITokenScopes(t *testing.T) {
	admin := newAPI(t)
	e := admin.e
	ctx := context.Background()
	tok, err := e.db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "Kasse"})
	if err != nil {
		t.Fatal(err)
	}
	erp := &api{e: e, token: tok}
	var created struct {
		ID         int64 `json:"id"`
		CustomerID int64 `json:"customer_id"`
	}
	var raw map[string]any
	if st := erp.call("POST", "/api/v1/orders", apiOrder, &raw); st != http.StatusCreated {
		t.Fatalf("orders token cannot create an order: %d", st)
	}
	created.ID, created.CustomerID = int64(raw["id"].(float64)), int64(raw["customer_id"].(float64))
	// A link acts for the customer: an orders token gets none, not even
	// for a customer it names by id; an admin token does.
	if _, ok := raw["preferences_url"]; ok {
		t.Errorf("an orders token got the customer's link: %v", raw)
	}
	reuse := strings.Replace(apiOrder, `"customer": {"salutation": "Frau", "first_name": "Jürgen", "last_name": "Weiß",
               "street": "Hauptstraße 1", "postal_code": "79098", "city": "Freiburg",
               "email": "j.weiss@example.org", "mobile": "+49 170 1234567", "phone": ""}`, `"customer": {"id": `+itoa(created.CustomerID)+`}`, 1)
	raw = nil
	if st := erp.call("POST", "/api/v1/orders", reuse, &raw); st != http.StatusCreated || raw["preferences_url"] != nil {
		t.Errorf("an orders token, customer by id: %d %v", st, raw)
	}
	raw = nil
	if st := admin.call("POST", "/api/v1/orders", apiOrder, &raw); st != http.StatusCreated || !strings.Contains(fmt.Sprint(raw["preferences_url"]), "/p/") {
		t.Errorf("an admin token's order: %d %v", st, raw)
	}
	id := itoa(created.CustomerID)
	allowed := [][2]string{{"GET", "/api/v1/orders/" + itoa(created.ID)}, {"GET", "/api/v1/customers/" + id + "/consents"}}
	for _, r := range allowed {
		if st := erp.call(r[0], r[1], "", nil); st != http.StatusOK {
			t.Errorf("orders token: %s %s: %d", r[0], r[1], st)
		}
	}
	refused := [][3]string{
		{"DELETE", "/api/v1/customers/" + id, ""},
		{"GET", "/api/v1/customers/" + id + "/export", ""},
		{"GET", "/api/v1/customers/" + id + "/proof.pdf", ""},
		{"PATCH", "/api/v1/customers/" + id, `{"email": "neu@example.org"}`},
		{"POST", "/api/v1/customers/" + id + "/consents", `{"mode": "tablet", "channels": {"sms": true}}`},
		{"GET", "/api/v1/contactable", ""},
		{"GET", "/api/v1/outbox", ""},
		{"GET", "/api/v1/ledger/verify", ""},
		{"GET", "/api/v1/breaches", ""},
	}
	for _, r := range refused {
		var out apiErr
		if st := erp.call(r[0], r[1], r[2], &out); st != http.StatusForbidden || out.Error.Code != "forbidden" {
			t.Errorf("orders token: %s %s: %d %+v", r[0], r[1], st, out)
		}
	}
	// Nothing changed: the customer is there, with the order's consents.
	var consents struct {
		Channels map[string]struct {
			State string `json:"state"`
		} `json:"channels"`
	}
	if st := admin.call("GET", "/api/v1/customers/"+id+"/consents", "", &consents); st != http.StatusOK || consents.Channels["post"].State != "granted" || consents.Channels["sms"].State == "granted" {
		t.Errorf("after refused calls: %d %+v", st, consents)
	}
	var erased struct {
		Backups struct {
			Listed bool   `json:"on_erasure_list"`
			Note   string `json:"note"`
		} `json:"backups"`
	}
	if st := admin.call("DELETE", "/api/v1/customers/"+id, "", &erased); st != http.StatusOK {
		t.Errorf("admin token cannot erase: %d", st)
	}
	// The erasure's answer says how long backups hold the data (code
	// review), and that a restore erases the customer again.
	if !erased.Backups.Listed || !strings.Contains(erased.Backups.Note, "erasure list") {
		t.Errorf("erasure answer on backups: %+v", erased.Backups)
	}

	// Revoked and expired tokens stop working at once.
	if _, err := e.db.RevokeAPIToken(ctx, "Kasse"); err != nil {
		t.Fatal(err)
	}
	if st := erp.call("GET", "/api/v1/orders/"+itoa(created.ID), "", nil); st != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", st)
	}
	soon, err := e.db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "Test", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	e.setClock(func() time.Time { return time.Now().Add(2 * time.Hour) })
	var out apiErr
	if st := (&api{e: e, token: soon}).call("GET", "/api/v1/orders/"+itoa(created.ID), "", &out); st != http.StatusUnauthorized || !strings.Contains(out.Error.Message, "abgelaufen") && !strings.Contains(out.Error.Message, "expired") {
		t.Errorf("expired token: %d %+v", st, out)
	}
}

// Topics through the API (docs/api.md): consent.topics on an order,
// the topics list, the state per topic, and the contactable export per
// topic.
func TestAPITopics(t *testing.T) {
	a := newAPI(t)
	var topics []struct{ Key, Name, Description string }
	if st := a.call("GET", "/api/v1/topics?lang=en", "", &topics); st != http.StatusOK || len(topics) != 4 || topics[0].Key != "eye_test" || topics[0].Name != "Eye test reminder" {
		t.Fatalf("topics: %d %+v", st, topics)
	}
	body := strings.Replace(apiOrder, `"channels": {"post": true, "email": true, "sms": false, "phone": false}`,
		`"channels": {"post": true, "email": true, "sms": false, "phone": false}, "topics": {"eye_test": true}`, 1)
	var created struct {
		CustomerID int64 `json:"customer_id"`
	}
	if st := a.call("POST", "/api/v1/orders", body, &created); st != http.StatusCreated {
		t.Fatalf("order with topics: %d", st)
	}
	var got struct {
		Channels map[string]struct{ State string }            `json:"channels"`
		Topics   map[string]map[string]struct{ State string } `json:"topics"`
	}
	a.call("GET", "/api/v1/customers/"+itoa(created.CustomerID)+"/consents", "", &got)
	if got.Topics["post"]["eye_test"].State != "granted" || got.Topics["post"]["offers"].State != "none" || got.Channels["post"].State != "none" {
		t.Errorf("state per topic: %+v / channels %+v", got.Topics["post"], got.Channels["post"])
	}
	var bad apiErr
	if st := a.call("POST", "/api/v1/orders", strings.Replace(body, `"eye_test": true`, `"yoga": true`, 1), &bad); st != http.StatusUnprocessableEntity || bad.Error.Fields["consent.topics.yoga"] == "" {
		t.Errorf("unknown topic: %d %+v", st, bad)
	}
	req, _ := http.NewRequest("GET", a.e.srv.URL+"/api/v1/contactable?channel=post&topic=eye_test", nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	csvBody, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(csvBody), "\n"+itoa(created.CustomerID)+",") {
		t.Errorf("contactable for eye_test: %d\n%s", res.StatusCode, csvBody)
	}
	req, _ = http.NewRequest("GET", a.e.srv.URL+"/api/v1/contactable?channel=post", nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	res, _ = http.DefaultClient.Do(req)
	csvBody, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(csvBody), "\n"+itoa(created.CustomerID)+",") {
		t.Error("an eye-test-only customer is in the offers export")
	}
}

// Recalls through the API and the back office: who is due and
// on which channel; a preview; the dashboard per topic.
func TestRecallsAPIAndPage(t *testing.T) {
	a := newAPI(t)
	measured := time.Now().AddDate(0, -25, 0).Format("2006-01-02")
	id := recallOrder(t, a, "j.weiss@example.org", `"post": true`, `"eye_test": true`, measured)
	var list []struct {
		CustomerID int64    `json:"customer_id"`
		Channels   []string `json:"channels"`
		Since      string   `json:"since"`
	}
	if st := a.call("GET", "/api/v1/recalls?topic=eye_test", "", &list); st != http.StatusOK || len(list) != 1 || list[0].CustomerID != id ||
		len(list[0].Channels) != 1 || list[0].Channels[0] != "post" || list[0].Since != measured {
		t.Fatalf("recalls: %d %+v", st, list)
	}
	tok, _ := a.e.db.CreateAPIToken(context.Background(), orders.NewAPIToken{Name: "Kasse"})
	if st := (&api{e: a.e, token: tok}).call("GET", "/api/v1/recalls?topic=eye_test", "", nil); st != http.StatusForbidden {
		t.Errorf("an orders token lists recalls: %d", st)
	}
	c := a.e.client()
	c.signIn(a.e.manager, "864297")
	page := c.get("/recalls")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "Sehtest-Erinnerung: 1") || !strings.Contains(page.body, "Ihr letzter Sehtest") {
		t.Errorf("recalls page: %d", page.StatusCode)
	}
	if dash := c.get("/dashboard"); !strings.Contains(dash.body, "Erinnerungen fällig") || !strings.Contains(dash.body, `<a href="/recalls">1</a>`) {
		t.Error("the dashboard shows no recalls per topic")
	}
}

// Sending recalls: an e-mail for the customer reachable by
// e-mail, a letter (one PDF) for the one reachable by post only; each a
// use of the topic in the ledger, not sent twice; the recall mail's
// one-click withdraws that topic on e-mail only.
func TestSendingRecalls(t *testing.T) {
	a := newAPI(t)
	e := a.e
	ctx := context.Background()
	if err := e.db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	measured := time.Now().AddDate(0, -25, 0).Format("2006-01-02")
	place := func(email, channels string) int64 {
		return recallOrder(t, a, email, channels, `"eye_test": true, "offers": true`, measured)
	}
	byMail := place("erinnerung@example.org", `"email": true`)
	byPost := place("brief@example.org", `"post": true`)

	c := e.client()
	c.signIn(e.manager, "864297")
	c.get("/recalls")
	r := c.post("/recalls/eye_test/send", url.Values{})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("send: %d", r.StatusCode)
	}
	// The page says who is sent what, and offers the run's letters; they
	// can be downloaded again: a lost download loses no letter.
	page := c.get(r.Header.Get("Location"))
	link := regexp.MustCompile(`href="(/recalls/runs/\d+/letters\.pdf)"`).FindStringSubmatch(page.body)
	if link == nil || !strings.Contains(page.body, "1 Briefe stehen unten zum Herunterladen") || !strings.Contains(page.body, "Niemand ist fällig") {
		t.Fatalf("the recalls page after sending:\n%s", page.body)
	}
	var first string
	for i := range 2 {
		r = c.get(link[1])
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(r.body, "%PDF") {
			t.Fatalf("download %d: %d %s", i+1, r.StatusCode, r.Header.Get("Content-Type"))
		}
		text := pdfText(t, []byte(r.body))
		if !strings.Contains(text, "Hauptstraße 1") || !strings.Contains(text, "Sehtest") {
			t.Errorf("the letters PDF:\n%s", text)
		}
		if i == 0 {
			first = text
		} else if text != first {
			t.Errorf("the second download differs from the first:\n%s\n%s", first, text)
		}
	}
	// Another store's manager, where each store is its own controller,
	// or a wrong number: not found.
	if r := c.get("/recalls/runs/999/letters.pdf"); r.StatusCode != http.StatusNotFound {
		t.Errorf("a run that does not exist: %d", r.StatusCode)
	}
	var uses int
	e.store().QueryRow(`SELECT COUNT(*) FROM consent_events WHERE action = 'use' AND topic = 'eye_test' AND customer_id IN (?, ?)`, byMail, byPost).Scan(&uses)
	if uses != 2 {
		t.Errorf("%d uses recorded, want one per recall", uses)
	}
	mails, _ := e.db.Mails(ctx, followup.Filter{CustomerID: byMail})
	var recall followup.Mail
	for _, m := range mails {
		if m.Kind == followup.Recall {
			recall = m
		}
	}
	if recall.ID == 0 || recall.Topic != "eye_test" {
		t.Fatalf("no recall mail queued: %+v", mails)
	}
	if list, _ := e.db.Recalls(ctx, "eye_test"); len(list) != 0 {
		t.Errorf("still due after sending: %+v", list)
	}

	// The mail, as the sender writes it; its one-click.
	dir := t.TempDir()
	sender := send.NewSender(e.db, e.db.Keys.LinkTokens(), followup.Folder{Dir: dir}, send.SenderConfig{PublicURL: "https://optik.example"})
	if _, err := sender.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	eml, err := os.ReadFile(followup.Folder{Dir: dir}.File(recall.ID))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`List-Unsubscribe: <https://optik.example/u/([A-Za-z0-9_-]+)>`).FindSubmatch(eml)
	if m == nil || !strings.Contains(string(eml), "Sehtest") {
		t.Fatalf("recall mail:\n%s", eml)
	}
	res, err := http.Post(e.srv.URL+"/u/"+string(m[1]), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("one-click: %v %v", err, res)
	}
	res.Body.Close()
	cells, _ := e.db.ConsentTopics(ctx, byMail)
	if cells[consent.Email]["eye_test"].State != consent.Withdrawn || cells[consent.Email]["offers"].State != consent.Granted {
		t.Errorf("after the recall's one-click: %+v", cells[consent.Email])
	}
}

// recallOrder places an API order for a customer with the e-mail given,
// consent on channels for topics, and a prescription measured on the day
// given (with the prescription consent), and returns the customer's id.
func recallOrder(t *testing.T, a *api, email, channels, topics, measured string) int64 {
	t.Helper()
	body := strings.Replace(apiOrder, `"channels": {"post": true, "email": true, "sms": false, "phone": false}`,
		`"channels": {`+channels+`}, "topics": {`+topics+`}`, 1)
	body = strings.Replace(body, `"j.weiss@example.org"`, `"`+email+`"`, 1)
	body = strings.Replace(body, `"left":  {"sph": -1.0, "cyl": 0, "axis": 0, "add": 2.0, "pd": 31.5}}`,
		`"left":  {"sph": -1.0, "cyl": 0, "axis": 0, "add": 2.0, "pd": 31.5}, "measured_on": "`+measured+`"}`, 1)
	body = strings.Replace(body, `"mode": "tablet",`, `"mode": "tablet", "health_data": true,`, 1)
	var created struct {
		CustomerID int64 `json:"customer_id"`
	}
	if st := a.call("POST", "/api/v1/orders", body, &created); st != http.StatusCreated {
		t.Fatalf("order: %d", st)
	}
	return created.CustomerID
}

// TestAPIBodiesWithBadValuesNeverAnError takes a valid body of every JSON
// endpoint that writes, and puts a bad value into one place of it at a
// time: a NUL, a byte that is not UTF-8, numbers beyond 32 and 64 bits, a
// wrong type, null. Each is refused or taken, never answered with 5xx, on
// both engines (the pages' forms: TestBytesNoTextHoldsAreNeverAnError).
func TestAPIBodiesWithBadValuesNeverAnError(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	id := itoa(orderViaAPI(t, a))
	noticed := time.Now().Add(-2 * time.Hour).Format(time.RFC3339)
	bodies := map[string]string{
		"/api/v1/orders":                        apiOrder,
		"/api/v1/customers/" + id + "/consents": `{"channels": {"post": false}, "source": "phone_request", "note": "Anruf am Morgen", "topics": {"offers": {"post": false}}}`,
		"/api/v1/customers/" + id + "/uses":     `{"channel": "phone", "note": "Herbstaktion", "topic": "offers"}`,
		"/api/v1/breaches": `{"occurred_at": "` + noticed + `", "noticed_at": "` + noticed + `", "facts": "Fehlversand", "categories": "Name",
			"people": 3, "records": 3, "health_data": false, "consequences": "Werbung möglich", "measures": "Löschung erbeten"}`,
	}
	bads := []any{"x\x00", "\xff", float64(2147483648), 9.3e18, 1e300, -1e300, true, nil, []any{}, map[string]any{}}
	tried := 0
	for path, body := range bodies {
		// Every place in the body, as a path of keys and indexes.
		var places [][]any
		var walk func(v any, at []any)
		walk = func(v any, at []any) {
			if len(at) > 0 {
				places = append(places, at)
			}
			switch x := v.(type) {
			case map[string]any:
				for k, c := range x {
					walk(c, append(slices.Clone(at), k))
				}
			case []any:
				for i, c := range x {
					walk(c, append(slices.Clone(at), i))
				}
			}
		}
		var doc any
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		walk(doc, nil)
		for _, at := range places {
			for _, bad := range bads {
				var doc any
				json.Unmarshal([]byte(body), &doc)
				parent := doc
				for _, k := range at[:len(at)-1] {
					if m, ok := parent.(map[string]any); ok {
						parent = m[k.(string)]
					} else {
						parent = parent.([]any)[k.(int)]
					}
				}
				if m, ok := parent.(map[string]any); ok {
					m[at[len(at)-1].(string)] = bad
				} else {
					parent.([]any)[at[len(at)-1].(int)] = bad
				}
				b, _ := json.Marshal(doc)
				// encoding/json wrote the byte 0xff as U+FFFD: send the byte.
				sent := strings.ReplaceAll(string(b), `\ufffd`, "\xff")
				if st := a.call("POST", path, sent, nil); st >= 500 {
					t.Errorf("%s with %v = %#v: %d", path, at, bad, st)
				}
				tried++
			}
		}
	}
	if tried < 400 {
		t.Errorf("only %d bodies tried", tried)
	}
}

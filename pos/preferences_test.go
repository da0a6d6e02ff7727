package pos_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/pos"
)

// orderViaAPI places an order with post and e-mail given, and returns the
// customer id.
func orderViaAPI(t *testing.T, a *api) int64 {
	var created struct {
		CustomerID int64 `json:"customer_id"`
	}
	if st := a.call("POST", "/api/v1/orders", apiOrder, &created); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	return created.CustomerID
}

func (e *env) events() int { return e.count("consent_events") }

func (e *env) state(t *testing.T, id int64, ch consent.Channel) consent.State {
	states, _, err := e.db.Consents(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return states[ch].State
}

func TestPreferencePage(t *testing.T) {
	a := newAPI(t)
	id := orderViaAPI(t, a)
	tokens := consent.NewTokens(a.e.db.Keys.Tokens)
	tok := tokens.Make(consent.PreferencesToken, id)
	c := a.e.client()
	before := a.e.events()
	r := c.get("/p/" + tok + "?src=qr")
	// The contact is masked: recognisable, no more.
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Alle Einwilligungen widerrufen") || !strings.Contains(r.body, "j.w•••@example.org") {
		t.Fatalf("page: %d", r.StatusCode)
	}
	// The heading says what the switches are: one per topic and channel.
	if !strings.Contains(r.body, "<h2>Ein Schalter pro Thema und Weg") {
		t.Error("the preference page's heading does not match its per-topic switches")
	}
	// The store's name, not the software's.
	ctrl, _ := a.e.db.Controller(context.Background())
	if !strings.Contains(r.body, `<span class="brand">`+html.EscapeString(ctrl.Name)) || strings.Contains(r.body, "ConsentDesk") {
		t.Errorf("the public page does not show the store's name, or shows the software's")
	}
	for _, full := range []string{"j.weiss@example.org", "1234567", "Hauptstraße 1"} {
		if strings.Contains(r.body, full) {
			t.Errorf("the public page shows %q in full", full)
		}
	}
	if strings.Contains(r.body, `action="/logout"`) || strings.Contains(r.body, `action="/lang"`) {
		t.Error("staff controls on a public page")
	}
	// A GET never changes a consent.
	c.get("/c/" + tokens.Make(consent.ConfirmToken, id))
	if a.e.events() != before {
		t.Fatal("a GET changed the ledger")
	}
	// Altered tokens and tokens of another purpose: 404, nothing changes.
	flip := byte('A')
	if tok[10] == 'A' {
		flip = 'B'
	}
	altered := tok[:10] + string(flip) + tok[11:]
	for _, bad := range []string{altered, tokens.Make(consent.UnsubscribeToken, id), tokens.Make(consent.PreferencesToken, 999)} {
		if r := c.post("/p/"+bad, url.Values{"action": {"withdraw_all"}}); r.StatusCode != http.StatusNotFound {
			t.Errorf("token %s: %d", bad, r.StatusCode)
		}
	}
	if a.e.events() != before {
		t.Fatal("a bad token changed the ledger")
	}
	// A link is not the customer: SMS is not switched on through it (the
	// page says where that is done), and nothing of that save is recorded.
	before = a.e.events()
	r = c.post("/p/"+tok, url.Values{"src": {"qr"}, "action": {"save"}, "channel_email": {"on"}, "channel_sms": {"on"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "im Geschäft oder mit dem unterschriebenen Formular") ||
		a.e.events() != before || a.e.state(t, id, consent.SMS) != consent.None {
		t.Fatalf("an SMS grant through the link: %d, %d events recorded", r.StatusCode, a.e.events()-before)
	}
	// Save: post off, e-mail stays on; withdrawing stays one tap.
	r = c.post("/p/"+tok, url.Values{"src": {"qr"}, "action": {"save"}, "channel_email": {"on"}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Gespeichert") {
		t.Fatalf("save: %d", r.StatusCode)
	}
	if a.e.state(t, id, consent.Post) != consent.Withdrawn || a.e.state(t, id, consent.SMS) != consent.None || a.e.state(t, id, consent.Email) != consent.Pending {
		t.Error("states after save")
	}
	var src, actor string
	a.e.store().QueryRow(`SELECT source, actor FROM consent_events ORDER BY seq DESC LIMIT 1`).Scan(&src, &actor)
	if src != "qr_code" || actor != "customer" {
		t.Errorf("last event %s by %s", src, actor)
	}
	// One button withdraws everything.
	r = c.post("/p/"+tok, url.Values{"action": {"withdraw_all"}})
	for _, ch := range consent.Channels {
		if s := a.e.state(t, id, ch); s == consent.Granted || s == consent.Pending {
			t.Errorf("%s still %s after withdraw all", ch, s)
		}
	}
}

func TestOneClickUnsubscribeAndConfirm(t *testing.T) {
	a := newAPI(t)
	id := orderViaAPI(t, a)
	tokens := consent.NewTokens(a.e.db.Keys.Tokens)
	c := a.e.client()
	// Double opt-in: the page's button confirms; a repeat changes nothing.
	if r := c.post("/c/"+tokens.Make(consent.ConfirmToken, id), url.Values{}); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "bestätigt") {
		t.Fatalf("confirm: %d", r.StatusCode)
	}
	if a.e.state(t, id, consent.Email) != consent.Granted {
		t.Fatal("not confirmed")
	}
	n := a.e.events()
	c.post("/c/"+tokens.Make(consent.ConfirmToken, id), url.Values{})
	if a.e.events() != n {
		t.Error("a second confirmation was recorded")
	}
	// RFC 8058: no cookie, no CSRF token, 200 and no redirect.
	u := tokens.Make(consent.UnsubscribeToken, id)
	post := func(tok, body string) *http.Response {
		res, err := http.Post(a.e.srv.URL+"/u/"+tok, "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := post(u, "List-Unsubscribe=Other"); res.StatusCode != http.StatusBadRequest || a.e.state(t, id, consent.Email) != consent.Granted {
		t.Errorf("wrong body: %d", res.StatusCode)
	}
	// Alter one character of the MAC for certain (replacing the last two
	// with "AA" left the token as it was when it ended in "AA": flaky).
	altered := []byte(u)
	if altered[20] == 'A' {
		altered[20] = 'B'
	} else {
		altered[20] = 'A'
	}
	if res := post(string(altered), "List-Unsubscribe=One-Click"); res.StatusCode != http.StatusNotFound || a.e.state(t, id, consent.Email) != consent.Granted {
		t.Errorf("altered token: %d", res.StatusCode)
	}
	if res := post(u, "List-Unsubscribe=One-Click"); res.StatusCode != http.StatusOK {
		t.Fatalf("one-click: %d", res.StatusCode)
	}
	if a.e.state(t, id, consent.Email) != consent.Withdrawn || a.e.state(t, id, consent.Post) != consent.Granted {
		t.Error("one-click must withdraw e-mail only")
	}
	var src string
	a.e.store().QueryRow(`SELECT source FROM consent_events ORDER BY seq DESC LIMIT 1`).Scan(&src)
	if src != "email_link" {
		t.Errorf("source %s", src)
	}
	if v, _ := a.e.db.Verify(context.Background()); !v.OK {
		t.Error("ledger broken")
	}
}

func TestPublicPagesAreRateLimited(t *testing.T) {
	e := newEnv(t)
	limited := 0
	for i := 0; i < 40; i++ {
		res, err := http.Get(e.srv.URL + "/p/not-a-token")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Error("40 requests in a row were never limited")
	}
}

// TestRateLimitBehindAProxy: X-Forwarded-For counts only from a trusted
// proxy; from anyone else it is ignored, so it cannot dodge the limit.
func TestRateLimitBehindAProxy(t *testing.T) {
	e := newEnv(t)
	burst := func(h http.Handler) (limited int) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		for i := 0; i < 40; i++ {
			req, _ := http.NewRequest("GET", srv.URL+"/p/not-a-token", nil)
			req.Header.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(i))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode == http.StatusTooManyRequests {
				limited++
			}
		}
		return limited
	}
	untrusted, _ := pos.New(pos.Config{DB: e.db})
	if burst(untrusted.PublicHandler()) == 0 {
		t.Error("a forged X-Forwarded-For dodged the limit")
	}
	trusted, err := pos.New(pos.Config{DB: e.db, TrustedProxies: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := burst(trusted.PublicHandler()); n != 0 {
		t.Errorf("%d of 40 different customers behind the proxy were limited", n)
	}
	if _, err := pos.New(pos.Config{DB: e.db, TrustedProxies: []string{"not-an-ip"}}); err == nil {
		t.Error("a bad proxy address was accepted")
	}
}

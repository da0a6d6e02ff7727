package pos_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/followup/send"
	"github.com/consentdesk/consentdesk/orders"
)

type outboxBody struct {
	Mails []struct {
		ID        int64  `json:"id"`
		Kind      string `json:"kind"`
		Status    string `json:"status"`
		OrderID   int64  `json:"order_id"`
		MessageID string `json:"message_id"`
		Marketing bool   `json:"marketing"`
	} `json:"mails"`
	Counts map[string]int `json:"counts"`
}

func TestAPIReadyAndOutbox(t *testing.T) {
	a := newAPI(t)
	if st := a.call("POST", "/api/v1/orders", apiOrder, nil); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	var box outboxBody
	if st := a.call("GET", "/api/v1/outbox", "", &box); st != http.StatusOK || len(box.Mails) != 2 || box.Counts["queued"] != 2 {
		t.Fatalf("outbox: %d %+v", st, box)
	}
	var ready struct {
		Status string                  `json:"status"`
		Mails  []struct{ Kind string } `json:"mails"`
	}
	if st := a.call("POST", "/api/v1/orders/1/ready", "", &ready); st != http.StatusOK || ready.Status != "ready" || len(ready.Mails) != 2 || ready.Mails[0].Kind != "pickup" {
		t.Fatalf("ready: %d %+v", st, ready)
	}
	var e apiErr
	if st := a.call("POST", "/api/v1/orders/1/ready", "", &e); st != http.StatusConflict || e.Error.Code != "conflict" {
		t.Errorf("ready twice: %d %+v", st, e)
	}
	if st := a.call("POST", "/api/v1/orders/99/ready", "", &e); st != http.StatusNotFound {
		t.Errorf("ready unknown: %d", st)
	}
	if st := a.call("GET", "/api/v1/outbox?order_id=1&status=queued", "", &box); st != http.StatusOK || len(box.Mails) != 2 {
		t.Errorf("filtered outbox: %d %+v", st, box.Mails)
	}
	if st := a.call("GET", "/api/v1/outbox?status=lost&limit=x", "", &e); st != http.StatusUnprocessableEntity || e.Error.Fields["status"] == "" || e.Error.Fields["limit"] == "" {
		t.Errorf("bad filter: %d %+v", st, e)
	}
	// An id beyond 32 bits finds nothing (PostgreSQL refused it: the
	// filter's parameter was typed as int4).
	for _, q := range []string{"customer_id=2147483648", "order_id=9223372036854775807", "customer_id=1&order_id=2147483648"} {
		box.Mails = nil
		if st := a.call("GET", "/api/v1/outbox?"+q, "", &box); st != http.StatusOK || len(box.Mails) != 0 {
			t.Errorf("outbox?%s: %d %+v", q, st, box.Mails)
		}
	}
	if n := a.e.count("outbox"); n != 3 {
		t.Errorf("%d mails, want 3", n)
	}
}

// TestMailboxView renders the held mails the way a store without SMTP
// sees them, and the order page's ready button queues the pickup mail.
func TestMailboxView(t *testing.T) {
	e := newEnv(t)
	a := &api{e: e}
	token, _ := e.db.CreateAPIToken(context.Background(), orders.NewAPIToken{Name: "t"})
	a.token = token
	a.call("POST", "/api/v1/orders", apiOrder, nil)

	c := e.client()
	c.signIn(e.counter, "4711")
	page := c.get("/orders/1")
	if !strings.Contains(page.body, `action="/orders/1/ready"`) {
		t.Fatal("no ready button on an open order")
	}
	if r := c.post("/orders/1/ready", url.Values{"csrf": {"forged"}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("ready without the CSRF token: %d", r.StatusCode)
	}
	c.get("/orders/1")
	if r := c.post("/orders/1/ready", url.Values{}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("ready: %d %s", r.StatusCode, r.body)
	}
	page = c.get("/orders/1?ready=1")
	if strings.Contains(page.body, `action="/orders/1/ready"`) || !strings.Contains(page.body, "abholbereit") {
		t.Error("order page after ready")
	}

	sender := send.NewSender(e.db, consent.NewTokens(e.db.Keys.Tokens), followup.Folder{Dir: t.TempDir()}, send.SenderConfig{PublicURL: "https://optik.example"})
	if n, err := sender.Drain(context.Background()); n != 3 || err != nil {
		t.Fatalf("drained %d (%v)", n, err)
	}
	list := c.get("/mailbox")
	for _, want := range []string{"Vielen Dank für Ihren Auftrag", "ist abholbereit", "Bitte bestätigen Sie", "als .eml gespeichert"} {
		if !strings.Contains(list.body, want) {
			t.Errorf("mailbox lacks %q", want)
		}
	}
	if r := c.get("/mailbox?status=failed"); !strings.Contains(r.body, "Noch keine E-Mails") {
		t.Error("filter by status")
	}
	// A failure is shown with the server's answer.
	if _, err := e.store().Exec(`UPDATE outbox SET status = 'failed', last_error = '550 5.1.1 no such mailbox' WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	if r := c.get("/mailbox?status=failed"); !strings.Contains(r.body, "fehlgeschlagen") || !strings.Contains(r.body, "550 5.1.1 no such mailbox") {
		t.Error("the mailbox does not show the failure")
	}
	one := c.get("/mailbox/1")
	for _, want := range []string{"List-Unsubscribe", "List-Unsubscribe=One-Click", "Nachrichtenkennung", "Betreff", "Empfänger", "Guten Tag", "Abholtermin-", ".ics", "Einstellungen-QR-Code.png", "/mailbox/1/html"} {
		if !strings.Contains(one.body, want) {
			t.Errorf("mail page lacks %q", want)
		}
	}
	html := c.get("/mailbox/1/html")
	csp := html.Header.Get("Content-Security-Policy")
	if html.StatusCode != http.StatusOK || !strings.HasPrefix(csp, "sandbox") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("HTML view: %d, CSP %q", html.StatusCode, csp)
	}
	// The sandboxed page has an origin of its own and gets no staff
	// cookie: the inline QR code must be in the page itself.
	m := regexp.MustCompile(`src="data:image/png;base64,([^"]+)"`).FindStringSubmatch(html.body)
	if m == nil || strings.Contains(html.body, "cid:") || !strings.Contains(csp, "img-src data:") {
		t.Fatal("inline image not in the HTML view")
	}
	if b, err := base64.StdEncoding.DecodeString(m[1]); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("inline image does not decode: %v", err)
	}
	img := c.get("/mailbox/1/parts/0")
	if img.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(img.body, "\x89PNG") {
		t.Errorf("QR part: %s", img.Header.Get("Content-Type"))
	}
	ics := c.get("/mailbox/1/parts/1")
	if !strings.HasPrefix(ics.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(ics.body, "BEGIN:VCALENDAR") {
		t.Errorf("calendar part: %s", ics.Header.Get("Content-Disposition"))
	}
	for _, bad := range []string{"/mailbox/99", "/mailbox/1/parts/7", "/mailbox/x", "/mailbox/1/parts/-1"} {
		if r := c.get(bad); r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", bad, r.StatusCode)
		}
	}
	anon := e.client()
	if r := anon.get("/mailbox/1"); r.StatusCode != http.StatusSeeOther && r.StatusCode != http.StatusUnauthorized {
		t.Errorf("mailbox without a session: %d", r.StatusCode)
	}
}

// The mailbox speaks the staff's language: a recall is "Erinnerung", and
// a mail the sender held back says why in German, not as a key or in
// English.
func TestMailboxNamesRecallsAndReasons(t *testing.T) {
	minusOne := -1.0
	e := newEnv(t)
	ctx := context.Background()
	if err := e.db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	p, err := e.db.PlaceOrder(ctx, orders.NewOrder{StaffID: e.counter.ID,
		Customer:     orders.Customer{Salutation: "Frau", FirstName: "Eva", LastName: "Kurz", Email: "eva.kurz@example.org"},
		Items:        []orders.Item{{Description: "Brille", Quantity: 1, UnitPriceCents: 19900, VATRatePercent: 19}},
		Prescription: &orders.Prescription{MeasuredOn: time.Now().AddDate(0, -25, 0).Format("2006-01-02"), Right: orders.Eye{Sph: &minusOne}},
		TakenAlong:   true,
		Consent: orders.ConsentInput{Mode: orders.ModeTablet, HealthData: true, SignaturePNG: mustDecodeDataURL(t, signature(t)),
			Cells: map[consent.Channel][]string{consent.Email: {consent.TopicEyeTest}}}})
	if err != nil {
		t.Fatal(err)
	}
	if sent, err := e.db.SendRecalls(ctx, consent.TopicEyeTest, e.manager.ID); err != nil || sent.Mails != 1 {
		t.Fatalf("recall: %+v %v", sent, err)
	}
	// Withdrawn before the sender gets to it: held back, with the reason.
	if _, err := e.db.RecordConsents(ctx, orders.ConsentChange{CustomerID: p.Customer.ID, Source: consent.PreferencePage, ByCustomer: true,
		Cells: map[consent.Channel]map[string]bool{consent.Email: {consent.TopicEyeTest: false}}}); err != nil {
		t.Fatal(err)
	}
	sender := send.NewSender(e.db, consent.NewTokens(e.db.Keys.Tokens), followup.Folder{Dir: t.TempDir()}, send.SenderConfig{PublicURL: "https://optik.example"})
	if _, err := sender.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.signIn(e.manager, "864297")
	r := c.get("/mailbox")
	if !strings.Contains(r.body, "Erinnerung") || !strings.Contains(r.body, "Nicht gesendet: keine Einwilligung (mehr) für dieses Thema per E-Mail.") ||
		strings.Contains(r.body, "mail.kind.") || strings.Contains(r.body, "mail.suppressed.") || strings.Contains(r.body, "no consent") {
		t.Errorf("the mailbox:\n%s", r.body)
	}
}

package pos_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/followup/send"
)

// cellsOrder is apiOrder with consent.cells in place of the shorthand.
func cellsOrder(email, cells string) string {
	body := strings.Replace(apiOrder, `"channels": {"post": true, "email": true, "sms": false, "phone": false}`, `"cells": `+cells, 1)
	return strings.Replace(body, `"j.weiss@example.org"`, `"`+email+`"`, 1)
}

// The API takes consent.cells, the unit of consent: exactly the cells
// named are granted, the rest of the channels named are asked and left
// off; cells and the older shorthand together, or an unknown topic, are
// refused with a field error and change nothing. POST .../consents takes
// cells as lists (grants) or as answers per topic.
func TestAPITakesCells(t *testing.T) {
	a := newAPI(t)
	var created struct {
		CustomerID int64 `json:"customer_id"`
	}
	if st := a.call("POST", "/api/v1/orders", cellsOrder("zelle@example.org", `{"email": ["eye_test"], "post": ["offers"]}`), &created); st != http.StatusCreated {
		t.Fatalf("order with cells: %d", st)
	}
	var cons struct {
		Topics map[string]map[string]struct {
			State    string `json:"state"`
			Declined bool   `json:"declined"`
		} `json:"topics"`
	}
	a.call("GET", "/api/v1/customers/"+itoa(created.CustomerID)+"/consents", "", &cons)
	if cons.Topics["email"]["eye_test"].State != "pending" || cons.Topics["post"]["offers"].State != "granted" ||
		cons.Topics["email"]["offers"].State != "none" || !cons.Topics["email"]["offers"].Declined || cons.Topics["post"]["eye_test"].State != "none" ||
		cons.Topics["sms"]["offers"].Declined {
		t.Errorf("cells after the order: %+v", cons.Topics)
	}
	before := a.e.count("orders")
	body := strings.Replace(cellsOrder("beides@example.org", `{"email": ["offers"]}`), `"cells":`, `"channels": {"post": true}, "cells":`, 1)
	var bad struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	if st := a.call("POST", "/api/v1/orders", body, &bad); st != http.StatusUnprocessableEntity || bad.Error.Fields["consent.cells"] == "" {
		t.Errorf("cells with channels: %d %+v", st, bad)
	}
	if st := a.call("POST", "/api/v1/orders", cellsOrder("unbekannt@example.org", `{"email": ["golf"]}`), &bad); st != http.StatusUnprocessableEntity || bad.Error.Fields["consent.cells.email"] == "" {
		t.Errorf("an unknown topic: %d %+v", st, bad)
	}
	if a.e.count("orders") != before {
		t.Error("a refused order was stored")
	}
	// POST .../consents: a withdrawal of one cell, by phone.
	id := itoa(created.CustomerID)
	if st := a.call("POST", "/api/v1/customers/"+id+"/consents", `{"cells": {"post": {"offers": false}}, "source": "phone_request"}`, nil); st != http.StatusOK {
		t.Fatalf("cells as answers: %d", st)
	}
	a.call("GET", "/api/v1/customers/"+id+"/consents", "", &cons)
	if cons.Topics["post"]["offers"].State != "withdrawn" || cons.Topics["email"]["eye_test"].State != "pending" {
		t.Errorf("after the withdrawal of one cell: %+v", cons.Topics)
	}
}

// The double opt-in names what it confirms: the /c page and the mail say
// the topics waiting on e-mail, never "offers" when offers were not
// chosen.
func TestDoubleOptInNamesItsTopics(t *testing.T) {
	a := newAPI(t)
	var created struct {
		CustomerID int64 `json:"customer_id"`
	}
	if st := a.call("POST", "/api/v1/orders", cellsOrder("doi@example.org", `{"email": ["eye_test"]}`), &created); st != http.StatusCreated {
		t.Fatalf("order: %d", st)
	}
	tok := consent.NewTokens(a.e.db.Keys.Tokens).MakeFor(consent.ConfirmAddressToken, created.CustomerID, "doi@example.org")
	page := a.e.client().get("/c/" + tok)
	if !strings.Contains(page.body, "dass wir Ihnen Sehtest-Erinnerung per E-Mail an do•••@example.org senden dürfen") || strings.Contains(page.body, "Angebote") {
		t.Errorf("the confirmation page:\n%s", page.body)
	}
	ctx := context.Background()
	dir := t.TempDir()
	s := send.NewSender(a.e.db, consent.NewTokens(a.e.db.Keys.Tokens), followup.Folder{Dir: dir}, send.SenderConfig{})
	if _, err := s.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	mails, _ := a.e.db.Mails(ctx, followup.Filter{CustomerID: created.CustomerID})
	found := false
	for _, m := range mails {
		if m.Kind != followup.DoubleOptIn {
			continue
		}
		full, err := followup.Get(ctx, a.e.db.SQL(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := followup.Parse(full.Raw)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(parsed.Text), " ")
		found = true
		if !strings.Contains(text, "dass wir Ihnen Sehtest-Erinnerung per E-Mail an diese Adresse senden dürfen") || strings.Contains(text, "Angebote und Neuigkeiten") {
			t.Errorf("the double opt-in mail:\n%s", text)
		}
	}
	if !found {
		t.Fatal("no double opt-in mail")
	}
}

// The back office shows each cell: after a recall's one-click ends the
// eye test by e-mail, the customer page says so for that cell, and the
// offers by e-mail that still stand; every timeline row names its topic.
// The proof PDF has the state per cell and the events with their topic.
func TestBackOfficeShowsEveryCell(t *testing.T) {
	a := newAPI(t)
	e := a.e
	ctx := context.Background()
	if err := e.db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	var created struct {
		CustomerID int64 `json:"customer_id"`
	}
	if st := a.call("POST", "/api/v1/orders", cellsOrder("raster@example.org", `{"email": ["eye_test", "offers"], "post": ["eye_test"]}`), &created); st != http.StatusCreated {
		t.Fatalf("order: %d", st)
	}
	id := created.CustomerID
	// A recall's one-click: that topic on e-mail, nothing else.
	tok := consent.NewTokens(e.db.Keys.Tokens).MakeFor(consent.UnsubscribeToken, id, followup.TopicSubject(consent.TopicEyeTest))
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/u/"+tok, strings.NewReader("List-Unsubscribe=One-Click"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	c := e.client()
	c.signIn(e.manager, "864297")
	page := c.get("/customers/" + itoa(id))
	grid := page.body[strings.Index(page.body, `class="states cells-grid"`):]
	grid = grid[:strings.Index(grid, "</table>")]
	rows := map[string]string{}
	for _, row := range strings.Split(grid, "<tr>")[2:] {
		name := row[strings.Index(row, `<th scope="row">`)+len(`<th scope="row">`):]
		rows[name[:strings.IndexAny(name, "< ")]] = row
	}
	// E-mail: eye test withdrawn, contact lenses declined, offers granted.
	email := rows["E-Mail"]
	if strings.Count(email, "widerrufen") != 1 || strings.Count(email, ">erteilt") != 1 || !strings.Contains(email, "abgelehnt") {
		t.Errorf("the e-mail row of the customer page:\n%s", email)
	}
	if post := rows["Post"]; strings.Count(post, ">erteilt") != 1 {
		t.Errorf("the post row of the customer page:\n%s", post)
	}
	if !strings.Contains(page.body, "<td>Sehtest-Erinnerung</td>") || !strings.Contains(page.body, "<td>Angebote und Neuheiten</td>") {
		t.Error("the timeline's rows do not name their topics")
	}
	text := pdfLayout(t, []byte(c.get("/customers/"+itoa(id)+"/proof.pdf").body))
	for _, want := range []string{"Stand je Kanal und Thema", "Sehtest-Erinnerung per Brief erteilt", "Sehtest-Erinnerung per E-Mail widerrufen",
		"Angebote und Neuheiten per E-Mail erteilt", "Kontaktlinsen-Nachbestellung per E-Mail abgelehnt", "Thema Sehtest-Erinnerung", "Sehtest-Erinnerung per E-Mail – widerrufen"} {
		if !strings.Contains(text, want) {
			t.Errorf("the proof lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(text, "Angebote und Neuheiten per Brief abgelehnt") {
		t.Error("the proof does not say offers by post were asked and declined")
	}
	// The receipt's policy is the notice, on the customer's page.
	var receipt struct {
		PolicyURL string `json:"policyUrl"`
	}
	a.call("GET", "/api/v1/customers/"+itoa(id)+"/receipt.json", "", &receipt)
	if !strings.HasSuffix(receipt.PolicyURL, "#notice") || !strings.Contains(receipt.PolicyURL, "/p/") {
		t.Errorf("the receipt's policyUrl: %q", receipt.PolicyURL)
	}
	if pref := e.client().get(receipt.PolicyURL[strings.Index(receipt.PolicyURL, "/p/"):strings.Index(receipt.PolicyURL, "#")]); !strings.Contains(pref.body, `id="notice"`) || !strings.Contains(pref.body, "Datenschutzhinweise nach Art. 13 DSGVO") {
		t.Error("the preference page does not hold the notice the receipt points to")
	}
	// The order page shows the same grid.
	order := c.get("/orders/1")
	if !strings.Contains(order.body, `class="states cells-grid"`) {
		t.Error("the order page has no cell grid")
	}
}

// pdfLayout reads a PDF back with poppler keeping each line's columns
// together ("label value"), words joined by single spaces.
func pdfLayout(t *testing.T, doc []byte) string {
	t.Helper()
	needTool(t, "pdftotext")
	file := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// A customer whose contact another record blocked (an objection of the
// same person under another number, §35(3) BDSG) reads blocked and
// withdrawn in GET …/consents, not granted: nobody may contact it.
func TestConsentsShowABlockFromAnotherRecord(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	if err := a.e.db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	var first, second struct {
		CustomerID int64 `json:"customer_id"`
	}
	if st := a.call("POST", "/api/v1/orders", cellsOrder("doppelt@example.org", `{"email": ["offers"]}`), &first); st != http.StatusCreated {
		t.Fatalf("order: %d", st)
	}
	if st := a.call("POST", "/api/v1/orders", cellsOrder("doppelt@example.org", `{}`), &second); st != http.StatusCreated {
		t.Fatalf("second record: %d", st)
	}
	if st := a.call("POST", "/api/v1/customers/"+itoa(second.CustomerID)+"/consents", `{"channels": {"email": false}, "source": "phone_request"}`, nil); st != http.StatusOK {
		t.Fatalf("objection: %d", st)
	}
	var cons struct {
		Channels map[string]struct {
			State   string `json:"state"`
			Blocked bool   `json:"blocked"`
		} `json:"channels"`
		Topics map[string]map[string]struct {
			State string `json:"state"`
		} `json:"topics"`
	}
	a.call("GET", "/api/v1/customers/"+itoa(first.CustomerID)+"/consents", "", &cons)
	if cons.Channels["email"].State != "withdrawn" || !cons.Channels["email"].Blocked || cons.Topics["email"]["offers"].State != "withdrawn" {
		t.Errorf("the first record's e-mail after the other's objection: %+v %+v", cons.Channels["email"], cons.Topics["email"])
	}
}

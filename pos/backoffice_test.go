package pos_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
)

// needTool skips when a reader is missing, unless CONSENTDESK_REQUIRE_TOOLS
// says the run must have it (CI).
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		missingTool(t, name, "apt-get install -y poppler-utils")
	}
}

// missingTool skips a test whose tool is not installed, saying how to
// install it, so that the README's go test ./... needs nothing but Go.
// Under CONSENTDESK_REQUIRE_TOOLS the run must have every tool (CI), and
// the test fails instead.
func missingTool(t testing.TB, name, install string) {
	t.Helper()
	if os.Getenv("CONSENTDESK_REQUIRE_TOOLS") != "" {
		t.Fatalf("%s is required (CONSENTDESK_REQUIRE_TOOLS is set) but not installed: %s", name, install)
	}
	t.Skipf("%s not installed: %s", name, install)
}

// pdfText reads a PDF back with poppler.
func pdfText(t *testing.T, doc []byte) string {
	t.Helper()
	needTool(t, "pdftotext")
	file := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

func (a *api) raw(method, path string) (int, http.Header, []byte) {
	a.e.t.Helper()
	req, _ := http.NewRequest(method, a.e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// orderWithEverything: consent to post, e-mail and the prescription, with
// a signature, through the API.
func orderWithEverything(t *testing.T, a *api, email string) int64 {
	t.Helper()
	return postOrder(t, a, strings.Replace(apiOrder, `"phone": false}`, `"phone": false}, "health_data": true, "signature_png": "`+signature(t)+`"`, 1), email)
}

// postOrder posts an API order body for the address email and returns
// the customer id.
func postOrder(t *testing.T, a *api, body, email string) int64 {
	t.Helper()
	body = strings.Replace(body, "j.weiss@example.org", email, 1)
	var created struct {
		CustomerID int64 `json:"customer_id"`
	}
	if st := a.call("POST", "/api/v1/orders", body, &created); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	return created.CustomerID
}

// keptUntil is the deletion date of an order placed today: the end of the
// year eight years on (§147 AO, the default retention).
func keptUntil() string { return fmt.Sprintf("%d-12-31", time.Now().In(orders.Berlin).Year()+8) }

// keptUntilShown is that day as pages show it, "31.12.2034".
func keptUntilShown() string { return fmt.Sprintf("31.12.%d", time.Now().In(orders.Berlin).Year()+8) }

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestAPIReceiptProofExport(t *testing.T) {
	a := newAPI(t)
	id := orderWithEverything(t, a, "receipt@example.org")

	// The receipt: every field of the Kantara Consent Receipt v1.1.
	st, _, body := a.raw("GET", "/api/v1/customers/"+itoa(id)+"/receipt.json")
	if st != http.StatusOK {
		t.Fatalf("receipt: %d %s", st, body)
	}
	var r map[string]any
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "jurisdiction", "consentTimestamp", "collectionMethod", "consentReceiptID", "piiPrincipalId",
		"piiControllers", "policyUrl", "services", "sensitive", "spiCat", "language"} {
		if _, ok := r[k]; !ok {
			t.Errorf("receipt lacks %s", k)
		}
	}
	if r["version"] != "KI-CR-v1.1.0" || r["jurisdiction"] != "DE" || r["consentTimestamp"].(float64) < 1.7e9 ||
		!uuidRE.MatchString(r["consentReceiptID"].(string)) || r["piiPrincipalId"] != "customer:"+itoa(id) || r["sensitive"] != true ||
		len(r["spiCat"].([]any)) != 1 || !strings.Contains(r["collectionMethod"].(string), "Kassensystem") || r["policyUrl"] == "" {
		t.Errorf("receipt: %s", body)
	}
	ctrl := r["piiControllers"].([]any)[0].(map[string]any)
	for _, k := range []string{"piiController", "contact", "email", "phone"} {
		if s, _ := ctrl[k].(string); s == "" {
			t.Errorf("piiControllers[0].%s empty", k)
		}
	}
	// Kantara CR v1.1: the address is an object, not a string.
	addr, _ := ctrl["address"].(map[string]any)
	for _, k := range []string{"streetAddress", "postalCode", "addressLocality", "addressCountry"} {
		if s, _ := addr[k].(string); s == "" {
			t.Errorf("piiControllers[0].address.%s empty: %v", k, ctrl["address"])
		}
	}
	services := r["services"].([]any)
	if len(services) != 3 { // post, e-mail, prescription
		t.Fatalf("services: %v", services)
	}
	for _, s := range services {
		sv := s.(map[string]any)
		p := sv["purposes"].([]any)[0].(map[string]any)
		for _, k := range []string{"purpose", "consentType", "termination", "purposeCategory", "piiCategory", "primaryPurpose", "thirdPartyDisclosure"} {
			if _, ok := p[k]; !ok {
				t.Errorf("service %v purpose lacks %s", sv["service"], k)
			}
		}
		if p["consentType"] != "EXPLICIT" || !strings.Contains(p["termination"].(string), "https://optik.example/p/") {
			t.Errorf("purpose: %v", p)
		}
	}
	// The receipt's hashes are the ledger's.
	var cons struct {
		Events []consent.Event `json:"events"`
	}
	a.call("GET", "/api/v1/customers/"+itoa(id)+"/consents", "", &cons)
	ledger := r["ledger"].(map[string]any)
	evs := ledger["events"].([]any)
	if len(evs) != len(cons.Events) || ledger["verified"] != true {
		t.Fatalf("ledger in receipt: %v", ledger)
	}
	for i, e := range evs {
		if e.(map[string]any)["hash"] != cons.Events[i].Hash {
			t.Errorf("event %d hash differs", i)
		}
	}
	// Same state, same receipt ID; a change, a new one.
	_, _, again := a.raw("GET", "/api/v1/customers/"+itoa(id)+"/receipt.json")
	var r2 map[string]any
	json.Unmarshal(again, &r2)
	if r2["consentReceiptID"] != r["consentReceiptID"] {
		t.Error("receipt ID changes without a change of consent")
	}
	a.call("POST", "/api/v1/customers/"+itoa(id)+"/consents", `{"channels": {"post": false}, "source": "phone_request"}`, nil)
	_, _, third := a.raw("GET", "/api/v1/customers/"+itoa(id)+"/receipt.json")
	var r3 map[string]any
	json.Unmarshal(third, &r3)
	if r3["consentReceiptID"] == r["consentReceiptID"] {
		t.Error("receipt ID unchanged after a withdrawal")
	}

	// The proof: the text, its version, the signature, every change.
	st, h, doc := a.raw("GET", "/api/v1/customers/"+itoa(id)+"/proof.pdf")
	if st != http.StatusOK || h.Get("Content-Type") != "application/pdf" {
		t.Fatalf("proof: %d %s", st, h.Get("Content-Type"))
	}
	text := pdfText(t, doc)
	for _, want := range []string{"Nachweis der Einwilligung", "Hash-Kette geprüft: intakt", "Hinweistext de-1", "Kassensystem (API)",
		"Einwilligung erteilt", "widerrufen", "Anruf des Kunden", "Datei stimmt mit dem Hash überein", "Text stimmt mit dem Hash überein",
		"Widerruf", cons.Events[0].Hash[:20]} {
		if !strings.Contains(text, want) {
			t.Errorf("proof lacks %q", want)
		}
	}
	if n := strings.Count(string(doc), "/Subtype /Image"); n < 1 {
		t.Errorf("proof has %d images; the signature is missing", n)
	}

	// The access export: JSON with the prescription decrypted, and a PDF.
	st, h, body = a.raw("GET", "/api/v1/customers/"+itoa(id)+"/export")
	if st != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("export: %d", st)
	}
	var x orders.Export
	if err := json.Unmarshal(body, &x); err != nil {
		t.Fatal(err)
	}
	changes := 0 // the events that change a state: the declines of the order's other cells aside
	for _, ev := range x.Consents.Events {
		if ev.Action != consent.Decline {
			changes++
		}
	}
	if x.Customer.Email != "receipt@example.org" || len(x.Orders) != 1 || x.Orders[0].Prescription == nil || *x.Orders[0].Prescription.Values.Right.Sph != -1.25 ||
		len(x.Documents) != 1 || len(x.Documents[0].Data) == 0 || changes != 4 || len(x.Mails) != 2 || len(x.Notices) != 1 {
		t.Errorf("export: %s", body[:min(len(body), 600)])
	}
	// Every cell with its own state: post withdrawn by phone on every
	// topic, offers by e-mail waiting, the eye test by e-mail asked and
	// declined.
	if c := x.Consents.Cells; c[consent.Post][consent.TopicOffers].State != consent.Withdrawn || c[consent.Post][consent.TopicEyeTest].State != consent.Withdrawn ||
		!c[consent.Email][consent.TopicEyeTest].Declined || c[consent.Email][consent.TopicEyeTest].State != consent.None || c[consent.Email][consent.TopicOffers].State != consent.Pending {
		t.Errorf("export's cells: %+v", c)
	}

	// Each of these was logged with the API token.
	log, err := a.e.db.AuditLog(context.Background(), orders.AuditFilter{CustomerID: id})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range log {
		if e.TokenName != "ERP" || e.StaffID != 0 {
			t.Errorf("audit entry %+v", e)
		}
		got[e.Action]++
	}
	if got[orders.AuditReceipt] != 3 || got[orders.AuditProof] != 1 || got[orders.AuditExport] != 1 {
		t.Errorf("audit: %v", got)
	}
	// Unknown customer: 404, in JSON.
	if st := a.call("GET", "/api/v1/customers/999/receipt.json", "", nil); st != http.StatusNotFound {
		t.Errorf("unknown: %d", st)
	}
}

func TestAPIEraseAndContactable(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	gone := orderWithEverything(t, a, "gone@example.org")
	stays := orderWithEverything(t, a, "stays@example.org")
	for _, id := range []int64{gone, stays} {
		if _, err := a.e.db.ConfirmEmail(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	csvOf := func(ch string) [][]string {
		st, h, body := a.raw("GET", "/api/v1/contactable?channel="+ch)
		if st != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
			t.Fatalf("contactable %s: %d %s", ch, st, body)
		}
		// RFC 4180, 2.1: every line ends in CRLF, byte for byte.
		if !strings.HasSuffix(string(body), "\r\n") || strings.Count(string(body), "\n") != strings.Count(string(body), "\r\n") {
			t.Errorf("contactable %s: lines do not all end in CRLF: %q", ch, body)
		}
		rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		// Look cell by cell, and skip the timestamps: a consent date
		// such as 10:04:31.512Z holds "31.5" by chance (seen in CI).
		for _, row := range rows {
			for _, cell := range row {
				if _, err := time.Parse(time.RFC3339Nano, cell); err == nil {
					continue
				}
				low := strings.ToLower(cell)
				for _, rx := range []string{"-1.25", "-1,25", "31.5", "31,5", "sph", "cyl", "prescription", "rezept"} {
					if strings.Contains(low, rx) {
						t.Errorf("the export holds prescription data: cell %q", cell)
					}
				}
			}
		}
		return rows
	}
	rows := csvOf("email")
	if len(rows) != 3 || rows[0][4] != "contact" || rows[0][6] != "consent_date" || rows[0][8] != "notice_version" || rows[1][7] != "confirmed" || rows[1][8] != "de-1" {
		t.Fatalf("before: %v", rows)
	}

	var res orders.Erasure
	if st := a.call("DELETE", "/api/v1/customers/"+itoa(gone), "", &res); st != http.StatusOK {
		t.Fatalf("erase: %d", st)
	}
	if len(res.Kept) != 1 || res.Kept[0].DeleteAfter == "" || !res.Removed.ContactDetails || res.Removed.Prescriptions != 1 || res.Removed.Documents != 1 {
		t.Errorf("erasure: %+v", res)
	}
	var v consent.Verification
	if a.call("GET", "/api/v1/ledger/verify", "", &v); !v.OK {
		t.Errorf("ledger after erasure: %+v", v)
	}
	var e apiErr
	if st := a.call("DELETE", "/api/v1/customers/"+itoa(gone), "", &e); st != http.StatusConflict || e.Error.Code != "conflict" {
		t.Errorf("second erasure: %d %+v", st, e)
	}
	rows = csvOf("email")
	if len(rows) != 2 || rows[1][0] != itoa(stays) {
		t.Errorf("after: %v", rows)
	}
	if st := a.call("GET", "/api/v1/contactable?channel=fax", "", &e); st != http.StatusUnprocessableEntity || e.Error.Fields["channel"] == "" {
		t.Errorf("bad channel: %d %+v", st, e)
	}
	// The erased customer's public page is gone; the other's works.
	tok := consent.NewTokens(a.e.db.Keys.Tokens)
	for id, want := range map[int64]int{gone: http.StatusNotFound, stays: http.StatusOK} {
		res, err := http.Get(a.e.srv.URL + "/p/" + tok.Make(consent.PreferencesToken, id))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("preference page of %d: %d", id, res.StatusCode)
		}
	}
}

func TestCSVCellsCannotBeFormulas(t *testing.T) {
	a := newAPI(t)
	body := strings.Replace(apiOrder, `"first_name": "Jürgen"`, `"first_name": "=HYPERLINK(\"http://x\")"`, 1)
	body = strings.Replace(body, `"channels": {"post": true`, `"channels": {"post": true, "sms": true`, 1)
	body = strings.Replace(body, `"sms": false, `, ``, 1)
	if st := a.call("POST", "/api/v1/orders", body, nil); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	for ch, want := range map[string]string{"post": `'=HYPERLINK`, "sms": "+491701234567"} {
		_, _, csvBody := a.raw("GET", "/api/v1/contactable?channel="+ch)
		rows, _ := csv.NewReader(strings.NewReader(string(csvBody))).ReadAll()
		if len(rows) != 2 || (!strings.HasPrefix(rows[1][2], want) && rows[1][4] != want) {
			t.Errorf("%s: %v", ch, rows)
		}
	}
}

func TestBackOfficePages(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	e := a.e
	id := orderWithEverything(t, a, "page@example.org")
	cid := itoa(id)

	counter := e.client()
	counter.signIn(e.counter, "4711")
	r := counter.get("/customers/" + cid)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Verlauf aller Ereignisse") || !strings.Contains(r.body, "Kassensystem (API)") ||
		!strings.Contains(r.body, `href="/notices/de-1"`) {
		t.Fatalf("customer page: %d", r.StatusCode)
	}
	// Counter staff see the page, not the exports or the erasure.
	for _, path := range []string{"/proof.pdf", "/receipt.json", "/export.json", "/export.pdf"} {
		if r := counter.get("/customers/" + cid + path); r.StatusCode != http.StatusForbidden {
			t.Errorf("counter %s: %d", path, r.StatusCode)
		}
	}
	for _, path := range []string{"/contactable.csv?channel=email", "/records.pdf", "/staff", "/audit"} {
		if r := counter.get(path); r.StatusCode != http.StatusForbidden {
			t.Errorf("counter %s: %d", path, r.StatusCode)
		}
	}
	counter.get("/customers/" + cid)
	if r := counter.post("/customers/"+cid+"/erase", url.Values{"confirm": {"on"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("counter erase: %d", r.StatusCode)
	}

	// Rectification from the page, with the CSRF token, logged.
	form := url.Values{"salutation": {"Frau"}, "first_name": {"Jürgen"}, "last_name": {"Weiß-Meier"}, "street": {"Hauptstraße 1"},
		"postal_code": {"79098"}, "city": {"Freiburg"}, "email": {"page@example.org"}, "mobile": {"+491701234567"}, "phone": {""}, "lang": {"de"}}
	if r := counter.post("/customers/"+cid, url.Values{"last_name": {"X"}, "csrf": {"wrong"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("without CSRF: %d", r.StatusCode)
	}
	counter.get("/customers/" + cid)
	if r := counter.post("/customers/"+cid, form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", r.StatusCode, r.body)
	}
	r = counter.get("/customers/" + cid + "?done=saved")
	if !strings.Contains(r.body, "Weiß-Meier") || !strings.Contains(r.body, "Änderungsprotokoll") {
		t.Error("change not shown")
	}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("email", "kaputt")
	if r := counter.post("/customers/"+cid, bad); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "kaputt") {
		t.Errorf("bad edit: %d", r.StatusCode)
	}
	if cu, _ := e.db.Customer(context.Background(), id); cu.Email != "page@example.org" {
		t.Errorf("bad edit saved: %q", cu.Email)
	}
	// A withdrawal by phone from the page; a grant is not offered.
	counter.get("/customers/" + cid)
	if r := counter.post("/customers/"+cid+"/consents", url.Values{"withdraw_email": {"on"}, "source": {"phone_request"}, "note": {"Anruf"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("withdraw: %d %s", r.StatusCode, r.body)
	}
	states, _, _ := e.db.Consents(context.Background(), id)
	if states[consent.Email].State != consent.Withdrawn || states[consent.Post].State != consent.Granted {
		t.Errorf("after withdrawal: %+v", states)
	}
	counter.get("/customers/" + cid)
	if r := counter.post("/customers/"+cid+"/consents", url.Values{"source": {"phone_request"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("nothing chosen: %d", r.StatusCode)
	}

	manager := e.client()
	manager.signIn(e.manager, "864297")
	for path, want := range map[string]string{"/customers/" + cid + "/proof.pdf": "application/pdf", "/customers/" + cid + "/export.pdf": "application/pdf",
		"/customers/" + cid + "/receipt.json": "application/json", "/customers/" + cid + "/export.json": "application/json",
		"/contactable.csv?channel=post": "text/csv", "/records.pdf": "application/pdf"} {
		r := manager.get(path)
		if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), want) {
			t.Errorf("manager %s: %d %s", path, r.StatusCode, r.Header.Get("Content-Type"))
		}
	}
	text := pdfText(t, []byte(manager.get("/customers/"+cid+"/export.pdf").body))
	for _, want := range []string{"Auskunft über Ihre Daten", "page@example.org", "Weiß-Meier", "Sph -1,25", "Gleitsichtgläser", "Berichtigungen",
		keptUntil() + " (§147 AO, §257 HGB)", "Zugriffe auf Ihre Daten"} {
		if !strings.Contains(text, want) {
			t.Errorf("export PDF lacks %q", want)
		}
	}
	text = pdfText(t, []byte(manager.get("/records.pdf").body))
	for _, want := range []string{"Verzeichnis von Verarbeitungstätigkeiten", "Optik Muster GmbH", "Brillenwerte", "Art. 9 Abs. 2 lit. a",
		"8 Jahre ab Ende des Auftragsjahres", "Technische und organisatorische Maßnahmen", "§ 7a UWG"} {
		if !strings.Contains(text, want) {
			t.Errorf("records PDF lacks %q", want)
		}
	}
	for _, path := range []string{"/dashboard", "/contactable", "/staff", "/audit", "/customers?q=weiß", "/customers?q=" + cid} {
		if r := manager.get(path); r.StatusCode != http.StatusOK {
			t.Errorf("manager %s: %d", path, r.StatusCode)
		}
	}
	if r := manager.get("/dashboard"); !strings.Contains(r.body, "<svg class=\"chart\"") || !strings.Contains(r.body, "Aufträge heute") {
		t.Error("dashboard without chart")
	}
	if r := manager.get("/customers?q=weiß"); !strings.Contains(r.body, `href="/customers/`+cid+`"`) {
		t.Error("customer search")
	}

	// Erasure needs the tick; then the page shows what was kept.
	manager.get("/customers/" + cid)
	if r := manager.post("/customers/"+cid+"/erase", url.Values{}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("erase without confirmation: %d", r.StatusCode)
	}
	if cu, _ := e.db.Customer(context.Background(), id); cu.Erased() {
		t.Fatal("erased without confirmation")
	}
	manager.get("/customers/" + cid)
	r = manager.post("/customers/"+cid+"/erase", url.Values{"confirm": {"on"}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Löschung ausgeführt") || !strings.Contains(r.body, keptUntilShown()) ||
		!strings.Contains(r.body, "§ 147 AO, § 257 HGB: 8 Jahre ab Ende") || strings.Contains(r.body, "years from") || strings.Contains(r.body, "Hash") {
		t.Fatalf("erase: %d", r.StatusCode)
	}
	if strings.Contains(r.body, "page@example.org") || strings.Contains(r.body, "Weiß-Meier") {
		t.Error("the erased customer's details are still on the page")
	}
	// A channel never consented to does not show "withdrawn" after it.
	if !strings.Contains(r.body, "keine Einwilligung (gelöscht)") || !strings.Contains(r.body, "widerrufen (gelöscht)") {
		t.Error("the erased customer's channels do not say what they were")
	}

	// The audit log names who did what.
	r = manager.get("/audit?customer=" + cid)
	for _, want := range []string{"Anna", "Max", "angesehen", "berichtigt", "Nachweis (PDF)", "gelöscht", "Widerruf erfasst"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	if r := manager.get("/audit?customer=abc"); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("bad filter: %d", r.StatusCode)
	}
}

func TestStaffPages(t *testing.T) {
	e := newEnv(t)
	m := e.client()
	m.signIn(e.manager, "864297")
	m.get("/staff")
	if r := m.post("/staff", url.Values{"name": {"Eva"}, "pin": {"3851"}, "role": {"counter"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d %s", r.StatusCode, r.body)
	}
	m.get("/staff")
	if r := m.post("/staff", url.Values{"name": {"Eva"}, "pin": {"1111"}, "role": {"chef"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("bad add: %d", r.StatusCode)
	}
	list, _ := e.db.AllStaff(context.Background())
	var eva orders.Staff
	for _, s := range list {
		if s.Name == "Eva" {
			eva = s
		}
	}
	if eva.ID == 0 || len(list) != 4 {
		t.Fatalf("staff: %+v", list)
	}
	evaClient := e.client()
	evaClient.signIn(eva, "3851")
	m.get("/staff")
	if r := m.post("/staff/"+itoa(eva.ID)+"/disable", url.Values{}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", r.StatusCode)
	}
	if r := evaClient.get("/orders/new"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("disabled member still signed in: %d", r.StatusCode)
	}
	m.get("/staff")
	if r := m.post("/staff/"+itoa(e.manager.ID)+"/disable", url.Values{}); r.StatusCode != http.StatusConflict {
		t.Errorf("disable self: %d", r.StatusCode)
	}
	m.get("/staff")
	if r := m.post("/staff/"+itoa(eva.ID)+"/enable", url.Values{}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("enable: %d", r.StatusCode)
	}
	m.get("/staff")
	if r := m.post("/staff/"+itoa(eva.ID)+"/pin", url.Values{"pin": {"12"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("bad pin: %d", r.StatusCode)
	}
	m.get("/staff")
	if r := m.post("/staff/"+itoa(eva.ID)+"/pin", url.Values{"pin": {"3690"}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("reset pin: %d", r.StatusCode)
	}
	evaClient = e.client()
	evaClient.signIn(eva, "3690")
	c := e.client()
	c.signIn(e.counter, "4711")
	c.get("/orders/new")
	if r := c.post("/staff", url.Values{"name": {"Mallory"}, "pin": {"2580"}, "role": {"manager"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("counter adds staff: %d", r.StatusCode)
	}
	entries, _ := e.db.AuditLog(context.Background(), orders.AuditFilter{})
	n := 0
	for _, a := range entries {
		if a.Action == orders.AuditStaff {
			n++
		}
	}
	if n != 4 {
		t.Errorf("staff changes logged: %d", n)
	}
}

// The manager edits the topics in the settings: a changed list
// is a new notice version; a list without "offers" is refused and
// changes nothing.
func TestTopicsInTheSettings(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(e.manager, "864297")
	page := c.get("/settings")
	if !strings.Contains(page.body, `name="topic_key" value="eye_test"`) || !strings.Contains(page.body, `value="Sehtest-Erinnerung"`) {
		t.Fatal("the settings show no topics")
	}
	form := settingsForm(t, page.body)
	form["topic_key"] = []string{"eye_test", "offers", "yoga", ""}
	form["topic_name_de"] = []string{"Sehtest-Erinnerung", "Angebote", "Yoga für die Augen", ""}
	form["topic_name_en"] = []string{"Eye test reminder", "Offers", "Eye yoga", ""}
	form["topic_desc_de"] = []string{"Erinnerung.", "Angebote.", "Kurse im Geschäft.", ""}
	form["topic_desc_en"] = []string{"Reminder.", "Offers.", "Courses in the store.", ""}
	r := c.post("/settings", form)
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "published=") {
		t.Fatalf("save topics: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	ctrl, _ := e.db.Controller(context.Background())
	if len(ctrl.TopicList()) != 3 || ctrl.TopicList()[2].Key != "yoga" {
		t.Errorf("topics: %+v", ctrl.TopicList())
	}
	notice, _ := e.db.CurrentNotice(context.Background(), "de")
	if !strings.Contains(notice.Text, "Yoga für die Augen") {
		t.Error("the new notice does not name the new topic")
	}
	form["topic_key"] = []string{"eye_test", "events"}
	form["topic_name_de"] = []string{"Sehtest", "Events"}
	form["topic_name_en"] = []string{"Eye test", "Events"}
	form["topic_desc_de"] = []string{"x.", "y."}
	form["topic_desc_en"] = []string{"x.", "y."}
	if r := c.post("/settings", form); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "„offers“") {
		t.Errorf("a list without offers: %d", r.StatusCode)
	}
	if ctrl, _ := e.db.Controller(context.Background()); len(ctrl.TopicList()) != 3 {
		t.Error("a refused list changed the topics")
	}
}

// settingsForm is the settings page's form as the browser would send it:
// every input's value, repeated names kept.
func settingsForm(t *testing.T, body string) url.Values {
	t.Helper()
	values := url.Values{}
	for _, m := range regexp.MustCompile(`name="([a-z_]+)" value="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		if m[1] != "csrf" {
			values.Add(m[1], html.UnescapeString(m[2]))
		}
	}
	values.Set("health_data_basis", "explicit_consent")
	values.Set("double_opt_in", "on")
	return values
}

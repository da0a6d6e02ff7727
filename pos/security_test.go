package pos_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/followup/send"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/pos"
	"github.com/gin-gonic/gin"
)

// publicPrefixes are reachable without a session by design.
var publicPrefixes = []string{"/p/", "/pair", "/u/", "/c/", "/static/", "/healthz", "/login", "/lang", "/logo", "/favicon.ico"}

func isPublic(path string) bool {
	for _, p := range publicPrefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// concrete fills a route pattern's parameters.
func concrete(path string) string {
	r := strings.NewReplacer(":id", "1", ":draft", "x", ":doc", "1", ":n", "0", ":token", "abc", "*filepath", "app.css")
	return r.Replace(path)
}

func checkHeaders(t *testing.T, where string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: CSP %q", where, csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("%s: headers %v", where, h)
	}
}

// TestEveryRouteIsGuarded walks every route the server has: without a
// session or token nothing of the staff side answers, a counter member
// gets none of the manager's routes, a post without the CSRF token is
// refused, every answer carries the security headers, and through
// --public-addr only the public pages exist.
func TestEveryRouteIsGuarded(t *testing.T) {
	e := newEnv(t)
	s, err := pos.New(pos.Config{DB: e.db, PublicURL: "https://optik.example"})
	if err != nil {
		t.Fatal(err)
	}
	routes := s.Handler().(*gin.Engine).Routes()
	if len(routes) < 50 {
		t.Fatalf("only %d routes found", len(routes))
	}
	public := httptest.NewServer(s.PublicHandler())
	defer public.Close()
	counter := e.client()
	counter.signIn(e.counter, "4711")
	counter.get("/orders/new") // for its CSRF token
	anon := e.client()
	managerOnly := map[string]bool{}
	for _, r := range routes {
		for _, p := range []string{"/settings", "/notices", "/staff", "/audit", "/contactable", "/records.pdf", "/proof.pdf", "/receipt.json", "/export.", "/erase"} {
			if strings.Contains(r.Path, p) && !strings.HasPrefix(r.Path, "/api/") && !strings.HasPrefix(r.Path, "/notices/:id") {
				managerOnly[r.Method+" "+r.Path] = true
			}
		}
	}
	checked := 0
	for _, r := range routes {
		path := concrete(r.Path)
		req := func(c *client, body url.Values) resp {
			if r.Method == http.MethodGet {
				return c.get(path)
			}
			if body == nil {
				body = url.Values{}
			}
			hr, _ := http.NewRequest(r.Method, e.srv.URL+path, strings.NewReader(body.Encode()))
			hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return c.do(hr)
		}
		// Through --public-addr: only the public pages.
		pr, _ := http.NewRequest(r.Method, public.URL+path, strings.NewReader(""))
		res, err := http.DefaultTransport.RoundTrip(pr)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		checkHeaders(t, "public "+path, res.Header)
		// The public listener serves the customers' pages, their static
		// files, the store's logo and the favicon; nothing else.
		onPublic := false
		for _, p := range []string{"/p/", "/u/", "/c/", "/static/", "/logo", "/favicon.ico"} {
			onPublic = onPublic || strings.HasPrefix(path, p)
		}
		if !onPublic && res.StatusCode != http.StatusNotFound {
			t.Errorf("public address answers %s %s: %d", r.Method, path, res.StatusCode)
		}
		if isPublic(path) {
			continue
		}
		checked++
		a := req(anon, nil)
		checkHeaders(t, r.Method+" "+path, a.Header)
		switch {
		case strings.HasPrefix(path, "/api/"):
			if a.StatusCode != http.StatusUnauthorized {
				t.Errorf("API %s %s without a token: %d", r.Method, path, a.StatusCode)
			}
		case r.Method == http.MethodGet && !strings.HasSuffix(path, ".pdf"):
			if a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/login" {
				t.Errorf("%s without a session: %d", path, a.StatusCode)
			}
		default:
			if a.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s without a session: %d", r.Method, path, a.StatusCode)
			}
		}
		if strings.HasPrefix(path, "/api/") {
			continue
		}
		if managerOnly[r.Method+" "+r.Path] {
			if c := req(counter, url.Values{"csrf": {counter.csrf}}); c.StatusCode != http.StatusForbidden {
				t.Errorf("counter on %s %s: %d", r.Method, path, c.StatusCode)
			}
		}
		if r.Method == http.MethodPost {
			if c := req(counter, url.Values{"csrf": {"forged"}}); c.StatusCode != http.StatusForbidden && c.StatusCode != http.StatusNotFound {
				t.Errorf("%s without a valid CSRF token: %d", path, c.StatusCode)
			}
		}
	}
	t.Logf("%d staff and API routes checked", checked)
}

// TestPayloadsComeOutEscaped puts script and SQL payloads into every
// text field a customer or staff member can fill, then reads them back
// in the HTML pages, the PDFs and the mail: they are text everywhere,
// and the database is whole.
func TestPayloadsComeOutEscaped(t *testing.T) {
	a := newAPI(t)
	e := a.e
	const xss = `<script>alert(1)</script>`
	const sqli = `Robert'); DROP TABLE customers;--`
	body := apiOrder
	for old, repl := range map[string]string{
		`"first_name": "Jürgen"`:            `"first_name": "` + strings.ReplaceAll(xss, `"`, `\"`) + `"`,
		`"last_name": "Weiß"`:               `"last_name": "` + sqli + `"`,
		`"street": "Hauptstraße 1"`:         `"street": "<img src=x onerror=alert(2)>"`,
		`"city": "Freiburg"`:                `"city": "\"><svg onload=alert(3)>"`,
		`"description": "Gleitsichtgläser"`: `"description": "</td><script>alert(4)</script>"`,
	} {
		if !strings.Contains(body, old) {
			t.Fatalf("%s not in the order", old)
		}
		body = strings.Replace(body, old, repl, 1)
	}
	var created struct {
		ID         int64 `json:"id"`
		CustomerID int64 `json:"customer_id"`
	}
	if st := a.call("POST", "/api/v1/orders", body, &created); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	if st := a.call("POST", "/api/v1/customers/1/consents", `{"channels": {"sms": false}, "source": "phone_request", "note": "<b onmouseover=alert(5)>x</b> ' OR 1=1 --"}`, nil); st != http.StatusOK {
		t.Fatalf("note: %d", st)
	}
	raw := []string{"<script>", "<img src=x", "<svg onload", "<b onmouseover"}

	m := e.client()
	m.signIn(e.manager, "864297")
	for _, path := range []string{"/customers/1", "/orders/1", "/customers?q=Robert", "/dashboard", "/audit"} {
		r := m.get(path)
		if r.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, r.StatusCode)
		}
		for _, p := range raw {
			if strings.Contains(r.body, p) {
				t.Errorf("%s holds %q unescaped", path, p)
			}
		}
	}
	if r := m.get("/customers/1"); !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(r.body, "Robert&#39;); DROP TABLE") {
		t.Error("payload not shown as text on the customer page")
	}
	// The database is whole: the SQL was stored as a name.
	if n := e.count("customers"); n != 1 {
		t.Errorf("customers: %d", n)
	}
	if list, _ := e.db.SearchCustomers(context.Background(), "' OR 1=1 --", 10); len(list) != 0 {
		t.Errorf("search with SQL matched %d", len(list))
	}
	if list, _ := e.db.SearchCustomers(context.Background(), "DROP TABLE", 10); len(list) != 1 {
		t.Errorf("search for the stored text: %d", len(list))
	}

	// PDFs: the payload is printed as text.
	for _, path := range []string{"/orders/1/confirmation.pdf", "/customers/1/proof.pdf", "/customers/1/export.pdf"} {
		r := m.get(path)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, r.StatusCode)
		}
		text := pdfText(t, []byte(r.body))
		if !strings.Contains(text, "<script>alert(1)</script>") && path != "/customers/1/proof.pdf" {
			t.Errorf("%s: payload not printed as text", path)
		}
		if path == "/customers/1/proof.pdf" && !strings.Contains(text, "<b onmouseover=alert(5)>x</b>") {
			t.Errorf("%s: note not printed as text", path)
		}
	}

	// The mail: escaped in HTML, literal in text.
	sender := send.NewSender(e.db, consent.NewTokens(e.db.Keys.Tokens), followup.Folder{Dir: t.TempDir()}, send.SenderConfig{PublicURL: "https://optik.example"})
	if _, err := sender.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	all, _ := e.db.Mails(context.Background(), followup.Filter{})
	var mails []followup.Mail
	for _, m := range all {
		if m.Kind == followup.ThankYou {
			mails = append(mails, m)
		}
	}
	if len(mails) != 1 {
		t.Fatalf("thank-you mails: %d", len(mails))
	}
	full, _ := e.db.Mail(context.Background(), mails[0].ID)
	p, err := followup.Parse(full.Raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range raw {
		if strings.Contains(p.HTML, x) {
			t.Errorf("mail HTML holds %q", x)
		}
	}
	if !strings.Contains(p.HTML, "&lt;script&gt;alert(4)") || !strings.Contains(p.Text, "<script>alert(4)</script>") || !strings.Contains(p.Text, sqli) {
		t.Error("mail: payload not escaped in HTML or not literal in text")
	}
	var v consent.Verification
	if a.call("GET", "/api/v1/ledger/verify", "", &v); !v.OK {
		t.Errorf("ledger: %+v", v)
	}
}

// TestOversizedAndMalformedBodies: too large is 413 before it is read,
// malformed is 422 with the field; neither changes anything.
func TestOversizedAndMalformedBodies(t *testing.T) {
	a := newAPI(t)
	huge := `{"customer": {"last_name": "` + strings.Repeat("x", 3<<20) + `"}}`
	if st := a.call("POST", "/api/v1/orders", huge, nil); st != http.StatusRequestEntityTooLarge {
		t.Errorf("3 MB order: %d", st)
	}
	for _, bad := range []string{`{`, `[]`, `{"items": "many"}`, `{"customer": {"last_name": 5}}`, "\x00\xff", `{"unknown": 1}`, `{} {}`} {
		var e apiErr
		if st := a.call("POST", "/api/v1/orders", bad, &e); st != http.StatusUnprocessableEntity || e.Error.Code != "invalid" {
			t.Errorf("%q: %d %+v", bad, st, e)
		}
	}
	if n := a.e.count("customers") + a.e.count("orders") + a.e.count("consent_events"); n != 0 {
		t.Errorf("rows after bad bodies: %d", n)
	}
	// A staff form that lies about its length is cut off, not read whole.
	c := a.e.client()
	c.signIn(a.e.counter, "4711")
	c.get("/orders/new")
	req, _ := http.NewRequest(http.MethodPost, a.e.srv.URL+"/orders/new", strings.NewReader("csrf="+c.csrf+"&last_name="+strings.Repeat("y", 3<<20)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := c.do(req); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("3 MB form: %d", r.StatusCode)
	}
}

// TestBytesNoTextHoldsAreNeverAnError sends a NUL byte, a byte that is
// not UTF-8 and numbers beyond 32 bits to every route there is, as a signed-in manager and with an
// admin token: once in each path parameter, once in the query and in
// every form field, with the path's ids and links real. None may answer
// 5xx. PostgreSQL refuses both bytes in any text, so where one reached a
// query unchecked the store saw an error page (the sign-in's name, a
// notice's id, the customer search); SQLite's FTS5 read a NUL as the end
// of the search. The routes come from gin's table and the field names
// from the pages themselves, so new ones are tried without being added.
func TestBytesNoTextHoldsAreNeverAnError(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	e := a.e
	id := orderViaAPI(t, a)
	s, err := pos.New(pos.Config{DB: e.db, PublicURL: "https://optik.example"})
	if err != nil {
		t.Fatal(err)
	}
	routes := s.Handler().(*gin.Engine).Routes()
	tokens := consent.NewTokens(e.db.Keys.Tokens)
	withRealIDs := func(path string) string {
		purpose := map[string]consent.TokenPurpose{"/p/": consent.PreferencesToken, "/u/": consent.UnsubscribeToken, "/c/": consent.ConfirmToken}
		tok := "abc"
		for prefix, pp := range purpose {
			if strings.HasPrefix(path, prefix) {
				tok = tokens.Make(pp, id)
			}
		}
		return strings.NewReplacer(":id", itoa(id), ":draft", "x", ":doc", "1", ":n", "0", ":token", tok, ":topic", consent.TopicEyeTest,
			"*filepath", "app.css").Replace(path)
	}
	manager := e.client()
	manager.signIn(e.manager, "864297")
	// The field names: every name="…" on the pages a manager sees (the
	// settings', the breach form's and the order form's fields are made
	// in loops), and the names only queries carry.
	names := map[string]bool{}
	for _, n := range []string{"q", "status", "customer", "customer_id", "order_id", "limit", "done", "topic", "channel", "src", "draft", "saved",
		"published", "sent", "manual", "rx", "ready", "collected", "lang", "what", "note", "source"} {
		names[n] = true
	}
	nameAttr := regexp.MustCompile(`name="([^"{}]+)"`)
	for _, r := range routes {
		if r.Method == http.MethodGet && !strings.HasPrefix(r.Path, "/api/") && !strings.HasPrefix(r.Path, "/static/") {
			for _, m := range nameAttr.FindAllStringSubmatch(manager.get(withRealIDs(r.Path)).body, -1) {
				names[m[1]] = true
			}
		}
	}
	delete(names, "csrf") // the session's own, set below
	if !names["rx_right_sph"] || !names["item_description_0"] || !names["dpo_contact"] || !names["facts"] || !names["withdraw_email"] {
		t.Fatalf("the pages' fields were not all found: %d names", len(names))
	}
	// Also numbers beyond 32 bits: PostgreSQL typed a parameter compared
	// with the literal 0 as int4 and refused them (the audit's and the
	// outbox's filters).
	for _, bad := range []string{"\x00", "\xff", "2147483648", "9223372036854775807"} {
		esc, val := url.PathEscape(bad), "x"+bad
		idIn := itoa(id) + esc
		if _, err := strconv.ParseInt(bad, 10, 64); err == nil {
			val, idIn = bad, bad
		}
		for _, r := range routes {
			if r.Path == "/logout" {
				continue // the rest of the table needs the session
			}
			inPath := strings.NewReplacer(":id", idIn, ":draft", esc, ":doc", idIn, ":n", idIn, ":token", esc, ":topic", consent.TopicEyeTest+esc,
				"*filepath", "app.css"+esc).Replace(r.Path)
			values := url.Values{}
			for n := range names {
				values.Set(n, val)
			}
			for _, try := range []struct {
				path   string
				values url.Values
			}{{inPath, url.Values{}}, {withRealIDs(r.Path), values}} {
				var status int
				if strings.HasPrefix(r.Path, "/api/") {
					body := `{"name":"x\u0000","channel":"post\u0000","source":"x\u0000","note":"\u0000","what":"\u0000"}`
					status = a.call(r.Method, try.path+"?"+try.values.Encode(), body, nil)
				} else {
					manager.get("/dashboard") // a CSRF token of this session
					form := url.Values{"csrf": {manager.csrf}}
					for k, v := range try.values {
						form[k] = v
					}
					req, _ := http.NewRequest(r.Method, e.srv.URL+try.path+"?"+try.values.Encode(), strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					status = manager.do(req).StatusCode
				}
				if status >= 500 {
					t.Errorf("%s %s with %q: %d", r.Method, try.path, bad, status)
				}
				// A route that hands the tablet to the customer (the
				// prescription's consent) leaves it there: the manager
				// takes it back, so that every route is tried with a
				// working session.
				if d := manager.get("/dashboard"); d.StatusCode != http.StatusOK {
					if d.Header.Get("Location") != "/handback" {
						t.Fatalf("the manager's session after %s %s: %d", r.Method, try.path, d.StatusCode)
					}
					if h := manager.handBack("864297"); h.StatusCode != http.StatusSeeOther {
						t.Fatalf("hand back after %s %s: %d", r.Method, try.path, h.StatusCode)
					}
				}
			}
		}
	}
	t.Logf("%d routes, %d field names", len(routes), len(names))
}

// Signing in gives a new CSRF seed: a token made from
// a seed that existed before the sign-in (read off a shared tablet, or a
// cookie planted by a neighbouring host) is refused afterwards.
func TestCSRFSeedRotatedAtSignIn(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.get("/login")
	oldSeed, oldToken := c.cookies["cd_csrf"], c.csrf
	if oldSeed == "" || oldToken == "" {
		t.Fatal("the login page set no CSRF seed")
	}
	r := c.post("/login", url.Values{"staff_id": {itoa(e.counter.ID)}, "pin": {"4711"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.StatusCode)
	}
	if c.cookies["cd_csrf"] == "" || c.cookies["cd_csrf"] == oldSeed {
		t.Fatalf("seed after sign-in %q, before %q: not rotated", c.cookies["cd_csrf"], oldSeed)
	}
	if r := c.post("/logout", url.Values{"csrf": {oldToken}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("a post with the token of the old seed: %d, want 403", r.StatusCode)
	}
	if r := c.get("/orders/new"); r.StatusCode != http.StatusOK {
		t.Fatalf("still signed in? %d", r.StatusCode)
	}
	if r := c.post("/logout", url.Values{}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("a post with the new token: %d", r.StatusCode)
	}
}

// No lock-out of the manager from the shop floor: a
// stranger on the store's network who guesses at the
// manager's PIN locks out only his own device; the tablet still signs
// in. Guesses from many devices lock the account itself, and another
// manager lifts that. The sign-in screen names nobody unless the store
// chooses to list its staff.
func TestLockoutsPerClientAndAccount(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	second, err := e.db.AddStaff(ctx, "Lea", "975318", orders.RoleManager, orders.HomeStore(orders.RoleManager))
	if err != nil {
		t.Fatal(err)
	}

	page := e.client().get("/login")
	for _, name := range []string{e.counter.Name, e.manager.Name, second.Name} {
		if strings.Contains(page.body, ">"+name+"<") {
			t.Errorf("the sign-in page lists %q before sign-in", name)
		}
	}
	if !strings.Contains(page.body, `id="name" name="name" autocomplete="username"`) {
		t.Error("the sign-in page has no name field")
	}

	guess := func(from, name, pin string) resp {
		c := e.client()
		c.from = from
		c.get("/login")
		return c.post("/login", url.Values{"name": {name}, "pin": {pin}})
	}
	const locked = "Zu viele falsche Versuche"
	for i := 0; i < orders.MaxPINTries; i++ {
		if r := guess("127.0.0.2", "max", fmt.Sprintf("%06d", 530017+i)); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong PIN %d: %d", i, r.StatusCode)
		}
	}
	if r := guess("127.0.0.2", "Max", "864297"); r.StatusCode != http.StatusTooManyRequests || !strings.Contains(r.body, locked) {
		t.Errorf("the guessing device got in with the right PIN after five wrong: %d", r.StatusCode)
	}
	// The tablet: another client, the same account, the right PIN.
	tablet := e.client()
	tablet.from = "127.0.0.1"
	tablet.get("/login")
	if r := tablet.post("/login", url.Values{"name": {"Max"}, "pin": {"864297"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the manager is locked out at the tablet by a stranger's guesses: %d", r.StatusCode)
	}

	// Many devices: the account as a whole locks after AccountMaxPINTries.
	n := 0
	for d := 3; n < orders.AccountMaxPINTries; d++ {
		for i := 0; i < orders.MaxPINTries && n < orders.AccountMaxPINTries; i++ {
			guess(fmt.Sprintf("127.0.0.%d", d), "Max", fmt.Sprintf("%06d", 610000+n))
			n++
		}
	}
	if r := guess("127.0.0.1", "Max", "864297"); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("%d guesses from several devices did not lock the account: %d", n, r.StatusCode)
	}
	list, _ := e.db.AllStaff(ctx)
	for _, s := range list {
		if s.ID == e.manager.ID && s.LockedUntil.IsZero() {
			t.Error("the staff list does not show the lock")
		}
	}
	// The way back: another manager lifts it on the staff page.
	lea := e.client()
	lea.from = "127.0.0.9"
	lea.signIn(second, "975318")
	staffPage := lea.get("/staff")
	if !strings.Contains(staffPage.body, fmt.Sprintf(`action="/staff/%d/unlock"`, e.manager.ID)) {
		t.Error("the staff page offers no unlock for the locked manager")
	}
	if r := lea.post(fmt.Sprintf("/staff/%d/unlock", e.manager.ID), url.Values{}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlock: %d %s", r.StatusCode, r.body)
	}
	if r := guess("127.0.0.2", "Max", "864297"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after the unlock the manager still cannot sign in: %d", r.StatusCode)
	}
	// A counter member cannot unlock.
	anna := e.client()
	anna.signIn(e.counter, "4711")
	if r := anna.post(fmt.Sprintf("/staff/%d/unlock", e.manager.ID), url.Values{}); r.StatusCode != http.StatusForbidden {
		t.Errorf("counter staff unlocked: %d", r.StatusCode)
	}
	audit, _ := e.db.AuditLog(ctx, orders.AuditFilter{StaffID: second.ID})
	found := false
	for _, a := range audit {
		found = found || (a.Action == orders.AuditStaff && a.Detail == fmt.Sprintf("unlock %d", e.manager.ID))
	}
	if !found {
		t.Error("the unlock is not in the access log")
	}

	// An unknown name answers like a wrong PIN.
	if r := guess("127.0.0.8", "Nobody", "864297"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown name: %d", r.StatusCode)
	}
	// Where the store chooses to list its staff, the list is there.
	ctrl, _ := e.db.Controller(ctx)
	ctrl.LoginStaffList = true
	if _, err := e.db.SaveSettings(ctx, ctrl, e.manager.ID); err != nil {
		t.Fatal(err)
	}
	page = e.client().get("/login")
	if !strings.Contains(page.body, ">Max<") || !strings.Contains(page.body, `<option value="">`) {
		t.Error("the chosen staff list is missing on the sign-in page")
	}
}

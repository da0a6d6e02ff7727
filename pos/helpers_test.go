package pos_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/orderstest"
	"github.com/consentdesk/consentdesk/orders/store"
	"github.com/consentdesk/consentdesk/pos"
)

func TestMain(m *testing.M) {
	var w io.Writer = io.Discard
	if os.Getenv("CONSENTDESK_TEST_LOG") != "" { // to see the server's log while debugging
		w = os.Stderr
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(w, nil)))
	os.Exit(orderstest.Main(m))
}

type env struct {
	t       testing.TB
	db      *orders.DB
	srv     *httptest.Server
	counter orders.Staff
	manager orders.Staff
	raw     *sql.DB
	clock   *testClock
	// ca and roots are set by newTLSEnv: the store CA, and a pool that
	// trusts it alone.
	ca    *pos.StoreCA
	roots *x509.CertPool
}

// testClock is the database's clock in a test: the real time until the
// test sets another (the database's Options are fixed at Open).
type testClock struct {
	f atomic.Pointer[func() time.Time]
}

func (c *testClock) Now() time.Time {
	if f := c.f.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// setClock moves the database's time.
func (e *env) setClock(f func() time.Time) { e.clock.f.Store(&f) }

// store is the tests' own handle on the database file, to look at what
// the server wrote (and, rarely, to set up a state such as a failed
// mail). The server's web layer has none: it asks orders.
func (e *env) store() *sql.DB {
	if orderstest.Postgres() {
		return e.db.SQL() // its server is not a file to open
	}
	if e.raw == nil {
		raw, err := sql.Open("sqlite", store.DSN(e.db.Path))
		if err != nil {
			e.t.Fatal(err)
		}
		e.t.Cleanup(func() { raw.Close() })
		e.raw = raw
	}
	return e.raw
}

// newEnv starts the real server on a free port on 127.0.0.1, on a real
// SQLite file.
func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, false)
}

// newTLSEnv is newEnv over HTTPS with a certificate of the store's own CA,
// as the tablet reaches the counter on the store's network (--lan-addr);
// the env's clients trust that CA and nothing else.
func newTLSEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, true)
}

func newEnvWith(t testing.TB, useTLS bool) *env {
	t.Helper()
	return newEnvIn(t, filepath.Join(t.TempDir(), "pos.db"), useTLS)
}

// newEnvIn is newEnvWith on the database at path, which may exist.
func newEnvIn(t testing.TB, path string, useTLS bool) *env {
	t.Helper()
	ctx := context.Background()
	clock := &testClock{}
	db, err := orderstest.Open(ctx, t, path, assets.Migrations(), orders.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	// In a database used before (a benchmark's), the names are new ones.
	suffix := ""
	all, _ := db.AllStaff(ctx)
	for _, st := range all {
		if st.Name == "Anna" {
			suffix = fmt.Sprintf(" %d", time.Now().UnixNano())
		}
	}
	counter, err := db.AddStaff(ctx, "Anna"+suffix, "4711", orders.RoleCounter, orders.HomeStore(orders.RoleCounter))
	if err != nil {
		t.Fatal(err)
	}
	manager, err := db.AddStaff(ctx, "Max"+suffix, "864297", orders.RoleManager, orders.HomeStore(orders.RoleManager))
	if err != nil {
		t.Fatal(err)
	}
	s, err := pos.New(pos.Config{DB: db, PublicURL: "https://optik.example"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, counter: counter, manager: manager, clock: clock}
	if !useTLS {
		e.srv = httptest.NewServer(s.Handler())
		t.Cleanup(e.srv.Close)
		return e
	}
	ca, err := pos.LoadOrCreateStoreCA(db.Path, "Optik Test")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue([]string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(s.Handler())
	e.srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	e.ca = ca
	e.roots = x509.NewCertPool()
	e.roots.AppendCertsFromPEM(ca.CertPEM())
	return e
}

// client keeps cookies by hand: Go's cookie jar would not send the Secure
// cookies over http://127.0.0.1, which browsers do.
type client struct {
	e       *env
	cookies map[string]string
	csrf    string
	// from is the client's own address ("127.0.0.2"), for tests of what
	// is counted per client; "" lets the system choose.
	from string
}

func (e *env) client() *client { return &client{e: e, cookies: map[string]string{}} }

type resp struct {
	*http.Response
	body string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) do(req *http.Request) resp {
	c.e.t.Helper()
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if c.from != "" || c.e.roots != nil {
		tr := &http.Transport{DisableKeepAlives: c.from != ""}
		if c.from != "" {
			// Linux answers on all of 127.0.0.0/8: a second client on the
			// same machine with an address of its own.
			tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.from)}}).DialContext
		}
		if c.e.roots != nil {
			tr.TLSClientConfig = &tls.Config{RootCAs: c.e.roots}
		}
		hc.Transport = tr
	}
	r, err := hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	for _, ck := range r.Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	if m := csrfRE.FindStringSubmatch(string(b)); m != nil {
		c.csrf = m[1]
	}
	return resp{r, string(b)}
}

func (c *client) get(path string) resp {
	req, _ := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	return c.do(req)
}

// post sends a form with the CSRF token of the last page seen.
func (c *client) post(path string, form url.Values) resp {
	if form.Get("csrf") == "" && c.csrf != "" {
		form.Set("csrf", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// upload posts a multipart form with the CSRF token, fields and one file
// (none when content is nil).
func (c *client) upload(path string, fields url.Values, fileField, fileName string, content []byte) resp {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("csrf", c.csrf)
	for k, vs := range fields {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	if content != nil {
		fw, _ := w.CreateFormFile(fileField, fileName)
		fw.Write(content)
	}
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(req)
}

func (c *client) signIn(s orders.Staff, pin string) {
	c.e.t.Helper()
	c.get("/login")
	r := c.post("/login", url.Values{"staff_id": {itoa(s.ID)}, "pin": {pin}})
	if r.StatusCode != http.StatusSeeOther || c.cookies["cd_session"] == "" {
		c.e.t.Fatalf("sign-in failed: %d %s", r.StatusCode, r.body)
	}
	// Follow the redirect as a browser does: the sign-in gave a new CSRF
	// seed, and the next form carries its token.
	c.get(r.Header.Get("Location"))
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func (e *env) count(table string) int {
	var n int
	if err := e.store().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// handBack takes the tablet back from the customer with a staff PIN.
func (c *client) handBack(pin string) resp {
	c.e.t.Helper()
	c.get("/handback")
	return c.post("/handback", url.Values{"pin": {pin}})
}

// Package pos is the web side of ConsentDesk: the counter tablet, the back
// office, the JSON API and (from --public-addr) the customers' public
// pages. Handlers parse and validate, call orders and consent, and render;
// they hold no SQL.
package pos

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/gin-gonic/gin"
)

// Config is what main hands the web layer.
type Config struct {
	DB *orders.DB
	// PublicURL overrides the store setting for links and QR codes.
	PublicURL string
	// InsecureCookies drops the Secure flag, for a store network served
	// over plain HTTP to tablets that are not on this machine. Browsers
	// accept Secure cookies on 127.0.0.1 and localhost without TLS.
	InsecureCookies bool
	// TrustedProxies are the reverse proxies (IPs or CIDRs) in front of
	// --public-addr whose X-Forwarded-For names the customer's address.
	// Without them every customer would share the proxy's rate limit.
	TrustedProxies []string
	// MailRelay names the SMTP server (host:port, no credentials) for
	// the record of processing activities; "" when mails stay local.
	MailRelay string
	// CertStatus, with --acme, reports the public certificate's expiry
	// and the last error getting or renewing it, for the dashboard.
	CertStatus func() (time.Time, error)
	// Pairing, with --lan-addr, is the store CA and the addresses a new
	// tablet pairs with.
	Pairing *Pairing
}

// Server holds the handlers' dependencies.
type Server struct {
	db        *orders.DB
	tokens    *consent.Tokens
	publicURL string
	secure    bool
	pages     map[string]*template.Template
	drafts    *drafts
	limiter   *rateLimit
	// logins limits sign-in attempts per client address (GDPR Art. 32):
	// 10 at once, then one every 6 seconds.
	logins     *rateLimit
	proxies    []string
	mailRelay  string
	certStatus func() (time.Time, error)
	pairing    *Pairing
}

// New builds the server and parses every page's templates once.
func New(cfg Config) (*Server, error) {
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	if err := gin.New().SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	return &Server{
		db:         cfg.DB,
		tokens:     cfg.DB.Keys.LinkTokens(),
		publicURL:  strings.TrimRight(cfg.PublicURL, "/"),
		secure:     !cfg.InsecureCookies,
		pages:      pages,
		drafts:     &drafts{m: map[string]*draft{}},
		limiter:    newRateLimit(),
		logins:     newRateLimitOf(6*time.Second, 10),
		proxies:    cfg.TrustedProxies,
		mailRelay:  cfg.MailRelay,
		certStatus: cfg.CertStatus,
		pairing:    cfg.Pairing,
	}, nil
}

func init() { gin.SetMode(gin.ReleaseMode) }

// Body limits: JSON with a signature image, and uploads of scans and logos.
const (
	maxFormBody   = 2 << 20
	maxUploadBody = orders.MaxScanBytes + 1<<20
)

// Handler serves the tablet, the back office and the API (--addr), and
// the public pages too when no --public-addr is set.
func (s *Server) Handler() http.Handler {
	r := s.engine()
	r.GET("/healthz", s.healthz)
	r.StaticFS("/static", noListing{http.FS(must(fs.Sub(assets.Static(), ".")))})

	s.pairRoutes(r)
	r.GET("/login", s.loginPage)
	r.POST("/login", s.csrf, s.login)
	r.POST("/lang", s.csrf, s.setLang)

	staff := r.Group("/", s.requireStaff)
	staff.POST("/logout", s.csrf, s.logout)
	staff.POST("/store", s.csrf, s.switchStore)
	staff.GET("/", s.todayPage)
	staff.GET("/orders/new", s.orderNewPage)
	staff.POST("/orders/new", s.csrf, s.orderNewSubmit)
	staff.GET("/orders/consent/:draft", s.consentPage)
	staff.POST("/orders/consent/:draft", s.csrf, s.consentSubmit)
	staff.POST("/orders/consent/:draft/back", s.csrf, s.consentBack)
	staff.POST("/orders/consent/:draft/lang", s.csrf, s.consentLang)
	staff.POST("/orders/consent/:draft/withdraw", s.csrf, s.consentWithdraw)
	staff.POST("/orders/:id/rx-consent/start", s.csrf, s.rxConsentStart)
	staff.GET("/orders/:id/rx-consent", s.rxConsentPage)
	staff.POST("/orders/:id/rx-consent", s.csrf, s.rxConsentSubmit)
	staff.GET(handbackPath, s.handbackPage)
	staff.POST(handbackPath, s.csrf, s.handbackSubmit)
	staff.GET("/orders/:id", s.orderPage)
	staff.GET("/orders/:id/confirmation.pdf", s.confirmationPDF)
	staff.POST("/orders/:id/paper", s.csrf, s.paperSubmit)
	staff.GET("/customers/search", s.customerSearch)
	staff.GET("/notices/:id", s.noticeView)
	staff.POST("/orders/:id/ready", s.csrf, s.markReady)
	staff.POST("/orders/:id/collected", s.csrf, s.markCollected)
	staff.GET("/mailbox", s.mailboxPage)
	staff.GET("/mailbox/:id", s.mailPage)
	staff.GET("/mailbox/:id/html", s.mailHTML)
	staff.GET("/mailbox/:id/parts/:n", s.mailPart)
	staff.GET("/dashboard", s.dashboardPage)
	staff.GET("/customers", s.customersPage)
	staff.GET("/customers/:id", s.customerPage)
	staff.POST("/customers/:id", s.csrf, s.customerUpdate)
	staff.POST("/customers/:id/consents", s.csrf, s.customerConsentSubmit)
	staff.POST("/customers/:id/uses", s.csrf, s.customerUseSubmit)
	staff.GET("/customers/:id/documents/:doc", s.customerDocument)

	manager := staff.Group("/", s.requireManager)
	manager.GET("/settings", s.settingsPage)
	// The company's settings and its privacy notice are the chain's: a
	// store's manager sees them, a manager of the whole chain changes
	// them.
	manager.POST("/settings", s.csrf, s.requireChainManager, s.settingsSubmit)
	manager.POST("/settings/logo", s.csrf, s.requireChainManager, s.logoSubmit)
	manager.GET("/notices", s.noticesPage)
	manager.POST("/notices", s.csrf, s.requireChainManager, s.noticeSubmit)
	// The customer's rights (GDPR Art. 15-17, 20) and the proof of
	// consent are answered by the store's management.
	manager.GET("/customers/:id/proof.pdf", s.proofPDF)
	manager.GET("/customers/:id/receipt.json", s.receiptJSON)
	manager.GET("/customers/:id/export.json", s.exportJSON)
	manager.GET("/customers/:id/export.pdf", s.exportPDF)
	manager.POST("/customers/:id/erase", s.csrf, s.eraseSubmit)
	manager.GET("/contactable", s.contactablePage)
	manager.GET("/contactable.csv", s.contactableCSV)
	manager.GET("/records.pdf", s.recordsPDF)
	manager.GET("/stores", s.storesPage)
	manager.POST("/stores", s.csrf, s.storeAdd)
	manager.POST("/stores/:id", s.csrf, s.storeUpdate)
	manager.GET("/staff", s.staffPage)
	manager.POST("/staff", s.csrf, s.staffAdd)
	manager.POST("/staff/:id/disable", s.csrf, s.staffSetDisabled(true))
	manager.POST("/staff/:id/enable", s.csrf, s.staffSetDisabled(false))
	manager.POST("/staff/:id/pin", s.csrf, s.staffResetPIN)
	manager.POST("/staff/:id/unlock", s.csrf, s.staffUnlock)
	manager.GET("/audit", s.auditPage)
	manager.GET("/breaches", s.breachesPage)
	manager.GET("/pairing", s.pairingPage)
	manager.GET("/recalls", s.recallsPage)
	manager.POST("/recalls/:topic/send", s.csrf, s.recallsSend)
	manager.GET("/recalls/runs/:id/letters.pdf", s.recallRunLetters)
	manager.POST("/breaches", s.csrf, s.breachSubmit)
	manager.POST("/breaches/:id/notes", s.csrf, s.breachNoteSubmit)
	manager.GET("/breaches/:id/letter.pdf", s.breachLetter)

	s.publicRoutes(r)

	// Scope orders (the default token): create and read orders, read
	// consents. Everything else needs an admin token (docs/api.md).
	api := r.Group("/api/v1", s.requireToken)
	api.POST("/orders", s.apiCreateOrder)
	api.GET("/orders/:id", s.apiOrder)
	api.GET("/orders/:id/confirmation.pdf", s.confirmationPDF)
	api.POST("/orders/:id/ready", s.apiMarkReady)
	api.GET("/customers/:id/consents", s.apiConsents)
	api.GET("/topics", s.apiTopics)
	admin := api.Group("/", s.requireScope(orders.ScopeAdmin))
	admin.GET("/outbox", s.apiOutbox)
	admin.POST("/customers/:id/consents", s.apiRecordConsents)
	admin.POST("/customers/:id/uses", s.apiRecordUse)
	admin.GET("/customers/:id/export", s.exportJSON)
	admin.GET("/customers/:id/proof.pdf", s.proofPDF)
	admin.GET("/customers/:id/receipt.json", s.receiptJSON)
	admin.DELETE("/customers/:id", s.apiErase)
	admin.PATCH("/customers/:id", s.apiUpdateCustomer)
	admin.GET("/contactable", s.contactableCSV)
	admin.GET("/recalls", s.apiRecalls)
	admin.GET("/ledger/verify", s.apiVerify)
	admin.GET("/breaches", s.apiBreaches)
	admin.POST("/breaches", s.apiRecordBreach)

	r.NoRoute(s.notFound)
	return r
}

// PublicHandler serves only the customers' public pages, for
// --public-addr; nothing of the staff side is reachable there.
func (s *Server) PublicHandler() http.Handler {
	r := s.engine()
	r.Use(func(c *gin.Context) { c.Set(publicKey, true); c.Next() })
	r.StaticFS("/static", noListing{http.FS(assets.Static())})
	s.publicRoutes(r)
	r.NoRoute(s.notFound)
	return r
}

func (s *Server) engine() *gin.Engine {
	r := gin.New()
	// Only the configured proxies may name a client address; by default
	// nobody can, and the limit applies to the connection's own address.
	if err := r.SetTrustedProxies(s.proxies); err != nil {
		panic(err) // checked in New
	}
	r.HandleMethodNotAllowed = false
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.Use(s.recoverer, s.accessLog, securityHeaders, s.limitPublic, s.limitBody)
	return r
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func (s *Server) healthz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		slog.Error("health check failed", "err", err)
		c.String(http.StatusServiceUnavailable, "database unavailable")
		return
	}
	c.String(http.StatusOK, "ok")
}

// securityHeaders go on every response (GDPR Art. 32): no inline
// scripts, no framing, no sniffing, no referrer leaking a token.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if c.Request.TLS != nil {
		// Only on a listener that speaks TLS itself (ACME or the store's
		// own CA): a browser that once reached it so never falls back to
		// plain HTTP there. The loopback http://127.0.0.1:8080 gets none.
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	c.Next()
}

// uploadRoutes take files and get the larger limit.
var uploadRoutes = map[string]bool{"/orders/:id/paper": true, "/settings/logo": true}

// limitBody refuses oversized bodies with 413 before reading them, and
// caps what a handler can read from a body that lies about its length.
func (s *Server) limitBody(c *gin.Context) {
	max := int64(maxFormBody)
	if uploadRoutes[c.FullPath()] {
		max = maxUploadBody
	}
	if c.Request.ContentLength > max {
		c.Header("Connection", "close")
		s.fail(c, &consentdesk.Error{Code: consentdesk.TooLarge, Key: "err.body_too_large"})
		c.Abort()
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
	c.Next()
}

// recoverer turns a panic into "internal error": never a stack trace to
// a person.
func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			// The stack of the panic itself (a use case's panic inside the
			// committer was logged there with its own).
			slog.Error("panic in handler", "route", c.FullPath(), "panic", v, "stack", string(debug.Stack()))
			s.fail(c, errors.New("panic"))
			c.Abort()
		}
	}()
	c.Next()
}

// accessLog logs the route pattern, never the path: paths carry tokens
// and queries carry names.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "(no route)"
	}
	slog.Debug("request", "method", c.Request.Method, "route", route, "status", c.Writer.Status(), "ms", time.Since(start).Milliseconds())
}

// drafts hold an order between the staff's form and the customer's
// consent screen, in memory only: the prescription in a draft is health
// data and must not reach the disk before the customer consents.
type drafts struct {
	mu sync.Mutex
	m  map[string]*draft
	// rx are prescriptions typed for an order whose customer did not
	// consent to storing them, kept in memory for draftTTL so that staff
	// can ask once more; never written to disk without consent.
	rx map[int64]*keptRx
}

type keptRx struct {
	staffID int64
	rx      orders.Prescription
	created time.Time
}

func (d *drafts) keepRx(orderID, staffID int64, rx orders.Prescription) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rx == nil {
		d.rx = map[int64]*keptRx{}
	}
	for id, x := range d.rx {
		if time.Since(x.created) > draftTTL {
			delete(d.rx, id)
		}
	}
	d.rx[orderID] = &keptRx{staffID: staffID, rx: rx, created: time.Now()}
}

// rxFor returns the prescription kept for an order, for the staff member
// who typed it.
func (d *drafts) rxFor(orderID, staffID int64) (orders.Prescription, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	x, ok := d.rx[orderID]
	if !ok || x.staffID != staffID || time.Since(x.created) > draftTTL {
		return orders.Prescription{}, false
	}
	return x.rx, true
}

func (d *drafts) dropRx(orderID int64) {
	d.mu.Lock()
	delete(d.rx, orderID)
	d.mu.Unlock()
}

type draft struct {
	staffID int64
	// claimed while an order is being placed from it: a double tap on
	// "Fertig" must not place a second order (a draft is used once).
	claimed bool
	order   orders.NewOrder
	form    orderForm // as the staff typed it, to correct it after "back"
	lang    string    // the language of the customer's screens
	created time.Time
}

const draftTTL = 2 * time.Hour

func (d *drafts) put(staffID int64, o orders.NewOrder, form orderForm, lang string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	for id, x := range d.m {
		if now.Sub(x.created) > draftTTL {
			delete(d.m, id)
		}
	}
	id := randomID()
	d.m[id] = &draft{staffID: staffID, order: o, form: form, lang: assets.Lang(lang), created: now}
	return id
}

// getDraft returns a copy of a draft of this staff member.
func (d *drafts) getDraft(id string, staffID int64) (draft, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	x, ok := d.m[id]
	if !ok || x.staffID != staffID || time.Since(x.created) > draftTTL {
		return draft{}, false
	}
	return *x, true
}

// setLang switches the language of a draft's customer screens.
func (d *drafts) setLang(id string, staffID int64, lang string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	x, ok := d.m[id]
	if !ok || x.staffID != staffID {
		return false
	}
	x.lang = assets.Lang(lang)
	return true
}

// claim takes a draft for placing its order; false when it is gone or
// already being placed.
func (d *drafts) claim(id string, staffID int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	x, ok := d.m[id]
	if !ok || x.staffID != staffID || x.claimed {
		return false
	}
	x.claimed = true
	return true
}

// release gives a claimed draft back, after the order was refused.
func (d *drafts) release(id string) {
	d.mu.Lock()
	if x, ok := d.m[id]; ok {
		x.claimed = false
	}
	d.mu.Unlock()
}

func (d *drafts) drop(id string) {
	d.mu.Lock()
	delete(d.m, id)
	d.mu.Unlock()
}

// noListing serves files but no directory listings (found by the attack
// test: /static/ listed its files).
type noListing struct{ fs http.FileSystem }

func (n noListing) Open(name string) (http.File, error) {
	f, err := n.fs.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}

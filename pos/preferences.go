package pos

import (
	"context"
	"io/fs"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// The customers' public pages. No login: the token in the link is the
// key, unguessable and bound to one customer and one purpose. A GET never
// changes a consent (mail scanners fetch every link); only a POST does.

func (s *Server) publicRoutes(r gin.IRoutes) {
	r.GET("/p/:token", s.preferencesPage)
	// HEAD answers as GET does (link checkers use it) and changes nothing.
	r.HEAD("/p/:token", s.preferencesPage)
	r.HEAD("/u/:token", s.unsubscribePage)
	r.HEAD("/c/:token", s.confirmPage)
	r.POST("/p/:token", s.preferencesSubmit)
	r.GET("/u/:token", s.unsubscribePage)
	r.POST("/u/:token", s.oneClickUnsubscribe)
	r.GET("/c/:token", s.confirmPage)
	r.GET("/logo", s.logo)
	r.GET("/favicon.ico", favicon)
	r.POST("/c/:token", s.confirmSubmit)
}

type prefView struct {
	Token    string
	Src      string
	Customer orders.Customer
	Rows     []prefRow
	Saved    bool
	AnyOn    bool
	// Objectable are the channels never granted (state none), where the
	// page offers an explicit objection (GDPR Art. 21(3)).
	Objectable []consent.Channel
	// Health: the prescription consent is given, and can be withdrawn
	// here like any other (Art. 7(3), Art. 9(2)(a)).
	Health bool
	// Topics are the table's columns; TopicNames name them for the cells'
	// labels.
	Topics     []consent.Topic
	TopicNames map[string]string
	// Notice is the privacy notice in force, in the customer's language:
	// the consents are given under it, and the receipt points here.
	Notice consent.NoticeVersion
}

type prefRow struct {
	Channel consent.Channel
	Contact string
	State   consent.State
	On      bool
	// LI: letters rest on legitimate interest; the row offers the
	// objection, no switch to give a consent nobody needs.
	LI bool
	// Grantable: a switch here may give a consent, which the double
	// opt-in to the address then proves (e-mail); the other channels'
	// consents are given in the store, and only switched off here.
	Grantable bool
	// Cells are the row's topics: the customer changes any cell.
	Cells []prefCell
}

type prefCell struct {
	Topic string
	On    bool
	State consent.State
}

// sourceOf tells how the customer arrived: the printed QR code carries
// src=qr, mails carry src=mail.
func sourceOf(src string) consent.Source {
	switch src {
	case "qr":
		return consent.QRCode
	case "mail":
		return consent.EmailLink
	}
	return consent.PreferencePage
}

// brandCustomerKey holds the customer of a public page, whose store's
// company the page's header names (render).
const brandCustomerKey = "brand_customer"

// checkToken reads a customer's link token (orders.DB.CheckLink).
func (s *Server) checkToken(ctx context.Context, p consent.TokenPurpose, token string, subject func(customerID int64) (string, bool)) (int64, bool) {
	return s.db.CheckLink(ctx, s.tokens, p, token, subject)
}

func (s *Server) customerOf(c *gin.Context, p consent.TokenPurpose) (orders.Customer, bool) {
	id, ok := s.checkToken(c.Request.Context(), p, c.Param("token"), nil)
	if !ok {
		s.notFound(c)
		return orders.Customer{}, false
	}
	cust, err := s.db.Customer(c.Request.Context(), id)
	if err != nil || cust.Erased() { // an erased customer has no page left (GDPR Art. 17)
		s.notFound(c)
		return orders.Customer{}, false
	}
	c.Set(brandCustomerKey, cust.ID)
	return cust, true
}

func (s *Server) renderPreferences(c *gin.Context, status int, cust orders.Customer, saved bool, flash string) {
	states, _, err := s.db.Consents(c.Request.Context(), cust.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	src := c.Query("src")
	if c.Request.Method == http.MethodPost {
		src = c.PostForm("src")
	}
	v := prefView{Token: c.Param("token"), Src: src, Customer: cust, Saved: saved}
	ctrl, err := s.db.ControllerOf(c.Request.Context(), cust.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	byTopic, err := s.db.ConsentTopics(c.Request.Context(), cust.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	v.TopicNames = map[string]string{}
	for _, t := range ctrl.TopicList() {
		v.Topics = append(v.Topics, t)
		v.TopicNames[t.Key] = t.Name(cust.Lang)
	}
	for _, ch := range consent.Channels {
		sum := consent.Summary(byTopic[ch])
		if sum.State == consent.None && states[ch].State == consent.Withdrawn {
			sum = states[ch]
		}
		st := sum.State
		on := st == consent.Granted || st == consent.Pending
		li := ch == consent.Post && ctrl.PostOnLegitimateInterest()
		v.AnyOn = v.AnyOn || on
		row := prefRow{Channel: ch, Contact: cust.Contact(ch), State: st, On: on, LI: li, Grantable: ch == consent.Email}
		for _, t := range ctrl.TopicList() {
			ts := byTopic[ch][t.Key].State
			row.Cells = append(row.Cells, prefCell{Topic: t.Key, State: ts, On: ts == consent.Granted || ts == consent.Pending})
		}
		v.Rows = append(v.Rows, row)
		if st == consent.None || (li && st != consent.Withdrawn) {
			v.Objectable = append(v.Objectable, ch)
		}
	}
	h := states[consent.HealthData].State
	v.Health = h == consent.Granted || h == consent.Pending
	if v.Notice, err = s.db.CustomersNotice(c.Request.Context(), cust.ID, cust.Lang); err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, status, "preferences", view{Public: true, Lang: cust.Lang, Title: assets.T(cust.Lang, "title.preferences"), Flash: flash, Data: v})
}

func (s *Server) preferencesPage(c *gin.Context) {
	if cust, ok := s.customerOf(c, consent.PreferencesToken); ok {
		s.renderPreferences(c, http.StatusOK, cust, false, "")
	}
}

// preferencesSubmit saves the switches, or withdraws everything at once
// (GDPR Art. 7(3): as easy as giving consent).
func (s *Server) preferencesSubmit(c *gin.Context) {
	cust, ok := s.customerOf(c, consent.PreferencesToken)
	if !ok {
		return
	}
	// No CSRF cookie here (no session), so the browser's own word counts:
	// a post from another site is refused (GDPR Art. 32). Browsers send
	// Sec-Fetch-Site or Origin with every form post.
	if !sameOrigin(c) {
		c.String(http.StatusForbidden, assets.T(cust.Lang, "err.cross_site"))
		return
	}
	change := orders.ConsentChange{CustomerID: cust.ID, Source: sourceOf(c.PostForm("src")), ByCustomer: true, Channels: map[consent.Channel]bool{}}
	flash := "pref.saved"
	switch c.PostForm("action") {
	case "withdraw_all":
		// An objection on every channel, granted or not (Art. 21(3)).
		change.Object = true
		for _, ch := range consent.Channels {
			change.Channels[ch] = false
		}
	case "object":
		ch := consent.Channel(c.PostForm("channel"))
		if !ch.Valid() {
			s.notFound(c)
			return
		}
		change.Object, change.Channels[ch], flash = true, false, "pref.objected"
	case "health":
		// The prescription consent's own switch (Art. 9), apart from
		// marketing: off withdraws it and deletes the values. It cannot be
		// switched on here: a new explicit consent is given at the
		// counter, with the values.
		if c.PostForm("health_data") == "on" {
			s.renderPreferences(c, http.StatusOK, cust, false, assets.T(cust.Lang, "pref.health_kept"))
			return
		}
		change.Channels[consent.HealthData], flash = false, "pref.health_withdrawn"
	case "save":
		if c.PostForm("cells_shown") == "1" {
			// The table: every cell of a channel the customer can be
			// reached on, on or off as it was left.
			ctrl, err := s.db.Controller(c.Request.Context())
			if err != nil {
				s.fail(c, err)
				return
			}
			on := map[string]bool{}
			for _, v := range c.PostFormArray("cell") {
				on[v] = true
			}
			change.Cells = map[consent.Channel]map[string]bool{}
			for _, ch := range consent.Channels {
				if cust.Contact(ch) == "" || (ch == consent.Post && ctrl.PostOnLegitimateInterest()) {
					continue
				}
				change.Cells[ch] = map[string]bool{}
				for _, t := range ctrl.TopicKeys() {
					change.Cells[ch][t] = on[string(ch)+":"+t]
				}
			}
			change.Channels = nil
			break
		}
		for _, ch := range consent.Channels {
			if c.PostForm("channel_"+string(ch)) == "" && ch == consent.Post && c.PostForm("post_li") == "1" {
				continue // no switch for letters on legitimate interest: nothing to save
			}
			change.Channels[ch] = c.PostForm("channel_"+string(ch)) == "on"
		}
	default:
		// An empty or malformed post changes nothing (found: an empty body
		// withdrew every channel).
		s.renderPreferences(c, http.StatusBadRequest, cust, false, assets.T(cust.Lang, "err.nothing_to_save"))
		return
	}
	if _, err := s.db.RecordConsents(c.Request.Context(), change); err != nil {
		if consentdesk.ErrorCode(err) == consentdesk.Invalid {
			s.renderPreferences(c, http.StatusUnprocessableEntity, cust, false, message(cust.Lang, err))
			return
		}
		s.fail(c, err)
		return
	}
	s.renderPreferences(c, http.StatusOK, cust, true, assets.T(cust.Lang, flash))
}

type unsubscribeView struct {
	Token       string
	Preferences string
}

// unsubscribePage is GET /u/{token}: a person who opens the unsubscribe
// link in a browser gets one button that posts. The GET changes nothing:
// mail scanners fetch every link.
// unsubscribeTarget reads a one-click token: a mail's (every e-mail
// topic), or a recall's, bound to its topic (that topic on e-mail only).
func (s *Server) unsubscribeTarget(ctx context.Context, token string) (id int64, topic string, ok bool) {
	if id, ok := s.checkToken(ctx, consent.UnsubscribeToken, token, nil); ok {
		return id, "", true
	}
	for _, t := range orders.RecallTopics {
		if id, ok := s.checkToken(ctx, consent.UnsubscribeToken, token, func(int64) (string, bool) { return followup.TopicSubject(t), true }); ok {
			return id, t, true
		}
	}
	return 0, "", false
}

func (s *Server) unsubscribePage(c *gin.Context) {
	id, _, ok := s.unsubscribeTarget(c.Request.Context(), c.Param("token"))
	if !ok {
		s.notFound(c)
		return
	}
	cust, err := s.db.Customer(c.Request.Context(), id)
	if err != nil || cust.Erased() {
		s.notFound(c)
		return
	}
	s.render(c, http.StatusOK, "unsubscribe", view{Public: true, Lang: cust.Lang, Title: assets.T(cust.Lang, "title.unsubscribe"),
		Data: unsubscribeView{Token: c.Param("token"), Preferences: "/p/" + s.tokens.Make(consent.PreferencesToken, cust.ID) + "?src=mail"}})
}

// oneClickUnsubscribe is RFC 8058: the mail client posts
// "List-Unsubscribe=One-Click"; no cookie, session or CSRF token; the
// answer is 200, never a redirect. It withdraws e-mail, a pending consent
// included.
func (s *Server) oneClickUnsubscribe(c *gin.Context) {
	id, topic, ok := s.unsubscribeTarget(c.Request.Context(), c.Param("token"))
	if !ok {
		c.String(http.StatusNotFound, "not found")
		return
	}
	if c.PostForm("List-Unsubscribe") != "One-Click" {
		c.String(http.StatusBadRequest, "List-Unsubscribe=One-Click expected")
		return
	}
	// Recorded whatever the state, as an objection where e-mail was never
	// granted (Art. 21(3) GDPR, §7(3) Nr. 4 UWG): an existing-customer
	// mail (§7(3) UWG) needs no consent, so only the objection stops it.
	change := orders.ConsentChange{CustomerID: id, Source: consent.EmailLink, ByCustomer: true,
		Object: true, Channels: map[consent.Channel]bool{consent.Email: false}}
	if topic != "" {
		// A recall's one-click: that topic on e-mail, nothing else (the
		// mail's body links to the preference page for the rest).
		change = orders.ConsentChange{CustomerID: id, Source: consent.EmailLink, ByCustomer: true, Object: true,
			Cells: map[consent.Channel]map[string]bool{consent.Email: {topic: false}}}
	}
	_, err := s.db.RecordConsents(c.Request.Context(), change)
	if err != nil {
		switch consentdesk.ErrorCode(err) {
		case consentdesk.NotFound:
			c.String(http.StatusNotFound, "not found")
			return
		case consentdesk.Conflict:
			// Erased: nothing will ever be sent again, which is what the
			// mail client asks for (RFC 8058 wants 200, not an error page).
			c.String(http.StatusOK, "unsubscribed")
			return
		}
		s.fail(c, err)
		return
	}
	if c.PostForm("page") == "1" { // the button of unsubscribePage, pressed by a person
		cust, err := s.db.Customer(c.Request.Context(), id)
		if err != nil {
			s.fail(c, err)
			return
		}
		s.render(c, http.StatusOK, "unsubscribe", view{Public: true, Lang: cust.Lang, Title: assets.T(cust.Lang, "title.unsubscribe"),
			Flash: assets.T(cust.Lang, "unsub.done"), Data: unsubscribeView{Token: c.Param("token")}})
		return
	}
	c.String(http.StatusOK, "unsubscribed")
}

// confirmCustomer reads a confirmation link: bound to the address it was
// sent to, so that after a change of address it confirms nothing. A link
// from before the binding counts only where the address never changed.
func (s *Server) confirmCustomer(c *gin.Context) (orders.Customer, bool) {
	ctx := c.Request.Context()
	var cust orders.Customer
	_, ok := s.checkToken(ctx, consent.ConfirmAddressToken, c.Param("token"), func(id int64) (string, bool) {
		cu, err := s.db.Customer(ctx, id)
		if err != nil || cu.Erased() || cu.Email == "" {
			return "", false
		}
		cust = cu
		return strings.ToLower(cu.Email), true
	})
	if ok {
		c.Set(brandCustomerKey, cust.ID)
		return cust, true
	}
	if id, ok := s.checkToken(ctx, consent.ConfirmToken, c.Param("token"), nil); ok {
		if changed, err := s.db.EmailChanged(ctx, id); err == nil && !changed {
			return s.customerOf(c, consent.ConfirmToken)
		}
	}
	s.notFound(c)
	return orders.Customer{}, false
}

type confirmView struct {
	Token, Topics, Contact string
}

func (s *Server) confirmPage(c *gin.Context) {
	cust, ok := s.confirmCustomer(c)
	if !ok {
		return
	}
	byTopic, err := s.db.ConsentTopics(c.Request.Context(), cust.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if consent.Summary(byTopic[consent.Email]).State != consent.Pending { // any topic waiting
		// Withdrawn, expired or confirmed already: say so at once,
		// instead of a button that confirms nothing.
		s.render(c, http.StatusOK, "confirm", view{Public: true, Lang: cust.Lang, Title: assets.T(cust.Lang, "title.confirm"), Flash: assets.T(cust.Lang, "confirm.nothing")})
		return
	}
	// The page names what the click confirms: the topics waiting on
	// e-mail, and only those (GDPR Art. 7(2), specific).
	ctrl, err := s.db.ControllerOf(c.Request.Context(), cust.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	var pending []string
	for _, t := range consent.EventTopics(nil, ctrl.TopicKeys()) {
		if byTopic[consent.Email][t].State == consent.Pending {
			pending = append(pending, t)
		}
	}
	s.render(c, http.StatusOK, "confirm", view{Public: true, Lang: cust.Lang, Title: assets.T(cust.Lang, "title.confirm"),
		Data: confirmView{Token: c.Param("token"), Topics: ctrl.TopicsText(cust.Lang, pending), Contact: orders.MaskContact(cust.Email)}})
}

func (s *Server) confirmSubmit(c *gin.Context) {
	cust, ok := s.confirmCustomer(c)
	if !ok {
		return
	}
	confirmed, err := s.db.ConfirmEmail(c.Request.Context(), cust.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	key := "confirm.done"
	if !confirmed {
		key = "confirm.nothing"
	}
	s.render(c, http.StatusOK, "confirm", view{Public: true, Lang: cust.Lang, Title: assets.T(cust.Lang, "title.confirm"), Flash: assets.T(cust.Lang, key)})
}

// rateLimit allows each client address a burst of 20 requests and then
// one every 3 seconds on the public pages (GDPR Art. 32): tokens are not
// guessable, but nobody should be able to try.
//
// The table of clients is bounded: idle clients are swept once a minute
// (a sweep is one pass, paid by the first request after the minute), an
// IPv6 client counts by its /64, which is what one line at home or one
// server gets, and when maxClients are active at once every further
// address shares one overflow limiter, so a flood from many addresses is
// throttled as one client and the map does not grow.
type rateLimit struct {
	mu         sync.Mutex
	clients    map[string]*client
	overflow   *rate.Limiter
	every      time.Duration // one more request per this long
	burst      int
	maxClients int
	swept      time.Time
	now        func() time.Time
}

type client struct {
	lim  *rate.Limiter
	seen time.Time
}

func newRateLimit() *rateLimit { return newRateLimitOf(3*time.Second, 20) }

func newRateLimitOf(every time.Duration, burst int) *rateLimit {
	return &rateLimit{clients: map[string]*client{}, every: every, burst: burst, maxClients: 10000,
		overflow: rate.NewLimiter(rate.Every(every), burst), now: time.Now}
}

// idleAfter is how long a client is kept after its last request: long
// enough that its bucket would have filled up again.
func (r *rateLimit) idleAfter() time.Duration {
	return max(time.Duration(r.burst)*r.every, time.Minute)
}

// clientKey is the address a limit counts: IPv4 as it is, IPv6 by its /64.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

func (r *rateLimit) allow(ip string) bool {
	key := clientKey(ip)
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.swept) >= time.Minute {
		r.swept = now
		for k, c := range r.clients {
			if now.Sub(c.seen) > r.idleAfter() {
				delete(r.clients, k)
			}
		}
	}
	c, ok := r.clients[key]
	if !ok {
		if len(r.clients) >= r.maxClients {
			return r.overflow.AllowN(now, 1)
		}
		c = &client{lim: rate.NewLimiter(rate.Every(r.every), r.burst)}
		r.clients[key] = c
	}
	c.seen = now
	return c.lim.AllowN(now, 1)
}

func (s *Server) limitPublic(c *gin.Context) {
	if !strings.HasPrefix(c.Request.URL.Path, "/p/") && !strings.HasPrefix(c.Request.URL.Path, "/u/") && !strings.HasPrefix(c.Request.URL.Path, "/c/") {
		c.Next()
		return
	}
	if !s.limiter.allow(c.ClientIP()) { // the connection's address unless a trusted proxy names another
		c.Header("Retry-After", "3")
		c.String(http.StatusTooManyRequests, assets.T(s.lang(c), "err.rate_limited"))
		c.Abort()
		return
	}
	c.Next()
}

// logo serves the store's logo for the customer's screens and pages; 404
// while there is none.
func (s *Server) logo(c *gin.Context) {
	ctrl, err := s.db.Controller(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	if len(ctrl.Logo) == 0 {
		s.notFound(c)
		return
	}
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, ctrl.LogoMIME, ctrl.Logo)
}

// favicon answers the browser's /favicon.ico on both listeners, so that
// no page shows a 404 in its console.
func favicon(c *gin.Context) {
	b, err := fs.ReadFile(assets.Static(), "favicon.png")
	if err != nil {
		c.Status(http.StatusNotFound)
		return
	}
	c.Header("Cache-Control", "public, max-age=86400")
	c.Data(http.StatusOK, "image/png", b)
}

// sameOrigin reports whether a form post comes from this server's own
// pages: Sec-Fetch-Site same-origin (or none, typed by the person), else
// an Origin whose host is this request's host. A client that sends
// neither is no browser following a cross-site form.
func sameOrigin(c *gin.Context) bool {
	switch c.GetHeader("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	origin := c.GetHeader("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == c.Request.Host
}

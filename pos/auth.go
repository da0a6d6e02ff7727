package pos

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/gin-gonic/gin"
)

const (
	sessionCookie = "cd_session"
	csrfCookie    = "cd_csrf"
	langCookie    = "cd_lang"
	staffKey      = "consentdesk.staff"
	sessionKey    = "consentdesk.session"
	tokenKey      = "consentdesk.api_token"
	tokenNameKey  = "consentdesk.api_token_name"
	tokenScopeKey = "consentdesk.api_token_scope"
)

// setCookie sets an HttpOnly, SameSite=Strict cookie, Secure unless the
// store runs plain HTTP on its network (Config.InsecureCookies).
func (s *Server) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
}

// lang is the session's language, else the cookie's, else the browser's,
// else German.
func (s *Server) lang(c *gin.Context) string {
	if v, ok := c.Get(sessionKey); ok {
		return v.(orders.Session).Lang
	}
	if l, err := c.Cookie(langCookie); err == nil {
		return assets.Lang(l)
	}
	if strings.HasPrefix(c.GetHeader("Accept-Language"), "en") {
		return "en"
	}
	return "de"
}

// csrfToken returns the token forms must carry: an HMAC of a random
// cookie value (the signed double-submit pattern). A cross-site form
// cannot read the cookie, so it cannot make the token.
func (s *Server) csrfToken(c *gin.Context) string {
	seed, err := c.Cookie(csrfCookie)
	if v, ok := c.Get(csrfCookie); ok {
		seed, err = v.(string), nil
	}
	if err != nil || len(seed) < 32 {
		seed = randomID()
		s.setCookie(c, csrfCookie, seed, 0)
		c.Set(csrfCookie, seed)
	}
	return s.csrfFor(seed)
}

func (s *Server) csrfFor(seed string) string {
	m := hmac.New(sha256.New, s.db.Keys.CSRF)
	m.Write([]byte(seed))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrf guards every form post.
func (s *Server) csrf(c *gin.Context) {
	seed, err := c.Cookie(csrfCookie)
	token := c.PostForm("csrf")
	if token == "" {
		token = c.GetHeader("X-CSRF-Token")
	}
	if err != nil || len(seed) < 32 || !hmac.Equal([]byte(token), []byte(s.csrfFor(seed))) {
		s.fail(c, &consentdesk.Error{Code: consentdesk.CSRF, Key: "err.csrf"})
		c.Abort()
		return
	}
	c.Next()
}

func (s *Server) requireStaff(c *gin.Context) {
	token, err := c.Cookie(sessionCookie)
	if err == nil {
		if sess, err := s.db.Session(c.Request.Context(), token); err == nil {
			c.Set(sessionKey, sess)
			st := sess.Staff
			c.Set(staffKey, &st)
			// What the session records happens in its store.
			c.Request = c.Request.WithContext(consent.WithStore(c.Request.Context(), sess.StoreID))
			if sess.HandOver != "" && !handOverAllows(sess.HandOver, c) {
				s.lockedOut(c) // the customer holds the tablet
				return
			}
			c.Next()
			return
		}
	}
	if c.Request.Method == http.MethodGet && !strings.HasSuffix(c.Request.URL.Path, ".pdf") {
		c.Redirect(http.StatusSeeOther, "/login")
	} else {
		s.fail(c, consentdesk.Errorf(consentdesk.Denied, "err.signin_required"))
	}
	c.Abort()
}

func (s *Server) requireManager(c *gin.Context) {
	if staff(c).Role != orders.RoleManager {
		s.fail(c, consentdesk.Errorf(consentdesk.Forbidden, "err.manager_only"))
		c.Abort()
		return
	}
	c.Next()
}

// requireChainManager lets through a manager of the whole chain only: a
// store's manager keeps to their store.
func (s *Server) requireChainManager(c *gin.Context) {
	if staff(c).StoreID != 0 {
		s.fail(c, consentdesk.Errorf(consentdesk.Forbidden, "err.chain_manager_only"))
		c.Abort()
		return
	}
	c.Next()
}

func staff(c *gin.Context) *orders.Staff {
	if v, ok := c.Get(staffKey); ok {
		return v.(*orders.Staff)
	}
	return &orders.Staff{}
}

// loginView is the sign-in screen: the staff list where the store shows
// it (Controller.LoginStaffList), else a name field with what was typed.
type loginView struct {
	List []orders.Staff
	Name string
}

func (s *Server) loginData(c *gin.Context, name string) (loginView, error) {
	ctx := c.Request.Context()
	ctrl, err := s.db.Controller(ctx)
	if err != nil || !ctrl.LoginStaffList {
		return loginView{Name: name}, err
	}
	list, err := s.db.StaffList(ctx)
	return loginView{List: list}, err
}

func (s *Server) loginPage(c *gin.Context) {
	data, err := s.loginData(c, "")
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "login", view{Title: assets.T(s.lang(c), "title.login"), Data: data})
}

func (s *Server) login(c *gin.Context) {
	if !s.logins.allow(c.ClientIP()) {
		c.Header("Retry-After", "6")
		s.fail(c, consentdesk.Errorf(consentdesk.TooMany, "err.rate_limited"))
		return
	}
	id, _ := strconv.ParseInt(c.PostForm("staff_id"), 10, 64)
	name := c.PostForm("name")
	token, _, err := s.db.SignIn(c.Request.Context(), orders.Login{StaffID: id, Name: name, PIN: c.PostForm("pin"),
		Lang: s.lang(c), Client: clientKey(c.ClientIP())})
	if err != nil {
		data, lerr := s.loginData(c, name)
		if lerr != nil {
			s.fail(c, lerr)
			return
		}
		lang := s.lang(c)
		s.render(c, statusOf(err), "login", view{Title: assets.T(lang, "title.login"), Flash: message(lang, err), Data: data})
		return
	}
	s.setCookie(c, sessionCookie, token, int(orders.SessionTTL.Seconds()))
	// A new CSRF seed with every sign-in: a seed planted or read before
	// (a shared tablet, a cookie set by a neighbouring host) makes no
	// token that works for the staff member now signed in.
	s.setCookie(c, csrfCookie, randomID(), 0)
	c.Redirect(http.StatusSeeOther, "/orders/new")
}

func (s *Server) logout(c *gin.Context) {
	if token, err := c.Cookie(sessionCookie); err == nil {
		if err := s.db.SignOut(c.Request.Context(), token); err != nil {
			s.fail(c, err)
			return
		}
	}
	s.setCookie(c, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/login")
}

// setLang switches the language for this browser and, when signed in,
// for the session.
func (s *Server) setLang(c *gin.Context) {
	lang := assets.Lang(c.PostForm("lang"))
	if token, err := c.Cookie(sessionCookie); err == nil {
		// The customer's tap on a locked tablet never changes the
		// staff's language (the customer screens have their own switch).
		if sess, err := s.db.Session(c.Request.Context(), token); err == nil && sess.HandOver != "" {
			c.Redirect(http.StatusSeeOther, handbackPath)
			return
		}
	}
	s.setCookie(c, langCookie, lang, 365*24*3600)
	if token, err := c.Cookie(sessionCookie); err == nil {
		if err := s.db.SetSessionLang(c.Request.Context(), token, lang); err != nil {
			s.fail(c, err)
			return
		}
	}
	c.Redirect(http.StatusSeeOther, localPath(c.PostForm("back")))
}

// switchStore moves a chain-wide manager's session to another store
// (orders.DB.SetSessionStore): the header's store switch.
func (s *Server) switchStore(c *gin.Context) {
	id, err := strconv.ParseInt(c.PostForm("store"), 10, 64)
	token, cerr := c.Cookie(sessionCookie)
	if err != nil || cerr != nil {
		s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.store_not_found"))
		return
	}
	if err := s.db.SetSessionStore(c.Request.Context(), token, id); err != nil {
		if consentdesk.ErrorCode(err) == consentdesk.Denied {
			err = consentdesk.Errorf(consentdesk.Forbidden, "err.store_switch_denied")
		}
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, localPath(c.PostForm("back")))
}

// localPath is back when it is a path of this server, else "/": "//host"
// and "/\host" would leave it (browsers read a backslash as a slash).
func localPath(back string) string {
	// Any control character, not only CR and LF: browsers remove tabs
	// from a URL before they read it (the URL Standard), so
	// "/\t/evil.example" led to "//evil.example", another site; a NUL
	// broke the response's Location header.
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.ContainsRune(back, '\\') ||
		strings.IndexFunc(back, unicode.IsControl) >= 0 {
		return "/"
	}
	return back
}

// requireToken authenticates the JSON API with a bearer token.
func (s *Server) requireToken(c *gin.Context) {
	h := c.GetHeader("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		s.fail(c, consentdesk.Errorf(consentdesk.Denied, "err.token_invalid"))
		c.Abort()
		return
	}
	client, err := s.db.APIToken(c.Request.Context(), strings.TrimSpace(token))
	if err != nil {
		s.fail(c, err)
		c.Abort()
		return
	}
	c.Set(tokenKey, client.ID) // for the audit log
	c.Set(tokenNameKey, client.Name)
	c.Set(tokenScopeKey, client.Scope)
	// What the token records happens in its store.
	c.Request = c.Request.WithContext(consent.WithStore(c.Request.Context(), client.StoreID))
	c.Next()
}

// requireScope lets through only tokens of that scope: an ERP that only
// sends orders cannot erase customers or export their data.
func (s *Server) requireScope(scope string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.GetString(tokenScopeKey) != scope {
			s.fail(c, consentdesk.Errorf(consentdesk.Forbidden, "err.token_scope"))
			c.Abort()
			return
		}
		c.Next()
	}
}

// apiClient is the name of the API token of the request, "" for staff:
// what the API enters is recorded as entered by that program (CJEU
// C-61/19, Art. 7(1)).
func apiClient(c *gin.Context) string {
	return c.GetString(tokenNameKey)
}

// session is the request's staff session.
func session(c *gin.Context) orders.Session {
	v, _ := c.Get(sessionKey)
	sess, _ := v.(orders.Session)
	return sess
}

// switchLang handles lang_switch on a form post: the staff's language
// changes, and the caller shows the same form again with what was typed.
// It reports whether the post was a language switch.
func (s *Server) switchLang(c *gin.Context) bool {
	lang := c.PostForm("lang_switch")
	if lang == "" {
		return false
	}
	lang = assets.Lang(lang)
	s.setCookie(c, langCookie, lang, 365*24*3600)
	if token, err := c.Cookie(sessionCookie); err == nil {
		if err := s.db.SetSessionLang(c.Request.Context(), token, lang); err == nil {
			sess := session(c)
			sess.Lang = lang
			c.Set(sessionKey, sess)
		}
	}
	return true
}

package pos

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/gin-gonic/gin"
)

// view is what every page template gets.
type view struct {
	Lang   string
	Staff  *orders.Staff
	CSRF   string
	Title  string
	Errors map[string]string // field -> sentence
	Flash  string
	Path   string // the page's own path, for the language switch to return to
	// CustomerScreen hides the staff's menu while the customer holds the
	// tablet.
	CustomerScreen bool
	Public         bool // a customer's public page: no staff controls at all
	// LangForm names the page's form (its id) when it has typed input:
	// the language switch then posts that form with lang_switch, so that
	// nothing typed is lost; without it the switch reloads the page.
	LangForm string
	Data     any
	// Brand is the store's name where customers look (public pages, the
	// customer's screens): they see whom they deal with, not the
	// software's name. HasLogo shows the store's logo beside it.
	Brand   string
	HasLogo bool
	// Store is the store the staff's session works in, shown where the
	// chain has more than one; Stores are those a chain-wide manager may
	// switch to.
	Store  *orders.Store
	Stores []orders.Store
}

// fieldView is one labelled input of a form.
type fieldView struct {
	V                 view
	Name, Value, Type string
}

// E returns the message for a field, for templates.
func (v view) E(field string) string { return v.Errors[field] }

var funcs = template.FuncMap{
	"t": assets.T,
	// money, date and appointment take the page's language first:
	// {{money $v.Lang .Total}} (one formatting for PDF, mails and pages).
	"money": consentdesk.Money,
	"date":  consentdesk.Date,
	"appointment": func(lang string, p *orders.Pickup) string {
		if p == nil {
			return ""
		}
		return consentdesk.Appointment(lang, p.Start, p.End)
	},
	"channels": func() []consent.Channel { return consent.Channels },
	// contact shows an address or number as Germans write it: numbers in
	// national form ("0171 4455667"), never "+491714455667".
	"contact": displayContact,
	// masked shows a contact on the public pages: recognisable to its
	// owner, and no more to whoever holds a printed confirmation.
	"masked": orders.MaskContact,
	// hoursLeft is how many whole hours remain until a stored time; 0
	// and less when it has passed.
	"hoursLeft": func(stamp string) int {
		t, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			return 0
		}
		return int(time.Until(t).Hours())
	},
	// day shows a stored day (YYYY-MM-DD) as "31.12.2034" or
	// "31 December 2034".
	"day": func(lang, s string) string {
		t, err := time.ParseInLocation("2006-01-02", s, consentdesk.Berlin)
		if err != nil {
			return s
		}
		return consentdesk.Date(lang, t)
	},
	// clock shows a time of today in the store's zone, "14:05".
	"clock":    func(t time.Time) string { return t.In(consentdesk.Berlin).Format("15:04") },
	"daylist":  func(v view, list []orders.DayOrder) dayList { return dayList{V: v, List: list} },
	"rxfields": func() []string { return rxFields },
	"sides":    func() []string { return []string{"right", "left"} },
	"bases":    func() []string { return []string{"in", "out", "up", "down"} },
	"dict3": func(v view, name, value, typ string) fieldView {
		return fieldView{V: v, Name: name, Value: value, Type: typ}
	},
	"str":      func(v any) string { return fmt.Sprint(v) },
	"statuses": func() []followup.Status { return statuses },
	"swatch":   legendSwatch,
	"pct":      func(r float64) string { return fmt.Sprintf("%.0f %%", r*100) },
	// stamp shows a stored RFC 3339 time in the store's zone, in the
	// page's language.
	"stamp": func(lang, s string) string {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return s
		}
		return consentdesk.DateTime(lang, t)
	},
}

// parsePages builds one template set per page: the layout plus the page,
// so that each page's "content" block stays its own.
func parsePages() (map[string]*template.Template, error) {
	files, err := fs.Glob(assets.Templates, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets.Templates, "templates/layout.html", f)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render executes a page into a buffer first, so that a template error
// never leaves half a page on the wire.
func (s *Server) render(c *gin.Context, status int, page string, v view) {
	if v.Lang == "" {
		v.Lang = s.lang(c)
	}
	if st, ok := c.Get(staffKey); ok {
		v.Staff = st.(*orders.Staff)
	}
	v.CSRF = s.csrfToken(c)
	if v.Staff != nil && !v.Public && !v.CustomerScreen {
		s.storeOfPage(c, &v)
	}
	if v.Public || v.CustomerScreen {
		// The name the customer deals with: where each store is its own
		// controller, the page's customer's store's company.
		var customer int64
		if id, ok := c.Get(brandCustomerKey); ok {
			customer, _ = id.(int64)
		}
		if ctrl, err := s.db.ControllerOf(c.Request.Context(), customer); err == nil {
			v.Brand, v.HasLogo = ctrl.Name, len(ctrl.Logo) > 0
		}
	}
	if c.Request.Method == http.MethodGet {
		v.Path = c.Request.URL.RequestURI()
	}
	var buf bytes.Buffer
	t, ok := s.pages[page]
	if !ok {
		slog.Error("no such page template", "page", page)
		c.String(http.StatusInternalServerError, assets.T(v.Lang, "err.internal"))
		return
	}
	if err := t.Execute(&buf, v); err != nil {
		slog.Error("render page", "page", page, "err", err)
		c.String(http.StatusInternalServerError, assets.T(v.Lang, "err.internal"))
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// storeOfPage names the session's store in the header where the chain
// has several, and lets a chain-wide manager switch.
func (s *Server) storeOfPage(c *gin.Context, v *view) {
	list, err := s.db.Stores(c.Request.Context())
	if err != nil || len(list) < 2 {
		return
	}
	current := session(c).StoreID
	for i := range list {
		if list[i].ID == current {
			v.Store = &list[i]
		}
	}
	if v.Staff.StoreID == 0 {
		v.Stores = list
	}
}

// statusOf maps a domain error to an HTTP status.
func statusOf(err error) int {
	switch consentdesk.ErrorCode(err) {
	case consentdesk.Invalid:
		return http.StatusUnprocessableEntity
	case consentdesk.NotFound:
		return http.StatusNotFound
	case consentdesk.Conflict:
		return http.StatusConflict
	case consentdesk.Locked, consentdesk.TooMany:
		return http.StatusTooManyRequests
	case consentdesk.Denied:
		return http.StatusUnauthorized
	case consentdesk.TooLarge:
		return http.StatusRequestEntityTooLarge
	case consentdesk.CSRF, consentdesk.Forbidden:
		return http.StatusForbidden
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// translateFields turns field message keys into sentences.
func translateFields(lang string, err error) map[string]string {
	var e *consentdesk.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return nil
	}
	out := make(map[string]string, len(e.Fields))
	for f, key := range e.Fields {
		out[f] = assets.T(lang, key)
	}
	return out
}

// message is the sentence for an error; internal errors are logged and
// shown only as "internal error".
func message(lang string, err error) string {
	var e *consentdesk.Error
	if errors.As(err, &e) {
		return assets.T(lang, e.Key, e.Args...)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return assets.T(lang, "err.body_too_large")
	}
	return assets.T(lang, "err.internal")
}

// fail answers an error in the form the client expects: JSON for the API,
// a page for people.
func (s *Server) fail(c *gin.Context, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		slog.Error("internal error", "route", c.FullPath(), "err", err)
	}
	if strings.HasPrefix(c.Request.URL.Path, "/api/") {
		s.apiError(c, status, err)
		return
	}
	lang := s.lang(c)
	// On the public listener and the customers' pages an error page shows
	// no staff form (its /lang would 404 there).
	p := c.Request.URL.Path
	public := c.GetBool(publicKey) || strings.HasPrefix(p, "/p/") || strings.HasPrefix(p, "/u/") || strings.HasPrefix(p, "/c/")
	s.render(c, status, "error", view{Title: assets.T(lang, "title.error"), Flash: message(lang, err), Public: public})
}

// publicKey marks a request on the public listener.
const publicKey = "consentdesk.public"

func (s *Server) notFound(c *gin.Context) {
	s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.not_found"))
}

func randomID() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func displayContact(v string) string {
	if strings.HasPrefix(v, "+") {
		return orders.NationalPhone(v)
	}
	return v
}

// dayList is one list of the counter's start page, with the page's view.
type dayList struct {
	V    view
	List []orders.DayOrder
}

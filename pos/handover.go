package pos

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/gin-gonic/gin"
)

// The tablet in the customer's hands. From the moment the consent screen
// is shown until a staff member takes the tablet back with their PIN, the
// staff session reaches the customer's screens only: no menu, no customer
// search, no other customer's data (GDPR Art. 32, Art. 5(1)(f)). The state
// is kept with the session in the database, so a restart does not unlock.

const handbackPath = "/handback"

// Hand-over states (sessions.hand_over).
func onConsentScreen(draft string) string { return "consent:" + draft }
func afterOrder(orderID int64, rxDropped bool) string {
	s := "done:" + strconv.FormatInt(orderID, 10)
	if rxDropped {
		s += ":rx"
	}
	return s
}
func backToStaff(draft string) string { return "back:" + draft }

// handOverAllows says whether a locked session may reach this request.
func handOverAllows(state string, c *gin.Context) bool {
	p := c.Request.URL.Path
	if p == handbackPath {
		return true
	}
	if draft, ok := strings.CutPrefix(state, "consent:"); ok {
		base := "/orders/consent/" + draft
		return p == base || p == base+"/back" || p == base+"/lang" || p == base+"/withdraw"
	}
	if order, ok := strings.CutPrefix(state, "rx:"); ok {
		return p == "/orders/"+order+"/rx-consent"
	}
	return false
}

// lockedOut answers a request a locked session may not make: a page
// goes to the hand-back screen, anything else is refused.
func (s *Server) lockedOut(c *gin.Context) {
	// A late tap on the customer's own screen (a double tap on "Fertig")
	// lands on the hand-back screen, not on an error.
	if c.Request.Method == http.MethodGet || strings.HasPrefix(c.Request.URL.Path, "/orders/consent/") {
		c.Redirect(http.StatusSeeOther, handbackPath)
	} else {
		s.fail(c, consentdesk.Errorf(consentdesk.Forbidden, "err.tablet_locked"))
	}
	c.Abort()
}

func (s *Server) setHandOver(c *gin.Context, state string) error {
	token, err := c.Cookie(sessionCookie)
	if err != nil {
		return err
	}
	return s.db.SetHandOver(c.Request.Context(), token, state)
}

type handbackView struct {
	Back bool // the customer asked to correct something
}

// handbackPage is "Danke – bitte geben Sie das Tablet zurück", in the
// customer's language, with the staff member's PIN to unlock.
func (s *Server) handbackPage(c *gin.Context) {
	s.renderHandback(c, http.StatusOK, "")
}

func (s *Server) renderHandback(c *gin.Context, status int, flash string) {
	state := session(c).HandOver
	if state == "" {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	lang := s.customerLang(c, state)
	v := view{Title: assets.T(lang, "handback.title"), Lang: lang, CustomerScreen: true, Flash: flash,
		Data: handbackView{Back: strings.HasPrefix(state, "back:")}}
	if flash != "" {
		v.Errors = map[string]string{"pin": flash}
	}
	s.render(c, status, "handback", v)
}

// customerLang is the language of the customer whose screen this is.
func (s *Server) customerLang(c *gin.Context, state string) string {
	kind, rest, _ := strings.Cut(state, ":")
	switch kind {
	case "consent", "back":
		if d, ok := s.drafts.getDraft(rest, staff(c).ID); ok {
			return d.lang
		}
	case "done", "rx":
		id, _ := strconv.ParseInt(strings.TrimSuffix(rest, ":rx"), 10, 64)
		if o, err := s.db.Order(c.Request.Context(), id); err == nil {
			if cu, err := s.db.Customer(c.Request.Context(), o.CustomerID); err == nil {
				return assets.Lang(cu.Lang)
			}
		}
	}
	return s.lang(c)
}

// handbackSubmit takes the tablet back with the staff member's PIN and
// goes where the hand-over left off.
func (s *Server) handbackSubmit(c *gin.Context) {
	token, _ := c.Cookie(sessionCookie)
	state, err := s.db.UnlockHandOver(c.Request.Context(), token, c.PostForm("pin"))
	if err != nil {
		if code := consentdesk.ErrorCode(err); code == consentdesk.Denied || code == consentdesk.Locked {
			s.renderHandback(c, http.StatusUnauthorized, message(s.lang(c), err))
			return
		}
		s.fail(c, err)
		return
	}
	kind, rest, _ := strings.Cut(state, ":")
	switch kind {
	case "done":
		id, rx, _ := strings.Cut(rest, ":")
		q := "?done=1"
		if rx == "rx" {
			q += "&rx=dropped"
		}
		c.Redirect(http.StatusSeeOther, "/orders/"+id+q)
	case "back":
		c.Redirect(http.StatusSeeOther, "/orders/new?draft="+rest)
	case "consent":
		c.Redirect(http.StatusSeeOther, "/orders/new?draft="+rest)
	default:
		c.Redirect(http.StatusSeeOther, "/")
	}
}

func onRxScreen(orderID int64) string { return "rx:" + strconv.FormatInt(orderID, 10) }

type rxConsentView struct {
	Order orders.Order
	Store consent.Controller
}

// rxConsentStart hands the tablet to the customer once more, to ask for
// the prescription consent the customer had left off (the values typed
// are still in memory, never on disk).
func (s *Server) rxConsentStart(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		s.notFound(c)
		return
	}
	if _, ok := s.drafts.rxFor(id, staff(c).ID); !ok {
		s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.rx_gone"))
		return
	}
	if err := s.setHandOver(c, onRxScreen(id)); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/orders/"+strconv.FormatInt(id, 10)+"/rx-consent")
}

func (s *Server) rxConsentPage(c *gin.Context) {
	id, _ := pathID(c)
	o, err := s.db.Order(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	ctrl, err := s.db.ControllerOf(c.Request.Context(), o.CustomerID)
	if err != nil {
		s.fail(c, err)
		return
	}
	lang := s.customerLang(c, session(c).HandOver)
	s.render(c, http.StatusOK, "rx_consent", view{Title: assets.T(lang, "title.consent"), Lang: lang, CustomerScreen: true, Data: rxConsentView{Order: o, Store: ctrl}})
}

// rxConsentSubmit stores the values with the consent, or drops them for
// good; either way the tablet goes back to the staff.
func (s *Server) rxConsentSubmit(c *gin.Context) {
	id, _ := pathID(c)
	rx, ok := s.drafts.rxFor(id, staff(c).ID)
	if ok && c.PostForm("health_data") == "on" {
		if err := s.db.AddPrescription(c.Request.Context(), id, staff(c).ID, rx); err != nil {
			s.fail(c, err)
			return
		}
	}
	s.drafts.dropRx(id)
	if err := s.setHandOver(c, afterOrder(id, false)); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, handbackPath)
}

package pos

import (
	"net/http"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/gin-gonic/gin"
)

// Restricted processing (§35(3) BDSG, Art. 18 GDPR): what an erasure had
// to keep for tax and commercial law (§147 AO, §257 HGB) is locked until
// its date. Only a manager sees it, as a record retained for the law,
// never in full as a live order, and every access, or attempt, is logged.

// managerOnly lets a signed-in manager through; anybody else, staff or
// an API token, gets 403. It answers the request itself when it refuses.
func (s *Server) managerOnly(c *gin.Context) bool {
	if _, api := c.Get(tokenKey); !api && staff(c).Role == orders.RoleManager {
		return true
	}
	s.fail(c, consent.Errorf(forbidden, "err.restricted_manager_only"))
	return false
}

// restrictedOrder handles a locked order: a manager sees the restricted
// view, others are refused; both are logged. It reports whether the
// request is answered (true for every locked order).
func (s *Server) restrictedOrder(c *gin.Context, o orders.Order) bool {
	if !o.Restricted() {
		return false
	}
	if _, api := c.Get(tokenKey); api || staff(c).Role != orders.RoleManager {
		if s.audit(c, orders.AuditRestrictedDenied, o.CustomerID, o.Number) {
			s.fail(c, consent.Errorf(forbidden, "err.order_restricted"))
		}
		return true
	}
	if !s.audit(c, orders.AuditViewRestricted, o.CustomerID, o.Number) {
		return true
	}
	lang := s.lang(c)
	s.render(c, http.StatusOK, "restricted", view{Title: assets.T(lang, "title.order") + " " + o.Number,
		Data: restrictedView{Order: o, VAT: orders.VAT(o.Items)}})
	return true
}

type restrictedView struct {
	Order orders.Order
	VAT   []orders.VATLine
}

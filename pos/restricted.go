package pos

import (
	"net/http"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/gin-gonic/gin"
)

// Restricted processing (§35(3) BDSG, Art. 18 GDPR): what an erasure had
// to keep for tax and commercial law (§147 AO, §257 HGB) is locked until
// its date. Only a manager sees it, as a record retained for the law,
// never in full as a live order, and every access, or attempt, is logged.

// restrictedAccess guards what an erasure kept (a document of the phone
// consent's proof, a kept mail): a signed-in manager gets through; anybody
// else, staff or an API token, gets 403. Both are logged. It answers the
// request itself when it refuses.
func (s *Server) restrictedAccess(c *gin.Context, customerID int64, detail string) bool {
	if _, api := c.Get(tokenKey); api || staff(c).Role != orders.RoleManager {
		if s.audit(c, orders.AuditRestrictedDenied, customerID, detail) {
			s.fail(c, consentdesk.Errorf(consentdesk.Forbidden, "err.restricted_manager_only"))
		}
		return false
	}
	return s.audit(c, orders.AuditViewRestricted, customerID, detail)
}

// restrictedOrder handles a locked order: a manager sees the restricted
// view, others are refused; both are logged. It reports whether the
// request is answered (true for every locked order).
func (s *Server) restrictedOrder(c *gin.Context, o orders.Order) bool {
	if !o.Restricted() {
		return false
	}
	if !s.restrictedAccess(c, o.CustomerID, o.Number) {
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

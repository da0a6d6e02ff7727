package pos

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/consentdesk/consentdesk/assets"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/pdf"
	"github.com/gin-gonic/gin"
)

// baseURL is where customers' links point: the --public-url flag, else
// the store setting.
func (s *Server) baseURL(ctrl consent.Controller) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	return strings.TrimRight(ctrl.PublicURL, "/")
}

// PreferencesURL is the link printed on paper and in mails; src marks how
// the customer arrived (qr_code for the printed code).
func (s *Server) preferencesURL(ctrl consent.Controller, customerID int64, src string) string {
	u := s.baseURL(ctrl) + "/p/" + s.tokens.Make(consent.PreferencesToken, customerID)
	if src != "" {
		u += "?src=" + src
	}
	return u
}

// confirmation gathers what the PDF prints for an order: the notice
// version of the order and the ticks captured with it.
func (s *Server) confirmation(ctx context.Context, orderID int64) (pdf.Confirmation, error) {
	o, err := s.db.Order(ctx, orderID)
	if err != nil {
		return pdf.Confirmation{}, err
	}
	cust, err := s.db.Customer(ctx, o.CustomerID)
	if err != nil {
		return pdf.Confirmation{}, err
	}
	ctrl, err := s.db.Letterhead(ctx, o.StoreID) // the letterhead of the store that took the order
	if err != nil {
		return pdf.Confirmation{}, err
	}
	notice, err := s.db.Notice(ctx, o.NoticeVersionID)
	if err != nil {
		return pdf.Confirmation{}, err
	}
	_, events, err := s.db.Consents(ctx, cust.ID)
	if err != nil {
		return pdf.Confirmation{}, err
	}
	return s.confirmationOf(ctx, ctrl, o, cust, notice, events)
}

// confirmationOf puts together a confirmation from the customer's events:
// the cells chosen with the order and those standing from before
// (consent.OrderCells), the prescription consent, the representative and
// the signature.
func (s *Server) confirmationOf(ctx context.Context, ctrl consent.Controller, o orders.Order, cust orders.Customer, notice consent.NoticeVersion, events []consent.Event) (pdf.Confirmation, error) {
	representative := ""
	var health consent.State
	for _, e := range events {
		if e.OrderID != o.ID || (e.Source != consent.CounterTablet && e.Source != consent.API) {
			continue // the choices made with this order: on the tablet, or through the API
		}
		if e.Representative != "" {
			representative = e.Representative + " (" + assets.T(cust.Lang, "rel."+e.RepresentativeOf) + ")"
		}
		if e.Channel == consent.HealthData && e.Action == consent.Grant {
			health = consent.Granted
		}
	}
	conf := pdf.Confirmation{Store: ctrl, Order: o, Customer: cust, Notice: notice, Health: health,
		PreferencesURL: s.preferencesURL(ctrl, cust.ID, "qr"), Representative: representative}
	if o.ConsentMode == orders.ModeTablet {
		conf.Chosen, _, conf.Standing = consent.OrderCells(events, o.ID, o.CreatedAt, ctrl.TopicKeys())
	}
	sig, err := s.db.Signature(ctx, o.ID)
	if err != nil {
		return pdf.Confirmation{}, err
	}
	conf.Signature = sig
	return conf, nil
}

func (s *Server) confirmationPDF(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		s.notFound(c)
		return
	}
	conf, err := s.confirmation(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	if s.restrictedOrder(c, conf.Order) {
		return
	}
	var buf bytes.Buffer
	if err := pdf.RenderConfirmation(&buf, conf); err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Disposition", `inline; filename="Auftragsbestaetigung-`+conf.Order.Number+`.pdf"`)
	c.Data(http.StatusOK, "application/pdf", buf.Bytes())
}

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
	// The choices made with this order: on the tablet, or sent with the
	// order through the API.
	var mine []consent.Event
	representative := ""
	for _, e := range events {
		if e.OrderID == o.ID && (e.Source == consent.CounterTablet || e.Source == consent.API) {
			mine = append(mine, e)
			if e.Representative != "" {
				representative = e.Representative + " (" + assets.T(cust.Lang, "rel."+e.RepresentativeOf) + ")"
			}
		}
	}
	ticked := map[consent.Channel]consent.State{}
	topics := map[string]bool{}
	if o.ConsentMode == orders.ModeTablet {
		// A channel counts as chosen for whichever topics it was given.
		if st := consent.Derive(mine)[consent.HealthData]; st.State != consent.None {
			ticked[consent.HealthData] = st.State
		}
		for ch, byTopic := range consent.DeriveTopics(mine, consent.EventTopics(mine, nil)) {
			if st := consent.Summary(byTopic); st.State != consent.None {
				ticked[ch] = st.State
			}
		}
		for _, e := range mine {
			if e.Action == consent.Grant && e.Channel != consent.HealthData {
				topics[consent.EventTopic(e)] = true
			}
		}
	}
	sig, err := s.db.Signature(ctx, o.ID)
	if err != nil {
		return pdf.Confirmation{}, err
	}
	return pdf.Confirmation{Store: ctrl, Order: o, Customer: cust, Notice: notice, Ticked: ticked, Topics: topics, Signature: sig,
		PreferencesURL: s.preferencesURL(ctrl, cust.ID, "qr"), Representative: representative}, nil
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

package pos

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/gin-gonic/gin"
)

// consentChoice is one switch on the customer's screen.
type consentChoice struct {
	Channel consent.Channel
	Contact string // "" disables the switch: nothing to consent to
	Current consent.State
	On      bool
}

type consentView struct {
	Draft      string
	Customer   orders.Customer
	Choices    []consentChoice
	HealthAsk  bool // a prescription was entered and the basis is explicit consent
	HealthOn   bool
	Notice     consent.NoticeVersion
	Total      int64
	OrderItems []orders.Item
}

func (s *Server) consentView(c *gin.Context, id string, in orders.NewOrder) (consentView, error) {
	ctx := c.Request.Context()
	cust := in.Customer
	current := map[consent.Channel]consent.ChannelState{}
	if cust.ID != 0 {
		var err error
		if cust, err = s.db.Customer(ctx, cust.ID); err != nil {
			return consentView{}, err
		}
		if current, _, err = s.db.Consents(ctx, cust.ID); err != nil {
			return consentView{}, err
		}
	}
	ctrl, err := s.db.Controller(ctx)
	if err != nil {
		return consentView{}, err
	}
	notice, err := s.db.CurrentNotice(ctx, cust.Lang)
	if err != nil {
		return consentView{}, err
	}
	v := consentView{Draft: id, Customer: cust, Notice: notice, Total: orders.Total(in.Items), OrderItems: in.Items,
		HealthAsk: in.Prescription != nil && ctrl.HealthLegalBasis() == consent.BasisExplicitConsent}
	for _, ch := range consent.Channels {
		st := current[ch].State
		if st == "" {
			st = consent.None
		}
		// Every switch starts off (GDPR Art. 4(11), CJEU C-61/19).
		v.Choices = append(v.Choices, consentChoice{Channel: ch, Contact: cust.Contact(ch), Current: st})
	}
	return v, nil
}

func (s *Server) consentPage(c *gin.Context) {
	id := c.Param("draft")
	in, ok := s.drafts.get(id, staff(c).ID)
	if !ok {
		s.fail(c, consent.Errorf(consent.NotFound, "err.draft_expired"))
		return
	}
	v, err := s.consentView(c, id, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "consent", view{Title: assets.T(s.lang(c), "title.consent"), CustomerScreen: true, Data: v})
}

// decodeDataURL reads the canvas's "data:image/png;base64,…".
func decodeDataURL(v string) ([]byte, bool) {
	if v == "" {
		return nil, true
	}
	b64, ok := strings.CutPrefix(v, "data:image/png;base64,")
	if !ok {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	return b, err == nil
}

func (s *Server) consentSubmit(c *gin.Context) {
	id := c.Param("draft")
	in, ok := s.drafts.get(id, staff(c).ID)
	if !ok {
		s.fail(c, consent.Errorf(consent.NotFound, "err.draft_expired"))
		return
	}
	in.Consent.Mode = orders.ModeTablet
	in.Consent.Channels = map[consent.Channel]bool{}
	for _, ch := range consent.Channels {
		if c.PostForm("channel_"+string(ch)) == "on" {
			in.Consent.Channels[ch] = true
		}
	}
	in.Consent.HealthData = c.PostForm("health_data") == "on"
	sig, ok := decodeDataURL(c.PostForm("signature"))
	if !ok {
		s.fail(c, &consent.Error{Code: consent.Invalid, Key: "err.signature_not_png"})
		return
	}
	in.Consent.SignaturePNG = sig
	s.placeAndShow(c, in, id)
}

// placeAndShow places the order and shows its page, or the screen it
// came from with the errors.
func (s *Server) placeAndShow(c *gin.Context, in orders.NewOrder, draftID string) {
	placed, err := s.db.PlaceOrder(c.Request.Context(), in)
	if err != nil {
		lang := s.lang(c)
		if consent.ErrorCode(err) == consent.Invalid && draftID != "" {
			v, verr := s.consentView(c, draftID, in)
			if verr != nil {
				s.fail(c, verr)
				return
			}
			for i, ch := range v.Choices {
				v.Choices[i].On = in.Consent.Channels[ch.Channel]
			}
			v.HealthOn = in.Consent.HealthData
			s.render(c, http.StatusUnprocessableEntity, "consent", view{Title: assets.T(lang, "title.consent"), CustomerScreen: true, Flash: assets.T(lang, "err.invalid_input"),
				Errors: translateFields(lang, err), Data: v})
			return
		}
		s.fail(c, err)
		return
	}
	if draftID != "" {
		s.drafts.drop(draftID)
	}
	q := "?done=1"
	if in.Prescription != nil && !placed.PrescriptionStored {
		q += "&rx=dropped"
	}
	c.Redirect(http.StatusSeeOther, "/orders/"+strconv.FormatInt(placed.Order.ID, 10)+q)
}

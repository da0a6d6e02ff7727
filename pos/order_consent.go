package pos

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/consentdesk/consentdesk"
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
	Deposit    int64
	OrderItems []orders.Item
	// AskRx: the customer left the prescription switch off although
	// values were typed; the screen asks once before they are dropped.
	AskRx     bool
	Signature string // the drawn signature, kept while the screen asks
	Store     consent.Controller
	HasLogo   bool
	// Child: a parent or guardian decides and signs (Art. 8 GDPR by
	// analogy); Rep is what was typed for them.
	Child bool
	Rep   orders.Representative
	Rels  []string
	// PostLI: letters rest on legitimate interest; no box, a notice of
	// the right to object instead.
	PostLI bool
	// Topics: "What would you like to hear about?", one switch each, all
	// off; the chosen topics apply to the chosen channels.
	Topics []topicChoice
}

type topicChoice struct {
	Key, Name, Description string
	On                     bool
}

func (s *Server) consentView(c *gin.Context, id string, in orders.NewOrder, lang string) (consentView, error) {
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
	// The controller the customer consents to: where each store is its
	// own, the store's company (Art. 13(1)(a)).
	ctrl, err := s.db.ControllerOf(ctx, 0)
	if err != nil {
		return consentView{}, err
	}
	// The notice in the language the customer reads on this screen: the
	// order records this very version (Art. 7(1)).
	notice, err := s.db.CurrentNotice(ctx, lang)
	if err != nil {
		return consentView{}, err
	}
	v := consentView{Draft: id, Customer: cust, Notice: notice, Total: orders.Total(in.Items), Deposit: in.DepositCents, OrderItems: in.Items,
		HealthAsk: in.Prescription != nil && ctrl.HealthLegalBasis() == consent.BasisExplicitConsent, Store: ctrl, HasLogo: len(ctrl.Logo) > 0,
		Child: cust.Child(s.db.Now()), Rels: orders.Relationships}
	if in.Consent.Representative != nil {
		v.Rep = *in.Consent.Representative
	}
	v.PostLI = ctrl.PostOnLegitimateInterest()
	for _, ch := range consent.Channels {
		st := current[ch].State
		if st == "" {
			st = consent.None
		}
		if ch == consent.Post && v.PostLI {
			continue
		}
		// Every switch starts off (GDPR Art. 4(11), CJEU C-61/19).
		v.Choices = append(v.Choices, consentChoice{Channel: ch, Contact: cust.Contact(ch), Current: st})
	}
	for _, t := range ctrl.TopicList() {
		v.Topics = append(v.Topics, topicChoice{Key: t.Key, Name: t.Name(lang), Description: t.Description(lang), On: in.Consent.Topics[t.Key]})
	}
	return v, nil
}

// consentPage hands the tablet to the customer: from here the session is
// locked to the customer's screens until a staff PIN takes it back.
func (s *Server) consentPage(c *gin.Context) {
	id := c.Param("draft")
	d, ok := s.drafts.getDraft(id, staff(c).ID)
	if !ok {
		s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.draft_expired"))
		return
	}
	if session(c).HandOver == "" {
		if err := s.setHandOver(c, onConsentScreen(id)); err != nil {
			s.fail(c, err)
			return
		}
	}
	v, err := s.consentView(c, id, d.order, d.lang)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "consent", view{Title: assets.T(d.lang, "title.consent"), Lang: d.lang, CustomerScreen: true, Data: v})
}

// consentLang is the customer's own language switch on their screen: it
// changes the draft's language (and the notice shown), never the staff's.
func (s *Server) consentLang(c *gin.Context) {
	id := c.Param("draft")
	if !s.drafts.setLang(id, staff(c).ID, c.PostForm("lang")) {
		s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.draft_expired"))
		return
	}
	c.Redirect(http.StatusSeeOther, "/orders/consent/"+id)
}

// consentBack: the customer spotted a typo. The tablet goes back to the
// staff (locked until their PIN), who correct the form.
func (s *Server) consentBack(c *gin.Context) {
	id := c.Param("draft")
	if _, ok := s.drafts.getDraft(id, staff(c).ID); !ok {
		s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.draft_expired"))
		return
	}
	if err := s.setHandOver(c, backToStaff(id)); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, handbackPath)
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
	d, ok := s.drafts.getDraft(id, staff(c).ID)
	if !ok && session(c).HandOver != "" {
		c.Redirect(http.StatusSeeOther, handbackPath) // placed by an earlier tap
		return
	}
	if !ok {
		s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.draft_expired"))
		return
	}
	in := d.order
	in.Lang = d.lang
	in.Consent.Mode = orders.ModeTablet
	in.Consent.Channels = map[consent.Channel]bool{}
	for _, ch := range consent.Channels {
		if c.PostForm("channel_"+string(ch)) == "on" {
			in.Consent.Channels[ch] = true
		}
	}
	if c.PostForm("topics_shown") == "1" {
		// The screen asked per topic: what was chosen, and nothing else
		// (a channel with no topic is refused with a message).
		in.Consent.Topics = map[string]bool{}
		for _, t := range c.PostFormArray("topic") {
			in.Consent.Topics[t] = true
		}
	}
	in.Consent.HealthData = c.PostForm("health_data") == "on"
	if name, rel := strings.TrimSpace(c.PostForm("rep_name")), c.PostForm("rep_relationship"); name != "" || rel != "" {
		in.Consent.Representative = &orders.Representative{Name: name, Relationship: rel}
	}
	sig, ok := decodeDataURL(c.PostForm("signature"))
	if !ok {
		s.fail(c, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.signature_not_png"})
		return
	}
	in.Consent.SignaturePNG = sig
	v, err := s.consentView(c, id, in, d.lang)
	if err != nil {
		s.fail(c, err)
		return
	}
	// Values were typed, the switch is off: ask once, in plain words,
	// before they are dropped (nothing typed is lost without a word).
	if v.HealthAsk && !in.Consent.HealthData && c.PostForm("rx_decided") != "1" {
		for i, ch := range v.Choices {
			v.Choices[i].On = in.Consent.Channels[ch.Channel]
		}
		v.AskRx, v.Signature = true, c.PostForm("signature")
		s.render(c, http.StatusOK, "consent", view{Title: assets.T(d.lang, "title.consent"), Lang: d.lang, CustomerScreen: true, Data: v})
		return
	}
	// A draft is used once: a second tap while the first is being placed
	// (or after) places nothing and shows the hand-back screen.
	if !s.drafts.claim(id, staff(c).ID) {
		c.Redirect(http.StatusSeeOther, handbackPath)
		return
	}
	s.placeAndShow(c, in, id, d.lang)
}

// placeAndShow places the order. From the customer's screen it then
// shows the hand-back screen; a paper order goes to its page.
func (s *Server) placeAndShow(c *gin.Context, in orders.NewOrder, draftID, customerLang string) {
	placed, err := s.db.PlaceOrder(c.Request.Context(), in)
	if err != nil {
		if draftID != "" {
			s.drafts.release(draftID)
		}
		if consentdesk.ErrorCode(err) == consentdesk.Invalid && draftID != "" {
			v, verr := s.consentView(c, draftID, in, customerLang)
			if verr != nil {
				s.fail(c, verr)
				return
			}
			for i, ch := range v.Choices {
				v.Choices[i].On = in.Consent.Channels[ch.Channel]
			}
			v.HealthOn = in.Consent.HealthData
			s.render(c, http.StatusUnprocessableEntity, "consent", view{Title: assets.T(customerLang, "title.consent"), Lang: customerLang, CustomerScreen: true,
				Flash: assets.T(customerLang, "err.invalid_input"), Errors: translateFields(customerLang, err), Data: v})
			return
		}
		s.fail(c, err)
		return
	}
	rxDropped := in.Prescription != nil && !placed.PrescriptionStored
	if rxDropped {
		// Kept in memory only, never on disk without consent (Art. 9),
		// so that staff can ask once more from the order page.
		s.drafts.keepRx(placed.Order.ID, in.StaffID, *in.Prescription)
	}
	if draftID == "" {
		c.Redirect(http.StatusSeeOther, "/orders/"+strconv.FormatInt(placed.Order.ID, 10)+"?done=1")
		return
	}
	s.drafts.drop(draftID)
	if err := s.setHandOver(c, afterOrder(placed.Order.ID, rxDropped)); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, handbackPath)
}

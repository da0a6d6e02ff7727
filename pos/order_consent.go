package pos

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/gin-gonic/gin"
)

// cellChoice is one switch on the customer's screen: one channel and one
// topic (the unit of consent), with the sentence that says exactly that.
type cellChoice struct {
	consent.Cell
	Label string // "Sehtest-Erinnerung per E-Mail an anna@example.de"
	On    bool
	// Standing: granted (or waiting for its confirmation) before this
	// order; listed apart, where one tap withdraws it.
	Standing consent.State
}

// cellRow is one topic's row of the grid: its switches, one per channel
// that has a contact.
type cellRow struct {
	Key, Name, Description string
	// Explicit: the eye test reminder's switches are the explicit consent
	// to use the date of the last eye test (GDPR Art. 9(2)(a)); the row
	// says so, whatever the store's own description of the topic.
	Explicit string
	Cells    []cellChoice
}

type consentView struct {
	Draft    string
	Customer orders.Customer
	// Columns are the channels the customer can be reached on (a
	// contact was given); NoContact the others, named in a note.
	Columns   []channelColumn
	NoContact []consent.Channel
	// Rows: what the customer may hear about, one switch per channel,
	// all off; nothing applies a topic to every channel.
	Rows []cellRow
	// Standing are the cells a returning customer granted before, with
	// their state; Withdrawn the ones withdrawn on this screen just now.
	Standing   []cellChoice
	Withdrawn  []string
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
	// UWG73: the store advertises similar goods by e-mail to the address
	// given with a sale; the customer is told so here, at collection
	// (§7(3) Nr. 4 UWG).
	UWG73 bool
}

type channelColumn struct {
	Channel consent.Channel
	Contact string
}

// chosen lists the switches that are on, by their labels: what the
// signature confirms.
func (v consentView) Chosen() []string {
	var out []string
	for _, r := range v.Rows {
		for _, c := range r.Cells {
			if c.On {
				out = append(out, c.Label)
			}
		}
	}
	return out
}

func (s *Server) consentView(c *gin.Context, id string, in orders.NewOrder, lang string) (consentView, error) {
	ctx := c.Request.Context()
	cust := in.Customer
	var byTopic map[consent.Channel]map[string]consent.ChannelState
	if cust.ID != 0 {
		var err error
		if cust, err = s.db.Customer(ctx, cust.ID); err != nil {
			return consentView{}, err
		}
		if byTopic, err = s.db.ConsentTopics(ctx, cust.ID); err != nil {
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
		Child: cust.Child(s.db.Now()), Rels: orders.Relationships, HealthOn: in.Consent.HealthData}
	if in.Consent.Representative != nil {
		v.Rep = *in.Consent.Representative
	}
	v.PostLI = ctrl.PostOnLegitimateInterest()
	v.UWG73 = ctrl.ExistingCustomerAds && cust.Email != "" && !v.Child
	for _, ch := range consent.Channels {
		switch {
		case ch == consent.Post && v.PostLI:
		case cust.Contact(ch) == "":
			v.NoContact = append(v.NoContact, ch)
		default:
			v.Columns = append(v.Columns, channelColumn{Channel: ch, Contact: displayContact(cust.Contact(ch))})
		}
	}
	for _, t := range ctrl.TopicList() {
		row := cellRow{Key: t.Key, Name: t.Name(lang), Description: t.Description(lang)}
		if t.Key == consent.TopicEyeTest {
			row.Explicit = assets.T(lang, "consent.eye_test_explicit", ctrl.Name)
		}
		for _, col := range v.Columns {
			cell := consent.Cell{Channel: col.Channel, Topic: t.Key}
			// Every switch starts off (GDPR Art. 4(11), CJEU C-61/19);
			// on only when the customer turned it on and the screen
			// came back with a question.
			choice := cellChoice{Cell: cell, Label: ctrl.CellLabel(lang, cell, col.Contact), On: slices.Contains(in.Consent.Cells[col.Channel], t.Key)}
			if st := byTopic[col.Channel][t.Key].State; st == consent.Granted || st == consent.Pending {
				choice.On, choice.Standing = false, st
				v.Standing = append(v.Standing, choice)
			}
			row.Cells = append(row.Cells, choice)
		}
		v.Rows = append(v.Rows, row)
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

// readConsentForm reads the customer's screen into in: the cells switched
// on (and nothing else), the prescription switch, the representative and
// the signature. It answers the request itself and reports false when the
// signature is no PNG.
func (s *Server) readConsentForm(c *gin.Context, in *orders.NewOrder) bool {
	in.Consent.Mode = orders.ModeTablet
	in.Consent.Channels, in.Consent.Topics = nil, nil
	in.Consent.Cells = map[consent.Channel][]string{}
	for _, key := range c.PostFormArray("cell") {
		cell, ok := consent.ParseCell(key)
		if !ok {
			s.fail(c, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"consent.cells": "err.choice_invalid"}})
			return false
		}
		in.Consent.Cells[cell.Channel] = append(in.Consent.Cells[cell.Channel], cell.Topic)
	}
	in.Consent.HealthData = c.PostForm("health_data") == "on"
	in.Consent.Representative = nil
	if name, rel := strings.TrimSpace(c.PostForm("rep_name")), c.PostForm("rep_relationship"); name != "" || rel != "" {
		in.Consent.Representative = &orders.Representative{Name: name, Relationship: rel}
	}
	sig, ok := decodeDataURL(c.PostForm("signature"))
	if !ok {
		s.fail(c, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.signature_not_png"})
		return false
	}
	in.Consent.SignaturePNG = sig
	return true
}

// consentWithdraw is a standing consent's button on the customer's
// screen: one tap withdraws that cell at once (GDPR Art. 7(3): as easy as
// giving it), and the screen comes back with everything else as it was.
func (s *Server) consentWithdraw(c *gin.Context) {
	id := c.Param("draft")
	d, ok := s.drafts.getDraft(id, staff(c).ID)
	if !ok {
		s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.draft_expired"))
		return
	}
	in := d.order
	in.Lang = d.lang
	if !s.readConsentForm(c, &in) {
		return
	}
	cell, ok := consent.ParseCell(c.PostForm("withdraw"))
	if !ok || in.Customer.ID == 0 {
		s.fail(c, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"withdraw": "err.choice_invalid"}})
		return
	}
	if _, err := s.db.RecordConsents(c.Request.Context(), orders.ConsentChange{CustomerID: in.Customer.ID, Source: consent.CounterTablet, ByCustomer: true,
		StaffID: staff(c).ID, Cells: map[consent.Channel]map[string]bool{cell.Channel: {cell.Topic: false}}}); err != nil {
		s.fail(c, err)
		return
	}
	v, err := s.consentView(c, id, in, d.lang)
	if err != nil {
		s.fail(c, err)
		return
	}
	ctrl := v.Store
	v.Withdrawn = []string{ctrl.CellLabel(d.lang, cell, displayContact(v.Customer.Contact(cell.Channel)))}
	v.Signature = c.PostForm("signature")
	s.render(c, http.StatusOK, "consent", view{Title: assets.T(d.lang, "title.consent"), Lang: d.lang, CustomerScreen: true, Data: v})
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
	if !s.readConsentForm(c, &in) {
		return
	}
	v, err := s.consentView(c, id, in, d.lang)
	if err != nil {
		s.fail(c, err)
		return
	}
	// Values were typed, the switch is off: ask once, in plain words,
	// before they are dropped (nothing typed is lost without a word).
	if v.HealthAsk && !in.Consent.HealthData && c.PostForm("rx_decided") != "1" {
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
			// The screen comes back as the customer left it: the switches,
			// and the signature, with the message at its field.
			v.Signature = c.PostForm("signature")
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

package pos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/pdf"
	"github.com/gin-gonic/gin"
)

// audit records who looked at or exported a customer's data. It runs
// before the data is handed out: what cannot be accounted for is not
// shown (GDPR Art. 5(2)).
func (s *Server) audit(c *gin.Context, action string, customerID int64, detail string) bool {
	a := orders.Access{Action: action, CustomerID: customerID, Detail: detail}
	if v, ok := c.Get(tokenKey); ok {
		a.TokenID = v.(int64)
	} else {
		a.StaffID = staff(c).ID
	}
	if err := s.db.LogAccess(c.Request.Context(), a); err != nil {
		s.fail(c, err)
		return false
	}
	return true
}

// customerID reads :id; an unknown or malformed one is 404.
func (s *Server) customerID(c *gin.Context) (orders.Customer, bool) {
	id, ok := pathID(c)
	if !ok {
		s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.customer_not_found"))
		return orders.Customer{}, false
	}
	cust, err := s.db.Customer(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return orders.Customer{}, false
	}
	return cust, true
}

type timelineEvent struct {
	consent.Event
	// TopicName is what the event is about: a topic, every topic of the
	// channel, or nothing (the prescription, a merge).
	TopicName   string
	StaffName   string
	OrderNumber string
	StoreName   string // where it happened, in a chain of stores
}

type customerView struct {
	Customer    orders.Customer
	Values      map[string]string
	Fields      []string
	Salutations []string
	States      map[consent.Channel]consent.ChannelState
	Grid        cellGrid             // the state of each cell (channel, topic)
	Health      consent.ChannelState // the prescription purpose
	Timeline    []timelineEvent
	Chain       bool // more than one store: the timeline names each event's
	Orders      []orders.Order
	Documents   []orders.Document
	Mails       []followup.Mail
	Changes     []orders.Change
	Erasure     *orders.Erasure
	Manager     bool
	// Blocked: the channel's contact is on the blocking list of an
	// earlier objection or erasure (§35(3) BDSG).
	Blocked map[consent.Channel]bool
	// Usable are the granted channels, where staff can record an
	// advertising use (§7a UWG).
	Usable []consent.Channel
	// Conflict lists field, stored value and typed value where a
	// colleague saved in between (no lost updates).
	Conflict [][3]string
}

func customerValues(cu orders.Customer) map[string]string {
	return map[string]string{"salutation": cu.Salutation, "first_name": cu.FirstName, "last_name": cu.LastName, "street": cu.Street,
		"postal_code": cu.PostalCode, "city": cu.City, "email": cu.Email, "mobile": orders.NationalPhone(cu.Mobile), "phone": orders.NationalPhone(cu.Phone), "lang": cu.Lang,
		"birth_date": cu.BirthDate}
}

func (s *Server) loadCustomerView(c *gin.Context, cu orders.Customer) (customerView, error) {
	ctx := c.Request.Context()
	v := customerView{Customer: cu, Values: customerValues(cu), Fields: orders.CustomerFields, Salutations: orders.Salutations,
		Manager: staff(c).Role == orders.RoleManager}
	states, events, err := s.db.Consents(ctx, cu.ID)
	if err != nil {
		return v, err
	}
	v.States = states
	v.Health = states[consent.HealthData]
	if v.Blocked, err = s.db.BlockedChannels(ctx, cu); err != nil {
		return v, err
	}
	ctrl, err := s.db.ControllerOf(ctx, cu.ID)
	if err != nil {
		return v, err
	}
	byTopic := consent.DeriveTopics(events, consent.EventTopics(events, ctrl.TopicKeys()))
	for _, ch := range consent.Channels {
		v.Blocked[ch] = v.Blocked[ch] || states[ch].Blocked
		if consent.Summary(byTopic[ch]).State == consent.Granted {
			v.Usable = append(v.Usable, ch)
		}
	}
	names, err := s.db.StaffNames(ctx)
	if err != nil {
		return v, err
	}
	numbers, err := s.db.OrderNumbers(ctx, cu.ID)
	if err != nil {
		return v, err
	}
	stores, err := s.db.StoreNames(ctx)
	if err != nil {
		return v, err
	}
	v.Chain = len(stores) > 1
	lang := s.lang(c)
	v.Grid = newCellGrid(ctrl, lang, cu, byTopic, v.Blocked)
	for i := len(events) - 1; i >= 0; i-- { // newest first
		e := events[i]
		topic := ""
		if e.Channel.Valid() {
			topic = ctrl.TopicName(lang, e.Topic)
		}
		v.Timeline = append(v.Timeline, timelineEvent{Event: e, TopicName: topic, StaffName: names[e.StaffID], OrderNumber: numbers[e.OrderID], StoreName: stores[e.Chain()]})
	}
	if v.Orders, err = s.db.CustomerOrders(ctx, cu.ID); err != nil {
		return v, err
	}
	if v.Documents, err = s.db.Documents(ctx, cu.ID, false); err != nil {
		return v, err
	}
	if v.Mails, err = s.db.Mails(ctx, followup.Filter{CustomerID: cu.ID, Limit: 100}); err != nil {
		return v, err
	}
	if v.Changes, err = s.db.Changes(ctx, cu.ID); err != nil {
		return v, err
	}
	if cu.Erased() && !v.Manager {
		// §35(3) BDSG: what an erasure kept (the proof of a phone
		// consent, commercial letters) is restricted to the manager.
		v.Documents, v.Mails = nil, nil
		for i := range v.Timeline {
			v.Timeline[i].Contact, v.Timeline[i].Note = "", ""
		}
	}
	return v, nil
}

func (s *Server) customerTitle(lang string, cu orders.Customer) string {
	if cu.Erased() {
		return assets.T(lang, "customer.erased_title", cu.ID)
	}
	return cu.Name()
}

// renderCustomerForm shows the customer page with the details form as
// typed; its language switch posts the form, so nothing typed is lost.
func (s *Server) renderCustomerForm(c *gin.Context, status int, cu orders.Customer, flash string, errs map[string]string, values map[string]string) {
	s.renderCustomerView(c, status, cu, flash, errs, values, nil, "customer-form")
}

func (s *Server) renderCustomer(c *gin.Context, status int, cu orders.Customer, flash string, errs map[string]string, values map[string]string, erasure *orders.Erasure) {
	s.renderCustomerView(c, status, cu, flash, errs, values, erasure, "")
}

func (s *Server) renderCustomerView(c *gin.Context, status int, cu orders.Customer, flash string, errs map[string]string, values map[string]string, erasure *orders.Erasure, langForm string) {
	v, err := s.loadCustomerView(c, cu)
	if err != nil {
		s.fail(c, err)
		return
	}
	if values != nil {
		v.Values = values
	}
	v.Erasure = erasure
	s.render(c, status, "customer", view{Title: s.customerTitle(s.lang(c), cu), Flash: flash, Errors: errs, LangForm: langForm, Data: v})
}

func (s *Server) customerPage(c *gin.Context) {
	cu, ok := s.customerID(c)
	action := orders.AuditView
	if ok && cu.Erased() && staff(c).Role == orders.RoleManager {
		action = orders.AuditViewRestricted // what the erasure kept, restricted
	}
	if !ok {
		return
	}
	// Logged once: the page shown again after a change (?done=…) is no
	// new view; the change itself was logged.
	if c.Query("done") == "" && !s.audit(c, action, cu.ID, "") {
		return
	}
	flash := ""
	switch c.Query("done") {
	case "saved":
		flash = assets.T(s.lang(c), "msg.saved")
	case "unchanged":
		flash = assets.T(s.lang(c), "customer.unchanged")
	case "consent":
		flash = assets.T(s.lang(c), "customer.consent_recorded")
	case "use":
		flash = assets.T(s.lang(c), "customer.use_recorded")
	}
	s.renderCustomer(c, http.StatusOK, cu, flash, nil, nil, nil)
}

// customerUpdate corrects the details (GDPR Art. 16); the change log
// keeps the old values.
func (s *Server) customerUpdate(c *gin.Context) {
	cu, ok := s.customerID(c)
	if !ok {
		return
	}
	values := map[string]string{}
	for _, f := range orders.CustomerFields {
		values[f] = c.PostForm(f)
	}
	if s.switchLang(c) {
		// Only the language changed: the form again, as typed, unsaved.
		s.renderCustomerForm(c, http.StatusOK, cu, "", nil, values)
		return
	}
	in := orders.Customer{ID: cu.ID, Salutation: values["salutation"], FirstName: values["first_name"], LastName: values["last_name"],
		Street: values["street"], PostalCode: values["postal_code"], City: values["city"], Email: values["email"], Mobile: values["mobile"],
		Phone: values["phone"], Lang: values["lang"], BirthDate: values["birth_date"], UpdatedAt: c.PostForm("version")}
	changes, err := s.db.UpdateCustomer(c.Request.Context(), in, staff(c).ID)
	var stale *orders.StaleEdit
	if errors.As(err, &stale) {
		// A colleague saved in between: show both versions, save nothing.
		lang := s.lang(c)
		v, lerr := s.loadCustomerView(c, stale.Current)
		if lerr != nil {
			s.fail(c, lerr)
			return
		}
		v.Values = values
		for _, f := range orders.CustomerFields {
			if cur, yours := customerValues(stale.Current)[f], values[f]; cur != yours {
				v.Conflict = append(v.Conflict, [3]string{assets.T(lang, "f."+f), cur, yours})
			}
		}
		s.render(c, http.StatusConflict, "customer", view{Title: s.customerTitle(lang, stale.Current), Flash: assets.T(lang, "err.customer_changed_meanwhile"),
			Errors: map[string]string{"version": assets.T(lang, "err.customer_changed_meanwhile")}, LangForm: "customer-form", Data: v})
		return
	}
	if err != nil {
		if consentdesk.ErrorCode(err) == consentdesk.Invalid {
			lang := s.lang(c)
			s.renderCustomerForm(c, http.StatusUnprocessableEntity, cu, assets.T(lang, "err.invalid_input"), translateFields(lang, err), values)
			return
		}
		s.fail(c, err)
		return
	}
	if len(changes) == 0 {
		c.Redirect(http.StatusSeeOther, fmt.Sprintf("/customers/%d?done=unchanged", cu.ID))
		return
	}
	fields := make([]string, len(changes))
	for i, ch := range changes {
		fields[i] = ch.Field
	}
	if !s.audit(c, orders.AuditEdit, cu.ID, strings.Join(fields, ",")) {
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/customers/%d?done=saved", cu.ID))
}

// customerConsentSubmit records a withdrawal the customer asked for by
// phone or in person (GDPR Art. 7(3), Art. 21(3)): staff may take a
// consent back for the customer, never give one (CJEU C-61/19).
func (s *Server) customerConsentSubmit(c *gin.Context) {
	cu, ok := s.customerID(c)
	if !ok {
		return
	}
	change := orders.ConsentChange{CustomerID: cu.ID, Source: consent.Source(c.PostForm("source")), Note: c.PostForm("note"),
		StaffID: staff(c).ID, Channels: map[consent.Channel]bool{}}
	for _, ch := range append(consent.Channels, consent.HealthData) {
		if c.PostForm("withdraw_"+string(ch)) == "on" {
			change.Channels[ch] = false
		}
	}
	lang := s.lang(c)
	if change.Source != consent.PhoneRequest && change.Source != consent.InPerson {
		s.renderCustomer(c, http.StatusUnprocessableEntity, cu, assets.T(lang, "err.invalid_input"), map[string]string{"source": assets.T(lang, "err.choice_invalid")}, nil, nil)
		return
	}
	if len(change.Channels) == 0 {
		s.renderCustomer(c, http.StatusUnprocessableEntity, cu, assets.T(lang, "err.invalid_input"), map[string]string{"withdraw": assets.T(lang, "err.withdraw_none")}, nil, nil)
		return
	}
	if _, err := s.db.RecordConsents(c.Request.Context(), change); err != nil {
		if consentdesk.ErrorCode(err) == consentdesk.Invalid {
			s.renderCustomer(c, http.StatusUnprocessableEntity, cu, assets.T(lang, "err.invalid_input"), translateFields(lang, err), nil, nil)
			return
		}
		s.fail(c, err)
		return
	}
	if !s.audit(c, orders.AuditConsent, cu.ID, string(change.Source)) {
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/customers/%d?done=consent", cu.ID))
}

// customerUseSubmit records an advertising use of a granted channel, a
// call above all: §7a UWG keeps the phone consent's proof five years
// from each use.
func (s *Server) customerUseSubmit(c *gin.Context) {
	cu, ok := s.customerID(c)
	if !ok {
		return
	}
	_, err := s.db.RecordUse(c.Request.Context(), orders.Use{CustomerID: cu.ID, Channel: consent.Channel(c.PostForm("channel")), Note: c.PostForm("note"), StaffID: staff(c).ID})
	if err != nil {
		if code := consentdesk.ErrorCode(err); code == consentdesk.Invalid || code == consentdesk.Conflict {
			lang := s.lang(c)
			s.renderCustomer(c, http.StatusUnprocessableEntity, cu, message(lang, err), translateFields(lang, err), nil, nil)
			return
		}
		s.fail(c, err)
		return
	}
	if !s.audit(c, orders.AuditUse, cu.ID, c.PostForm("channel")) {
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/customers/%d?done=use", cu.ID))
}

// customerDocument serves a signature or scan of this customer.
func (s *Server) customerDocument(c *gin.Context) {
	cu, ok := s.customerID(c)
	if !ok {
		return
	}
	docID, err := strconv.ParseInt(c.Param("doc"), 10, 64)
	if err != nil {
		s.notFound(c)
		return
	}
	d, err := s.db.Document(c.Request.Context(), docID)
	if err != nil || d.CustomerID != cu.ID {
		s.notFound(c)
		return
	}
	if cu.Erased() && !s.restrictedAccess(c, cu.ID, fmt.Sprintf("document %d", d.ID)) {
		return
	}
	ext := map[string]string{"image/png": "png", "image/jpeg": "jpg", "application/pdf": "pdf"}[d.MIME]
	s.sendAudited(c, orders.AuditView, cu.ID, fmt.Sprintf("document %d", d.ID), fmt.Sprintf(`inline; filename="%s-%d.%s"`, d.Kind, d.ID, ext), d.MIME, d.Data)
}

// proof gathers what the proof of consent shows.
func (s *Server) proof(c *gin.Context, cu orders.Customer) (pdf.Proof, error) {
	ctx := c.Request.Context()
	pr := pdf.Proof{Customer: cu, GeneratedAt: s.db.Now()}
	var err error
	if pr.Store, err = s.db.ControllerOf(ctx, cu.ID); err != nil {
		return pr, err
	}
	if _, pr.Events, err = s.db.Consents(ctx, cu.ID); err != nil {
		return pr, err
	}
	if pr.Notices, err = s.db.NoticesOf(ctx, pr.Events); err != nil {
		return pr, err
	}
	if pr.Documents, err = s.db.Documents(ctx, cu.ID, true); err != nil {
		return pr, err
	}
	if pr.StaffNames, err = s.db.StaffNames(ctx); err != nil {
		return pr, err
	}
	if pr.OrderNumber, err = s.db.OrderNumbers(ctx, cu.ID); err != nil {
		return pr, err
	}
	if pr.StoreNames, err = s.db.StoreNames(ctx); err != nil {
		return pr, err
	}
	pr.Check, pr.HeadSeq, pr.HeadHash, err = s.db.LedgerHead(ctx)
	return pr, err
}

// sendAudited logs the access, then hands out the document; what cannot
// be logged is not handed out.
func (s *Server) sendAudited(c *gin.Context, action string, customerID int64, detail, disposition, mime string, body []byte) {
	if !s.audit(c, action, customerID, detail) {
		return
	}
	c.Header("Content-Disposition", disposition)
	c.Data(http.StatusOK, mime, body)
}

func (s *Server) proofPDF(c *gin.Context) {
	cu, ok := s.customerID(c)
	if !ok {
		return
	}
	pr, err := s.proof(c, cu)
	if err != nil {
		s.fail(c, err)
		return
	}
	var buf bytes.Buffer
	if err := pdf.RenderProof(&buf, pr); err != nil {
		s.fail(c, err)
		return
	}
	s.sendAudited(c, orders.AuditProof, cu.ID, "", fmt.Sprintf(`inline; filename="nachweis-kunde-%d.pdf"`, cu.ID), "application/pdf", buf.Bytes())
}

// receiptJSON needs the events and the chain's state, not the
// documents and texts of the proof.
func (s *Server) receiptJSON(c *gin.Context) {
	cu, ok := s.customerID(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	ctrl, err := s.db.ControllerOf(ctx, cu.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	_, events, err := s.db.Consents(ctx, cu.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	check, seq, hash, err := s.db.LedgerHead(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	r := consent.BuildReceipt(consent.ReceiptInput{Store: ctrl, CustomerID: cu.ID, Lang: cu.Lang, Events: events,
		PreferencesURL: s.preferencesURL(ctrl, cu.ID, ""), HeadSeq: seq, HeadHash: hash, Verified: check.OK,
		T: func(key string, args ...any) string { return assets.T(cu.Lang, key, args...) }})
	body, err := json.Marshal(r)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.sendAudited(c, orders.AuditReceipt, cu.ID, "", fmt.Sprintf(`inline; filename="receipt-customer-%d.json"`, cu.ID), "application/json; charset=utf-8", body)
}

func (s *Server) exportJSON(c *gin.Context) {
	cu, ok := s.customerID(c)
	if !ok {
		return
	}
	x, err := s.db.Export(c.Request.Context(), cu.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	body, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		s.fail(c, err)
		return
	}
	s.sendAudited(c, orders.AuditExport, cu.ID, "", fmt.Sprintf(`attachment; filename="export-customer-%d.json"`, cu.ID), "application/json; charset=utf-8", body)
}

func (s *Server) exportPDF(c *gin.Context) {
	cu, ok := s.customerID(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	x, err := s.db.Export(ctx, cu.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	ctrl, err := s.db.ControllerOf(ctx, cu.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	var buf bytes.Buffer
	if err := pdf.RenderExport(&buf, ctrl, x); err != nil {
		s.fail(c, err)
		return
	}
	s.sendAudited(c, orders.AuditExportPDF, cu.ID, "", fmt.Sprintf(`inline; filename="auskunft-kunde-%d.pdf"`, cu.ID), "application/pdf", buf.Bytes())
}

// eraseSubmit is the back office's erasure: a manager ticks that the
// request is confirmed, then everything but what the law keeps goes.
func (s *Server) eraseSubmit(c *gin.Context) {
	cu, ok := s.customerID(c)
	if !ok {
		return
	}
	lang := s.lang(c)
	if c.PostForm("confirm") != "on" {
		s.renderCustomer(c, http.StatusUnprocessableEntity, cu, assets.T(lang, "err.invalid_input"), map[string]string{"confirm": assets.T(lang, "err.erase_confirm")}, nil, nil)
		return
	}
	res, err := s.db.Erase(c.Request.Context(), cu.ID, staff(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !s.audit(c, orders.AuditErase, cu.ID, "") {
		return
	}
	cu, err = s.db.Customer(c.Request.Context(), cu.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.renderCustomer(c, http.StatusOK, cu, assets.T(lang, "customer.erased_done"), nil, nil, &res)
}

// apiErase is DELETE /api/v1/customers/{id}: the erasure, answered with
// what was removed and what was kept until when.
func (s *Server) apiErase(c *gin.Context) {
	cu, ok := s.customerID(c)
	if !ok {
		return
	}
	res, err := s.db.Erase(c.Request.Context(), cu.ID, 0)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !s.audit(c, orders.AuditErase, cu.ID, "") {
		return
	}
	c.JSON(http.StatusOK, res)
}

type customersView struct {
	Query   string
	Results []orders.Customer
}

// customersPage finds a customer for the back office.
func (s *Server) customersPage(c *gin.Context) {
	q := strings.TrimSpace(c.Query("q"))
	v := customersView{Query: q}
	if q != "" {
		if id, err := strconv.ParseInt(q, 10, 64); err == nil && id > 0 {
			if cu, err := s.db.Customer(c.Request.Context(), id); err == nil {
				v.Results = append(v.Results, cu)
			}
		}
		list, err := s.db.SearchCustomers(c.Request.Context(), q, 50)
		if err != nil {
			s.fail(c, err)
			return
		}
		for _, cu := range list {
			if len(v.Results) == 0 || v.Results[0].ID != cu.ID {
				v.Results = append(v.Results, cu)
			}
		}
	}
	if !s.auditSearch(c, v.Results) {
		return
	}
	s.render(c, http.StatusOK, "customers", view{Title: assets.T(s.lang(c), "title.customers"), Data: v})
}

package pos

import (
	"io"
	"net/http"
	"strconv"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/gin-gonic/gin"
)

type orderView struct {
	Order     orders.Order
	Customer  orders.Customer
	States    map[consent.Channel]consent.ChannelState
	Done      bool
	RxDropped bool
	VAT       []orders.VATLine
	Contacts  map[consent.Channel]string
	Mails     []followup.Mail
	Ready     bool
	Collected bool
	// RxKept: the customer left the prescription switch off; the typed
	// values wait in memory for staff to ask once more.
	RxKept bool
	// CallInstead is the number to call when the order is ready and the
	// customer gave no e-mail address (no pickup mail can go).
	CallInstead string
	Scans       []orders.Document
	PaperSaved  bool
	// Grid is the customer's state per cell (channel, topic).
	Grid cellGrid
	// Paper is the transfer form of a paper order: the same cells as the
	// printed sheet, ticked where a tick was saved.
	Paper paperForm
}

// paperForm is the back office's copy of the printed sheet: topics as
// rows, the channels with a contact as columns.
type paperForm struct {
	Columns []channelColumn
	Rows    []paperRow
}

type paperRow struct {
	Name  string
	Cells []paperCell
}

type paperCell struct {
	consent.Cell
	Label string
	// Saved: ticked on this order's sheet and saved; Standing: given
	// before, in another way. Either shows as a tick that stays.
	Saved    bool
	Standing bool
}

// newPaperForm lays out the transfer form from the customer's events.
func newPaperForm(ctrl consent.Controller, lang string, o orders.Order, cust orders.Customer, events []consent.Event) paperForm {
	var f paperForm
	saved := map[consent.Cell]bool{}
	for _, e := range events {
		if e.OrderID == o.ID && e.Source == consent.PaperForm && e.Action == consent.Grant {
			saved[consent.Cell{Channel: e.Channel, Topic: consent.EventTopic(e)}] = true
		}
	}
	byTopic := consent.DeriveTopics(events, consent.EventTopics(events, ctrl.TopicKeys()))
	asked := ctrl.AskedCells(cust.Contact)
	for _, ch := range consent.Channels {
		for _, c := range asked {
			if c.Channel == ch {
				f.Columns = append(f.Columns, channelColumn{Channel: ch, Contact: displayContact(cust.Contact(ch))})
				break
			}
		}
	}
	for _, t := range ctrl.TopicList() {
		row := paperRow{Name: t.Name(lang)}
		for _, col := range f.Columns {
			cell := consent.Cell{Channel: col.Channel, Topic: t.Key}
			st := byTopic[cell.Channel][cell.Topic].State
			on := st == consent.Granted || st == consent.Pending
			row.Cells = append(row.Cells, paperCell{Cell: cell, Label: ctrl.CellLabel(lang, cell, col.Contact), Saved: saved[cell] && on, Standing: on && !saved[cell]})
		}
		f.Rows = append(f.Rows, row)
	}
	return f
}

func (s *Server) loadOrderView(c *gin.Context) (orderView, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		s.notFound(c)
		return orderView{}, false
	}
	ctx := c.Request.Context()
	o, err := s.db.Order(ctx, id)
	if err != nil {
		s.fail(c, err)
		return orderView{}, false
	}
	if s.restrictedOrder(c, o) {
		return orderView{}, false
	}
	cust, err := s.db.Customer(ctx, o.CustomerID)
	if err != nil {
		s.fail(c, err)
		return orderView{}, false
	}
	states, events, err := s.db.Consents(ctx, cust.ID)
	if err != nil {
		s.fail(c, err)
		return orderView{}, false
	}
	ctrl, err := s.db.ControllerOf(ctx, cust.ID)
	if err != nil {
		s.fail(c, err)
		return orderView{}, false
	}
	blocked, err := s.db.BlockedChannels(ctx, cust)
	if err != nil {
		s.fail(c, err)
		return orderView{}, false
	}
	mails, err := s.db.Mails(ctx, followup.Filter{CustomerID: cust.ID, Limit: 50})
	if err != nil {
		s.fail(c, err)
		return orderView{}, false
	}
	v := orderView{Order: o, Customer: cust, States: states, VAT: orders.VAT(o.Items), Contacts: map[consent.Channel]string{},
		Grid: newCellGrid(ctrl, s.lang(c), cust, consent.DeriveTopics(events, consent.EventTopics(events, ctrl.TopicKeys())), blocked)}
	if o.ConsentMode == orders.ModePaper {
		v.Paper = newPaperForm(ctrl, s.lang(c), o, cust, events)
	}
	for _, m := range mails {
		if m.OrderID == o.ID || m.OrderID == 0 { // this order's mails and the customer's confirmation requests
			v.Mails = append(v.Mails, m)
		}
	}
	for _, ch := range consent.Channels {
		v.Contacts[ch] = cust.Contact(ch)
	}
	_, v.RxKept = s.drafts.rxFor(o.ID, staff(c).ID)
	if cust.Email == "" {
		v.CallInstead = orders.CallNumber(cust)
	}
	docs, err := s.db.Documents(ctx, cust.ID, false)
	if err != nil {
		s.fail(c, err)
		return orderView{}, false
	}
	for _, d := range docs {
		if d.OrderID == o.ID && d.Kind == "scan" {
			v.Scans = append(v.Scans, d)
		}
	}
	return v, true
}

func (s *Server) orderPage(c *gin.Context) {
	v, ok := s.loadOrderView(c)
	if !ok {
		return
	}
	if !s.audit(c, orders.AuditViewOrder, v.Customer.ID, v.Order.Number) {
		return
	}
	v.Done = c.Query("done") == "1"
	v.RxDropped = c.Query("rx") == "dropped"
	v.Ready = c.Query("ready") == "1"
	v.Collected = c.Query("collected") == "1"
	v.PaperSaved = c.Query("saved") == "1"
	s.render(c, http.StatusOK, "order", view{Title: assets.T(s.lang(c), "title.order") + " " + v.Order.Number, Data: v})
}

// paperSubmit records the ticks from a signed paper form, transcribed by
// staff, with the scan of the form if there is one.
func (s *Server) paperSubmit(c *gin.Context) {
	v, ok := s.loadOrderView(c)
	if !ok {
		return
	}
	// Every box of the sheet: a tick grants that cell, an empty box is
	// the customer's no, recorded once the transfer is saved.
	change := orders.ConsentChange{CustomerID: v.Customer.ID, OrderID: v.Order.ID, Source: consent.PaperForm, StaffID: staff(c).ID,
		Cells: map[consent.Channel]map[string]bool{}, Note: c.PostForm("note")}
	ticked := map[string]bool{}
	for _, key := range c.PostFormArray("cell") {
		if _, ok := consent.ParseCell(key); !ok {
			s.paperError(c, v, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"consent.cells": "err.choice_invalid"}})
			return
		}
		ticked[key] = true
	}
	for _, row := range v.Paper.Rows {
		for _, cell := range row.Cells {
			if change.Cells[cell.Channel] == nil {
				change.Cells[cell.Channel] = map[string]bool{}
			}
			change.Cells[cell.Channel][cell.Topic] = ticked[cell.Key()]
			delete(ticked, cell.Key())
		}
	}
	if len(ticked) > 0 {
		// A box the sheet does not have (a channel without a contact).
		for key := range ticked {
			cell, _ := consent.ParseCell(key)
			s.paperError(c, v, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"consent.channels." + string(cell.Channel): "err.channel_needs_contact_" + string(cell.Channel)}})
			return
		}
	}
	if fh, err := c.FormFile("scan"); err == nil {
		if fh.Size > orders.MaxScanBytes {
			s.paperError(c, v, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"scan": "err.scan_too_large"}})
			return
		}
		f, err := fh.Open()
		if err != nil {
			s.fail(c, err)
			return
		}
		change.Scan, err = io.ReadAll(io.LimitReader(f, orders.MaxScanBytes+1))
		f.Close()
		if err != nil {
			s.fail(c, err)
			return
		}
	} else if err != http.ErrMissingFile && err != http.ErrNotMultipart {
		// A form posted url-encoded carries no file: the ticks alone.
		s.fail(c, err)
		return
	}
	if _, err := s.db.RecordConsents(c.Request.Context(), change); err != nil {
		s.paperError(c, v, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/orders/"+strconv.FormatInt(v.Order.ID, 10)+"?saved=1")
}

func (s *Server) paperError(c *gin.Context, v orderView, err error) {
	if consentdesk.ErrorCode(err) != consentdesk.Invalid {
		s.fail(c, err)
		return
	}
	lang := s.lang(c)
	s.render(c, http.StatusUnprocessableEntity, "order", view{Title: assets.T(lang, "title.order") + " " + v.Order.Number,
		Flash: assets.T(lang, "err.invalid_input"), Errors: translateFields(lang, err), Data: v})
}

// markCollected is the last step: the customer picked the order up.
func (s *Server) markCollected(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		s.notFound(c)
		return
	}
	if _, err := s.db.MarkCollected(c.Request.Context(), id); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/orders/"+strconv.FormatInt(id, 10)+"?collected=1")
}

// markReady is the back office's button: the order can be collected, and
// the pickup mail is queued.
func (s *Server) markReady(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		s.notFound(c)
		return
	}
	if _, err := s.db.MarkReady(c.Request.Context(), id); err != nil {
		if consentdesk.ErrorCode(err) != consentdesk.Conflict {
			s.fail(c, err)
			return
		}
	}
	c.Redirect(http.StatusSeeOther, "/orders/"+strconv.FormatInt(id, 10)+"?ready=1")
}

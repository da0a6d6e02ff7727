package pos

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/gin-gonic/gin"
)

// itemRows is how many item lines the form offers; empty ones are skipped.
const itemRows = 5

// orderForm is the staff's form as typed, to show it again with errors.
type orderForm struct {
	CustomerID  string
	Customer    orders.Customer
	Items       [itemRows]struct{ Description, Quantity, Price, VAT, Supply string }
	Deposit     string
	PickupDate  string
	PickupFrom  string
	PickupTo    string
	Rx          map[string]string // "right.sph" -> "-1,25"
	Mode        string
	Salutations []string
}

var rxFields = []string{"sph", "cyl", "axis", "add", "prism", "pd"}

func (s *Server) orderNewPage(c *gin.Context) {
	// Back from the customer's screen to correct something: the form as
	// it was typed.
	if d, ok := s.drafts.getDraft(c.Query("draft"), staff(c).ID); ok {
		s.drafts.drop(c.Query("draft"))
		s.render(c, http.StatusOK, "order_new", view{Title: assets.T(s.lang(c), "title.order_new"), Flash: assets.T(s.lang(c), "order.correct"), Data: d.form})
		return
	}
	form := orderForm{Mode: orders.ModeTablet, Rx: map[string]string{}, Salutations: orders.Salutations}
	for i := range form.Items {
		form.Items[i].Quantity, form.Items[i].VAT = "1", "19"
	}
	s.render(c, http.StatusOK, "order_new", view{Title: assets.T(s.lang(c), "title.order_new"), Data: form})
}

// readOrderForm parses the form into a NewOrder. Parse errors go into f;
// the domain's validation adds the rest.
func readOrderForm(c *gin.Context, f consentdesk.FieldErrors) (orderForm, orders.NewOrder) {
	form := orderForm{Rx: map[string]string{}, Salutations: orders.Salutations}
	in := orders.NewOrder{}
	form.CustomerID = strings.TrimSpace(c.PostForm("customer_id"))
	if form.CustomerID != "" {
		id, err := strconv.ParseInt(form.CustomerID, 10, 64)
		if err != nil || id <= 0 {
			f.Add("customer.id", "err.customer_not_found")
		}
		in.Customer.ID = id
	}
	form.Customer = orders.Customer{
		Salutation: c.PostForm("salutation"), FirstName: c.PostForm("first_name"), LastName: c.PostForm("last_name"),
		Street: c.PostForm("street"), PostalCode: c.PostForm("postal_code"), City: c.PostForm("city"),
		Email: c.PostForm("email"), Mobile: c.PostForm("mobile"), Phone: c.PostForm("phone"), Lang: c.PostForm("customer_lang"),
		Under16: c.PostForm("under_16") == "on", BirthDate: strings.TrimSpace(c.PostForm("birth_date")),
	}
	if in.Customer.ID == 0 {
		in.Customer = form.Customer
	}
	for i := range form.Items {
		row := &form.Items[i]
		row.Description = c.PostForm(fmt.Sprintf("item_description_%d", i))
		row.Quantity = c.PostForm(fmt.Sprintf("item_quantity_%d", i))
		row.Price = c.PostForm(fmt.Sprintf("item_price_%d", i))
		row.VAT = c.PostForm(fmt.Sprintf("item_vat_%d", i))
		row.Supply = c.PostForm(fmt.Sprintf("item_supply_%d", i))
		if strings.TrimSpace(row.Description) == "" && strings.TrimSpace(row.Price) == "" {
			continue
		}
		idx := len(in.Items)
		it := orders.Item{Description: row.Description}
		var ok bool
		if it.UnitPriceCents, ok = parseEuros(row.Price); !ok {
			f.Add(fmt.Sprintf("items.%d.unit_price_cents", idx), "err.number_invalid")
		}
		if it.Quantity, _ = strconv.ParseInt(strings.TrimSpace(row.Quantity), 10, 64); it.Quantity == 0 && row.Quantity == "" {
			it.Quantity = 1
		}
		it.VATRatePercent, _ = strconv.ParseInt(row.VAT, 10, 64)
		if v := strings.TrimSpace(row.Supply); v != "" {
			// Contact lenses: how many days the supply lasts (the reorder
			// recall counts from it).
			var err error
			if it.SupplyDays, err = strconv.ParseInt(v, 10, 64); err != nil {
				f.Add(fmt.Sprintf("items.%d.supply_days", idx), "err.supply_days_range")
			}
		}
		in.Items = append(in.Items, it)
	}
	form.Deposit = c.PostForm("deposit")
	var ok bool
	if in.DepositCents, ok = parseEuros(form.Deposit); !ok {
		f.Add("deposit_cents", "err.number_invalid")
	}
	form.PickupDate, form.PickupFrom, form.PickupTo = c.PostForm("pickup_date"), c.PostForm("pickup_from"), c.PostForm("pickup_to")
	if start, end, ok := parsePickup(f, form.PickupDate, form.PickupFrom, form.PickupTo); ok {
		in.Pickup = &orders.Pickup{Start: start, End: end}
	} else if f["pickup.start"] == "" && f["pickup.end"] == "" {
		// No appointment: the customer takes the goods along.
		in.TakenAlong = true
	}
	rx := orders.Prescription{}
	for _, side := range []string{"right", "left"} {
		eye := &rx.Right
		if side == "left" {
			eye = &rx.Left
		}
		for _, k := range rxFields {
			key := side + "." + k
			form.Rx[key] = c.PostForm("rx_" + side + "_" + k)
		}
		field := func(k string) *float64 { return parseDecimal(f, "prescription."+side+"."+k, form.Rx[side+"."+k]) }
		eye.Sph, eye.Cyl, eye.Axis, eye.Add, eye.Prism, eye.PD = field("sph"), field("cyl"), field("axis"), field("add"), field("prism"), field("pd")
		form.Rx[side+".base"] = c.PostForm("rx_" + side + "_base")
		eye.Base = form.Rx[side+".base"]
	}
	form.Rx["measured_on"] = strings.TrimSpace(c.PostForm("rx_measured_on"))
	rx.MeasuredOn = form.Rx["measured_on"]
	if c.PostForm("rx_external") == "on" {
		form.Rx["external"], rx.External = "on", true
	}
	if !rx.Empty() {
		in.Prescription = &rx
	}
	form.Mode = c.PostForm("consent_mode")
	in.Consent.Mode = form.Mode
	return form, in
}

// orderNewSubmit validates the staff's part. In tablet mode it keeps a
// draft and hands the screen to the customer; in paper mode the order is
// placed at once and the confirmation prints with empty boxes.
func (s *Server) orderNewSubmit(c *gin.Context) {
	f := consentdesk.FieldErrors{}
	switching := s.switchLang(c)
	form, in := readOrderForm(c, f)
	lang := s.lang(c)
	in.StaffID = staff(c).ID
	valid, err := in.Validate(s.db.Now())
	if switching && err == nil && len(f) == 0 {
		// Only the language changed: the form again, as typed.
		s.render(c, http.StatusOK, "order_new", view{Title: assets.T(lang, "title.order_new"), LangForm: "order-form", Data: form})
		return
	}
	if err != nil || len(f) > 0 {
		if err != nil && consentdesk.ErrorCode(err) != consentdesk.Invalid {
			s.fail(c, err)
			return
		}
		if err != nil {
			for k, v := range err.(*consentdesk.Error).Fields {
				f.Add(k, v)
			}
		}
		s.render(c, http.StatusUnprocessableEntity, "order_new", view{Title: assets.T(lang, "title.order_new"), Flash: assets.T(lang, "err.invalid_input"),
			Errors: translateFields(lang, f.Err()), LangForm: "order-form", Data: form})
		return
	}
	custLang := valid.Customer.Lang
	if valid.Customer.ID != 0 {
		cu, err := s.db.Customer(c.Request.Context(), valid.Customer.ID)
		if err != nil {
			s.render(c, http.StatusUnprocessableEntity, "order_new", view{Title: assets.T(lang, "title.order_new"), Flash: message(lang, err),
				Errors: map[string]string{"customer.id": message(lang, err)}, Data: form})
			return
		}
		custLang = cu.Lang
	}
	if valid.Consent.Mode == orders.ModePaper {
		s.placeAndShow(c, valid, "", custLang)
		return
	}
	id := s.drafts.put(in.StaffID, valid, form, custLang)
	c.Redirect(http.StatusSeeOther, "/orders/consent/"+id)
}

// customerSearch answers the counter's search as the staff type.
func (s *Server) customerSearch(c *gin.Context) {
	list, err := s.db.SearchCustomers(c.Request.Context(), c.Query("q"), 10)
	if err != nil {
		s.fail(c, err)
		return
	}
	if list == nil {
		list = []orders.Customer{}
	}
	if !s.auditSearch(c, list) {
		return
	}
	c.JSON(http.StatusOK, list)
}

// auditSearch logs a customer search like a view (GDPR Art. 5(2)): which
// customers it showed, by number; the words typed are personal data and
// are not logged.
func (s *Server) auditSearch(c *gin.Context, found []orders.Customer) bool {
	if len(found) == 0 {
		return true
	}
	ids := make([]string, len(found))
	for i, cu := range found {
		ids[i] = strconv.FormatInt(cu.ID, 10)
	}
	return s.audit(c, orders.AuditSearch, 0, strings.Join(ids, ","))
}

package pos

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/chain"
	"github.com/consentdesk/consentdesk/pdf"
	"github.com/gin-gonic/gin"
)

// chartWeeks is how many weeks the dashboard's chart shows.
const chartWeeks = 12

type dashboardView struct {
	D        orders.Dashboard
	Chart    template.HTML
	Statuses []followup.Status
	Pending  []orders.Due
	Renewal  []orders.Due
	More     map[string]int
	// Cert is the public certificate (--acme): Until its expiry, Err the
	// last failure to get or renew it.
	Cert *certView
	// Topics: per topic, the recalls due now and the share of customers
	// who chose it on some channel.
	Topics []dashTopic
	// CAReplaced is the day the store CA was replaced lately, "" for
	// none: the tablets must pair again.
	CAReplaced string
}

type dashTopic struct {
	Name    string
	Recalls int
	Recall  bool // a topic ConsentDesk recalls for
	Rate    float64
}

type certView struct {
	Until string
	Err   string
}

const dashboardList = 20

func (s *Server) dashboardPage(c *gin.Context) {
	d, err := s.db.DashboardData(c.Request.Context(), chartWeeks)
	if err != nil {
		s.fail(c, err)
		return
	}
	lang := s.lang(c)
	v := dashboardView{D: d, Chart: rateChart(lang, d.Weeks), Statuses: statuses, More: map[string]int{}}
	v.Pending, v.More["pending"] = cut(d.Pending, dashboardList)
	v.Renewal, v.More["renewal"] = cut(d.Renewal, dashboardList)
	due, err := s.db.RecallsDue(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	rates, err := s.db.TopicRates(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	ctrl, err := s.db.Controller(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	for _, t := range ctrl.TopicList() {
		n, recall := due[t.Key]
		v.Topics = append(v.Topics, dashTopic{Name: t.Name(lang), Recalls: n, Recall: recall, Rate: rates[t.Key]})
	}
	if s.pairing != nil && !s.pairing.Replaced.IsZero() {
		v.CAReplaced = consentdesk.Date(lang, s.pairing.Replaced)
	}
	if s.certStatus != nil {
		until, err := s.certStatus()
		v.Cert = &certView{}
		if !until.IsZero() {
			v.Cert.Until = consentdesk.DateTime(lang, until)
		}
		if err != nil {
			v.Cert.Err = err.Error() // the CA's answer: no personal data
		}
	}
	s.render(c, http.StatusOK, "dashboard", view{Title: assets.T(lang, "title.dashboard"), Data: v})
}

func cut[T any](l []T, n int) ([]T, int) {
	if len(l) <= n {
		return l, 0
	}
	return l[:n], len(l) - n
}

// chartColours tell the channels apart; each also has its own dash
// pattern, so the chart reads without colour too.
var chartColours = map[consent.Channel][2]string{
	consent.Post:  {"#0a5a9c", ""},
	consent.Email: {"#0b6b2f", "8 4"},
	consent.SMS:   {"#a14a00", "2 3"},
	consent.Phone: {"#6b2fa1", "10 3 2 3"},
}

// rateChart draws the consent rate per channel and week as an SVG on the
// server: no script, nothing loaded, and the CSP stays strict (SVG
// presentation attributes are not inline styles).
func rateChart(lang string, weeks []orders.Week) template.HTML {
	const w, h, left, right, top, bottom = 640.0, 260.0, 62.0, 30.0, 12.0, 36.0
	plotW, plotH := w-left-right, h-top-bottom
	x := func(i int) float64 {
		if len(weeks) < 2 {
			return left
		}
		return left + plotW*float64(i)/float64(len(weeks)-1)
	}
	y := func(r float64) float64 { return top + plotH*(1-r) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">`, w, h)
	fmt.Fprintf(&b, `<title id="chart-title">%s</title>`, template.HTMLEscapeString(assets.T(lang, "dash.chart_title")))
	for _, r := range []float64{0, .25, .5, .75, 1} {
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#d0d0d0" stroke-width="1"/>`, left, y(r), w-right, y(r))
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" font-size="14" text-anchor="end" fill="#4a4a4a">%d %%</text>`, left-6, y(r)+5, int(r*100))
	}
	for i, wk := range weeks {
		if i%2 == 1 && i != len(weeks)-1 {
			continue
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" font-size="14" text-anchor="middle" fill="#4a4a4a">%s</text>`, x(i), h-12, wk.Start.Format("02.01."))
	}
	for _, ch := range consent.Channels {
		var pts []string
		for i, wk := range weeks {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(wk.Rate(ch))))
		}
		col := chartColours[ch]
		dash := ""
		if col[1] != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, col[1])
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="3"%s/>`, strings.Join(pts, " "), col[0], dash)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// legendSwatch is the small line beside a channel's name in the legend.
func legendSwatch(ch consent.Channel) template.HTML {
	col := chartColours[ch]
	dash := ""
	if col[1] != "" {
		dash = fmt.Sprintf(` stroke-dasharray="%s"`, col[1])
	}
	return template.HTML(fmt.Sprintf(`<svg width="36" height="12" aria-hidden="true"><line x1="0" y1="6" x2="36" y2="6" stroke="%s" stroke-width="3"%s/></svg>`, col[0], dash))
}

type contactableView struct {
	Counts map[consent.Channel]int
}

func (s *Server) contactablePage(c *gin.Context) {
	v := contactableView{Counts: map[consent.Channel]int{}}
	for _, ch := range consent.Channels {
		list, err := s.db.Contactable(c.Request.Context(), ch)
		if err != nil {
			s.fail(c, err)
			return
		}
		v.Counts[ch] = len(list)
	}
	s.render(c, http.StatusOK, "contactable", view{Title: assets.T(s.lang(c), "title.contactable"), Data: v})
}

// phoneLike is a number in E.164, which may start with "+" safely.
var phoneLike = regexp.MustCompile(`^\+[0-9]{4,15}$`)

// csvCell defuses a cell that a spreadsheet would run as a formula
// (CSV injection): a name typed as "=HYPERLINK(…)" stays text.
func csvCell(v string) string {
	if v != "" && strings.ContainsAny(v[:1], "=+-@\t\r") && !phoneLike.MatchString(v) {
		return "'" + v
	}
	return v
}

// contactableCSV is the campaign export of one channel, for the back
// office and the API. It never holds prescriptions (GDPR Art. 9).
func (s *Server) contactableCSV(c *gin.Context) {
	ch := consent.Channel(c.Query("channel"))
	// ?topic= selects one topic's consent; without it, offers (docs/api.md).
	topic := c.DefaultQuery("topic", consent.TopicOffers)
	list, err := s.db.ContactableFor(c.Request.Context(), ch, topic)
	if err != nil {
		s.fail(c, err)
		return
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true // RFC 4180, 2.1: lines end in CRLF
	if strings.HasPrefix(c.Request.URL.Path, "/api/") {
		// The API's CSV stays as machines read it.
		w.Write([]string{"customer_id", "salutation", "first_name", "last_name", "contact", "lang", "consent_date", "opt_in_level", "notice_version", "legal_basis"})
		for _, r := range list {
			w.Write([]string{strconv.FormatInt(r.CustomerID, 10), csvCell(r.Salutation), csvCell(r.FirstName), csvCell(r.LastName), csvCell(r.Contact),
				r.Lang, r.ConsentDate, string(r.OptInLevel), r.NoticeVersion, string(r.LegalBasis)})
		}
	} else {
		// For the store: German Excel and a Word mail merge read
		// semicolons, a UTF-8 BOM, German column names, the address in
		// its parts, and dates as 29.11.2026.
		buf.WriteString("\uFEFF")
		w.Comma = ';'
		lang := s.lang(c)
		head := []string{"csv.customer_id", "csv.salutation", "csv.first_name", "csv.last_name", "csv.street", "csv.postal_code", "csv.city",
			"csv.contact", "csv.lang", "csv.consent_date", "csv.opt_in_level", "csv.notice_version", "csv.legal_basis"}
		for i, k := range head {
			head[i] = assets.T(lang, k)
		}
		w.Write(head)
		for _, r := range list {
			contact := r.Contact
			if ch == consent.Post {
				contact = ""
			} else if strings.HasPrefix(contact, "+") {
				contact = orders.NationalPhone(contact)
			}
			w.Write([]string{strconv.FormatInt(r.CustomerID, 10), csvCell(r.Salutation), csvCell(r.FirstName), csvCell(r.LastName),
				csvCell(r.Street), csvCell(r.PostalCode), csvCell(r.City), csvCell(contact), r.Lang, dayOf(r.ConsentDate),
				assets.T(lang, "level."+string(r.OptInLevel)), r.NoticeVersion, assets.T(lang, "basis."+string(r.LegalBasis))})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		s.fail(c, err)
		return
	}
	detail, file := fmt.Sprintf("%s:%d", ch, len(list)), fmt.Sprintf("contactable-%s.csv", ch)
	if topic != consent.TopicOffers {
		detail, file = fmt.Sprintf("%s:%d:%s", ch, len(list), topic), fmt.Sprintf("contactable-%s-%s.csv", ch, topic)
	}
	s.sendAudited(c, orders.AuditContactable, 0, detail, fmt.Sprintf(`attachment; filename="%s"`, file),
		"text/csv; charset=utf-8", buf.Bytes())
}

// recordsPDF is the record of processing activities (GDPR Art. 30).
func (s *Server) recordsPDF(c *gin.Context) {
	ctrl, err := s.db.Controller(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	stores, err := s.db.Stores(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	var places []string
	for _, st := range stores {
		places = append(places, strings.TrimRight(strings.Join([]string{st.Name, st.Street, strings.TrimSpace(st.PostalCode + " " + st.City)}, ", "), ", "))
	}
	var buf bytes.Buffer
	if err := pdf.RenderRecords(&buf, pdf.Records{Store: ctrl, Stores: places, MailRelay: s.mailRelay, GeneratedAt: s.db.Now()}); err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Disposition", `inline; filename="verzeichnis-verarbeitungstaetigkeiten.pdf"`)
	c.Data(http.StatusOK, "application/pdf", buf.Bytes())
}

type staffView struct {
	List   []orders.Staff
	Values map[string]string
	Self   int64
	// Stores are those new staff may join (several stores only): every
	// store for a manager of the whole chain, their own for a store's.
	Stores     []orders.Store
	StoreNames map[int64]string
	ChainWide  bool // the signed-in manager is the whole chain's
}

func (s *Server) renderStaff(c *gin.Context, status int, flash string, errs map[string]string, values map[string]string) {
	list, err := s.db.AllStaff(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	if values == nil {
		values = map[string]string{"role": orders.RoleCounter}
	}
	stores, err := s.db.Stores(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	me := staff(c)
	if me.StoreID != 0 { // a store's manager sees their store's staff
		mine := list[:0:0]
		for _, st := range list {
			if st.StoreID == me.StoreID {
				mine = append(mine, st)
			}
		}
		list = mine
	}
	v := staffView{List: list, Values: values, Self: me.ID, StoreNames: map[int64]string{}, ChainWide: me.StoreID == 0}
	for _, st := range stores {
		v.StoreNames[st.ID] = st.Name
		if len(stores) > 1 && (me.StoreID == 0 || me.StoreID == st.ID) {
			v.Stores = append(v.Stores, st)
		}
	}
	s.render(c, status, "staff", view{Title: assets.T(s.lang(c), "title.staff"), Flash: flash, Errors: errs, Data: v})
}

func (s *Server) staffPage(c *gin.Context) {
	flash := ""
	if d := c.Query("done"); d != "" {
		flash = assets.T(s.lang(c), "staff.done_"+map[string]string{"added": "added", "disabled": "disabled", "enabled": "enabled", "pin": "pin", "unlocked": "unlocked"}[d])
	}
	s.renderStaff(c, http.StatusOK, flash, nil, nil)
}

func (s *Server) staffAdd(c *gin.Context) {
	values := map[string]string{"name": c.PostForm("name"), "role": c.PostForm("role"), "store": c.PostForm("store")}
	store, err := s.newStaffStore(c, values["store"], values["role"])
	if err != nil {
		s.staffError(c, err, values)
		return
	}
	st, err := s.db.AddStaff(c.Request.Context(), values["name"], c.PostForm("pin"), values["role"], store)
	if err != nil {
		s.staffError(c, err, values)
		return
	}
	if !s.audit(c, orders.AuditStaff, 0, fmt.Sprintf("add %d", st.ID)) {
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff?done=added")
}

// newStaffStore is the store a new staff member joins. A store's manager
// adds staff to their own store only: never to another, and never a
// manager of the whole chain (more rights than their own). Left empty:
// the only store of a one-store chain, else none — which makes a
// manager the whole chain's and is refused for counter staff.
func (s *Server) newStaffStore(c *gin.Context, form, role string) (int64, error) {
	me := staff(c)
	if form == "" {
		if me.StoreID != 0 {
			return me.StoreID, nil
		}
		stores, err := s.db.Stores(c.Request.Context())
		if err != nil {
			return 0, err
		}
		if len(stores) == 1 && role != orders.RoleManager {
			return stores[0].ID, nil
		}
		return 0, nil
	}
	id, err := strconv.ParseInt(form, 10, 64)
	if err != nil || id < 1 {
		return 0, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"store": "err.store_not_found"}}
	}
	if me.StoreID != 0 && id != me.StoreID {
		return 0, consentdesk.Errorf(consentdesk.Forbidden, "err.own_store_only")
	}
	return id, nil
}

// mayManage answers for a change to staff member id: a manager of the
// whole chain manages everyone, a store's manager the staff of their
// store only (not a manager of the whole chain). It answers the request
// itself where not.
func (s *Server) mayManage(c *gin.Context, id int64) bool {
	all, err := s.db.AllStaff(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return false
	}
	me := staff(c)
	for _, st := range all {
		if st.ID != id {
			continue
		}
		if me.StoreID != 0 && st.StoreID != me.StoreID {
			s.fail(c, consentdesk.Errorf(consentdesk.Forbidden, "err.own_store_only"))
			return false
		}
		return true
	}
	s.notFound(c)
	return false
}

func (s *Server) staffError(c *gin.Context, err error, values map[string]string) {
	switch consentdesk.ErrorCode(err) {
	case consentdesk.Invalid, consentdesk.Conflict:
		lang := s.lang(c)
		flash := message(lang, err)
		s.renderStaff(c, statusOf(err), flash, translateFields(lang, err), values)
	default:
		s.fail(c, err)
	}
}

func (s *Server) staffSetDisabled(disabled bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c)
		if !ok {
			s.notFound(c)
			return
		}
		if !s.mayManage(c, id) {
			return
		}
		if err := s.db.SetStaffDisabled(c.Request.Context(), id, disabled, staff(c).ID); err != nil {
			s.staffError(c, err, nil)
			return
		}
		what, done := "enable", "enabled"
		if disabled {
			what, done = "disable", "disabled"
		}
		if !s.audit(c, orders.AuditStaff, 0, fmt.Sprintf("%s %d", what, id)) {
			return
		}
		c.Redirect(http.StatusSeeOther, "/staff?done="+done)
	}
}

func (s *Server) staffResetPIN(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		s.notFound(c)
		return
	}
	if !s.mayManage(c, id) {
		return
	}
	if err := s.db.ResetPIN(c.Request.Context(), id, c.PostForm("pin")); err != nil {
		s.staffError(c, err, nil)
		return
	}
	if !s.audit(c, orders.AuditStaff, 0, fmt.Sprintf("pin %d", id)) {
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff?done=pin")
}

// staffUnlock lifts a colleague's lockouts: the way back for a manager
// locked out by someone guessing at the PIN from another device.
func (s *Server) staffUnlock(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		s.notFound(c)
		return
	}
	if !s.mayManage(c, id) {
		return
	}
	if err := s.db.Unlock(c.Request.Context(), id); err != nil {
		s.staffError(c, err, nil)
		return
	}
	if !s.audit(c, orders.AuditStaff, 0, fmt.Sprintf("unlock %d", id)) {
		return
	}
	c.Redirect(http.StatusSeeOther, "/staff?done=unlocked")
}

type auditView struct {
	Entries  []orders.Access
	Details  []string // each entry's detail in words
	Customer int64
}

func (s *Server) auditPage(c *gin.Context) {
	f := orders.AuditFilter{Limit: 500}
	if v := c.Query("customer"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			s.fail(c, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"customer": "err.number_invalid"}})
			return
		}
		f.CustomerID = id
	}
	list, err := s.db.AuditLog(c.Request.Context(), f)
	if err != nil {
		s.fail(c, err)
		return
	}
	names, err := s.db.StaffNames(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	lang := s.lang(c)
	v := auditView{Entries: list, Customer: f.CustomerID}
	for _, a := range list {
		v.Details = append(v.Details, auditDetail(lang, a, names))
	}
	s.render(c, http.StatusOK, "audit", view{Title: assets.T(lang, "title.audit"), Data: v})
}

// auditDetail says in words what an entry's detail names: "Mitarbeiter
// hinzugefügt: Anna", "Auftrag 2026-000001", "Dokument 5", not "add 3".
func auditDetail(lang string, a orders.Access, staffNames map[int64]string) string {
	word, rest, _ := strings.Cut(a.Detail, " ")
	id, _ := strconv.ParseInt(rest, 10, 64)
	switch a.Action {
	case orders.AuditStaff:
		if name := staffNames[id]; name != "" && (word == "add" || word == "disable" || word == "enable" || word == "pin" || word == "unlock") {
			return assets.T(lang, "audit.staff."+word, name)
		}
	case orders.AuditView:
		switch {
		case a.Detail == "":
			return assets.T(lang, "audit.what.customer_page")
		case word == "document":
			return assets.T(lang, "audit.what.document", rest)
		}
	case orders.AuditViewOrder, orders.AuditViewRestricted, orders.AuditRestrictedDenied:
		switch {
		case word == "mail":
			return assets.T(lang, "audit.what.mail", rest)
		case word == "document":
			return assets.T(lang, "audit.what.document", rest)
		case a.Detail != "":
			return assets.T(lang, "audit.what.order", a.Detail)
		}
	case orders.AuditContactable:
		if topic, ok := strings.CutPrefix(a.Detail, "recalls"); ok {
			return assets.T(lang, "title.recalls") + strings.ReplaceAll(topic, ":", " ")
		}
		if ch, n, ok := strings.Cut(a.Detail, ":"); ok {
			n, topic, _ := strings.Cut(n, ":")
			out := assets.T(lang, "audit.what.contactable", assets.T(lang, "channel."+ch), n)
			if topic != "" {
				out += " (" + topic + ")"
			}
			return out
		}
	case orders.AuditConsent:
		return assets.T(lang, "source."+a.Detail)
	case orders.AuditUse:
		return assets.T(lang, "channel."+a.Detail)
	case orders.AuditSearch:
		return assets.T(lang, "audit.what.search", a.Detail)
	case orders.AuditEdit:
		fields := strings.Split(a.Detail, ",")
		for i, f := range fields {
			fields[i] = assets.T(lang, "f."+f)
		}
		return strings.Join(fields, ", ")
	}
	return a.Detail
}

// dayOf shows a stored time as the store's day, "29.11.2026" (the CSV
// export is German, as the store's mailing tools expect it).
func dayOf(stamp string) string {
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return stamp
	}
	return consentdesk.Date("de", t)
}

// The chain's stores: each with the address, phone, e-mail
// and opening hours of its letterhead. A manager of the whole chain adds
// and edits every store; a store's manager edits their own.

type storesView struct {
	List  []orders.Store
	Forms []storeFormView
	// Franchise: each store is its own controller (orders.SetFranchise).
	Franchise bool
}

type storeFormView struct {
	ID, Action, Title, Submit string
	Open                      bool
	Fields                    []storeField
}

// storeField is one field of a store's form; Label is its catalogue key.
type storeField struct{ Name, Label, Value, Error string }

// storeFields are the form's fields; the company's (a store's own,
// where each store is its own controller) follow the letterhead's.
var storeFields = []string{"name", "street", "postal_code", "city", "phone", "email", "opening_hours",
	"company_name", "company_legal_form", "company_registered_seat", "company_register_court", "company_register_number",
	"company_managing_directors", "company_vat_id", "company_dpo_contact", "company_supervisory_authority", "company_website"}

// companyFields are where a store's company's details are, by field.
func companyFields(co *consent.Company) map[string]*string {
	return map[string]*string{"company_name": &co.Name, "company_legal_form": &co.LegalForm, "company_registered_seat": &co.Seat,
		"company_register_court": &co.RegCourt, "company_register_number": &co.RegNumber, "company_managing_directors": &co.Directors,
		"company_vat_id": &co.VATID, "company_dpo_contact": &co.DPOContact, "company_supervisory_authority": &co.Authority, "company_website": &co.Website}
}

func storeValues(st orders.Store) map[string]string {
	v := map[string]string{"name": st.Name, "street": st.Street, "postal_code": st.PostalCode, "city": st.City,
		"phone": st.Phone, "email": st.Email, "opening_hours": st.OpeningHours}
	for f, p := range companyFields(&st.Company) {
		v[f] = *p
	}
	return v
}

func storeFromForm(c *gin.Context) orders.Store {
	st := orders.Store{Name: c.PostForm("name"), Street: c.PostForm("street"), PostalCode: c.PostForm("postal_code"), City: c.PostForm("city"),
		Phone: c.PostForm("phone"), Email: c.PostForm("email"), OpeningHours: c.PostForm("opening_hours")}
	for f, p := range companyFields(&st.Company) {
		*p = c.PostForm(f)
	}
	return st
}

// renderStores shows the list and the forms; posted is the form that was
// sent ("new" or a store's id) with what was typed and its errors.
func (s *Server) renderStores(c *gin.Context, status int, flash, posted string, typed orders.Store, errs map[string]string) {
	lang := s.lang(c)
	list, err := s.db.Stores(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	me := staff(c)
	form := func(id, action, title, submit string, vals map[string]string, open bool) storeFormView {
		f := storeFormView{ID: "store_" + id, Action: action, Title: title, Submit: submit, Open: open}
		for _, n := range storeFields {
			fe := storeField{Name: n, Label: "stores." + n, Value: vals[n]}
			if n == "company_managing_directors" && consent.SoleTrader(vals["company_legal_form"], vals["company_name"]) {
				fe.Label = "company.owner" // a sole trader has an owner (§19(1) Nr. 1 HGB)
			}
			if open {
				fe.Error = errs[n]
			}
			f.Fields = append(f.Fields, fe)
		}
		return f
	}
	v := storesView{List: list}
	if v.Franchise, err = s.db.Franchise(c.Request.Context()); err != nil {
		s.fail(c, err)
		return
	}
	for _, st := range list {
		if me.StoreID != 0 && me.StoreID != st.ID {
			continue
		}
		id := strconv.FormatInt(st.ID, 10)
		vals, open := storeValues(st), posted == id
		if open {
			vals = storeValues(typed)
		}
		v.Forms = append(v.Forms, form(id, "/stores/"+id, assets.T(lang, "stores.edit", st.Name), assets.T(lang, "stores.save"), vals, open))
	}
	if me.StoreID == 0 {
		vals := map[string]string{}
		if posted == "new" {
			vals = storeValues(typed)
		}
		v.Forms = append(v.Forms, form("new", "/stores", assets.T(lang, "stores.add"), assets.T(lang, "stores.add_submit"), vals, true))
	}
	s.render(c, status, "stores", view{Title: assets.T(lang, "title.stores"), Flash: flash, Errors: errs, Data: v})
}

func (s *Server) storesPage(c *gin.Context) {
	flash := ""
	if d := c.Query("done"); d == "added" || d == "saved" {
		flash = assets.T(s.lang(c), "stores.done_"+d)
	}
	s.renderStores(c, http.StatusOK, flash, "", orders.Store{}, nil)
}

// storeAdd adds a store: a manager of the whole chain only.
func (s *Server) storeAdd(c *gin.Context) {
	if staff(c).StoreID != 0 {
		s.fail(c, consentdesk.Errorf(consentdesk.Forbidden, "err.chain_manager_only"))
		return
	}
	in := storeFromForm(c)
	st, err := chain.AddStore(c.Request.Context(), s.db, in)
	if err != nil {
		s.storeError(c, err, "new", in)
		return
	}
	if !s.audit(c, orders.AuditStore, 0, fmt.Sprintf("add %d", st.ID)) {
		return
	}
	c.Redirect(http.StatusSeeOther, "/stores?done=added")
}

// storeUpdate changes a store's details: a manager of the whole chain,
// or of that store.
func (s *Server) storeUpdate(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		s.notFound(c)
		return
	}
	if me := staff(c); me.StoreID != 0 && me.StoreID != id {
		s.fail(c, consentdesk.Errorf(consentdesk.Forbidden, "err.own_store_only"))
		return
	}
	in := storeFromForm(c)
	in.ID = id
	if _, err := chain.UpdateStore(c.Request.Context(), s.db, in); err != nil {
		s.storeError(c, err, strconv.FormatInt(id, 10), in)
		return
	}
	if !s.audit(c, orders.AuditStore, 0, fmt.Sprintf("update %d", id)) {
		return
	}
	c.Redirect(http.StatusSeeOther, "/stores?done=saved")
}

func (s *Server) storeError(c *gin.Context, err error, posted string, typed orders.Store) {
	switch consentdesk.ErrorCode(err) {
	case consentdesk.Invalid, consentdesk.Conflict:
		lang := s.lang(c)
		s.renderStores(c, statusOf(err), message(lang, err), posted, typed, translateFields(lang, err))
	default:
		s.fail(c, err)
	}
}

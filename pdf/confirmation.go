package pdf

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/jung-kurt/gofpdf"
)

// Confirmation is everything printed on an order confirmation.
type Confirmation struct {
	Store    consent.Controller
	Order    orders.Order
	Customer orders.Customer
	Notice   consent.NoticeVersion // the version in force when the order was taken
	// Chosen are the cells (channel, topic) granted with this order, with
	// their state; Standing the cells granted before that still stood
	// when it was placed (consent.OrderCells). Both empty in paper mode,
	// where every cell with a contact is an empty box for the pen.
	Chosen, Standing []consent.CellState
	// Health is the state of the prescription consent given with this
	// order ("" for none).
	Health         consent.State
	Signature      []byte // flat PNG, or nil
	PreferencesURL string
	// Representative is the parent or guardian who decided and signed for
	// a child under 16, "Name (Mutter)" (Art. 8 GDPR by analogy).
	Representative string
}

const (
	pageW   = 210.0
	marginL = 20.0
	marginR = 20.0
	textW   = pageW - marginL - marginR
)

func newDocument(store consent.Controller, title, lang string) *gofpdf.Fpdf {
	p, _ := newFootedDocument(store, title, lang)
	return p
}

// pageFooter is what the footer of the page being finished says: whose
// company, in which language, and its page number. A batch of letters
// changes it after each letter's AddPage: gofpdf draws a page's footer
// when the next page is added.
type pageFooter struct {
	store consent.Controller
	lang  string
	// first is the first page of the current letter and of its number
	// of pages; of 0 numbers the whole document ("Seite 3/{nb}").
	first, of int
	// size is the footer's type size in points: 7, and 9 on what the
	// customer reads and signs.
	size float64
}

// newFootedDocument is newDocument with its footer's settings, for a
// document of several letters.
func newFootedDocument(store consent.Controller, title, lang string) (*gofpdf.Fpdf, *pageFooter) {
	p := gofpdf.New("P", "mm", "A4", "")
	p.SetMargins(marginL, 15, marginR)
	// Page streams stay uncompressed: gofpdf allocates a new zlib writer
	// (~1 MB) per stream, which costs more than the bytes saved on a
	// local printer.
	p.SetCompression(false)
	p.SetAutoPageBreak(true, 22)
	addFont(p)
	p.SetTitle(title, true)
	p.SetAuthor(store.Name, true)
	p.SetCreator("ConsentDesk", true)
	f := &pageFooter{store: store, lang: lang, size: 7}
	p.SetFooterFunc(func() {
		// §37a HGB: business letters carry the company's mandatory details.
		setFont(p, false, f.size)
		lh := f.size * 0.46 // mm per line
		// Wrapped between its parts, never inside a name; placed so that
		// its last line ends 5 mm above the sheet's edge.
		lines := wrapParts(p, strings.Split(f.store.CompanyLine(func(k string) string { return assets.T(f.lang, k) }), " · "), " · ", textW)
		n := len(lines) + 1
		for _, line := range lines {
			if w := p.GetStringWidth(clean(line)); w > textW {
				n += int(w / textW) // one part too long for a line
			}
		}
		p.SetY(-(5 + float64(n)*lh))
		p.SetTextColor(90, 90, 90)
		y := p.GetY()
		p.Line(marginL, y, marginL+textW, y)
		for _, line := range lines {
			if p.GetStringWidth(clean(line)) > textW {
				p.MultiCell(textW, lh, clean(line), "", "C", false)
				continue
			}
			p.CellFormat(textW, lh, clean(line), "", 1, "C", false, 0, "")
		}
		label := assets.T(f.lang, "pdf.page", p.PageNo())
		if f.of > 0 {
			label = assets.T(f.lang, "pdf.page_of", p.PageNo()-f.first+1, f.of)
		}
		p.CellFormat(textW, lh, label, "", 0, "C", false, 0, "")
		p.SetTextColor(0, 0, 0)
	})
	p.AliasNbPages("{nb}")
	return p, f
}

// wrapParts joins parts with sep into lines no wider than w in the
// current font, breaking only between parts; a part wider than w stands
// on a line of its own.
func wrapParts(p *gofpdf.Fpdf, parts []string, sep string, w float64) []string {
	var lines []string
	cur := ""
	for _, part := range parts {
		next := part
		if cur != "" {
			next = cur + sep + part
		}
		if cur != "" && p.GetStringWidth(clean(next)) > w {
			lines = append(lines, cur)
			cur = part
			continue
		}
		cur = next
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// setFont picks the size and weight. There is one embedded font: bold is
// drawn by stroking the outline as well (text render mode 2). gofpdf
// parses, hashes and subsets each embedded TrueType font again for every
// document, and a second font would double that cost.
func setFont(p *gofpdf.Fpdf, bold bool, size float64) {
	p.SetFont(fontFamily, "", size)
	if bold {
		p.SetTextRenderingMode(2)
		p.SetLineWidth(0.12)
	} else {
		p.SetTextRenderingMode(0)
		p.SetLineWidth(0.2)
	}
}

func letterhead(p *gofpdf.Fpdf, s consent.Controller, lang string) {
	top := p.GetY()
	if len(s.Logo) > 0 {
		tp := "PNG"
		if s.LogoMIME == "image/jpeg" {
			tp = "JPG"
		}
		info := p.RegisterImageOptionsReader("logo", gofpdf.ImageOptions{ImageType: tp}, bytes.NewReader(s.Logo))
		if p.Ok() && info != nil {
			w, h := info.Extent()
			scale := min(45/w, 20/h)
			p.ImageOptions("logo", pageW-marginR-w*scale, top, w*scale, h*scale, false, gofpdf.ImageOptions{ImageType: tp}, 0, "")
		} else {
			p.ClearError() // a broken logo must not stop the confirmation
		}
	}
	setFont(p, true, 14)
	p.CellFormat(120, 7, clean(s.Name), "", 1, "L", false, 0, "")
	setFont(p, false, 9)
	lines := []string{}
	if s.Branch != "" {
		lines = append(lines, assets.T(lang, "pdf.branch", s.Branch))
	}
	lines = append(lines, s.Address(), strings.Trim("Tel. "+s.Phone+" · "+s.Email, " ·"), s.Website)
	if s.OpeningHours != "" {
		lines = append(lines, assets.T(lang, "pdf.opening_hours", strings.ReplaceAll(s.OpeningHours, "\n", " · ")))
	}
	for _, line := range lines {
		if strings.TrimSpace(line) != "" && line != "Tel. " {
			p.CellFormat(120, 4.5, clean(line), "", 1, "L", false, 0, "")
		}
	}
	p.SetY(max(p.GetY(), top+22) + 4)
}

// RenderConfirmation writes the order confirmation as a PDF to w, in the
// customer's language: headings, items, consent block and notice alike.
func RenderConfirmation(w io.Writer, c Confirmation) error {
	o, cu, s := c.Order, c.Customer, c.Store
	lang := assets.Lang(cu.Lang)
	T := func(key string, args ...any) string { return assets.T(lang, key, args...) }
	var qr func() ([][]bool, error)
	if c.PreferencesURL != "" {
		qr = qrLater(c.PreferencesURL)
	}
	// What the customer reads and signs: nothing under 9 pt, the consent
	// under 10 (read at the counter, often without the old glasses).
	p, foot := newFootedDocument(s, T("pdf.title")+" "+o.Number, lang)
	foot.size = 9
	p.SetAutoPageBreak(true, 27)
	p.AddPage()
	letterhead(p, s, lang)

	// The customer's address block and the order's key facts.
	y := p.GetY()
	setFont(p, false, 10)
	lines := []string{assets.Addressee(lang, cu.Salutation, cu.Name()), cu.Street, strings.TrimSpace(cu.PostalCode + " " + cu.City)}
	for _, l := range lines {
		if l != "" {
			p.CellFormat(95, 5, clean(l), "", 2, "L", false, 0, "")
		}
	}
	p.SetXY(120, y)
	facts := [][2]string{{T("pdf.order_no"), o.Number}, {T("pdf.date"), consentdesk.Date(lang, o.CreatedAt)}, {T("pdf.customer_no"), fmt.Sprint(cu.ID)}}
	if o.StaffName != "" {
		facts = append(facts, [2]string{T("pdf.advised_by"), o.StaffName})
	}
	for _, f := range facts {
		p.SetX(120)
		setFont(p, false, 9)
		p.CellFormat(25, 5, f[0], "", 0, "L", false, 0, "")
		setFont(p, true, 9)
		p.CellFormat(45, 5, clean(f[1]), "", 1, "L", false, 0, "")
	}
	p.SetY(max(p.GetY(), y+22) + 4)

	setFont(p, true, 16)
	p.CellFormat(textW, 9, T("pdf.title"), "", 1, "L", false, 0, "")
	setFont(p, false, 10)
	p.MultiCell(textW, 5, T("pdf.thanks"), "", "L", false)
	p.Ln(2)
	itemTable(p, o, lang, T)

	if o.Pickup != nil {
		p.Ln(3)
		setFont(p, true, 10)
		p.CellFormat(35, 6, T("pdf.pickup"), "", 0, "L", false, 0, "")
		setFont(p, false, 10)
		p.CellFormat(textW-35, 6, consentdesk.Appointment(lang, o.Pickup.Start, o.Pickup.End), "", 1, "L", false, 0, "")
	}

	consentBlock(p, c, qr, T)
	if err := p.Output(w); err != nil {
		return fmt.Errorf("render confirmation: %w", err)
	}
	return nil
}

func itemTable(p *gofpdf.Fpdf, o orders.Order, lang string, T func(string, ...any) string) {
	cols := []struct {
		title string
		w     float64
		align string
	}{{T("pdf.col_pos"), 10, "L"}, {T("pdf.col_description"), 78, "L"}, {T("pdf.col_quantity"), 14, "R"}, {T("pdf.col_unit"), 26, "R"}, {T("pdf.col_vat"), 14, "R"}, {T("pdf.col_total"), 28, "R"}}
	setFont(p, true, 9)
	p.SetFillColor(235, 235, 235)
	for _, col := range cols {
		p.CellFormat(col.w, 6, col.title, "B", 0, col.align, true, 0, "")
	}
	p.Ln(-1)
	setFont(p, false, 9)
	for i, it := range o.Items {
		desc := clean(it.Description)
		descLines := p.SplitText(desc, cols[1].w-2)
		h := 5 * float64(max(1, len(descLines)))
		if p.GetY()+h > 270 {
			p.AddPage()
		}
		y := p.GetY()
		p.CellFormat(cols[0].w, 5, fmt.Sprint(i+1), "", 0, "L", false, 0, "")
		x := p.GetX()
		p.MultiCell(cols[1].w, 5, desc, "", "L", false)
		p.SetXY(x+cols[1].w, y)
		p.CellFormat(cols[2].w, 5, fmt.Sprint(it.Quantity), "", 0, "R", false, 0, "")
		p.CellFormat(cols[3].w, 5, consentdesk.Money(lang, it.UnitPriceCents), "", 0, "R", false, 0, "")
		p.CellFormat(cols[4].w, 5, fmt.Sprintf("%d %%", it.VATRatePercent), "", 0, "R", false, 0, "")
		p.CellFormat(cols[5].w, 5, consentdesk.Money(lang, it.LineCents()), "", 0, "R", false, 0, "")
		p.SetY(y + h)
	}
	p.Line(marginL, p.GetY(), pageW-marginR, p.GetY())
	p.Ln(1)
	row := func(label, value string, bold bool) {
		setFont(p, bold, 9)
		p.CellFormat(textW-28, 5, label, "", 0, "R", false, 0, "")
		p.CellFormat(28, 5, value, "", 1, "R", false, 0, "")
	}
	row(T("pdf.total"), consentdesk.Money(lang, o.TotalCents), true)
	for _, v := range orders.VAT(o.Items) {
		row(T("pdf.vat_contained", v.RatePercent, consentdesk.Money(lang, v.GrossCents)), consentdesk.Money(lang, v.VATCents), false)
	}
	row(T("pdf.deposit"), consentdesk.Money(lang, o.DepositCents), false)
	row(T("pdf.balance"), consentdesk.Money(lang, o.BalanceCents()), true)
}

// contactText is a contact as printed: a mobile or phone number in its
// national form.
func contactText(cu orders.Customer, ch consent.Channel) string {
	contact := cu.Contact(ch)
	if strings.HasPrefix(contact, "+") {
		contact = orders.NationalPhone(contact)
	}
	return contact
}

// cellSentence is the plain sentence beside a cell's box (GDPR Art. 7(2):
// intelligible, in plain language, one purpose per box): the cell's topic
// on the cell's channel, and nothing else.
func cellSentence(c Confirmation, lang string, cell consent.Cell) string {
	s := c.Store.CellPledge(lang, cell, contactText(c.Customer, cell.Channel))
	if cell.Topic == consent.TopicEyeTest {
		// Art. 9(2)(a): the reminder uses the date of the last eye test,
		// a health datum; the box is the explicit consent to that use.
		s += " " + assets.T(lang, "cell.eye_test_explicit", c.Store.Name)
	}
	return s
}

func checkbox(p *gofpdf.Fpdf, x, y float64, ticked bool) {
	p.SetLineWidth(0.35)
	p.Rect(x, y, 4.5, 4.5, "D")
	if ticked {
		p.SetLineWidth(0.6)
		p.Line(x+0.9, y+2.4, x+1.9, y+3.6)
		p.Line(x+1.9, y+3.6, x+3.8, y+0.8)
	}
	p.SetLineWidth(0.2)
}

func consentBlock(p *gofpdf.Fpdf, c Confirmation, qr func() ([][]bool, error), T func(string, ...any) string) {
	lang := assets.Lang(c.Customer.Lang)
	// GDPR Art. 7(2): the consent request is clearly set apart from the
	// contract, under its own heading, on a page of its own.
	p.AddPage()
	p.SetFillColor(240, 244, 248)
	setFont(p, true, 13)
	p.CellFormat(textW, 9, T("pdf.consent_title"), "", 1, "L", true, 0, "")
	setFont(p, false, 10)
	tablet := c.Order.ConsentMode == orders.ModeTablet
	intro := "pdf.consent_intro"
	if tablet {
		intro = "pdf.consent_intro_tablet"
	}
	p.MultiCell(textW, 4.5, clean(T(intro, c.Order.Number)), "", "L", false)
	p.Ln(2)
	postLI := c.Store.PostOnLegitimateInterest()
	if tablet {
		tabletCells(p, c, lang, T)
	} else {
		paperGrid(p, c, lang, T)
	}
	// Under Art. 9(2)(h) with §22 BDSG no consent is asked for the
	// prescription, so no box is printed: a sentence states the basis
	// instead. An order whose customer did consent keeps its box.
	healthGiven := c.Health == consent.Granted || c.Health == consent.Pending
	healthCare := c.Store.HealthLegalBasis() == consent.BasisHealthCare && c.Health == ""
	healthBox := (c.Order.HasPrescription && !healthCare && !tablet) || healthGiven
	if c.Store.ExistingCustomerAds && c.Customer.Email != "" && !c.Customer.Child(c.Order.CreatedAt) {
		// §7(3) Nr. 4 UWG: at collection, the use of the address for
		// similar goods and the right to object, in plain words.
		p.Ln(1)
		setFont(p, true, 10)
		p.CellFormat(textW, 5, clean(T("consent.uwg_title")), "", 1, "L", false, 0, "")
		setFont(p, false, 10)
		p.MultiCell(textW, 4.2, clean(T("consent.uwg_text", c.Store.Name)), "", "L", false)
		p.Ln(1)
	}
	if postLI {
		// Art. 21(4): the right to object, clearly and separately.
		p.Ln(2)
		p.SetFillColor(240, 244, 248)
		setFont(p, true, 10)
		p.CellFormat(textW, 6, T("consent.post_li_title"), "", 1, "L", true, 0, "")
		setFont(p, false, 10)
		p.MultiCell(textW, 4.5, clean(T("consent.post_li_text")), "LRB", "L", false)
		p.Ln(1)
	}
	if healthBox || (healthCare && c.Order.HasPrescription) {
		p.Ln(2)
		setFont(p, true, 10)
		p.CellFormat(textW, 5, T("pdf.health_heading"), "", 1, "L", false, 0, "")
		if healthBox {
			setFont(p, false, 10)
			y := p.GetY()
			checkbox(p, marginL, y+0.3, healthGiven)
			p.SetX(marginL + 7)
			p.MultiCell(textW-7, 4.8, clean(T("pdf.sentence.health_data", c.Store.Name)), "", "L", false)
			p.Ln(1.5)
		} else {
			setFont(p, false, 10)
			p.MultiCell(textW, 4.5, clean(T("pdf.health_care", c.Store.Name)), "", "L", false)
		}
	}
	p.Ln(1)
	setFont(p, true, 10)
	p.CellFormat(textW, 5, T("pdf.objection_title"), "", 1, "L", false, 0, "")
	setFont(p, false, 10)
	// Art. 21(2)-(4) GDPR, §7(3) Nr. 4 UWG: the objection is pointed out
	// for every channel, and how to make it.
	p.MultiCell(textW, 4.2, clean(T("pdf.objection", c.Store.Email, displayPhone(c.Store.Phone), c.Store.Address())), "", "L", false)
	p.Ln(3)

	signatureArea(p, c, T)
	preferencesQR(p, qr, c.PreferencesURL, T)

	p.Ln(4)
	setFont(p, true, 10)
	p.CellFormat(textW, 6, T("pdf.notice_title"), "", 1, "L", false, 0, "")
	setFont(p, false, 9)
	p.SetTextColor(60, 60, 60)
	p.CellFormat(textW, 4, clean(T("pdf.notice_version", c.Notice.ID, noticeDate(lang, c.Notice.PublishedAt))), "", 1, "L", false, 0, "")
	p.SetTextColor(0, 0, 0)
	p.Ln(1)
	for _, para := range strings.Split(strings.TrimSpace(c.Notice.Text), "\n") {
		if strings.TrimSpace(para) == "" {
			p.Ln(1)
			continue
		}
		p.MultiCell(textW, 3.9, clean(para), "", "L", false)
	}
}

// tabletCells prints what the customer chose on the tablet: a ticked box
// for each cell granted with this order, then the cells shown and left
// off, then the consents given earlier that still stand. Nothing a pen
// could add: an empty box would contradict the ledger.
func tabletCells(p *gofpdf.Fpdf, c Confirmation, lang string, T func(string, ...any) string) {
	setFont(p, false, 10)
	for _, cs := range c.Chosen {
		y := p.GetY()
		checkbox(p, marginL, y+0.3, true)
		p.SetX(marginL + 7)
		text := cellSentence(c, lang, cs.Cell)
		if cs.State == consent.Pending {
			text += T("pdf.pending")
		}
		p.MultiCell(textW-7, 4.8, clean(text), "", "L", false)
		p.Ln(1.5)
	}
	if len(c.Chosen) == 0 {
		p.MultiCell(textW, 4.8, T("pdf.none_given"), "", "L", false)
		p.Ln(1)
	}
	// The cells the customer was shown and left off, by channel.
	given := map[consent.Cell]bool{}
	for _, cs := range append(append([]consent.CellState{}, c.Chosen...), c.Standing...) {
		given[cs.Cell] = true
	}
	byChannel := map[consent.Channel][]string{}
	for _, cell := range c.Store.AskedCells(c.Customer.Contact) {
		if !given[cell] {
			byChannel[cell.Channel] = append(byChannel[cell.Channel], cell.Topic)
		}
	}
	var lines []string
	for _, ch := range consent.Channels {
		if len(byChannel[ch]) > 0 {
			lines = append(lines, T("pdf.not_given_on."+string(ch), c.Store.TopicsText(lang, byChannel[ch])))
		}
	}
	if len(lines) > 0 {
		setFont(p, false, 10)
		p.MultiCell(textW, 4.5, clean(T("pdf.not_given", strings.Join(lines, "; "))), "", "L", false)
		p.Ln(1)
	}
	if len(c.Standing) > 0 {
		p.Ln(1)
		setFont(p, true, 10)
		p.MultiCell(textW, 4.5, clean(T("pdf.standing_title")), "", "L", false)
		setFont(p, false, 10)
		for _, cs := range c.Standing {
			text := "• " + c.Store.CellLabel(lang, cs.Cell, contactText(c.Customer, cs.Channel))
			if cs.State == consent.Pending {
				text += T("pdf.pending")
			} else if cs.GrantedAt != "" {
				text += " " + T("pdf.since", noticeDate(lang, cs.GrantedAt))
			}
			p.MultiCell(textW, 4.5, clean(text), "", "L", false)
		}
		p.Ln(1)
	}
}

// paperGrid prints the blank form: one empty box per cell that has a
// contact, for the customer's pen, channel by channel with the contact it
// would use, each box beside its topic. Each box is its own decision; an
// empty one is a no.
func paperGrid(p *gofpdf.Fpdf, c Confirmation, lang string, T func(string, ...any) string) {
	var cols []consent.Channel
	for _, ch := range consent.Channels {
		if c.Customer.Contact(ch) != "" && !(ch == consent.Post && c.Store.PostOnLegitimateInterest()) {
			cols = append(cols, ch)
		}
	}
	if len(cols) == 0 {
		setFont(p, false, 10)
		p.MultiCell(textW, 4.8, T("pdf.no_channels"), "", "L", false)
		p.Ln(1)
		return
	}
	setFont(p, false, 10)
	p.MultiCell(textW, 4.5, clean(T("pdf.grid_intro", c.Store.Name)), "", "L", false)
	p.Ln(1)
	topics := c.Store.TopicList()
	eyeTest := false
	for _, ch := range cols {
		setFont(p, true, 10)
		p.MultiCell(textW, 4.8, clean(T("pdf.channel_col."+string(ch), contactText(c.Customer, ch))), "", "L", false)
		setFont(p, false, 10)
		for i, t := range topics {
			col := i % 2
			if col == 0 && i > 0 {
				p.Ln(5.5)
			}
			x, y := marginL+4+float64(col)*(textW/2), p.GetY()
			checkbox(p, x, y+0.3, false)
			p.SetXY(x+7, y)
			name := t.Name(lang)
			if t.Key == consent.TopicEyeTest {
				name += " *"
				eyeTest = true
			}
			p.CellFormat(textW/2-12, 5, clean(name), "", 0, "L", false, 0, "")
		}
		p.Ln(7)
	}
	setFont(p, false, 10)
	if eyeTest {
		p.MultiCell(textW, 4.6, clean("* "+T("pdf.eye_test_note")), "", "L", false)
	}
	p.MultiCell(textW, 4.6, clean(T("pdf.grid_rule")), "", "L", false)
	p.Ln(1)
}

// displayPhone shows a number as typed in the settings, or in national
// form when it is stored as E.164.
func displayPhone(v string) string {
	if strings.HasPrefix(v, "+49") && !strings.Contains(v, " ") {
		return orders.NationalPhone(v)
	}
	return v
}

func noticeDate(lang, stamp string) string {
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return stamp
	}
	return consentdesk.Date(lang, t)
}

func signatureArea(p *gofpdf.Fpdf, c Confirmation, T func(string, ...any) string) {
	lang := assets.Lang(c.Customer.Lang)
	if p.GetY() > 225 {
		p.AddPage()
	}
	y := p.GetY()
	if c.Order.ConsentMode == orders.ModeTablet {
		// What happened at the counter, never a blank line to sign later.
		if len(c.Signature) > 0 {
			info := p.RegisterImageOptionsReader("signature", gofpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(c.Signature))
			if p.Ok() && info != nil {
				w, h := info.Extent()
				scale := min(70/w, 22/h)
				p.ImageOptions("signature", marginL+85, y, w*scale, h*scale, false, gofpdf.ImageOptions{ImageType: "PNG"}, 0, "")
			} else {
				p.ClearError()
			}
			p.SetY(y + 23)
			p.Line(marginL+85, p.GetY(), pageW-marginR, p.GetY())
		}
		setFont(p, false, 10)
		p.SetX(marginL + 85)
		key := "pdf.signed_tablet"
		if len(c.Signature) == 0 {
			key = "pdf.unsigned_tablet"
		}
		p.MultiCell(textW-85, 4.4, clean(T(key, consentdesk.DateTime(lang, c.Order.CreatedAt))), "", "L", false)
		if c.Representative != "" {
			p.SetX(marginL + 85)
			p.MultiCell(textW-85, 4.4, clean(T("pdf.signed_for", c.Representative, c.Customer.Name())), "", "L", false)
		}
		if len(c.Signature) > 0 {
			p.SetXY(marginL, y+16)
			setFont(p, false, 10)
			p.CellFormat(75, 5, clean(c.Store.City+", "+consentdesk.Date(lang, c.Order.CreatedAt)), "B", 0, "L", false, 0, "")
			p.SetY(y + 33)
		} else {
			p.Ln(3)
		}
		return
	}
	p.SetY(y + 14)
	p.Line(marginL, p.GetY(), marginL+75, p.GetY())
	p.Line(marginL+85, p.GetY(), pageW-marginR, p.GetY())
	setFont(p, false, 10)
	p.CellFormat(85, 4.6, T("pdf.place_date"), "", 0, "L", false, 0, "")
	p.CellFormat(textW-85, 4.6, T("pdf.signature"), "", 1, "L", false, 0, "")
	p.Ln(3)
}

func preferencesQR(p *gofpdf.Fpdf, qr func() ([][]bool, error), url string, T func(string, ...any) string) {
	if url == "" {
		return
	}
	bm, err := qr()
	if err != nil {
		p.SetError(err)
		return
	}
	if p.GetY() > 240 {
		p.AddPage()
	}
	y := p.GetY()
	const side = 30.0
	drawBitmap(p, bm, marginL, y, side)
	p.SetXY(marginL+side+4, y+5)
	setFont(p, true, 10)
	p.CellFormat(textW-side-4, 5, T("pdf.qr_title"), "", 2, "L", false, 0, "")
	setFont(p, false, 10)
	p.MultiCell(textW-side-4, 4.2, T("pdf.qr_text"), "", "L", false)
	p.SetX(marginL + side + 4)
	setFont(p, false, 10)
	p.MultiCell(textW-side-4, 4.2, url, "", "L", false)
	p.SetY(max(p.GetY(), y+side) + 1)
}

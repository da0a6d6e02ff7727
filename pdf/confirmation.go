package pdf

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

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
	// Ticked are the channels and purposes the customer chose in this
	// order, with their state; empty in paper mode.
	Ticked         map[consent.Channel]consent.State
	Signature      []byte // flat PNG, or nil
	PreferencesURL string
}

const (
	pageW   = 210.0
	marginL = 20.0
	marginR = 20.0
	textW   = pageW - marginL - marginR
)

func newDocument(store consent.Controller, title string) *gofpdf.Fpdf {
	p := gofpdf.New("P", "mm", "A4", "")
	p.SetMargins(marginL, 15, marginR)
	// Page streams stay uncompressed: gofpdf allocates a new zlib writer
	// (~1 MB) per stream, which costs more than the bytes saved on a
	// local printer.
	p.SetCompression(false)
	p.SetAutoPageBreak(true, 22)
	// gofpdf writes into the font bytes it is given: each document gets
	// its own copy, or two renders at once race.
	p.AddUTF8FontFromBytes("go", "", bytes.Clone(assets.FontRegular))
	p.SetTitle(title, true)
	p.SetAuthor(store.Name, true)
	p.SetCreator("ConsentDesk", true)
	p.SetFooterFunc(func() {
		// §37a HGB: business letters carry the company's mandatory details.
		p.SetY(-18)
		setFont(p, false, 7)
		p.SetTextColor(90, 90, 90)
		p.MultiCell(textW, 3.2, clean(store.CompanyLine(func(k string) string { return assets.T("de", k) })), "T", "C", false)
		p.CellFormat(textW, 3.2, fmt.Sprintf("Seite %d/{nb}", p.PageNo()), "", 0, "C", false, 0, "")
		p.SetTextColor(0, 0, 0)
	})
	p.AliasNbPages("{nb}")
	return p
}

// setFont picks the size and weight. There is one embedded font: bold is
// drawn by stroking the outline as well (text render mode 2). Each
// embedded TrueType font costs gofpdf about 2 ms per document to parse,
// hash and subset, and a second one would double that.
func setFont(p *gofpdf.Fpdf, bold bool, size float64) {
	p.SetFont("go", "", size)
	if bold {
		p.SetTextRenderingMode(2)
		p.SetLineWidth(0.12)
	} else {
		p.SetTextRenderingMode(0)
		p.SetLineWidth(0.2)
	}
}

func letterhead(p *gofpdf.Fpdf, s consent.Controller) {
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
	for _, line := range []string{s.Address(), strings.Trim("Tel. "+s.Phone+" · "+s.Email, " ·"), s.Website} {
		if strings.TrimSpace(line) != "" && line != "Tel. " {
			p.CellFormat(120, 4.5, clean(line), "", 1, "L", false, 0, "")
		}
	}
	p.SetY(max(p.GetY(), top+22) + 4)
}

// RenderConfirmation writes the order confirmation as a PDF to w.
func RenderConfirmation(w io.Writer, c Confirmation) error {
	o, cu, s := c.Order, c.Customer, c.Store
	p := newDocument(s, "Auftragsbestätigung "+o.Number)
	p.AddPage()
	letterhead(p, s)

	// The customer's address block and the order's key facts.
	y := p.GetY()
	setFont(p, false, 10)
	lines := []string{strings.TrimSpace(cu.Salutation + " " + cu.Name()), cu.Street, strings.TrimSpace(cu.PostalCode + " " + cu.City)}
	for _, l := range lines {
		if l != "" {
			p.CellFormat(95, 5, clean(l), "", 2, "L", false, 0, "")
		}
	}
	p.SetXY(120, y)
	facts := [][2]string{{"Auftrag Nr.", o.Number}, {"Datum", Date(o.CreatedAt)}, {"Kundennr.", fmt.Sprint(cu.ID)}}
	if o.StaffName != "" {
		facts = append(facts, [2]string{"Beraten von", o.StaffName})
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
	p.CellFormat(textW, 9, "Auftragsbestätigung", "", 1, "L", false, 0, "")
	setFont(p, false, 10)
	p.MultiCell(textW, 5, "Vielen Dank für Ihren Auftrag. Wir bestätigen ihn wie folgt:", "", "L", false)
	p.Ln(2)
	itemTable(p, o)

	if o.Pickup != nil {
		p.Ln(3)
		setFont(p, true, 10)
		p.CellFormat(35, 6, "Abholtermin:", "", 0, "L", false, 0, "")
		setFont(p, false, 10)
		p.CellFormat(textW-35, 6, Appointment(o.Pickup.Start, o.Pickup.End), "", 1, "L", false, 0, "")
	}

	consentBlock(p, c)
	if err := p.Output(w); err != nil {
		return fmt.Errorf("render confirmation: %w", err)
	}
	return nil
}

func itemTable(p *gofpdf.Fpdf, o orders.Order) {
	cols := []struct {
		title string
		w     float64
		align string
	}{{"Pos.", 10, "L"}, {"Beschreibung", 78, "L"}, {"Menge", 14, "R"}, {"Einzelpreis", 26, "R"}, {"MwSt.", 14, "R"}, {"Gesamt", 28, "R"}}
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
		p.CellFormat(cols[3].w, 5, Money(it.UnitPriceCents), "", 0, "R", false, 0, "")
		p.CellFormat(cols[4].w, 5, fmt.Sprintf("%d %%", it.VATRatePercent), "", 0, "R", false, 0, "")
		p.CellFormat(cols[5].w, 5, Money(it.LineCents()), "", 0, "R", false, 0, "")
		p.SetY(y + h)
	}
	p.Line(marginL, p.GetY(), pageW-marginR, p.GetY())
	p.Ln(1)
	row := func(label, value string, bold bool) {
		setFont(p, bold, 9)
		p.CellFormat(textW-28, 5, label, "", 0, "R", false, 0, "")
		p.CellFormat(28, 5, value, "", 1, "R", false, 0, "")
	}
	row("Gesamtbetrag (inkl. MwSt.)", Money(o.TotalCents), true)
	for _, v := range orders.VAT(o.Items) {
		row(fmt.Sprintf("darin enthaltene MwSt. %d %% auf %s", v.RatePercent, Money(v.GrossCents)), Money(v.VATCents), false)
	}
	row("Anzahlung erhalten", Money(o.DepositCents), false)
	row("Restbetrag bei Abholung", Money(o.BalanceCents()), true)
}

// channelSentence is the plain sentence beside each box (GDPR Art. 7(2):
// intelligible, in plain language, one purpose per box).
func channelSentence(ch consent.Channel, store string, cu orders.Customer) string {
	contact := cu.Contact(ch)
	if contact == "" {
		contact = "(keine Angabe)"
	}
	switch ch {
	case consent.Post:
		return fmt.Sprintf("Post: Ich möchte Angebote und Neuigkeiten von %s per Brief an %s erhalten.", store, contact)
	case consent.Email:
		return fmt.Sprintf("E-Mail: Ich möchte Angebote und Neuigkeiten von %s per E-Mail an %s erhalten.", store, contact)
	case consent.SMS:
		return fmt.Sprintf("SMS: Ich möchte Angebote und Neuigkeiten von %s per SMS an %s erhalten.", store, contact)
	case consent.Phone:
		return fmt.Sprintf("Telefon: Ich bin einverstanden, dass %s mich unter %s zu Angeboten anruft.", store, contact)
	case consent.HealthData:
		return fmt.Sprintf("Brillenwerte: Ich willige ausdrücklich ein, dass %s meine Brillenwerte (Gesundheitsdaten) verschlüsselt speichert, um diesen und spätere Aufträge auszuführen (Art. 9 Abs. 2 lit. a DSGVO). Sie werden nie für Werbung genutzt.", store)
	}
	return ""
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

func consentBlock(p *gofpdf.Fpdf, c Confirmation) {
	// GDPR Art. 7(2): the consent request is clearly set apart from the
	// contract, under its own heading, on a page of its own.
	p.AddPage()
	p.SetFillColor(240, 244, 248)
	setFont(p, true, 13)
	p.CellFormat(textW, 9, "Einwilligung in Werbung – freiwillig", "", 1, "L", true, 0, "")
	setFont(p, false, 9)
	p.MultiCell(textW, 4.5, clean(fmt.Sprintf("Ihre Einwilligung ist freiwillig und keine Voraussetzung für Ihren Auftrag Nr. %s. "+
		"Kreuzen Sie nur an, was Sie möchten; jedes Kästchen gilt für sich. Sie können jede Einwilligung jederzeit widerrufen, "+
		"ebenso einfach, wie Sie sie erteilt haben (Art. 7 Abs. 3 DSGVO).", c.Order.Number)), "", "L", false)
	p.Ln(2)
	boxes := append([]consent.Channel{}, consent.Channels...)
	// Under Art. 9(2)(h) with §22 BDSG no consent is asked for the
	// prescription, so no box is printed: a sentence states the basis
	// instead. An order whose customer did consent keeps its box.
	healthCare := c.Store.HealthLegalBasis() == consent.BasisHealthCare && c.Ticked[consent.HealthData] == ""
	if (c.Order.HasPrescription && !healthCare) || c.Ticked[consent.HealthData] != "" {
		boxes = append(boxes, consent.HealthData)
	}
	for _, ch := range boxes {
		if ch == consent.HealthData {
			p.Ln(2)
			setFont(p, true, 9)
			p.CellFormat(textW, 5, "Gesundheitsdaten – getrennt von der Werbung", "", 1, "L", false, 0, "")
		}
		setFont(p, false, 9.5)
		y := p.GetY()
		state := c.Ticked[ch]
		checkbox(p, marginL, y+0.3, state == consent.Granted || state == consent.Pending)
		p.SetX(marginL + 7)
		text := channelSentence(ch, c.Store.Name, c.Customer)
		if state == consent.Pending {
			text += " (Bestätigung per E-Mail-Link ausstehend)"
		}
		p.MultiCell(textW-7, 4.8, clean(text), "", "L", false)
		p.Ln(1.5)
	}
	if healthCare && c.Order.HasPrescription {
		p.Ln(2)
		setFont(p, true, 9)
		p.CellFormat(textW, 5, "Gesundheitsdaten – getrennt von der Werbung", "", 1, "L", false, 0, "")
		setFont(p, false, 9)
		p.MultiCell(textW, 4.5, clean(fmt.Sprintf("Brillenwerte: %s speichert Ihre Brillenwerte (Gesundheitsdaten) verschlüsselt, soweit es für Ihre "+
			"augenoptische Versorgung nötig ist (Art. 9 Abs. 2 lit. h, Abs. 3 DSGVO in Verbindung mit § 22 Abs. 1 Nr. 1 lit. b BDSG). "+
			"Dafür ist keine Einwilligung nötig. Sie werden nie für Werbung genutzt.", c.Store.Name)), "", "L", false)
	}
	p.Ln(1)
	setFont(p, true, 9)
	p.CellFormat(textW, 5, "Ihr Widerspruchsrecht", "", 1, "L", false, 0, "")
	setFont(p, false, 8.5)
	// Art. 21(2)-(4) GDPR, §7(3) Nr. 4 UWG: the objection is pointed out
	// for every channel, and how to make it.
	p.MultiCell(textW, 4.2, clean(fmt.Sprintf("Sie können der Werbung an Sie per Post, E-Mail, SMS und Telefon jederzeit widersprechen, "+
		"jedem Weg einzeln oder allen zusammen, ohne dass dafür andere als die Übermittlungskosten nach den Basistarifen entstehen "+
		"(Art. 21 Abs. 2 und 3 DSGVO, § 7 Abs. 3 UWG): über den QR-Code unten, den Link in jeder E-Mail, per E-Mail an %s, "+
		"telefonisch unter %s, per Brief an %s oder im Geschäft. Nach einem Widerspruch nutzen wir Ihre Daten auf diesem Weg nicht mehr für Werbung.",
		c.Store.Email, c.Store.Phone, c.Store.Address())), "", "L", false)
	p.Ln(3)

	signatureArea(p, c)
	preferencesQR(p, c.PreferencesURL)

	p.Ln(4)
	setFont(p, true, 10)
	p.CellFormat(textW, 6, "Datenschutzhinweise", "", 1, "L", false, 0, "")
	setFont(p, false, 7.5)
	p.SetTextColor(60, 60, 60)
	p.CellFormat(textW, 4, clean(fmt.Sprintf("Version %s vom %s · SHA-256 %s", c.Notice.ID, noticeDate(c.Notice.PublishedAt), c.Notice.SHA256)), "", 1, "L", false, 0, "")
	p.SetTextColor(0, 0, 0)
	p.Ln(1)
	for _, para := range strings.Split(strings.TrimSpace(c.Notice.Text), "\n") {
		if strings.TrimSpace(para) == "" {
			p.Ln(1)
			continue
		}
		p.MultiCell(textW, 3.5, clean(para), "", "L", false)
	}
}

func noticeDate(stamp string) string {
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return stamp
	}
	return Date(t)
}

func signatureArea(p *gofpdf.Fpdf, c Confirmation) {
	if p.GetY() > 225 {
		p.AddPage()
	}
	y := p.GetY()
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
		setFont(p, false, 7.5)
		p.SetX(marginL + 85)
		p.MultiCell(textW-85, 3.5, clean(fmt.Sprintf("Am Tablet unterschrieben am %s. SHA-256 der Unterschrift: %s",
			DateTime(c.Order.CreatedAt), c.Order.SignatureSHA256)), "", "L", false)
		p.SetXY(marginL, y+16)
		setFont(p, false, 9)
		p.CellFormat(75, 5, clean(c.Store.City+", "+Date(c.Order.CreatedAt)), "B", 0, "L", false, 0, "")
		p.SetY(y + 33)
		return
	}
	p.SetY(y + 14)
	p.Line(marginL, p.GetY(), marginL+75, p.GetY())
	p.Line(marginL+85, p.GetY(), pageW-marginR, p.GetY())
	setFont(p, false, 8)
	p.CellFormat(85, 4, "Ort, Datum", "", 0, "L", false, 0, "")
	p.CellFormat(textW-85, 4, "Unterschrift", "", 1, "L", false, 0, "")
	p.Ln(3)
}

func preferencesQR(p *gofpdf.Fpdf, url string) {
	if url == "" {
		return
	}
	if p.GetY() > 240 {
		p.AddPage()
	}
	y := p.GetY()
	const side = 30.0
	if err := drawQR(p, url, marginL, y, side); err != nil {
		p.SetError(err)
		return
	}
	p.SetXY(marginL+side+4, y+5)
	setFont(p, true, 9)
	p.CellFormat(textW-side-4, 5, "Einwilligungen ändern oder widerrufen", "", 2, "L", false, 0, "")
	setFont(p, false, 8.5)
	p.MultiCell(textW-side-4, 4.2, "Scannen Sie den Code oder öffnen Sie diese Adresse. Sie sehen Ihre Einstellungen und können "+
		"mit einem Tippen alles widerrufen:", "", "L", false)
	p.SetX(marginL + side + 4)
	setFont(p, false, 8)
	p.MultiCell(textW-side-4, 4.2, url, "", "L", false)
	p.SetY(max(p.GetY(), y+side) + 1)
}

package pdf

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
)

// RecallLetter is one recall by letter: the addressee, what it is about,
// and the preference page the QR code leads to.
type RecallLetter struct {
	Salutation          string
	FirstName, LastName string
	Street              string
	PostalCode, City    string
	Lang                string
	Topic               string
	PreferencesURL      string
	// From is the controller who writes: where each store is its own
	// controller, the customer's store (GDPR Art. 13(1)(a)); the
	// document's store where empty.
	From consent.Controller
}

// DIN 5008 form B, in millimetres from the top left of the A4 sheet: the
// address field begins 45 mm down and 20 mm in (its text 5 mm further),
// 85 mm wide and 45 mm high, the first 17.7 mm for the return address and
// notes, then the address itself. Folded at 105 and 210 mm, it sits in
// the window of a standard DL/C6 window envelope (90 × 45 mm, 20 mm from
// the left, 15 mm from the bottom).
const (
	addrLeft     = 25.0
	addrTop      = 45.0
	returnZone   = 17.7
	addrWidth    = 80.0
	addrZoneH    = 27.3
	foldMark1    = 105.0
	foldMark2    = 210.0
	holeMark     = 148.5
	letterTextY  = 98.4 // the subject line (DIN 5008 form B)
	letterMargin = 25.0
)

// RenderRecallLetters writes one PDF with a letter per customer, each on
// its own sheet: the store's letterhead, the address in the envelope's
// window, the recall, the QR code to the preference page and the notice
// of the right to object (GDPR Art. 21(2), (4)), and the mandatory
// company details (§37a HGB).
func RenderRecallLetters(w io.Writer, store consent.Controller, letters []RecallLetter, now time.Time) error {
	p, foot := newFootedDocument(store, "Erinnerungen", "de")
	p.SetAutoPageBreak(false, 0)
	chain := store
	for _, l := range letters {
		store := chain
		if l.From.Name != "" {
			store = l.From
		}
		lang := assets.Lang(l.Lang)
		T := func(key string, args ...any) string { return assets.T(lang, key, args...) }
		p.AddPage()
		// Each letter is a letter of its own: its sender's company, its
		// language, its own page count.
		foot.store, foot.lang, foot.first, foot.of = store, lang, p.PageNo(), 1
		// Fold and hole marks on the left edge.
		p.SetLineWidth(0.2)
		for _, y := range []float64{foldMark1, foldMark2} {
			p.Line(3, y, 8, y)
		}
		p.Line(3, holeMark, 10, holeMark)

		// Letterhead.
		p.SetXY(letterMargin, 15)
		setFont(p, true, 14)
		p.CellFormat(160, 7, clean(store.Name), "", 1, "L", false, 0, "")
		p.SetX(letterMargin)
		setFont(p, false, 9)
		p.CellFormat(160, 4.5, clean(store.Address()), "", 1, "L", false, 0, "")
		p.SetX(letterMargin)
		contact := strings.Trim(strings.Join([]string{store.Phone, store.Email, store.Website}, " · "), " ·")
		p.CellFormat(160, 4.5, clean(contact), "", 1, "L", false, 0, "")

		// The return address, small, in the window's top line.
		p.SetXY(addrLeft, addrTop+returnZone-5)
		setFont(p, false, 7)
		p.CellFormat(addrWidth, 4, clean(store.Name+" · "+store.Address()), "", 1, "L", false, 0, "")
		// The address itself.
		p.SetXY(addrLeft, addrTop+returnZone+1)
		setFont(p, false, 11)
		name := assets.Addressee(lang, l.Salutation, strings.TrimSpace(l.FirstName+" "+l.LastName))
		for _, line := range []string{name, l.Street, strings.TrimSpace(l.PostalCode + " " + l.City)} {
			if line == "" {
				continue
			}
			p.SetX(addrLeft)
			p.CellFormat(addrWidth, 5, clean(line), "", 1, "L", false, 0, "")
		}

		// Date, right; subject; text.
		p.SetXY(letterMargin, letterTextY-10)
		setFont(p, false, 10)
		p.CellFormat(160, 5, clean(store.City+", "+consentdesk.Date(lang, now)), "", 1, "R", false, 0, "")
		p.SetXY(letterMargin, letterTextY)
		setFont(p, true, 11)
		p.CellFormat(160, 6, clean(T("mail.subject.recall."+l.Topic, store.Name)), "", 1, "L", false, 0, "")
		p.Ln(4)
		setFont(p, false, 10.5)
		greeting := assets.Greeting(lang, l.Salutation, l.FirstName, l.LastName)
		p.SetX(letterMargin)
		p.MultiCell(160, 5.2, clean(greeting), "", "L", false)
		p.Ln(2)
		p.SetX(letterMargin)
		p.MultiCell(160, 5.2, clean(T("letter.recall."+l.Topic, store.Name)), "", "L", false)
		p.Ln(3)
		p.SetX(letterMargin)
		p.MultiCell(160, 5.2, clean(T("letter.closing")+"\n"+T("mail.team", store.Name)), "", "L", false)

		// The QR code to the preference page, and the objection notice.
		y := 205.0
		if err := drawQR(p, l.PreferencesURL, letterMargin, y, 28); err != nil {
			return fmt.Errorf("recall letter QR: %w", err)
		}
		p.SetXY(letterMargin+32, y+1)
		setFont(p, true, 9)
		p.CellFormat(130, 4.5, clean(T("letter.qr_title")), "", 1, "L", false, 0, "")
		p.SetX(letterMargin + 32)
		setFont(p, false, 8.5)
		p.MultiCell(128, 4, clean(T("letter.qr_text")), "", "L", false)
		// The address too, for whoever types rather than scans.
		p.SetX(letterMargin + 32)
		setFont(p, false, 7.5)
		p.MultiCell(128, 3.6, clean(T("letter.qr_link", l.PreferencesURL)), "", "L", false)
		p.SetXY(letterMargin, y+32)
		setFont(p, true, 8.5)
		p.CellFormat(160, 4.5, clean(T("pdf.objection_title")), "", 1, "L", false, 0, "")
		p.SetX(letterMargin)
		setFont(p, false, 8)
		p.MultiCell(160, 3.8, clean(T("letter.objection", store.Email, displayPhone(store.Phone), store.Address())), "", "L", false)
	}
	if len(letters) == 0 {
		p.AddPage()
	}
	return p.Output(w)
}

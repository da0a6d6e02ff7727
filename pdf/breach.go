package pdf

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
)

// BreachLetter is the notification of one customer about a personal data
// breach (GDPR Art. 34): in clear and plain language, the nature of the
// breach, the data protection contact, the likely consequences and the
// measures taken (Art. 34(2) with Art. 33(3)(b)-(d)).
type BreachLetter struct {
	Store    consent.Controller
	Breach   orders.Breach
	Customer orders.Customer
	Date     time.Time
}

// RenderBreachLetter writes the letter as a PDF, in German, the store's
// letters' language.
func RenderBreachLetter(w io.Writer, l BreachLetter) error {
	s, b, cu := l.Store, l.Breach, l.Customer
	p := newDocument(s, "Benachrichtigung über eine Verletzung des Schutzes personenbezogener Daten", "de")
	p.AddPage()
	letterhead(p, s, "de")
	setFont(p, false, 10)
	for _, line := range []string{strings.TrimSpace(cu.Salutation + " " + cu.Name()), cu.Street, strings.TrimSpace(cu.PostalCode + " " + cu.City)} {
		if line != "" {
			p.CellFormat(95, 5, clean(line), "", 2, "L", false, 0, "")
		}
	}
	p.Ln(4)
	p.CellFormat(textW, 5, clean(s.City+", "+consentdesk.Date("de", l.Date)), "", 1, "R", false, 0, "")
	p.Ln(2)
	setFont(p, true, 13)
	p.MultiCell(textW, 6.5, "Wichtige Information: Ihre Daten waren von einer Datenpanne betroffen", "", "L", false)
	setFont(p, false, 10)
	p.Ln(2)
	p.MultiCell(textW, 5, clean(fmt.Sprintf("Guten Tag %s,", strings.TrimSpace(cu.Salutation+" "+cu.LastName))), "", "L", false)
	p.Ln(1)
	p.MultiCell(textW, 5, clean("wir müssen Ihnen mitteilen, dass Daten, die wir über Sie gespeichert haben, von einer Verletzung des Schutzes "+
		"personenbezogener Daten betroffen sind. Wir informieren Sie, weil für Sie ein hohes Risiko bestehen kann (Art. 34 DSGVO)."), "", "L", false)
	when := ""
	if t, err := time.Parse(time.RFC3339Nano, b.OccurredAt); err == nil {
		when = consentdesk.DateTime("de", t)
	}
	heading(p, "Was ist geschehen?")
	facts(p, [][2]string{{"Zeitpunkt", when}, {"Hergang", b.Facts}, {"Betroffene Daten", b.Categories}}, 40)
	if b.HealthData {
		facts(p, [][2]string{{"Gesundheitsdaten", "Auch Brillenwerte (Gesundheitsdaten) sind betroffen."}}, 40)
	}
	heading(p, "Welche Folgen kann das haben?")
	setFont(p, false, 10)
	p.MultiCell(textW, 5, clean(b.Consequences), "", "L", false)
	heading(p, "Was wir getan haben")
	setFont(p, false, 10)
	p.MultiCell(textW, 5, clean(b.Measures), "", "L", false)
	heading(p, "Ihre Ansprechpartner")
	facts(p, [][2]string{{"Datenschutz", s.DPOContact}, {"Geschäft", s.Name + ", " + s.Address() + ", " + s.Phone + ", " + s.Email},
		{"Beschwerde", "Sie können sich bei einer Aufsichtsbehörde beschweren (Art. 77 DSGVO), etwa bei: " + s.Authority}}, 40)
	p.Ln(4)
	setFont(p, false, 10)
	p.MultiCell(textW, 5, clean("Es tut uns leid. Bei Fragen erreichen Sie uns unter den oben genannten Kontaktdaten.\n\nMit freundlichen Grüßen\n"+s.Name), "", "L", false)
	if err := p.Output(w); err != nil {
		return fmt.Errorf("render breach letter: %w", err)
	}
	return nil
}

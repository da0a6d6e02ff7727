// Package pdf renders the printed documents: the order confirmation with
// its consent block. It uses gofpdf with an embedded UTF-8 font, and draws
// QR codes from go-qrcode as vector squares.
package pdf

import (
	"fmt"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/jung-kurt/gofpdf"
	"github.com/skip2/go-qrcode"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/text/unicode/norm"
)

// Berlin is the stores' time zone, for dates printed on paper.
var Berlin = orders.Berlin

var (
	weekdays = [...]string{"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"}
	months   = [...]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}
)

// Date is "22.11.2026".
func Date(t time.Time) string { return t.In(Berlin).Format("02.01.2006") }

// DateTime is "22.11.2026, 14:05 Uhr".
func DateTime(t time.Time) string { return t.In(Berlin).Format("02.01.2006, 15:04") + " Uhr" }

// Appointment is "Donnerstag, 3. Dezember 2026, 10:00–10:30 Uhr".
func Appointment(start, end time.Time) string {
	s, e := start.In(Berlin), end.In(Berlin)
	out := fmt.Sprintf("%s, %d. %s %d, %s", weekdays[s.Weekday()], s.Day(), months[s.Month()-1], s.Year(), s.Format("15:04"))
	if e.YearDay() == s.YearDay() && e.Year() == s.Year() {
		return out + "–" + e.Format("15:04") + " Uhr"
	}
	return out + " Uhr bis " + DateTime(e)
}

var (
	weekdaysEN = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	monthsEN   = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

// AppointmentIn is Appointment in the customer's language: in English
// "Thursday, 3 December 2026, 10:00–10:30".
func AppointmentIn(lang string, start, end time.Time) string {
	if lang != "en" {
		return Appointment(start, end)
	}
	s, e := start.In(Berlin), end.In(Berlin)
	out := fmt.Sprintf("%s, %d %s %d, %s", weekdaysEN[s.Weekday()], s.Day(), monthsEN[s.Month()-1], s.Year(), s.Format("15:04"))
	if e.YearDay() == s.YearDay() && e.Year() == s.Year() {
		return out + "–" + e.Format("15:04")
	}
	return out + " to " + e.Format("02.01.2006, 15:04")
}

// Money is "1.234,56 €".
func Money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	euros := fmt.Sprintf("%d", cents/100)
	var b strings.Builder
	for i, r := range euros {
		if i > 0 && (len(euros)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(r)
	}
	return fmt.Sprintf("%s%s,%02d €", sign, b.String(), cents%100)
}

// printable maps characters the cut-down font lacks onto ones it has, and
// drops control characters. Text from customers is never interpreted:
// gofpdf escapes it as a PDF string.
var printable = strings.NewReplacer(
	"\u201F", "\u201C", "\u2033", "\"", "\u2032", "'", "\u2010", "-", "\u2011", "-", "\u2012", "–", "\u2015", "—",
	"\u00AD", "", "\u200B", "", "\u2009", " ", "\u202F", " ", "\t", " ",
)

// inFont says which runes the embedded font can print, read from its
// cmap once.
var inFont = func() map[rune]bool {
	f, err := sfnt.Parse(assets.FontRegular)
	if err != nil {
		panic(err) // embedded at build time
	}
	var buf sfnt.Buffer
	set := map[rune]bool{}
	for r := rune(0x20); r < 0x3000; r++ {
		if i, err := f.GlyphIndex(&buf, r); err == nil && i != 0 {
			set[r] = true
		}
	}
	return set
}()

func clean(s string) string {
	s = printable.Replace(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || inFont[r]:
			b.WriteRune(r)
		case r < 0x20:
		default:
			// ễ → e: the base letter of a decomposed character, if the
			// font has it; gofpdf panics on a rune outside the font.
			base := []rune(norm.NFD.String(string(r)))[0]
			if inFont[base] {
				b.WriteRune(base)
			} else {
				b.WriteByte('?')
			}
		}
	}
	return b.String()
}

// drawQR draws a QR code for content as filled squares, side mm wide,
// with its quiet zone, at x, y. Vector squares print sharply at any size
// and cost far less than an embedded image.
func drawQR(p *gofpdf.Fpdf, content string, x, y, side float64) error {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return err
	}
	bm := q.Bitmap() // includes the 4-module quiet zone
	n := float64(len(bm))
	m := side / n
	p.SetFillColor(0, 0, 0)
	for r, row := range bm {
		for c := 0; c < len(row); {
			if !row[c] {
				c++
				continue
			}
			start := c
			for c < len(row) && row[c] {
				c++
			}
			// A hair of overlap avoids white seams between runs in some viewers.
			p.Rect(x+float64(start)*m, y+float64(r)*m, float64(c-start)*m+0.01, m+0.01, "F")
		}
	}
	return nil
}

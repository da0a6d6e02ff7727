package followup

import (
	"fmt"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// berlin is the stores' time zone: appointments are shown in local time.
var berlin = consent.Berlin

var (
	weekdaysDE = []string{"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"}
	monthsDE   = []string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}
)

// money is "1.234,56 €" in German and "€1,234.56" in English.
func money(lang string, cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	sep, dec := ".", ","
	if lang == "en" {
		sep, dec = ",", "."
	}
	euros := fmt.Sprintf("%d", cents/100)
	var b strings.Builder
	for i, r := range euros {
		if i > 0 && (len(euros)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	if lang == "en" {
		return fmt.Sprintf("%s€%s%s%02d", sign, b.String(), dec, cents%100)
	}
	return fmt.Sprintf("%s%s%s%02d €", sign, b.String(), dec, cents%100)
}

// date is "22.11.2026" or "22 November 2026".
func date(lang string, t time.Time) string {
	t = t.In(berlin)
	if lang == "en" {
		return t.Format("2 January 2006")
	}
	return t.Format("02.01.2006")
}

// appointment is "Donnerstag, 3. Dezember 2026, 10:00–10:30 Uhr" or
// "Thursday, 3 December 2026, 10:00–10:30".
func appointment(lang string, start, end time.Time) string {
	s, e := start.In(berlin), end.In(berlin)
	var out string
	if lang == "en" {
		out = s.Format("Monday, 2 January 2006, 15:04")
	} else {
		out = fmt.Sprintf("%s, %d. %s %d, %s", weekdaysDE[s.Weekday()], s.Day(), monthsDE[s.Month()-1], s.Year(), s.Format("15:04"))
	}
	if e.Year() == s.Year() && e.YearDay() == s.YearDay() {
		out += "–" + e.Format("15:04")
	} else {
		out += " – " + date(lang, e) + " " + e.Format("15:04")
	}
	if lang != "en" {
		out += " Uhr"
	}
	return out
}

package consentdesk

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // store PCs on Windows have no zone database
)

// Berlin is the stores' time zone: calendar years, days and appointments
// are counted and shown in it. It is loaded here once; consent.Berlin and
// orders.Berlin name this value.
var Berlin = func() *time.Location {
	l, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return l
}()

// The formatting of money, dates and times, in German ("de", the
// default) and English ("en"), for the PDF, the mails and the pages
// alike: one rule, so that an English page never shows a German number.

var (
	weekdaysDE = [...]string{"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"}
	monthsDE   = [...]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}
)

// Money is "1.234,56 €" in German and "€1,234.56" in English.
func Money(lang string, cents int64) string {
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

// Date is "22.11.2026" in German and "22 November 2026" in English, in
// store time.
func Date(lang string, t time.Time) string {
	t = t.In(Berlin)
	if lang == "en" {
		return t.Format("2 January 2006")
	}
	return t.Format("02.01.2006")
}

// DateTime is "22.11.2026, 14:05 Uhr" in German and "22 November 2026,
// 14:05" in English, in store time.
func DateTime(lang string, t time.Time) string {
	t = t.In(Berlin)
	if lang == "en" {
		return t.Format("2 January 2006, 15:04")
	}
	return t.Format("02.01.2006, 15:04") + " Uhr"
}

// Appointment is "Donnerstag, 3. Dezember 2026, 10:00–10:30 Uhr" in
// German and "Thursday, 3 December 2026, 10:00–10:30" in English; one
// that ends on another day says "bis"/"to" and the end's date and time.
func Appointment(lang string, start, end time.Time) string {
	s, e := start.In(Berlin), end.In(Berlin)
	sameDay := e.Year() == s.Year() && e.YearDay() == s.YearDay()
	if lang == "en" {
		out := s.Format("Monday, 2 January 2006, 15:04")
		if sameDay {
			return out + "–" + e.Format("15:04")
		}
		return out + " to " + DateTime(lang, e)
	}
	out := fmt.Sprintf("%s, %d. %s %d, %s", weekdaysDE[s.Weekday()], s.Day(), monthsDE[s.Month()-1], s.Year(), s.Format("15:04"))
	if sameDay {
		return out + "–" + e.Format("15:04") + " Uhr"
	}
	return out + " Uhr bis " + DateTime(lang, e)
}

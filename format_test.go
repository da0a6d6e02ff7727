package consentdesk_test

import (
	"testing"
	"time"

	"github.com/consentdesk/consentdesk"
)

// One formatting for the PDF, the mails and the pages, in German and
// English (an English back office must not show German numbers).
func TestFormatting(t *testing.T) {
	for _, c := range []struct {
		lang  string
		cents int64
		want  string
	}{
		{"de", 123456, "1.234,56 €"}, {"en", 123456, "€1,234.56"}, {"de", -5, "-0,05 €"}, {"en", -5, "-€0.05"},
		{"de", 100000000, "1.000.000,00 €"}, {"en", 0, "€0.00"}, {"", 4590, "45,90 €"},
	} {
		if got := consentdesk.Money(c.lang, c.cents); got != c.want {
			t.Errorf("Money(%q, %d) = %q, want %q", c.lang, c.cents, got, c.want)
		}
	}
	// 23:30 UTC on 31 March is already 1 April in Berlin (summer time).
	at := time.Date(2026, 3, 31, 23, 30, 0, 0, time.UTC)
	for _, c := range [][3]string{
		{"de", consentdesk.Date("de", at), "01.04.2026"},
		{"en", consentdesk.Date("en", at), "1 April 2026"},
		{"de", consentdesk.DateTime("de", at), "01.04.2026, 01:30 Uhr"},
		{"en", consentdesk.DateTime("en", at), "1 April 2026, 01:30"},
	} {
		if c[1] != c[2] {
			t.Errorf("%s: %q, want %q", c[0], c[1], c[2])
		}
	}
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, consentdesk.Berlin)
	for _, c := range []struct {
		lang string
		end  time.Time
		want string
	}{
		{"de", start.Add(30 * time.Minute), "Donnerstag, 3. Dezember 2026, 10:00–10:30 Uhr"},
		{"en", start.Add(30 * time.Minute), "Thursday, 3 December 2026, 10:00–10:30"},
		{"de", start.Add(25 * time.Hour), "Donnerstag, 3. Dezember 2026, 10:00 Uhr bis 04.12.2026, 11:00 Uhr"},
		{"en", start.Add(25 * time.Hour), "Thursday, 3 December 2026, 10:00 to 4 December 2026, 11:00"},
	} {
		if got := consentdesk.Appointment(c.lang, start, c.end); got != c.want {
			t.Errorf("Appointment(%s) = %q, want %q", c.lang, got, c.want)
		}
	}
}

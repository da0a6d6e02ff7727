package pos

import (
	"testing"

	"github.com/consentdesk/consentdesk"
)

// FuzzParseEuros: a price typed on the tablet is refused or read as whole
// cents in range. Seeds: testdata/fuzz/FuzzParseEuros.
func FuzzParseEuros(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		c, ok := parseEuros(v)
		if ok && (c < 0 || c > 1_000_000_000) {
			t.Fatalf("%q → %d", v, c)
		}
	})
}

// FuzzParseDecimal: a prescription value is refused or a finite number.
func FuzzParseDecimal(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		fe := consentdesk.FieldErrors{}
		p := parseDecimal(fe, "x", v)
		if p != nil && (*p != *p || *p > 1e300 || *p < -1e300) {
			t.Fatalf("%q → %v", v, *p)
		}
	})
}

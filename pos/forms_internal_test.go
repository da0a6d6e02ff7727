package pos

import (
	"strconv"
	"strings"
	"testing"

	"github.com/consentdesk/consentdesk"
)

// German numbers are read as Germans write them, and what is ambiguous is
// refused ("1.000" must not be stored as 1,00 €, nor "1,234.50" as 1,23 €).
// The browser test checks order.js against the same table.
var amountCases = []struct {
	in    string
	cents int64
	ok    bool
}{
	{"1.000", 100000, true}, {"1.000,50", 100050, true}, {"1000,50", 100050, true}, {"1000.50", 100050, true},
	{"249,00", 24900, true}, {"12,9", 1290, true}, {"12.5", 1250, true}, {"459", 45900, true}, {"12.500.000", 1250000000, false},
	{"1 000,50 €", 100050, true}, {"", 0, true},
	{"1,234.50", 0, false}, {"1,234", 0, false}, {"1.00.0", 0, false}, {"1,000,00", 0, false}, {"-5", 0, false}, {"zwölf", 0, false}, {"1.2345", 0, false},
}

func TestParseEurosAsGermansWrite(t *testing.T) {
	for _, tc := range amountCases {
		c, ok := parseEuros(tc.in)
		if ok != tc.ok || (ok && c != tc.cents) {
			t.Errorf("%q → %d %v, want %d %v", tc.in, c, ok, tc.cents, tc.ok)
		}
	}
}

// A prescription's numbers as opticians write them, and what is not a
// number refused with the field's error (nothing half-read).
func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"-1,25", -1.25, true}, {"-1.25", -1.25, true}, {"+2,5", 2.5, true}, {" 0,75 ", 0.75, true}, {"−0,5", -0.5, true},
		{"180", 180, true}, {"1000000", 1e6, true}, {"-1000000", -1e6, true},
		{"1000001", 0, false}, {"-1e7", 0, false}, {"1e300", 0, false}, {"1" + strings.Repeat("0", 300), 0, false},
		{"Inf", 0, false}, {"-inf", 0, false}, {"NaN", 0, false}, {"1,2,3", 0, false}, {"zwei", 0, false},
	} {
		fe := consentdesk.FieldErrors{}
		p := parseDecimal(fe, "prescription.right.sph", tc.in)
		if tc.ok != (p != nil) || (p != nil && *p != tc.want) {
			got := "nil"
			if p != nil {
				got = strconv.FormatFloat(*p, 'g', -1, 64)
			}
			t.Errorf("%q → %s, want %v (ok %v)", tc.in, got, tc.want, tc.ok)
		}
		if tc.ok == (len(fe) > 0) {
			t.Errorf("%q: field errors %v, ok %v", tc.in, fe, tc.ok)
		}
	}
	fe := consentdesk.FieldErrors{}
	if p := parseDecimal(fe, "prescription.right.sph", ""); p != nil || len(fe) > 0 {
		t.Errorf("empty → %v, %v; want nil and no error", p, fe)
	}
}

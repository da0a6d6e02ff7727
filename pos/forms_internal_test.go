package pos

import "testing"

// German numbers are read as Germans write them, and what is ambiguous is
// refused (attack test: "1.000" was stored as 1,00 €, "1,234.50" as 1,23 €).
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

package pos

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
)

// parseEuros reads "1.234,56", "1234.56" or "12" as cents.
func parseEuros(v string) (int64, bool) {
	v = strings.Join(strings.Fields(strings.TrimSuffix(strings.TrimSpace(v), "€")), "")
	if v == "" {
		return 0, true
	}
	// One rule, as Germans write amounts (order.js applies the same):
	// "1.000" is a thousand, "1.000,50", "1000,50" and "1000.50" are a
	// thousand and fifty cents; anything else, "1,234.50" or "1,234"
	// among it, is ambiguous and refused rather than guessed.
	var num string
	switch {
	case germanAmount.MatchString(v):
		num = strings.Replace(strings.ReplaceAll(v, ".", ""), ",", ".", 1)
	case thousandsOnly.MatchString(v):
		num = strings.ReplaceAll(v, ".", "")
	case pointDecimal.MatchString(v):
		num = v
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e7 {
		return 0, false
	}
	return int64(math.Round(f * 100)), true
}

var (
	// "1.000,50", "1000,50", "12": digits, optionally in groups of three
	// after dots, and up to two decimals after a comma.
	germanAmount = regexp.MustCompile(`^(\d{1,3}(\.\d{3})+|\d+)(,\d{1,2})?$`)
	// "1.000", "12.500.000": dots between groups of three, no decimals.
	thousandsOnly = regexp.MustCompile(`^\d{1,3}(\.\d{3})+$`)
	// "1000.50", "12.5": one point with one or two decimals.
	pointDecimal = regexp.MustCompile(`^\d+\.\d{1,2}$`)
)

// maxDecimal bounds what a prescription field reads as a number at all.
// The largest value a prescription holds is an axis of 180° or a pupil
// distance of some 80 mm (orders.Prescription.Validate says which range
// each field has, with its own message); a number many orders of
// magnitude beyond that is a slip on the keyboard or a probe, refused
// here as not a number (the fuzz test found 301 digits read as 1e300).
const maxDecimal = 1e6

// parseDecimal reads "-1,25" or "-1.25"; empty is nil.
func parseDecimal(f consentdesk.FieldErrors, field, v string) *float64 {
	v = strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(v, ",", "."), "−", "-"))
	if v == "" {
		return nil
	}
	x, err := strconv.ParseFloat(strings.TrimPrefix(v, "+"), 64)
	if err != nil || math.IsNaN(x) || math.Abs(x) > maxDecimal { // NaN, ±Inf, absurd
		f.Add(field, "err.number_invalid")
		return nil
	}
	return &x
}

// parsePickup combines a date and two times of day in the store's zone.
func parsePickup(f consentdesk.FieldErrors, date, from, to string) (time.Time, time.Time, bool) {
	date, from, to = strings.TrimSpace(date), strings.TrimSpace(from), strings.TrimSpace(to)
	if date == "" && from == "" && to == "" {
		return time.Time{}, time.Time{}, false
	}
	start, err := time.ParseInLocation("2006-01-02 15:04", date+" "+from, consentdesk.Berlin)
	if err != nil {
		f.Add("pickup.start", "err.pickup_invalid")
		return time.Time{}, time.Time{}, false
	}
	end, err := time.ParseInLocation("2006-01-02 15:04", date+" "+to, consentdesk.Berlin)
	if err != nil {
		f.Add("pickup.end", "err.pickup_invalid")
		return time.Time{}, time.Time{}, false
	}
	return start, end, true
}

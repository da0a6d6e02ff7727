package orders_test

import (
	"bytes"
	"image/png"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/orders"
)

// The validators take whatever a tablet, a browser or the ERP sends.
// Seeds: testdata/fuzz/<name>.

func FuzzNormalizeEmail(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := orders.NormalizeEmail(s)
		if !ok {
			return
		}
		if again, ok2 := orders.NormalizeEmail(n); !ok2 || again != n {
			t.Fatalf("%q → %q → %q, %v", s, n, again, ok2)
		}
		if strings.ContainsAny(n, "\r\n<>, ") || strings.Count(n, "@") < 1 || len(n) > 254 {
			t.Fatalf("unsafe address %q accepted from %q", n, s)
		}
	})
}

func FuzzNormalizePhone(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string, mobile bool) {
		n, key := orders.NormalizePhone(s, mobile)
		if key != "" {
			return
		}
		if !strings.HasPrefix(n, "+") || strings.Trim(n[1:], "0123456789") != "" || len(n) > 16 {
			t.Fatalf("%q → %q is not E.164", s, n)
		}
		if again, key := orders.NormalizePhone(n, mobile); key != "" || again != n {
			t.Fatalf("%q → %q → %q %s", s, n, again, key)
		}
	})
}

func FuzzCustomerNormalize(f *testing.F) {
	f.Fuzz(func(t *testing.T, first, last, street, postal, city, email, mobile, phone, salutation string) {
		fe := consentdesk.FieldErrors{}
		c := orders.Customer{Salutation: salutation, FirstName: first, LastName: last, Street: street, PostalCode: postal, City: city,
			Email: email, Mobile: mobile, Phone: phone}.Normalize(fe, "customer.")
		if fe.Err() != nil {
			return
		}
		for _, v := range []string{c.FirstName, c.LastName, c.Street, c.City, c.PostalCode} {
			if !utf8.ValidString(v) || strings.ContainsAny(v, "\x00\r\n") {
				t.Fatalf("control characters accepted: %q", v)
			}
		}
		if c.LastName == "" {
			t.Fatal("no last name accepted")
		}
		fe2 := consentdesk.FieldErrors{}
		if again := c.Normalize(fe2, "customer."); fe2.Err() != nil || again != c {
			t.Fatalf("not stable: %+v → %+v (%v)", c, again, fe2.Err())
		}
	})
}

func FuzzPrescriptionValidate(f *testing.F) {
	f.Fuzz(func(t *testing.T, sph, cyl, axis, add, pd float64, base string) {
		p := orders.Prescription{Right: orders.Eye{Sph: &sph, Cyl: &cyl, Axis: &axis, Add: &add, PD: &pd, Base: base}}
		fe := consentdesk.FieldErrors{}
		p.Validate(fe)
		if fe.Err() != nil {
			return
		}
		for _, v := range []float64{sph, cyl, axis, add, pd} {
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 180 {
				t.Fatalf("out of range accepted: %v", v)
			}
		}
	})
}

func FuzzFlattenSignature(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := orders.FlattenSignature(raw)
		if err != nil {
			if _, ok := err.(*consentdesk.Error); !ok {
				t.Fatalf("not a user-facing error: %v", err)
			}
			return
		}
		img, err := png.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("output is not a PNG: %v", err)
		}
		if img.Bounds().Dx() < 50 || bytes.Contains(out, []byte("tEXt")) {
			t.Fatal("bad output")
		}
	})
}

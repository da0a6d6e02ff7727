package orders_test

import (
	"context"
	"testing"

	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/orderstest"
)

// The counter's search through the trigram index:
// parts of names in any case, e-mail pieces, numbers typed the German
// way, words too short for the index beside longer ones, text that looks
// like the index's query language, characters no name holds, and a
// change of name seen at once.
func TestSearchThroughTheIndex(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	if _, err := db.ImportCustomers(ctx, []orders.Customer{
		{FirstName: "Jürgen", LastName: "Müller", Email: "j.mueller@example.org", Mobile: "+49 170 0004711"},
		{FirstName: "Anna", LastName: "Müllerová", Email: "anna@example.org", Mobile: "+49 171 5550000"},
		{FirstName: "Ömer", LastName: "Yılmaz", Email: "oemer@example.org", Phone: "+49 761 123456"},
		{FirstName: "Al", LastName: "Weber", Email: "al@example.org"},
	}); err != nil {
		t.Fatal(err)
	}
	names := func(q string) []string {
		t.Helper()
		l, err := db.SearchCustomers(ctx, q, 10)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		var out []string
		for _, c := range l {
			out = append(out, c.FirstName)
		}
		return out
	}
	for q, want := range map[string]string{
		"mül":              "Jürgen Anna",
		"MÜLLER":           "Jürgen Anna",
		"jürgen müller":    "Jürgen",
		"0170 0004711":     "Jürgen",
		"+49 170 0004711":  "Jürgen",
		"4711":             "Jürgen",
		"yılmaz":           "Ömer",
		"761":              "Ömer",
		"mueller@":         "Jürgen",
		"al web":           "Al",   // "al" is too short for the index: compared on the candidates
		"an mül":           "Anna", // the same beside a longer word
		`"mül`:             "",     // a quote is text, not syntax
		`mül OR weber`:     "",     // so is OR
		"müller NOT anna":  "",
		"ab":               "",
		"zz":               "",
		"schmidt":          "",
		"müllerová jürgen": "",
		// What no name holds is a space: a NUL byte (FTS5 read it as the
		// query's end, PostgreSQL refuses it), other control characters,
		// bytes that are not UTF-8.
		"mül\x00ler":   "Jürgen Anna",
		"\x00mül":      "Jürgen Anna",
		"mül\x7f":      "Jürgen Anna",
		"mül\xff":      "Jürgen Anna",
		"\x00\x00\x00": "",
		"\x00":         "",
	} {
		got := names(q)
		s := ""
		for i, n := range got {
			if i > 0 {
				s += " "
			}
			s += n
		}
		if s != want {
			t.Errorf("search %q found %q, want %q", q, s, want)
		}
	}

	// A changed name is found under the new one only.
	l, _ := db.SearchCustomers(ctx, "yılmaz", 1)
	c := l[0]
	c.LastName = "Kaya"
	if _, err := db.UpdateCustomer(ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	if got := names("yılmaz"); len(got) != 0 {
		t.Errorf("old name still found: %v", got)
	}
	if got := names("kaya"); len(got) != 1 {
		t.Errorf("new name found %v", got)
	}

	// Erased words leave the index's pages, not only its answers. (On
	// PostgreSQL the erasure's VACUUM cleans the trigram index with the
	// table: TestErasure reads the files.)
	if orderstest.Postgres() {
		return
	}
	var secure string
	if err := db.SQL().QueryRow(`SELECT v FROM customers_fts_config WHERE k = 'secure-delete'`).Scan(&secure); err != nil || secure != "1" {
		t.Errorf("secure-delete of the search index: %q, %v", secure, err)
	}
}

// A name whose umlaut came decomposed (u and a combining diaeresis, as a
// Mac sends it) is stored composed, and found however the umlaut is typed.
func TestDecomposedUmlautsStoredComposed(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	if _, err := db.ImportCustomers(ctx, []orders.Customer{{FirstName: "Jo\u0308rg", LastName: "Mu\u0308ller", Email: "joerg@example.org"}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"müller", "mu\u0308ller", "jörg", "jo\u0308rg mül"} {
		l, err := db.SearchCustomers(ctx, q, 10)
		if err != nil || len(l) != 1 {
			t.Fatalf("search %+q: %v, %v", q, l, err)
		}
		if l[0].LastName != "Müller" || l[0].FirstName != "Jörg" {
			t.Errorf("stored as %+q %+q, want composed", l[0].FirstName, l[0].LastName)
		}
	}
}

// FuzzSearchCustomers: whatever the counter's search field or a script
// sends is searched for; it is never an error (a NUL byte was one).
// Seeds: testdata/fuzz/FuzzSearchCustomers.
func FuzzSearchCustomers(f *testing.F) {
	ctx := context.Background()
	db := openDB(f)
	if _, err := db.ImportCustomers(ctx, []orders.Customer{
		{FirstName: "Jürgen", LastName: "Müller", Email: "j.mueller@example.org", Mobile: "+49 170 0004711"},
	}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		l, err := db.SearchCustomers(ctx, q, 10)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if len(l) > 1 {
			t.Fatalf("%q found %d customers of 1", q, len(l))
		}
	})
}

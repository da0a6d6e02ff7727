package pdf_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/pdf"
)

// The recall letters, read back with pdftotext -bbox: the
// address lies inside the window area of DIN 5008 form B (20 to 105 mm
// from the left, 45 to 90 mm from the top), and each letter carries the
// store, the recall, the QR code's text and the objection notice.
func TestRecallLettersAddressInTheWindow(t *testing.T) {
	needTool(t, "pdftotext")
	store := consent.DefaultController()
	store.Name, store.Street, store.PostalCode, store.City = "Optik Müller GmbH", "Marktplatz 3", "79098", "Freiburg"
	letters := []pdf.RecallLetter{
		{Salutation: "Frau", FirstName: "Jana", LastName: "Weiß", Street: "Hauptstraße 1", PostalCode: "79098", City: "Freiburg", Lang: "de", Topic: consent.TopicEyeTest, PreferencesURL: "https://optik.example/p/abc"},
		{Salutation: "Herr", FirstName: "James", LastName: "Miller", Street: "Am Rain 12a", PostalCode: "79100", City: "Freiburg", Lang: "en", Topic: consent.TopicContactLenses, PreferencesURL: "https://optik.example/p/def"},
	}
	var b bytes.Buffer
	if err := pdf.RenderRecallLetters(&b, store, letters, time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	words, page := bboxWords(t, b.Bytes())
	if page != 2 {
		t.Fatalf("%d pages, want one letter each", page)
	}
	for i, l := range letters {
		for _, w := range []string{l.FirstName, l.LastName, strings.Fields(l.Street)[0], l.PostalCode, l.City} {
			found := false
			for _, got := range words {
				if got.page == i+1 && got.text == w && got.y0 >= 62.7 && got.y1 <= 90 {
					found = true
					if got.x0 < 20 || got.x1 > 105 {
						t.Errorf("letter %d: %q at x %.1f–%.1f mm, outside the window", i+1, w, got.x0, got.x1)
					}
				}
			}
			if !found {
				t.Errorf("letter %d: %q not in the address zone (62.7–90 mm from the top)", i+1, w)
			}
		}
	}
	text := pdftotext(t, b.Bytes())
	for _, want := range []string{"Sehtest", "contact", "Widerspruch", "QR-Code", "Müller"} {
		if !strings.Contains(text, want) {
			t.Errorf("the letters lack %q", want)
		}
	}
}

// A letter reads as a letter, in its own language (pdftotext): no "reply
// to this e-mail", the QR code pointed to where it is (above the
// objection), its address printed under it, the company's footer wrapped
// between its parts, and each letter's own page count. The English one
// says "Dear Mr Miller", "Mr James Miller" in the window and "Page 1 of
// 1".
func TestRecallLettersReadAsLetters(t *testing.T) {
	needTool(t, "pdftotext")
	store := consent.DefaultController()
	letters := []pdf.RecallLetter{
		{Salutation: "Frau", FirstName: "Jana", LastName: "Weiß", Street: "Hauptstraße 1", PostalCode: "79098", City: "Freiburg", Lang: "de", Topic: consent.TopicEyeTest, PreferencesURL: "https://optik.example/p/abc"},
		{Salutation: "Herr", FirstName: "James", LastName: "Miller", Street: "Am Rain 12a", PostalCode: "79100", City: "Freiburg", Lang: "en", Topic: consent.TopicContactLenses, PreferencesURL: "https://optik.example/p/def"},
	}
	var b bytes.Buffer
	if err := pdf.RenderRecallLetters(&b, store, letters, time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	pages := strings.Split(pdftotext(t, b.Bytes()), "\f")
	de, en := strings.Join(strings.Fields(pages[0]), " "), strings.Join(strings.Fields(pages[1]), " ")
	for _, c := range []struct {
		page, want string
		yes        bool
	}{
		{de, "E-Mail oder rufen", false}, {de, "diese E-Mail", false}, {de, "QR-Code unten", false}, {de, "QR-Code oben", true},
		{de, "Oder diese Adresse eingeben: https://optik.example/p/abc", true}, {de, "Seite 1/1", true}, {de, "Seite 1/2", false},
		{de, "Guten Tag Frau Weiß,", true}, {de, "Frau Jana Weiß Hauptstraße 1", true},
		{en, "Dear Mr Miller,", true}, {en, "Herr", false}, {en, "Mr James Miller Am Rain 12a", true}, {en, "Page 1 of 1", true}, {en, "Seite", false},
		{en, "this e-mail", false}, {en, "QR code above", true}, {en, "Or type this address: https://optik.example/p/def", true},
	} {
		if strings.Contains(c.page, c.want) != c.yes {
			t.Errorf("%q in the letter: %v, want %v\n%s", c.want, !c.yes, c.yes, c.page)
		}
	}
	// The footer breaks between its parts: no line holds a part cut.
	for _, line := range strings.Split(pdftotext(t, b.Bytes()), "\n") {
		if strings.TrimSpace(line) == "Muster" {
			t.Errorf("the footer wraps inside a name: %q stands alone", "Muster")
		}
	}
}

// word is one word of a PDF as pdftotext -bbox places it, in mm from the
// page's top left.
type word struct {
	page           int
	x0, y0, x1, y1 float64
	text           string
}

// bboxWords reads a PDF's words with their boxes (pdftotext -bbox), and
// its number of pages.
func bboxWords(t *testing.T, doc []byte) ([]word, int) {
	t.Helper()
	needTool(t, "pdftotext")
	file := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-bbox", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext -bbox: %v\n%s", err, out)
	}
	var words []word
	page := 0
	const mm = 72 / 25.4
	re := regexp.MustCompile(`<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>`)
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "<page ") {
			page++
		}
		if m := re.FindStringSubmatch(line); m != nil {
			f := func(i int) float64 { v, _ := strconv.ParseFloat(m[i], 64); return v / mm }
			words = append(words, word{page, f(1), f(2), f(3), f(4), m[5]})
		}
	}
	return words, page
}

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
		{Salutation: "Frau", Name: "Jana Weiß", Street: "Hauptstraße 1", PostalCode: "79098", City: "Freiburg", Lang: "de", Topic: consent.TopicEyeTest, PreferencesURL: "https://optik.example/p/abc"},
		{Salutation: "Mr", Name: "John Miller", Street: "Am Rain 12a", PostalCode: "79100", City: "Freiburg", Lang: "en", Topic: consent.TopicContactLenses, PreferencesURL: "https://optik.example/p/def"},
	}
	var b bytes.Buffer
	if err := pdf.RenderRecallLetters(&b, store, letters, time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "letters.pdf")
	os.WriteFile(file, b.Bytes(), 0o600)
	out, err := exec.Command("pdftotext", "-bbox", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext -bbox: %v\n%s", err, out)
	}
	type word struct {
		page           int
		x0, y0, x1, y1 float64 // mm
		text           string
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
	if page != 2 {
		t.Fatalf("%d pages, want one letter each", page)
	}
	for i, l := range letters {
		for _, w := range append(strings.Fields(l.Name), strings.Fields(l.Street)[0], l.PostalCode, l.City) {
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
	text := string(out)
	for _, want := range []string{"Sehtest", "contact", "Widerspruch", "QR-Code", "Müller"} {
		if !strings.Contains(text, want) {
			t.Errorf("the letters lack %q", want)
		}
	}
}

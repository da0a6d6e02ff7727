package pdf_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/pdf"
)

// An outside checker found the proof's "Stand je Kanal" label
// "Brillenwerte (Gesundheitsdaten)" running into its value. Every word of
// a label must end left of the value column (20 mm margin + 40 mm label).
func TestProofLabelsDoNotRunIntoValues(t *testing.T) {
	needTool(t, "pdftotext")
	now := time.Now().UTC().Format(time.RFC3339Nano)
	pr := pdf.Proof{Store: consent.DefaultController(), Customer: orders.Customer{ID: 7, FirstName: "Jana", LastName: "Weiß"},
		Events: []consent.Event{{Seq: 1, CustomerID: 7, Channel: consent.HealthData, Action: consent.Grant, OptInLevel: consent.SingleOptIn,
			LegalBasis: consent.BasisExplicitConsent, Source: consent.CounterTablet, Actor: consent.ByCustomer, NoticeVersionID: "de-1", CreatedAt: now}},
		GeneratedAt: time.Now()}
	var b bytes.Buffer
	if err := pdf.RenderProof(&b, pr); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "proof.pdf"), filepath.Join(dir, "proof.html")
	os.WriteFile(in, b.Bytes(), 0o600)
	if msg, err := exec.Command("pdftotext", "-bbox", in, out).CombinedOutput(); err != nil {
		t.Fatalf("pdftotext: %v %s", err, msg)
	}
	html, _ := os.ReadFile(out)
	// No word may overlap another on its line: a label running into its
	// value is two words drawn over each other.
	type word struct {
		text           string
		x0, y0, x1, y1 float64
	}
	wordRE := regexp.MustCompile(`<word xMin="([0-9.]+)" yMin="([0-9.]+)" xMax="([0-9.]+)" yMax="([0-9.]+)">([^<]*)</word>`)
	found := false
	for _, page := range bytes.Split(html, []byte("<page ")) {
		var words []word
		for _, m := range wordRE.FindAllSubmatch(page, -1) {
			f := func(i int) float64 { v, _ := strconv.ParseFloat(string(m[i]), 64); return v }
			words = append(words, word{string(m[5]), f(1), f(2), f(3), f(4)})
			found = found || string(m[5]) == "(Gesundheitsdaten)"
		}
		for i, a := range words {
			for _, b := range words[i+1:] {
				sameLine := a.y0 < b.y1-1 && b.y0 < a.y1-1
				if sameLine && a.x0 < b.x1-0.5 && b.x0 < a.x1-0.5 {
					t.Errorf("%q and %q are drawn over each other", a.text, b.text)
				}
			}
		}
	}
	if !found {
		t.Fatal("the label is not in the proof")
	}
}

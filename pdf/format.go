// Package pdf renders the printed documents: the order confirmation with
// its consent block. It uses gofpdf with an embedded UTF-8 font, and draws
// QR codes from go-qrcode as vector squares.
package pdf

import (
	"strings"

	"github.com/jung-kurt/gofpdf"
	"github.com/skip2/go-qrcode"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/text/unicode/norm"
)

// printable maps characters the font lacks onto ones it has, and drops
// invisible ones. Text from customers is never interpreted: gofpdf
// escapes it as a PDF string.
var printable = strings.NewReplacer(
	"\u201F", "\u201C", "\u2010", "-", "\u2011", "-", "\u2012", "–",
	"\u00AD", "", "\u200B", "", "\u2009", " ", "\u202F", " ", "\t", " ",
)

// inFont says which runes the embedded font can print, read from its
// cmap once.
var inFont = func() map[rune]bool {
	f, err := sfnt.Parse(goregular.TTF)
	if err != nil {
		panic(err) // embedded at build time
	}
	var buf sfnt.Buffer
	set := map[rune]bool{}
	for r := rune(0x20); r < 0x3000; r++ {
		if i, err := f.GlyphIndex(&buf, r); err == nil && i != 0 {
			set[r] = true
		}
	}
	return set
}()

func clean(s string) string {
	// Composed first: "u" and a combining diaeresis (as a Mac sends an
	// umlaut) are "ü", which the font has; the mark alone it has not,
	// and it printed as "?".
	s = norm.NFC.String(printable.Replace(s))
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || inFont[r]:
			b.WriteRune(r)
		case r < 0x20:
		default:
			// ễ → e: the base letter of a decomposed character, if the
			// font has it; gofpdf panics on a rune outside the font.
			base := []rune(norm.NFD.String(string(r)))[0]
			if inFont[base] {
				b.WriteRune(base)
			} else {
				b.WriteByte('?')
			}
		}
	}
	return b.String()
}

// drawQR draws a QR code for content as filled squares, side mm wide,
// with its quiet zone, at x, y. Vector squares print sharply at any size
// and cost far less than an embedded image.
func drawQR(p *gofpdf.Fpdf, content string, x, y, side float64) error {
	bm, err := qrBitmap(content)
	if err != nil {
		return err
	}
	drawBitmap(p, bm, x, y, side)
	return nil
}

// qrBitmap encodes content as a QR code's modules, with the 4-module
// quiet zone.
func qrBitmap(content string) ([][]bool, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	return q.Bitmap(), nil
}

// qrLater starts encoding content on another goroutine and returns a
// function that waits for the result. go-qrcode tries all eight masks,
// about a third of a confirmation's time: on a second core it runs while
// the first pages are laid out, off the time the counter waits.
func qrLater(content string) func() ([][]bool, error) {
	type result struct {
		bm  [][]bool
		err error
	}
	done := make(chan result, 1) // buffered: the goroutine never waits
	go func() {
		bm, err := qrBitmap(content)
		done <- result{bm, err}
	}()
	return func() ([][]bool, error) {
		r := <-done
		return r.bm, r.err
	}
}

// drawBitmap draws QR modules as filled squares, side mm wide, at x, y.
func drawBitmap(p *gofpdf.Fpdf, bm [][]bool, x, y, side float64) {
	n := float64(len(bm))
	m := side / n
	p.SetFillColor(0, 0, 0)
	for r, row := range bm {
		for c := 0; c < len(row); {
			if !row[c] {
				c++
				continue
			}
			start := c
			for c < len(row) && row[c] {
				c++
			}
			// A hair of overlap avoids white seams between runs in some viewers.
			p.Rect(x+float64(start)*m, y+float64(r)*m, float64(c-start)*m+0.01, m+0.01, "F")
		}
	}
}

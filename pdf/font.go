package pdf

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/jung-kurt/gofpdf"
	"golang.org/x/image/font/gofont/goregular"
)

// fontFamily is the one font every document embeds: the Go font's
// regular weight, from its module. gofpdf parses it again for each
// document and embeds only the glyphs the document uses.
const fontFamily = "go"

// fontError says whether gofpdf can read the font, checked once per
// process. gofpdf prints a parse error to stdout instead of setting
// Err(), and the document then fails on "undefined font" without the
// reason; the bytes never change, so one check answers for every
// document, and a failed parse is not repeated for each of them.
var fontError = sync.OnceValue(func() error { return fontLoads(goregular.TTF) })

// fontLoads adds ttf to a scratch document and selects it. gofpdf
// reads past the end of a truncated font and panics: that is an error
// here too.
func fontLoads(ttf []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gofpdf cannot read the Go font: %v", r)
		}
	}()
	p := gofpdf.New("P", "mm", "A4", "")
	p.AddUTF8FontFromBytes(fontFamily, "", bytes.Clone(ttf))
	p.SetFont(fontFamily, "", 10)
	if err := p.Error(); err != nil {
		return fmt.Errorf("gofpdf cannot read the Go font: %w", err)
	}
	return nil
}

// addFont gives p the font. gofpdf writes into the bytes it is given (it
// pads tables in place to checksum them), so each document gets its own
// copy, or two renders at once race.
func addFont(p *gofpdf.Fpdf) {
	if err := fontError(); err != nil {
		p.SetError(err)
		return
	}
	p.AddUTF8FontFromBytes(fontFamily, "", bytes.Clone(goregular.TTF))
}

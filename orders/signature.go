package orders

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"image/draw"
	"image/png"

	"github.com/consentdesk/consentdesk/consent"
)

const (
	maxSignatureBytes = 1 << 20
	maxSignatureSide  = 3000
)

// FlattenSignature turns the PNG drawn on the tablet into a flat grey
// image on white. Decoding and encoding again drops anything but the
// pixels: no pressure or timing data, which could be biometric data
// (GDPR Art. 4(14), Art. 9), and no text chunks.
func FlattenSignature(raw []byte) ([]byte, error) {
	bad := func(key string) error {
		return &consent.Error{Code: consent.Invalid, Key: "err.invalid_input", Fields: map[string]string{"consent.signature_png": key}}
	}
	if len(raw) > maxSignatureBytes {
		return nil, bad("err.signature_too_large")
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, bad("err.signature_not_png")
	}
	if cfg.Width < 50 || cfg.Height < 20 || cfg.Width > maxSignatureSide || cfg.Height > maxSignatureSide {
		return nil, bad("err.signature_size")
	}
	src, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, bad("err.signature_not_png")
	}
	b := src.Bounds()
	rgba := image.NewRGBA(b)
	draw.Draw(rgba, b, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(rgba, b, src, b.Min, draw.Over)
	gray := image.NewGray(b)
	inked := 0
	// The pixels straight from the buffers, with color.GrayModel's
	// weights: the per-pixel interface calls of At and Convert cost more
	// than the rest of an order (see BENCHMARKS.md, load).
	for i, j := 0, 0; i < len(rgba.Pix); i, j = i+4, j+1 {
		r, g, bl := uint32(rgba.Pix[i]), uint32(rgba.Pix[i+1]), uint32(rgba.Pix[i+2])
		y := uint8((19595*r*0x101 + 38470*g*0x101 + 7471*bl*0x101 + 1<<15) >> 24)
		gray.Pix[j] = y
		if y < 160 {
			inked++
		}
	}
	if inked < 20 {
		return nil, bad("err.signature_empty")
	}
	var out bytes.Buffer
	// BestSpeed: a signature is a few kB either way, and the strongest
	// setting tripled the time of an order.
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, gray); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// SHA256Hex is the hex SHA-256 of b, as recorded for evidence.
func SHA256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

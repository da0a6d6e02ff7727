package orders

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"sync"

	"github.com/consentdesk/consentdesk"
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
		return &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"consent.signature_png": key}}
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
	gray, inked := flatten(src)
	if inked < 20 {
		return nil, bad("err.signature_empty")
	}
	var out bytes.Buffer
	// BestSpeed: a signature is a few kB either way, and the strongest
	// setting tripled the time of an order.
	if err := signatureEncoder.Encode(&out, gray); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// signatureEncoder writes signatures at BestSpeed and reuses its zlib
// writers: a new one allocates several hundred kB, more work than
// compressing a signature.
var signatureEncoder = &png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &encoderPool{}}

type encoderPool struct{ p sync.Pool }

func (e *encoderPool) Get() *png.EncoderBuffer {
	b, _ := e.p.Get().(*png.EncoderBuffer)
	return b
}
func (e *encoderPool) Put(b *png.EncoderBuffer) { e.p.Put(b) }

// flatten lays src over white and turns it grey, with color.GrayModel's
// weights, and counts the inked pixels. A tablet's canvas arrives as
// non-premultiplied RGBA: that case is done in one pass over the buffers,
// with image/draw's own arithmetic, so that the pixels (and so the hash
// kept as evidence) are exactly those of the general path below; the
// per-pixel interface calls and the two extra passes there cost more
// than the rest of an order (see BENCHMARKS.md, load).
func flatten(src image.Image) (*image.Gray, int) {
	b := src.Bounds()
	gray := image.NewGray(b)
	inked := 0
	put := func(j int, r, g, bl uint32) {
		y := uint8((19595*r*0x101 + 38470*g*0x101 + 7471*bl*0x101 + 1<<15) >> 24)
		gray.Pix[j] = y
		if y < 160 {
			inked++
		}
	}
	if n, ok := src.(*image.NRGBA); ok {
		const m = 1<<16 - 1
		j := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := n.Pix[n.PixOffset(b.Min.X, y):]
			for i := 0; i < 4*b.Dx(); i += 4 {
				s := row[i : i+4 : i+4]
				switch s[3] {
				case 0: // blank canvas: white, as the arithmetic below gives
					gray.Pix[j] = 255
					j++
					continue
				case 255: // opaque ink: its own colour
					put(j, uint32(s[0]), uint32(s[1]), uint32(s[2]))
					j++
					continue
				}
				sa := uint32(s[3]) * 0x101
				a := (m - sa) * 0x101
				over := func(c uint8) uint32 { return uint32(uint8((255*a/m + uint32(c)*sa/0xff) >> 8)) }
				put(j, over(s[0]), over(s[1]), over(s[2]))
				j++
			}
		}
		return gray, inked
	}
	rgba := image.NewRGBA(b)
	draw.Draw(rgba, b, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(rgba, b, src, b.Min, draw.Over)
	for i, j := 0, 0; i < len(rgba.Pix); i, j = i+4, j+1 {
		put(j, uint32(rgba.Pix[i]), uint32(rgba.Pix[i+1]), uint32(rgba.Pix[i+2]))
	}
	return gray, inked
}

// SHA256Hex is the hex SHA-256 of b, as recorded for evidence.
func SHA256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

package orders

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math/rand/v2"
	"testing"
)

// oldFlatten is the flattening as it was before the one-pass path for
// canvas images: image/draw over white, then grey. The new path must give
// the same pixels, or signatures taken before and after would be drawn
// differently and a re-flattened scan would not match its hash.
func oldFlatten(src image.Image) []byte {
	b := src.Bounds()
	rgba := image.NewRGBA(b)
	draw.Draw(rgba, b, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(rgba, b, src, b.Min, draw.Over)
	gray := image.NewGray(b)
	for i, j := 0, 0; i < len(rgba.Pix); i, j = i+4, j+1 {
		r, g, bl := uint32(rgba.Pix[i]), uint32(rgba.Pix[i+1]), uint32(rgba.Pix[i+2])
		gray.Pix[j] = uint8((19595*r*0x101 + 38470*g*0x101 + 7471*bl*0x101 + 1<<15) >> 24)
	}
	return gray.Pix
}

func TestFlattenOnePassMatchesImageDraw(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, r := range []image.Rectangle{image.Rect(0, 0, 300, 100), image.Rect(7, 3, 64, 41)} {
		n := image.NewNRGBA(r)
		for i := range n.Pix {
			n.Pix[i] = uint8(rng.IntN(256))
		}
		// Every alpha with every colour value at least once.
		for a := 0; a < 256 && 4*a < len(n.Pix); a++ {
			n.Pix[4*a+3] = uint8(a)
		}
		sub := n.SubImage(image.Rect(r.Min.X+5, r.Min.Y+2, r.Max.X-3, r.Max.Y-1)).(*image.NRGBA)
		for _, img := range []*image.NRGBA{n, sub} {
			got, _ := flatten(img)
			if want := oldFlatten(img); !bytes.Equal(got.Pix, want) {
				t.Fatalf("%v: one-pass pixels differ from image/draw's", img.Bounds())
			}
		}
	}
	// Other image types take the general path.
	g := image.NewRGBA(image.Rect(0, 0, 60, 30))
	for i := range g.Pix {
		g.Pix[i] = uint8(rng.IntN(256))
	}
	if got, _ := flatten(g); !bytes.Equal(got.Pix, oldFlatten(g)) {
		t.Fatal("general path changed")
	}
}

// canvasSignature is what a tablet sends: a transparent 600×200 canvas
// with one black stroke.
func canvasSignature() *image.NRGBA {
	n := image.NewNRGBA(image.Rect(0, 0, 600, 200))
	for x := 20; x < 580; x++ {
		for w := 0; w < 3; w++ {
			n.SetNRGBA(x, 100+(x%40)-20+w, color.NRGBA{0, 0, 0, 255})
		}
	}
	return n
}

// go test ./orders -run XXX -bench Flatten -benchmem
func BenchmarkFlatten(b *testing.B) {
	img := canvasSignature()
	b.Run("one-pass", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			flatten(img)
		}
	})
	b.Run("image-draw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			oldFlatten(img)
		}
	})
}

// go test ./orders -run XXX -bench FlattenSignature -benchmem
func BenchmarkFlattenSignature(b *testing.B) {
	var raw bytes.Buffer
	if err := png.Encode(&raw, canvasSignature()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FlattenSignature(raw.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}

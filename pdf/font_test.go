package pdf

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/image/font/gofont/goregular"
)

// stdout runs f and returns what it printed to os.Stdout, where gofpdf
// writes a font's parse error.
func stdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = saved }()
	f()
	w.Close()
	out, _ := io.ReadAll(r)
	return string(out)
}

func TestFontThatDoesNotLoadIsAnError(t *testing.T) {
	if err := fontLoads(goregular.TTF); err != nil {
		t.Fatalf("the Go font: %v", err)
	}
	var err error
	// A CFF font's header: gofpdf prints that it is not supported and
	// leaves the font out, with Err() still nil.
	cff := append([]byte("OTTO"), goregular.TTF[4:]...)
	printed := stdout(t, func() { err = fontLoads(cff) })
	if err == nil || !strings.Contains(err.Error(), "undefined font") {
		t.Errorf("a font gofpdf printed %q about: %v", printed, err)
	}
	// Cut short: gofpdf reads past the end.
	printed = stdout(t, func() { err = fontLoads(goregular.TTF[:64]) })
	if err == nil {
		t.Errorf("a truncated font loaded (gofpdf printed %q)", printed)
	}
}

// A font that does not load fails every document with the reason,
// instead of a document without text or one that fails on "undefined
// font".
func TestDocumentsFailWithTheFontsError(t *testing.T) {
	broken := errors.New("the font is broken")
	saved := fontError
	fontError = func() error { return broken }
	defer func() { fontError = saved }()
	err := RenderConfirmation(io.Discard, Confirmation{PreferencesURL: "https://optik.example/p/x"})
	if !errors.Is(err, broken) {
		t.Fatalf("render with a broken font: %v", err)
	}
}

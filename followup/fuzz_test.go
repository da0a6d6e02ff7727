package followup_test

import (
	"strings"
	"testing"

	"github.com/consentdesk/consentdesk/followup"
)

// FuzzParseSMTPURL: any setting string is either refused or yields a
// usable server, and the description for the log never shows the
// password. Seeds: testdata/fuzz/FuzzParseSMTPURL.
func FuzzParseSMTPURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := followup.ParseSMTPURL(raw)
		if err != nil {
			return
		}
		if c.Host == "" || c.Port <= 0 || c.Port > 65535 {
			t.Fatalf("%q accepted as %+v", raw, c)
		}
		if c.Password != "" && len(c.Password) > 3 && strings.Contains(c.String(), c.Password) {
			t.Fatalf("password in %q", c.String())
		}
	})
}

// FuzzParse: the mailbox view's MIME parser takes any stored bytes
// without panicking or looping. Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := followup.Parse(raw)
		if err != nil {
			return
		}
		if len(p.Parts) > 100 {
			t.Fatalf("%d parts", len(p.Parts))
		}
	})
}

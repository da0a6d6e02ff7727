package consent_test

import (
	"testing"

	"github.com/consentdesk/consentdesk/consent"
)

// FuzzTokenCheck: whatever arrives in a URL, Check never panics, accepts
// only what Make produced for that purpose, and names the customer Make
// was given. Seeds: testdata/fuzz/FuzzTokenCheck.
func FuzzTokenCheck(f *testing.F) {
	tok := consent.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	f.Add(tok.Make(consent.PreferencesToken, 42), int64(42))
	f.Fuzz(func(t *testing.T, s string, id int64) {
		for _, p := range []consent.TokenPurpose{consent.PreferencesToken, consent.UnsubscribeToken, consent.ConfirmToken} {
			got, ok := tok.Check(p, s)
			if ok && (got <= 0 || tok.Make(p, got) != s) {
				t.Fatalf("accepted %q as %d for %c", s, got, p)
			}
		}
		if id <= 0 {
			return
		}
		made := tok.Make(consent.UnsubscribeToken, id)
		if got, ok := tok.Check(consent.UnsubscribeToken, made); !ok || got != id {
			t.Fatalf("own token for %d refused", id)
		}
		if _, ok := tok.Check(consent.PreferencesToken, made); ok {
			t.Fatal("a token works for another purpose")
		}
	})
}

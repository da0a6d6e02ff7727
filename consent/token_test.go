package consent_test

import (
	"bytes"
	"testing"

	"github.com/consentdesk/consentdesk/consent"
)

func TestTokens(t *testing.T) {
	tok := consent.NewTokens(bytes.Repeat([]byte{7}, 32))
	other := consent.NewTokens(bytes.Repeat([]byte{8}, 32))
	p := tok.Make(consent.PreferencesToken, 42)
	if id, ok := tok.Check(consent.PreferencesToken, p); !ok || id != 42 {
		t.Fatalf("valid token refused: %d %v", id, ok)
	}
	if _, ok := tok.Check(consent.UnsubscribeToken, p); ok {
		t.Error("a preferences token worked as an unsubscribe token")
	}
	if _, ok := other.Check(consent.PreferencesToken, p); ok {
		t.Error("a token worked under another secret")
	}
	// Every single-character change is refused.
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range p {
		for _, c := range alphabet {
			if byte(c) == p[i] {
				continue
			}
			altered := p[:i] + string(c) + p[i+1:]
			if _, ok := tok.Check(consent.PreferencesToken, altered); ok {
				t.Fatalf("altered token %q accepted", altered)
			}
		}
	}
	for _, bad := range []string{"", "x", p + "A", p[:len(p)-1], "../../etc/passwd"} {
		if _, ok := tok.Check(consent.PreferencesToken, bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

package assets_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/consentdesk/consentdesk/assets"
)

// Both languages say the same things: a key missing in one would show the
// raw key on a page.
func TestCataloguesMatch(t *testing.T) {
	de, en := assets.Keys("de"), assets.Keys("en")
	slices.Sort(de)
	slices.Sort(en)
	if !slices.Equal(de, en) {
		t.Fatalf("catalogues differ:\nde %v\nen %v", de, en)
	}
	for _, lang := range []string{"de", "en"} {
		for _, k := range de {
			if strings.TrimSpace(assets.T(lang, k)) == "" {
				t.Errorf("%s: %s is empty", lang, k)
			}
		}
	}
	if assets.T("de", "err.required") == assets.T("en", "err.required") {
		t.Error("German and English are the same")
	}
}

// The default notices cover the items of GDPR Art. 13 (the data
// protection contact's heading and text are rendered from the settings:
// TestNoticeWithoutADataProtectionOfficer_Art13).
func TestDefaultNoticesCoverArticle13(t *testing.T) {
	n := assets.DefaultNotices()
	for lang, words := range map[string][]string{
		"de": {"Verantwortlicher", "{dpo_heading}", "Zwecke und Rechtsgrundlagen", "Berechtigtes Interesse", "Empfänger", "Speicherdauer",
			"Auskunft", "Berichtigung", "Löschung", "Einschränkung", "Datenübertragbarkeit", "Widerspruch", "jederzeit mit Wirkung für die Zukunft widerrufen", "Aufsichtsbehörde",
			"ohne sie können wir den Auftrag nicht annehmen", "automatisierten Entscheidungen", "{name}", "{dpo}", "{authority}"},
		"en": {"Controller", "{dpo_heading}", "Purposes and legal bases", "Legitimate interests", "Recipients", "Retention",
			"access", "rectification", "erasure", "restriction", "portability", "object", "withdraw any consent", "supervisory authority",
			"without them we cannot take the order", "automated decisions", "{name}", "{dpo}", "{authority}"},
	} {
		for _, w := range words {
			if !strings.Contains(n[lang], w) {
				t.Errorf("%s notice lacks %q", lang, w)
			}
		}
	}
}

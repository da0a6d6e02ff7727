// Package assets embeds the files the binary ships with: SQL migrations,
// HTML templates, CSS and JS, the default privacy notices and the
// message catalogue. Nothing is loaded from the internet at run time: the
// store's network may be offline.
package assets

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
)

//go:embed migrations/*.sql migrations/postgres/*.sql
var migrations embed.FS

//go:embed templates/*.html
var Templates embed.FS

// Mail holds the mail templates: layout.html and layout.txt, and one
// .html and one .txt per kind of mail.
//
//go:embed mail/*
var Mail embed.FS

//go:embed static
var static embed.FS

//go:embed notices/*.txt
var notices embed.FS

//go:embed i18n/*.json
var catalogues embed.FS

// Migrations are the numbered SQL files, applied in order: SQLite's at
// the top, PostgreSQL's in postgres/.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Static is the folder served under /static/.
func Static() fs.FS {
	sub, _ := fs.Sub(static, "static")
	return sub
}

// DefaultNotices returns the default privacy notice template per language.
func DefaultNotices() map[string]string {
	out := map[string]string{}
	for _, lang := range []string{"de", "en"} {
		b, err := notices.ReadFile("notices/" + lang + ".txt")
		if err != nil {
			panic(err) // embedded at build time
		}
		out[lang] = string(b)
	}
	return out
}

// Catalogue maps message keys to sentences in one language.
type Catalogue map[string]string

var messages = loadCatalogues()

func loadCatalogues() map[string]Catalogue {
	out := map[string]Catalogue{}
	for _, lang := range []string{"de", "en"} {
		b, err := catalogues.ReadFile("i18n/" + lang + ".json")
		if err != nil {
			panic(err)
		}
		c := Catalogue{}
		if err := json.Unmarshal(b, &c); err != nil {
			panic(fmt.Sprintf("i18n/%s.json: %v", lang, err))
		}
		out[lang] = c
	}
	return out
}

// Lang returns a supported language: "en" or else "de".
func Lang(lang string) string {
	if strings.HasPrefix(strings.ToLower(lang), "en") {
		return "en"
	}
	return "de"
}

// T returns the sentence for key in lang, with args filled in by
// fmt.Sprintf. A missing key shows itself, so that tests catch it.
func T(lang, key string, args ...any) string {
	s, ok := messages[Lang(lang)][key]
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Keys lists the keys of a language, for tests that compare catalogues.
func Keys(lang string) []string {
	var out []string
	for k := range messages[Lang(lang)] {
		out = append(out, k)
	}
	return out
}

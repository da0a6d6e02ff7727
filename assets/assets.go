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

// SupersededNotices are the SHA-256 sums of the earlier default notice
// templates, per language. A store still on one of them never edited its
// notice, and gets today's default at its next start: its text was made
// untrue by what the product does now (the topics, the recalls, the
// proof), not by the store.
var SupersededNotices = map[string][]string{
	"de": {"133a17b59cd4e6b47e6b666703fba59dd6c993efb48533cc8ee92f58a423b197", "1cb513381457ace957bbebe3731336520a4c7381aeaa1e70ab411c22dbb06c39",
		"5290ba97ade6876950fec09b1b3d618a971d0c5084b7e8aeee80d8e92bd34351", "c448f07fcf59f3eadbcb45bbbfbec1e6197fa8aeb7216574a8fa980bef60ab47",
		"72392bfd8d66a5cc86bee8906e139ce0503f808ff637bc1decbb1e8512b0d1bf"},
	"en": {"16d23616b0f30cf0229130ca15b5143ae18879b9a70548460e12fb0fb8e37abc", "4bb6f2a81df57c875eaf37c92a95aa97ac032f1e1a94e4d3d36d268e4b95b011",
		"64274325b35d4ac8b32c419a3279d420a07fa71ccc54e8ccfa26d28a86d489f5", "d8cecfedbfd72ad1126da01a8bf890f40cf72b5dae36fd91283bdcd83f9cf2ac",
		"0bbcf1f70d77979b54b2318f9e52fdd29f44d2221d9e4c5a3661301dbbf8a659"},
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

// Addressee is a person's name as a letter's address or a customer block
// writes it in lang, with the salutation in that language: "Herr James
// Miller", "Mr James Miller". A salutation that names no gender
// ("Divers", none) is left out.
func Addressee(lang, salutation, name string) string {
	if s := salutationIn(lang, salutation); s != "" {
		return strings.TrimSpace(s + " " + name)
	}
	return strings.TrimSpace(name)
}

// Greeting is the opening of a letter or mail in lang: "Guten Tag Frau
// Weiß," and "Dear Ms Weiß," with a salutation and a last name; with the
// full name otherwise; "Guten Tag," for no name.
func Greeting(lang, salutation, first, last string) string {
	if s := salutationIn(lang, salutation); s != "" && strings.TrimSpace(last) != "" {
		return T(lang, "mail.greeting_formal", s, strings.TrimSpace(last))
	}
	if name := strings.TrimSpace(first + " " + last); name != "" {
		return T(lang, "mail.greeting", name)
	}
	return T(lang, "mail.greeting_none")
}

func salutationIn(lang, salutation string) string {
	switch salutation {
	case "Frau", "Herr":
		return T(lang, "mail.salutation."+salutation)
	}
	return ""
}

package consentdesk_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// The documents: the README is the front page and links every file in
// docs/; the files link each other and BENCHMARKS.md. A link that leads
// nowhere, to a file or to a heading, is a reader lost.

// documents returns the README, BENCHMARKS.md and every file in docs/.
func documents(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no documents in docs/: %v", err)
	}
	return append([]string{"README.md", "BENCHMARKS.md"}, docs...)
}

// prose is a Markdown text without its fenced code blocks, where a
// bracket and a parenthesis are code, not a link.
func prose(text string) string {
	var b strings.Builder
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

var (
	markdownLink = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)
	urlScheme    = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	heading      = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *$`)
)

// anchors are the fragments a Markdown renderer such as GitHub's gives
// the headings of a document: lower case, letters, digits, "-" and "_"
// kept, spaces made "-", everything else dropped; a repeated heading gets
// "-1", "-2", ….
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(prose(text), -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		a := b.String()
		for n, base := 1, a; out[a]; n++ {
			a = base + "-" + strconv.Itoa(n)
		}
		out[a] = true
	}
	return out
}

func TestHeadingAnchors(t *testing.T) {
	got := anchors("# HTTPS: links that work from the customer's sofa\n```\n# not a heading\n```\n## JSON API (`/api/v1`, on `--addr`)\n## Größe\n## Größe\n")
	for _, want := range []string{"https-links-that-work-from-the-customers-sofa", "json-api-apiv1-on---addr", "größe", "größe-1"} {
		if !got[want] {
			t.Errorf("no anchor %q in %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Error("a line in a code block was taken for a heading")
	}
}

// Every relative link of the README and the documents leads to a file
// that exists and, where it names a heading, to that heading.
func TestDocumentLinksLeadSomewhere(t *testing.T) {
	checked := 0
	for _, doc := range documents(t) {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range markdownLink.FindAllStringSubmatch(prose(string(text)), -1) {
			target := m[1]
			if urlScheme.MatchString(target) {
				continue
			}
			checked++
			path, fragment, _ := strings.Cut(target, "#")
			file := doc
			if path != "" {
				file = filepath.Join(filepath.Dir(doc), filepath.FromSlash(path))
			}
			if _, err := os.Stat(file); err != nil {
				t.Errorf("%s: the link %q leads to no file (%v)", doc, target, err)
				continue
			}
			if fragment == "" {
				continue
			}
			if !strings.HasSuffix(file, ".md") {
				t.Errorf("%s: the link %q names a heading in a file that is not Markdown", doc, target)
				continue
			}
			dest, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !anchors(string(dest))[fragment] {
				t.Errorf("%s: the link %q names a heading that %s does not have", doc, target, file)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative links found: the pattern no longer matches the documents")
	}
}

// The README is the front page: every file in docs/ is one link away.
func TestReadmeLinksEveryDocument(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	linked := map[string]bool{}
	for _, m := range markdownLink.FindAllStringSubmatch(prose(string(readme)), -1) {
		path, _, _ := strings.Cut(m[1], "#")
		linked[filepath.Clean(filepath.FromSlash(path))] = true
	}
	for _, doc := range documents(t) {
		if doc != "README.md" && !linked[filepath.Clean(doc)] {
			t.Errorf("the README does not link %s", doc)
		}
	}
}

// Every test, fuzz test and benchmark a document names exists, so that
// the legal table (docs/legal.md) and the other documents point at the
// tests that really enforce what they say.
func TestDocumentsNameExistingTests(t *testing.T) {
	defined := map[string]bool{}
	funcs := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark)\w+)\(`)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, "_test.go") {
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range funcs.FindAllStringSubmatch(string(src), -1) {
				defined[m[1]] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile(`\b(?:Test|Fuzz|Benchmark)[A-Z]\w*`)
	for _, doc := range documents(t) {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		names := named.FindAllString(string(text), -1)
		if doc == filepath.Join("docs", "legal.md") && len(names) == 0 {
			t.Errorf("%s names no tests: the legal table lost its test column, or this pattern its match", doc)
		}
		for _, name := range names {
			if !defined[name] {
				t.Errorf("%s names %s, which no _test.go file defines", doc, name)
			}
		}
	}
}

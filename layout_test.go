package consentdesk_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The layers (docs/architecture.md, "Layout"): each package may depend only on the ones
// listed, directly or through others. The web layer and the command sit
// on top; the domain below knows nothing of them. A package that breaks
// this fails here before it becomes a cycle or a leak.
var mayDependOn = map[string]string{
	"":                  "", // the root package: the error type and the formatting
	"assets":            "",
	"consent":           "consentdesk assets",
	"followup":          "consentdesk assets consent",
	"orders/store":      "consentdesk assets consent",
	"orders":            "consentdesk assets consent followup orders/store",
	"orders/chain":      "consentdesk assets consent followup orders orders/store",
	"followup/send":     "consentdesk assets consent followup orders orders/store",
	"orders/orderstest": "consentdesk assets consent followup orders orders/store",
	"pdf":               "consentdesk assets consent followup orders orders/store",
	"pos":               "consentdesk assets consent followup orders orders/chain orders/store pdf",
	"cmd/consentdesk":   "consentdesk assets consent followup followup/send orders orders/store orders/chain pdf pos",
	// The benchmark tooling, a command of its own beside the store's: it
	// runs the same server, so it may use what the store's binary uses.
	"cmd/consentdesk-bench": "consentdesk assets consent followup followup/send orders orders/store orders/chain pdf pos",
}

const module = "github.com/consentdesk/consentdesk"

func TestPackagesImportOnlyTheLayersBelow(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}`, "-e", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	var ours []string
	for _, p := range strings.Fields(string(out)) {
		if p == module || strings.HasPrefix(p, module+"/") {
			ours = append(ours, p)
		}
	}
	for _, p := range ours {
		name := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
		shown := name
		if shown == "" {
			shown = "consentdesk (the root package)"
		}
		allowed, known := mayDependOn[name]
		if !known {
			t.Errorf("package %s is not in the layout (docs/architecture.md, Layout; mayDependOn here)", shown)
			continue
		}
		deps, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}`, p).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", p, err, deps)
		}
		ok := map[string]bool{}
		for _, a := range strings.Fields(allowed) {
			if a == "consentdesk" {
				ok[module] = true
			} else {
				ok[module+"/"+a] = true
			}
		}
		for _, d := range strings.Fields(string(deps)) {
			if d != p && (d == module || strings.HasPrefix(d, module+"/")) && !ok[d] {
				t.Errorf("%s depends on %s, which it must not", shown, strings.TrimPrefix(strings.TrimPrefix(d, module), "/"))
			}
		}
	}
}

// The web layer reaches the database only through the use cases: pos
// imports neither the engine nor database/sql, so that no handler holds a
// database handle (SQL lives with the storage code).
func TestTheWebLayerHoldsNoDatabaseHandle(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, "./pos").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		if imp == module+"/orders/store" || imp == "database/sql" {
			t.Errorf("pos imports %s", imp)
		}
	}
}

// owner is the one package that changes each table (INSERT, UPDATE,
// DELETE); others read it where a join is the honest query, and ask the
// owner for every change (docs/architecture.md, "Layout").
var owner = map[string]string{
	"store_settings": "consent", "notice_versions": "consent", "consent_events": "consent",
	"consent_event_details": "consent", "block_list": "consent",
	"outbox": "followup",
	"staff":  "orders", "sessions": "orders", "pin_lockouts": "orders", "api_tokens": "orders", "api_idempotency": "orders",
	"customers": "orders", "customers_fts": "orders", "customer_changes": "orders", "orders": "orders", "order_items": "orders",
	"prescriptions": "orders", "documents": "orders", "audit_log": "orders", "breaches": "orders", "breach_events": "orders",
	"recall_runs": "orders", "schema_migrations": "orders/store", "chain_jobs": "orders/store", "key_fingerprint": "orders/store", "stores": "orders/chain",
	"joined_sources": "orders/chain", "joined_customers": "orders/chain", "joined_events": "consent",
}

// copies are the statements whose table is built from a variable, each
// an exception to the owners above, with the reason; any other such
// statement fails TestEveryTableHasOneOwner.
var copies = map[string]string{
	// join-chain copies a store's whole database into the chain's in one
	// transaction: rows as they were, renumbered, with the hashes of the
	// store's ledger kept. No owner's use case applies to a copy of its
	// own rows, and each table is named in orders/chain/join.go's list.
	"orders/chain/join.go": "INSERT INTO ` + table",
}

func TestEveryTableHasOneOwner(t *testing.T) {
	write := regexp.MustCompile(`(?i)\b(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE|DELETE\s+FROM)\s+([a-z_]+)\b`)
	// A write whose table is not written out: a string ends before the
	// name ("INSERT INTO ` + table", "UPDATE %s").
	dynamic := regexp.MustCompile("(?i)\\b(?:INSERT(?:\\s+OR\\s+\\w+)?\\s+INTO|UPDATE|DELETE\\s+FROM)\\s*(?:[`\"]\\s*\\+\\s*\\w+|%s|%v)")
	// Every package's Go files, at any depth (orders/store, cmd/…).
	var files []string
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && path != "." {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && strings.Contains(path, string(filepath.Separator)) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pkg := filepath.ToSlash(filepath.Dir(f))
		for _, m := range dynamic.FindAllString(string(src), -1) {
			if want, ok := copies[filepath.ToSlash(f)]; !ok || !strings.HasPrefix(m, strings.Fields(want)[0]) {
				t.Errorf("%s writes a table named by a variable (%q): name the table, or list the copy with its reason in copies", f, m)
			}
		}
		for _, m := range write.FindAllStringSubmatch(string(src), -1) {
			table := m[1]
			want, known := owner[table]
			if !known {
				continue // not a table of ours ("UPDATE" in a comment, a test table)
			}
			if pkg != want {
				t.Errorf("%s changes %s, which %s owns: ask %s", f, table, want, want)
			}
		}
	}
	// Every table of the schema has its owner named above.
	schema, _ := filepath.Glob("assets/migrations/*.sql")
	create := regexp.MustCompile(`CREATE (?:VIRTUAL )?TABLE (?:IF NOT EXISTS )?([a-z_]+)`)
	for _, f := range schema {
		src, _ := os.ReadFile(f)
		for _, m := range create.FindAllStringSubmatch(string(src), -1) {
			if strings.HasSuffix(m[1], "_new") && strings.Contains(string(src), m[1]+" RENAME TO ") {
				continue // a table rebuilt under a new name and renamed back
			}
			if _, ok := owner[m[1]]; !ok {
				t.Errorf("table %s (%s) has no owner in this test and docs/architecture.md", m[1], f)
			}
		}
	}
}

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consentdesk/consentdesk/orders/orderstest"
)

// consentdesk join-chain: the demo store joins a
// chain that knows its customers; the output names what moved and the
// ledgers checked before and after; a second run changes nothing; bad
// input is refused before anything is written.
func TestJoinChainCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "freiburg.db")
	var out, errOut bytes.Buffer
	if err := Run(context.Background(), []string{"demo", "--db", src}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	chainFile := filepath.Join(dir, "chain.db")
	if _, err := run(t, "demo", "--db", chainFile); err != nil {
		t.Fatal(err)
	}
	to, files := orderstest.Location(t, chainFile)
	join := func(args ...string) (string, error) {
		t.Helper()
		all := append([]string{"join-chain", "--to", to}, args...)
		if files != "" {
			all = append(all, "--files", files)
		}
		var out, errOut bytes.Buffer
		err := Run(context.Background(), all, &out, &errOut)
		return out.String(), err
	}
	// Bad input: nothing is written.
	if _, err := join("--from", src); err == nil || !strings.Contains(err.Error(), "--store") {
		t.Errorf("without --store: %v", err)
	}
	bare := filepath.Join(dir, "ohne-schluessel.db")
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bare, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := join("--from", bare, "--store", "Freiburg"); err == nil || !strings.Contains(err.Error(), "ohne-schluessel.db.key is missing") {
		t.Errorf("without the store's key file: %v", err)
	}
	if _, err := os.Stat(bare + ".key"); err == nil {
		t.Error("a refused join made a key file for the store")
	}
	if out, err := run(t, "store", "list", "--db", chainFile); err != nil || strings.Contains(out, "Freiburg") {
		t.Errorf("a refused join added a store: %v %q", err, out)
	}

	// storeCopy is a copy of the store's database with its key file,
	// changed by statements run on the file as its owner could.
	storeCopy := func(name string, stmts ...string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		for _, suffix := range []string{"", ".key"} {
			raw, err := os.ReadFile(src + suffix)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p+suffix, raw, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if len(stmts) > 0 {
			db, err := sql.Open("sqlite", p)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, q := range stmts {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}
		return p
	}
	sum := func(p string) [32]byte {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(raw)
	}
	// A ledger that verify refuses because its heads file recorded a head
	// the ledger no longer reaches (its newest event cut off after a
	// backup) is refused by join-chain too, and nothing is written on
	// either side.
	cut := storeCopy("gekuerzt.db")
	if err := Run(context.Background(), []string{"backup", "--db", cut, "--to", filepath.Join(dir, "gekuerzt-backup.db")}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	{
		db, err := sql.Open("sqlite", cut)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{`DROP TRIGGER consent_events_no_delete`, `PRAGMA foreign_keys = OFF`,
			`DELETE FROM consent_event_details WHERE event_seq = (SELECT MAX(seq) FROM consent_events)`,
			`DELETE FROM consent_events WHERE seq = (SELECT MAX(seq) FROM consent_events)`} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		db.Close()
	}
	if err := Run(context.Background(), []string{"verify", "--db", cut}, &out, &errOut); err == nil {
		t.Fatal("verify passed a ledger cut below its recorded head")
	}
	before := sum(cut)
	if out, err := join("--from", cut, "--store", "Freiburg"); err == nil || !strings.Contains(err.Error(), "removed from its end") {
		t.Errorf("join-chain of a ledger cut below its recorded head: %v\n%s", err, out)
	}
	if sum(cut) != before {
		t.Error("a refused join changed the store's database file")
	}
	// Fields the counter would refuse are refused, whichever table.
	for name, stmt := range map[string]string{
		"escape":      "UPDATE customers SET first_name = 'Erika' || char(27) || '[2J' WHERE id = 1",
		"bidi":        "UPDATE customers SET first_name = 'Erika' || char(8238) || 'akirE' WHERE id = 1",
		"30 MB city":  "UPDATE customers SET city = hex(zeroblob(15000000)) WHERE id = 1",
		"item escape": "UPDATE order_items SET description = 'Glas' || char(27) WHERE id = 1",
		"staff bidi":  "UPDATE staff SET name = 'Anna' || char(8238) WHERE id = 1",
	} {
		bad := storeCopy(strings.ReplaceAll(name, " ", "-")+".db", stmt)
		before := sum(bad)
		if out, err := join("--from", bad, "--store", "Freiburg"); err == nil || !strings.Contains(err.Error(), "would not accept") {
			t.Errorf("%s: join-chain: %v\n%s", name, err, out)
		}
		if sum(bad) != before {
			t.Errorf("%s: a refused join changed the store's database file", name)
		}
	}
	if out, err := run(t, "store", "list", "--db", chainFile); err != nil || strings.Contains(out, "Freiburg") {
		t.Errorf("a refused join added a store: %v %q", err, out)
	}

	srcSum := sum(src)
	out1, err := join("--from", src, "--store", "Freiburg")
	if err != nil {
		t.Fatalf("join-chain: %v\n%s", err, out1)
	}
	for _, want := range []string{"store's ledger " + src + ": ", "intact=true", `joined as store 2 "Freiburg"`, "6 customers (6 merged with customers of the chain), 6 orders",
		"the store's secrets are in", "chain's ledger intact", "joined ledger 1 (store 2)"} {
		if !strings.Contains(out1, want) {
			t.Errorf("join-chain's output lacks %q:\n%s", want, out1)
		}
	}
	if sum(src) != srcSum {
		t.Error("join-chain wrote into the store's database: it only reads it")
	}
	key, err := os.ReadFile(filepath.Join(dir, "chain.db.key"))
	if err != nil || !strings.Contains(string(key), "joined ") {
		t.Errorf("the chain's key file after the join: %v\n%s", err, key)
	}
	out2, err := join("--from", src, "--store", "Freiburg")
	if err != nil || !strings.Contains(out2, "joined the chain already") || !strings.Contains(out2, "nothing changed") {
		t.Errorf("join-chain twice: %v\n%s", err, out2)
	}
	key2, _ := os.ReadFile(filepath.Join(dir, "chain.db.key"))
	if !bytes.Equal(key, key2) {
		t.Error("the second run changed the chain's key file")
	}
	if out, err := run(t, "verify", "--db", chainFile); err != nil || !strings.Contains(out, "joined ledger 1 (store 2)") {
		t.Errorf("verify after the join: %v\n%s", err, out)
	}
}

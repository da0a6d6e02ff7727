package main

import (
	"bytes"
	"context"
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

package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/orders/orderstest"
)

// The chain's stores from the command line: add,
// update, list; staff and tokens of a store; bad input changes nothing.
func TestStoreCommands(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chain.db")
	if _, err := run(t, "migrate", "--db", db); err != nil {
		t.Fatal(err)
	}
	// While the chain has one store, nobody needs to name it.
	if out, err := run(t, "staff", "add", "--name", "Erste", "--pin", "471108", "--db", db); err != nil || !strings.Contains(out, "counter of store") {
		t.Errorf("staff add in a one-store chain: %v %q", err, out)
	}
	out, err := run(t, "store", "add", "--name", "Freiburg", "--street", "Kaiser-Joseph-Straße 1", "--postal-code", "79098", "--city", "Freiburg",
		"--phone", "0761 123456", "--email", "freiburg@optik.example", "--hours", "Mo–Fr 9–18 Uhr;Sa 9–14 Uhr", "--db", db)
	if err != nil || !strings.Contains(out, `store 2 "Freiburg" added`) {
		t.Fatalf("store add: %v %q", err, out)
	}
	if _, err := run(t, "store", "add", "--name", "FREIBURG", "--db", db); err == nil || !strings.Contains(err.Error(), "store of this name exists") {
		t.Errorf("a second Freiburg: %v", err)
	}
	if _, err := run(t, "store", "add", "--name", "Köln", "--email", "kein-mail", "--db", db); err == nil || !strings.Contains(err.Error(), "email") {
		t.Errorf("a bad e-mail: %v", err)
	}
	if out, err := run(t, "store", "update", "--name", "freiburg", "--phone", "0761 999", "--db", db); err != nil || !strings.Contains(out, "updated") {
		t.Errorf("store update: %v %q", err, out)
	}
	if _, err := run(t, "store", "update", "--name", "Berlin", "--phone", "030 1", "--db", db); err == nil || !strings.Contains(err.Error(), "no such store") {
		t.Errorf("update of a store that does not exist: %v", err)
	}
	out, err = run(t, "store", "list", "--db", db)
	if err != nil || !strings.Contains(out, "Freiburg") || !strings.Contains(out, "0761 999") || !strings.Contains(out, "Kaiser-Joseph-Straße 1, 79098 Freiburg") ||
		strings.Contains(out, "Köln") || strings.Count(out, "\n") != 3 {
		t.Errorf("store list: %v\n%s", err, out)
	}
	// Two stores: counter staff and tokens name theirs.
	if _, err := run(t, "staff", "add", "--name", "Anna", "--pin", "4711", "--db", db); err == nil || !strings.Contains(err.Error(), "--store") || !strings.Contains(err.Error(), "Freiburg") {
		t.Errorf("counter staff without a store in a chain of two: %v", err)
	}
	if out, err := run(t, "staff", "add", "--name", "Anna", "--pin", "4711", "--store", "Freiburg", "--db", db); err != nil || !strings.Contains(out, `counter of store "Freiburg"`) {
		t.Errorf("staff add --store: %v %q", err, out)
	}
	if out, err := run(t, "staff", "add", "--name", "Chefin", "--pin", "864297", "--role", "manager", "--db", db); err != nil || !strings.Contains(out, "manager of the whole chain") {
		t.Errorf("a chain-wide manager: %v %q", err, out)
	}
	if _, err := run(t, "token", "create", "--name", "ERP", "--store", "Hamburg", "--db", db); err == nil || !strings.Contains(err.Error(), "no such store") {
		t.Errorf("token for a store that does not exist: %v", err)
	}
	token, err := run(t, "token", "create", "--name", "ERP Freiburg", "--store", "Freiburg", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "token", "list", "--db", db); err != nil || !regexp.MustCompile(`ERP Freiburg\s+orders\s+active\s+.*\s+Freiburg\n`).MatchString(out) {
		t.Errorf("token list names the token's store: %v\n%s", err, out)
	}
	ctx := context.Background()
	store, err := orderstest.Open(ctx, t, db, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if c, err := store.APIToken(ctx, strings.TrimSpace(token)); err != nil || c.StoreID != 2 {
		t.Errorf("the token acts for store %d (%v), want Freiburg's 2", c.StoreID, err)
	}
	anna, err := store.StaffByName(ctx, "Anna")
	if err != nil || anna.StoreID != 2 {
		t.Errorf("Anna's store: %+v %v", anna, err)
	}
	list, err := store.Stores(ctx)
	if err != nil || len(list) != 2 || list[1].OpeningHours != "Mo–Fr 9–18 Uhr\nSa 9–14 Uhr" || list[1].Street != "Kaiser-Joseph-Straße 1" {
		t.Errorf("stores: %+v %v", list, err)
	}
}

// consentdesk store franchise on|off and the stores' companies: refused
// with a reason until every store names its company; then on; off is
// refused once two stores have customers of their own.
func TestStoreFranchiseCommand(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "chain.db")
	if _, err := run(t, "migrate", "--db", db); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "store", "add", "--name", "Lörrach", "--db", db); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "store", "franchise", "on", "--db", db); err == nil || !strings.Contains(err.Error(), "Lörrach") || !strings.Contains(err.Error(), "Nothing was changed") {
		t.Errorf("franchise on without companies: %v", err)
	}
	if _, err := run(t, "store", "franchise", "maybe", "--db", db); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("franchise maybe: %v", err)
	}
	out, err := run(t, "store", "list", "--db", db)
	if err != nil || strings.Contains(out, "own controller") {
		t.Errorf("store list before: %v %q", err, out)
	}
	first := strings.Fields(strings.Split(out, "\n")[1])[1]
	if _, err := run(t, "store", "update", "--name", first, "--company", "Optik Freiburg GmbH", "--legal-form", "GmbH", "--register-court", "AG Freiburg",
		"--register-number", "HRB 1", "--dpo", "dsb@freiburg.example", "--db", db); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "store", "update", "--name", "Lörrach", "--company", "Augenblick Lörrach e.K.", "--website", "kein-url", "--db", db); err == nil || !strings.Contains(err.Error(), "company_website") {
		t.Errorf("a bad website: %v", err)
	}
	if _, err := run(t, "store", "update", "--name", "Lörrach", "--company", "Augenblick Lörrach e.K.", "--db", db); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "store", "franchise", "on", "--db", db); err != nil || !strings.Contains(out, "its own controller") {
		t.Fatalf("franchise on: %v %q", err, out)
	}
	out, err = run(t, "store", "list", "--db", db)
	if err != nil || !strings.Contains(out, "Augenblick Lörrach e.K.") || !strings.Contains(out, "Optik Freiburg GmbH") || !strings.Contains(out, "each store is its own controller") {
		t.Errorf("store list after: %v\n%s", err, out)
	}
	if _, err := run(t, "store", "add", "--name", "Basel", "--db", db); err == nil || !strings.Contains(err.Error(), "company_name") {
		t.Errorf("a store without its company in a franchise group: %v", err)
	}
	// With no customers anywhere, back is allowed.
	if out, err := run(t, "store", "franchise", "off", "--db", db); err != nil || !strings.Contains(out, "one controller") {
		t.Errorf("franchise off: %v %q", err, out)
	}
}

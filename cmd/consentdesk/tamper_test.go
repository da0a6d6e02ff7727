package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/consentdesk/consentdesk/orders/orderstest"
	"github.com/consentdesk/consentdesk/orders/store"
)

// raw opens the database that path names for a test (orderstest.Location).
func raw(t *testing.T, path string) *sql.DB {
	t.Helper()
	loc, _ := orderstest.Location(t, path)
	db, err := store.OpenSQL(loc)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func tamper(t *testing.T, path string) {
	t.Helper()
	db := raw(t, path)
	defer db.Close()
	for _, s := range append(orderstest.Unguard(), `UPDATE consent_events SET action = 'withdraw' WHERE seq = 2`) {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
}

// cut removes the newest n events from the end of the ledger, as someone
// with the file in hand would: the chain that is left verifies on its own.
func cut(t *testing.T, path string, n int) {
	t.Helper()
	db := raw(t, path)
	defer db.Close()
	for _, s := range append(orderstest.Unguard(),
		`DELETE FROM consent_event_details WHERE event_seq > (SELECT MAX(seq) FROM consent_events) - ?`,
		`DELETE FROM consent_events WHERE seq > (SELECT MAX(seq) FROM consent_events) - ?`) {
		var args []any
		if strings.HasPrefix(s, "DELETE") {
			args = append(args, n)
		}
		if _, err := db.Exec(s, args...); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// Truncation: events cut from the end leave a chain that
// verifies; the heads the backups recorded outside the database show the
// cut, and so does --anchor. A restore to an older backup is recorded in
// the heads file and verifies afterwards.
func TestVerifyFindsEventsCutFromTheEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "store.db")
	if _, err := run(t, "demo", "--db", db); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "backup", "--to", filepath.Join(dir, "a.db"), "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`head (\d+) ([0-9a-f]{64})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("backup printed no head: %q", out)
	}
	anchor := m[1] + ":" + m[2]
	heads, err := os.ReadFile(db + ".heads")
	if err != nil || !strings.HasPrefix(string(heads), "head ") || !strings.Contains(string(heads), " "+m[1]+" "+m[2]+" ") {
		t.Fatalf("heads file: %v %q", err, heads)
	}
	if out, err := run(t, "verify", "--db", db); err != nil || !strings.Contains(out, "reaches 1 recorded head") {
		t.Fatalf("verify before the cut: %v %q", err, out)
	}

	cut(t, db, 3)
	if _, err := run(t, "verify", "--db", db); err == nil || !strings.Contains(err.Error(), "removed from its end") {
		t.Errorf("verify after cutting three events: %v", err)
	}
	if _, err := run(t, "verify", "--anchor", anchor, "--db", db); err == nil || !strings.Contains(err.Error(), "removed from its end") {
		t.Errorf("verify --anchor after the cut: %v", err)
	}
	for _, bad := range []string{"7", "x:y", "0:" + m[2], m[1] + ":" + strings.ToUpper(m[2])} {
		if _, err := run(t, "verify", "--anchor", bad, "--db", db); err == nil || !strings.Contains(err.Error(), "SEQ:HASH") {
			t.Errorf("--anchor %q: %v", bad, err)
		}
	}

	// A restore to an older backup goes back on purpose: recorded, and
	// the heads above it set aside.
	db2 := filepath.Join(dir, "two.db")
	if _, err := run(t, "demo", "--db", db2); err != nil {
		t.Fatal(err)
	}
	older := filepath.Join(dir, "older.db")
	if _, err := run(t, "backup", "--to", older, "--db", db2); err != nil {
		t.Fatal(err)
	}
	os.Link(db2+".key", older+".key")
	if _, err := run(t, "demo", "--db", db2); err != nil { // more events
		t.Fatal(err)
	}
	if _, err := run(t, "backup", "--to", filepath.Join(dir, "newer.db"), "--db", db2); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "restore", "--from", older, "--db", db2); err != nil {
		t.Fatal(err)
	}
	heads, _ = os.ReadFile(db2 + ".heads")
	lines := strings.Split(strings.TrimSpace(string(heads)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[2], "restore ") || seqOf(lines[1]) <= seqOf(lines[0]) {
		t.Fatalf("heads after the restore (the newer backup's head must lie above the older's):\n%s", heads)
	}
	if out, err := run(t, "verify", "--db", db2); err != nil {
		t.Errorf("verify after a restore: %v %q", err, out)
	}
}

func seqOf(line string) int {
	n, _ := strconv.Atoi(strings.Fields(line)[2])
	return n
}

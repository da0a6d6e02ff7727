package consent

import (
	"fmt"
	"testing"
)

// The guard reads every statement of a string and skips quoted text and
// comments: only a statement that starts with a transaction keyword is
// refused.
func TestTxControlStatements(t *testing.T) {
	for q, want := range map[string]string{
		"COMMIT":                                  "COMMIT",
		"commit;":                                 "COMMIT",
		"-- note\n  Rollback":                     "ROLLBACK",
		"INSERT INTO t VALUES ('a;COMMIT')":       "",
		"INSERT INTO t VALUES (1); savepoint x":   "SAVEPOINT",
		"UPDATE t SET v = CASE WHEN 1 THEN 2 END": "",
		`SELECT "begin" FROM t /* ; COMMIT */`:    "",
		"SELECT 1 -- ; COMMIT":                    "",
		"CREATE TRIGGER x BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no'); END; CREATE INDEX i ON t(v)": "",
		"CREATE TRIGGER x BEFORE DELETE ON t BEGIN SELECT 1; END; COMMIT":                                  "COMMIT",
		"CREATE TRIGGER y AFTER INSERT ON t BEGIN UPDATE t SET v = CASE WHEN 1 THEN 2 END; END; SELECT 1":  "",
		"": "",
	} {
		if got := txControl(q); got != want {
			t.Errorf("%q: %q, want %q", q, got, want)
		}
	}
}

// The verdicts are cached by text: a refused statement is refused every
// time, an allowed one allowed, and texts beyond the bound are still read.
func TestTxControlCached(t *testing.T) {
	for i := 0; i < 3; i++ {
		if got := txControlOf("ROLLBACK TO use_case"); got != "ROLLBACK" {
			t.Fatalf("call %d: %q, want ROLLBACK", i, got)
		}
		if got := txControlOf("SELECT 1"); got != "" {
			t.Fatalf("call %d: %q for a SELECT", i, got)
		}
	}
	for i := 0; i < maxVerdicts+20; i++ {
		q := fmt.Sprintf("SELECT %d; COMMIT", i)
		if got := txControlOf(q); got != "COMMIT" {
			t.Fatalf("%q: %q, want COMMIT", q, got)
		}
	}
	if n := verdicts.n.Load(); n > maxVerdicts {
		t.Errorf("%d verdicts cached, bound %d", n, maxVerdicts)
	}
}

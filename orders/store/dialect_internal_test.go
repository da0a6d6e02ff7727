package store

import "testing"

// The placeholders are numbered where PostgreSQL reads them, and a
// question mark in text stays text.
func TestDollars(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`, `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`},
		{`SELECT '?', "we?rd", ? -- why?` + "\n" + `FROM t WHERE x = ?`, `SELECT '?', "we?rd", $1 -- why?` + "\n" + `FROM t WHERE x = $2`},
		{`SELECT 'it''s?', ? /* ? */`, `SELECT 'it''s?', $1 /* ? */`},
		{`DO $$ BEGIN PERFORM '?'; END $$; SELECT ?`, `DO $$ BEGIN PERFORM '?'; END $$; SELECT $1`},
		{`SELECT $body$ ? $body$, ?`, `SELECT $body$ ? $body$, $1`},
		{`SELECT 'open ?`, `SELECT 'open ?`},
	} {
		if got := dollars(c.in); got != c.want {
			t.Errorf("dollars(%q)\n = %q\nwant %q", c.in, got, c.want)
		}
	}
}

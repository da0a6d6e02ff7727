package consent

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

func openPrepared(t *testing.T, conns int) *Prepared {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "p.db")+"?_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(conns)
	p := NewPrepared(db)
	t.Cleanup(func() { p.Close() })
	return p
}

// Each query text is prepared once and reused; a text of several
// statements runs whole, unprepared; a schema change after preparing is
// seen.
func TestPreparedReusesStatements(t *testing.T) {
	ctx := context.Background()
	p := openPrepared(t, 4)
	if _, err := p.ExecContext(ctx, `CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('a'); INSERT INTO t VALUES ('b')`); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := p.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 2 {
		t.Fatalf("%d rows: the second INSERT of the text was cut off", n)
	}
	for i := 0; i < 5; i++ {
		if _, err := p.ExecContext(ctx, `INSERT INTO t VALUES (?)`, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(); n != 7 {
		t.Fatalf("%d rows, want 7", n)
	}
	if len(p.stmts) != 2 {
		t.Errorf("%d statements cached, want 2 (the INSERT and the count): %v", len(p.stmts), p.stmts)
	}
	rows, err := p.QueryContext(ctx, `SELECT * FROM t LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if _, err := p.ExecContext(ctx, `ALTER TABLE t ADD COLUMN w TEXT DEFAULT 'x'`); err != nil {
		t.Fatal(err)
	}
	rows, err = p.QueryContext(ctx, `SELECT * FROM t LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	rows.Close()
	if len(cols) != 2 {
		t.Errorf("columns after ALTER TABLE: %v", cols)
	}
	if _, err := p.ExecContext(ctx, `SELECT nope FROM t`); err == nil {
		t.Error("a bad query did not fail")
	}
}

// On the writer's handle of one connection a transaction holds the
// connection: its statements are prepared after it, never inside it (that
// would wait forever), and reused by the next transactions.
func TestPreparedWriterBetweenTransactions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := openPrepared(t, 1)
	if _, err := p.ExecContext(ctx, `CREATE TABLE t (v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	clear(p.stmts) // the CREATE was prepared; start from none
	p.mu.Unlock()
	insert := `INSERT INTO t VALUES (?)`
	for i := 0; i < 3; i++ {
		tx, err := p.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		w := NewWriteTx(tx, p)
		if _, err := w.ExecContext(ctx, insert, i); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := w.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("count in transaction %d: %d, %v", i, n, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		_, cachedBefore := p.stmts[insert]
		if i == 0 && cachedBefore {
			t.Fatal("prepared inside the transaction")
		}
		p.PrepareWanted(ctx)
		if _, ok := p.stmts[insert]; !ok {
			t.Fatalf("after transaction %d the INSERT is not prepared", i)
		}
	}
}

// The cache is bounded; queries beyond it still run.
func TestPreparedIsBounded(t *testing.T) {
	ctx := context.Background()
	p := openPrepared(t, 2)
	for i := 0; i < maxPrepared+50; i++ {
		var n int
		if err := p.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&n); err != nil || n != i {
			t.Fatalf("SELECT %d: %d, %v", i, n, err)
		}
	}
	if len(p.stmts) > maxPrepared {
		t.Errorf("%d statements cached, bound %d", len(p.stmts), maxPrepared)
	}
}

// A statement is bound to the transaction once and serves every later use
// of the same query in it (a batch's use cases run the same queries), with
// its own arguments each time; the next transaction binds afresh.
func TestWriteTxBindsEachStatementOnce(t *testing.T) {
	ctx := context.Background()
	p := openPrepared(t, 1)
	if _, err := p.ExecContext(ctx, `CREATE TABLE t (v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO t VALUES (?)`
	sum := `SELECT COALESCE(SUM(v), 0) FROM t`
	if _, err := p.ExecContext(ctx, insert, 100); err != nil { // prepared now
		t.Fatal(err)
	}
	if err := p.QueryRowContext(ctx, sum).Scan(new(int)); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		tx, err := p.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		w := NewWriteTx(tx, p)
		first := w.stmt(ctx, insert)
		if first == nil {
			t.Fatal("the prepared INSERT is not bound to the transaction")
		}
		for i := 1; i <= 3; i++ {
			if st := w.stmt(ctx, insert); st != first {
				t.Fatalf("use %d bound the statement again", i)
			}
			if _, err := w.ExecContext(ctx, insert, i); err != nil {
				t.Fatal(err)
			}
			var got int
			if err := w.QueryRowContext(ctx, sum).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if want := 100 + round*6 + i*(i+1)/2; got != want {
				t.Fatalf("round %d, after %d inserts: sum %d, want %d", round, i, got, want)
			}
		}
		if len(w.bound) != 2 {
			t.Errorf("%d statements bound, want 2", len(w.bound))
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

package store

// Inside the package: the tests hold the committer on a gate and watch
// its queue, so that the batches they check are formed for certain and
// not by luck of the scheduler.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
)

func openCommitDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "commit.db"), assets.Migrations(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.w.Exec(`CREATE TABLE t (v TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// hold starts a use case that writes "gate" and then waits until the
// returned function is called; while it waits, others queue up behind it.
func hold(t *testing.T, db *DB) (release func() error) {
	t.Helper()
	started, gate, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db.Tx(context.Background(), func(ctx context.Context, tx consent.Tx, _ time.Time) error {
			close(started)
			<-gate
			_, err := tx.ExecContext(context.Background(), `INSERT INTO t VALUES ('gate')`)
			return err
		})
	}()
	<-started
	return func() error { close(gate); return <-done }
}

// queued waits until n use cases wait in the committer's queue.
func queued(t *testing.T, db *DB, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(db.commit.jobs) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d use cases queued, want %d", len(db.commit.jobs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func rows(t *testing.T, db *DB) string {
	t.Helper()
	var s sql.NullString
	if err := db.sql.QueryRow(`SELECT group_concat(v, ',') FROM (SELECT v FROM t ORDER BY v)`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s.String
}

type outcome struct {
	err   error
	panic any
}

// submit runs fn through Tx in its own goroutine and reports how it ended.
func submit(db *DB, ctx context.Context, fn func(tx consent.Tx) error) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				ch <- outcome{panic: v}
			}
		}()
		ch <- outcome{err: db.Tx(ctx, func(ctx context.Context, tx consent.Tx, _ time.Time) error { return fn(tx) })}
	}()
	return ch
}

func insert(v string) func(tx consent.Tx) error {
	return func(tx consent.Tx) error {
		_, err := tx.ExecContext(context.Background(), `INSERT INTO t VALUES (?)`, v)
		return err
	}
}

func TestGroupCommitOneFsyncManyUseCasesEachOnItsOwn(t *testing.T) {
	db := openCommitDB(t)
	release := hold(t, db)
	ok1 := submit(db, context.Background(), insert("b"))
	refused := submit(db, context.Background(), func(tx consent.Tx) error {
		if err := insert("c")(tx); err != nil {
			return err
		}
		return errors.New("refused by the use case")
	})
	panics := submit(db, context.Background(), func(tx consent.Tx) error {
		insert("d")(tx)
		panic("boom")
	})
	duplicate := submit(db, context.Background(), func(tx consent.Tx) error {
		if err := insert("e")(tx); err != nil {
			return err
		}
		return insert("gate")(tx) // the gate's row, committed by then: a constraint error
	})
	ok2 := submit(db, context.Background(), insert("f"))
	queued(t, db, 5)
	before := db.CommitStats()
	if err := release(); err != nil {
		t.Fatalf("gate: %v", err)
	}

	if o := <-ok1; o.err != nil || o.panic != nil {
		t.Errorf("b: %+v", o)
	}
	if o := <-ok2; o.err != nil || o.panic != nil {
		t.Errorf("f: %+v", o)
	}
	if o := <-refused; o.err == nil || o.err.Error() != "refused by the use case" {
		t.Errorf("c: %+v", o)
	}
	if o := <-panics; o.panic != "boom" {
		t.Errorf("d: the panic did not reach its caller: %+v", o)
	}
	if o := <-duplicate; o.err == nil || !strings.Contains(o.err.Error(), "UNIQUE") {
		t.Errorf("e: %+v", o)
	}
	// The gate alone, then b and f together: two commits for three use
	// cases; c, d and e left nothing behind.
	if got := rows(t, db); got != "b,f,gate" {
		t.Errorf("rows %q, want b,f,gate", got)
	}
	after := db.CommitStats()
	if c, u := after.Commits-before.Commits, after.UseCases-before.UseCases; c != 2 || u != 3 {
		t.Errorf("%d commits for %d use cases, want 2 for 3", c, u)
	}
}

// A use case that tries to end the shared transaction is a programming
// error: the statement is refused before it reaches SQLite,
// logged with the use case's stack, and the batch fails. Each use case in
// it hears that it was rolled back, and that is true: nothing of theirs is
// on disk. Found before: a COMMIT sent by one use case put the earlier
// ones on disk while they were told "rolled back with its batch". The use
// cases after it run in the next transaction.
func TestGroupCommitBrokenBatch(t *testing.T) {
	for _, stmt := range []string{"COMMIT", "ROLLBACK", "RELEASE use_case", "  /* x */ end transaction", "SELECT 1; COMMIT", "BEGIN"} {
		t.Run(stmt, func(t *testing.T) {
			var logged bytes.Buffer
			old := slog.Default()
			slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
			defer slog.SetDefault(old)

			db := openCommitDB(t)
			release := hold(t, db)
			first := submit(db, context.Background(), insert("a"))
			queued(t, db, 1)
			breaker := submit(db, context.Background(), func(tx consent.Tx) error {
				if err := insert("b")(tx); err != nil {
					return err
				}
				tx.ExecContext(context.Background(), stmt) // the error ignored, as a careless use case would
				return insert("b2")(tx)
			})
			queued(t, db, 2)
			last := submit(db, context.Background(), insert("c"))
			queued(t, db, 3)
			if err := release(); err != nil {
				t.Fatal(err)
			}
			if o := <-first; o.err == nil || !strings.Contains(o.err.Error(), "rolled back with its batch") {
				t.Errorf("a: %+v", o)
			}
			if o := <-breaker; !errors.Is(o.err, consent.ErrTxControl) {
				t.Errorf("b: %+v", o)
			}
			if o := <-last; o.err != nil {
				t.Errorf("c: %+v", o)
			}
			// Told rolled back, and rolled back: a and b are not on disk.
			if got := rows(t, db); got != "c,gate" {
				t.Errorf("rows %q, want c,gate", got)
			}
			if !strings.Contains(logged.String(), "programming error") || !strings.Contains(logged.String(), "commit_test.go") {
				t.Errorf("not logged with the use case's stack:\n%s", logged.String())
			}
			// And the writer goes on.
			if o := <-submit(db, context.Background(), insert("d")); o.err != nil {
				t.Fatal(o.err)
			}
		})
	}
}

// Events appended by several use cases in one batch, one of which fails
// after its append, still form one unbroken chain.
func TestGroupCommitKeepsTheLedgerChained(t *testing.T) {
	db := openCommitDB(t)
	ctx := context.Background()
	appendFor := func(customer int64, fail bool) func(tx consent.Tx) error {
		return func(tx consent.Tx) error {
			e := consent.Event{CustomerID: customer, Channel: consent.Email, Action: consent.Grant, OptInLevel: consent.SingleOptIn,
				LegalBasis: consent.BasisConsent, Source: consent.CounterTablet, Actor: consent.ByCustomer, NoticeVersionID: "de-1",
				NoticeSHA256: strings.Repeat("a", 64), CreatedAt: Stamp(time.Now())}
			if err := consent.Append(ctx, tx, &e); err != nil {
				return err
			}
			if fail {
				return errors.New("refused after the append")
			}
			return nil
		}
	}
	release := hold(t, db)
	var outs []<-chan outcome
	for i := int64(1); i <= 6; i++ {
		outs = append(outs, submit(db, ctx, appendFor(i, i%3 == 0)))
	}
	queued(t, db, 6)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	for i, ch := range outs {
		o := <-ch
		if fail := (i+1)%3 == 0; (o.err != nil) != fail {
			t.Errorf("use case %d: %+v", i+1, o)
		}
	}
	v, err := db.Verify(ctx)
	if err != nil || !v.OK || v.Events != 4 {
		t.Fatalf("ledger: %+v %v", v, err)
	}
	var seqs string
	db.sql.QueryRow(`SELECT group_concat(seq, ',') FROM (SELECT seq FROM consent_events ORDER BY seq)`).Scan(&seqs)
	if seqs != "1,2,3,4" {
		t.Errorf("seqs %s", seqs)
	}
}

// A caller that gives up while its use case waits gets its context's
// error, and the use case never runs.
func TestTxCancelledWhileQueued(t *testing.T) {
	db := openCommitDB(t)
	release := hold(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	ran := false
	out := submit(db, ctx, func(tx consent.Tx) error { ran = true; return insert("x")(tx) })
	queued(t, db, 1)
	cancel()
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if o := <-out; !errors.Is(o.err, context.Canceled) || ran {
		t.Errorf("cancelled use case: %+v, ran %v", o, ran)
	}
	if got := rows(t, db); got != "gate" {
		t.Errorf("rows %q", got)
	}
	done, cancelled := context.WithCancel(context.Background())
	cancelled()
	if err := db.Tx(done, func(context.Context, consent.Tx, time.Time) error { t.Error("ran"); return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: %v", err)
	}
}

func TestTxAfterClose(t *testing.T) {
	db := openCommitDB(t)
	db.Close()
	errc := make(chan error, 1)
	go func() {
		errc <- db.Tx(context.Background(), func(context.Context, consent.Tx, time.Time) error { return nil })
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("after close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Tx after Close hangs")
	}
}

// Many writers at once (run with -race): every use case lands once.
func TestGroupCommitUnderConcurrency(t *testing.T) {
	db := openCommitDB(t)
	before := db.CommitStats()
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := 0; g < 40; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				v := fmt.Sprintf("%02d-%02d", g, i)
				errs <- db.Tx(context.Background(), func(ctx context.Context, tx consent.Tx, _ time.Time) error { return insert(v)(tx) })
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	db.sql.QueryRow(`SELECT COUNT(*) FROM t`).Scan(&n)
	after := db.CommitStats()
	if n != 400 || after.UseCases-before.UseCases != 400 || after.Commits-before.Commits > 400 {
		t.Errorf("%d rows, %+v → %+v", n, before, after)
	}
	t.Logf("400 use cases in %d commits", after.Commits-before.Commits)
}

// A caller that gives up while its use case runs does not interrupt it:
// an interrupted statement would roll back the whole shared transaction,
// and the other use cases in it with it.
func TestTxCancelledWhileRunningFinishes(t *testing.T) {
	db := openCommitDB(t)
	release := hold(t, db)
	other := submit(db, context.Background(), insert("a"))
	queued(t, db, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mine := make(chan error, 1)
	go func() {
		mine <- db.Tx(ctx, func(ctx context.Context, tx consent.Tx, _ time.Time) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES ('b1')`); err != nil {
				return err
			}
			cancel() // the counter's connection drops
			_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES ('b2')`)
			return err
		})
	}()
	queued(t, db, 2)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := <-mine; err != nil {
		t.Errorf("the cancelled caller's use case: %v", err)
	}
	if o := <-other; o.err != nil {
		t.Errorf("the other use case in the batch: %+v", o)
	}
	if got := rows(t, db); got != "a,b1,b2,gate" {
		t.Errorf("rows %q", got)
	}
}

// A caller whose context ends while its use case is still queued hears
// so at once, not after the use cases ahead of it, and the use case never
// runs: the context bounds the wait, as Tx's doc says, also once the
// job is queued.
func TestTxCancelledWhileQueuedReturnsAtOnce(t *testing.T) {
	db := openCommitDB(t)
	release := hold(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	ranFlag := make(chan struct{}, 1)
	out := submit(db, ctx, func(tx consent.Tx) error { ranFlag <- struct{}{}; return insert("x")(tx) })
	after := submit(db, context.Background(), insert("y"))
	queued(t, db, 2)
	cancel()
	select {
	case o := <-out:
		if !errors.Is(o.err, context.Canceled) {
			t.Errorf("withdrawn use case: %+v", o)
		}
	case <-time.After(10 * time.Second):
		release() // or the database's cleanup waits for the gate forever
		t.Fatal("Tx waited for the use case ahead although its context ended")
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if o := <-after; o.err != nil || o.panic != nil {
		t.Fatalf("the use case queued behind: %+v", o)
	}
	select {
	case <-ranFlag:
		t.Error("the withdrawn use case ran")
	default:
	}
	if got := rows(t, db); got != "gate,y" {
		t.Errorf("rows %q, want gate,y", got)
	}
}

// A use case's panic keeps its stack: the committer logs
// it where the panic happened, before raising the value again in the
// caller's goroutine, where the stack would point only at Tx.
func TestPanicInAUseCaseLogsItsStack(t *testing.T) {
	var logged bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	defer slog.SetDefault(old)
	db := openCommitDB(t)
	if o := <-submit(db, context.Background(), func(tx consent.Tx) error { panicsDeepInside(); return nil }); o.panic != "deep" {
		t.Fatalf("the panic did not reach its caller: %+v", o)
	}
	if !strings.Contains(logged.String(), "panicsDeepInside") {
		t.Errorf("the log has no stack of the panic:\n%s", logged.String())
	}
}

func panicsDeepInside() { panic("deep") }

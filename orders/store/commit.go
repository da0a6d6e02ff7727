package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// Group commit.
//
// Every use case that writes runs on the one writing connection, one after
// the other, and each commit waits for fsync (synchronous=FULL: an
// acknowledged order survives a power cut). On a disk whose fsync takes
// milliseconds that wait, not the work, sets how many orders a store can
// take per second. So the committer runs the use cases that queued up
// while the previous commit was on disk in one transaction, each inside
// its own SAVEPOINT, and commits them with one fsync. A use case that
// fails is rolled back to its savepoint and the others in the batch are
// untouched; nobody hears "done" before the commit that holds their
// writes is on disk. Alone, a use case runs in a plain transaction, as
// before.

// maxBatch bounds a batch, so that the first use case in it does not
// wait for many others' work.
const maxBatch = 32

// ErrClosed is returned by Tx once the database is closed.
var ErrClosed = errors.New("store: database closed")

// job is one use case waiting for the writer.
type job struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx consent.Tx, now time.Time) error
	done chan result
	// state decides, once, between the committer starting the job and
	// its caller giving up on it while it is still queued.
	state atomic.Int32
	// journal collects the withdrawals and blocking-list changes the
	// use case wrote (the withdrawal journal, journal.go).
	journal *consent.Journal
}

const (
	jobQueued int32 = iota
	jobStarted
	jobCancelled
)

// start claims the job for the committer; false if its caller gave up.
func (j *job) start() bool { return j.state.CompareAndSwap(jobQueued, jobStarted) }

// cancel withdraws the job from the queue; false if it has started.
func (j *job) cancel() bool { return j.state.CompareAndSwap(jobQueued, jobCancelled) }

type result struct {
	err   error
	panic any // a panic in fn, raised again in the caller's goroutine
}

// CommitStats counts the work of the committer since the database was
// opened: transactions committed and the use cases they carried.
type CommitStats struct {
	Commits  int64
	UseCases int64
}

type committer struct {
	jobs     chan *job
	quit     chan struct{}
	stopped  chan struct{}
	once     sync.Once
	commits  atomic.Int64
	useCases atomic.Int64
}

func newCommitter() *committer {
	return &committer{jobs: make(chan *job, 4*maxBatch), quit: make(chan struct{}), stopped: make(chan struct{})}
}

// CommitStats reports how many transactions carried how many use cases.
func (db *DB) CommitStats() CommitStats {
	return CommitStats{Commits: db.commit.commits.Load(), UseCases: db.commit.useCases.Load()}
}

// Tx runs fn in a transaction on the writing connection and returns once
// that transaction is committed (nil) or fn's writes are rolled back (the
// error). The time passed to fn is read when fn starts, so that everything
// written in one use case carries the same time. fn may share its
// transaction with other use cases (group commit, above), so it must keep
// to its own writes: consent.Tx has no Commit or Rollback, and a
// statement that would end the transaction or touch savepoints is refused,
// logged with fn's stack, and fails the batch (every use case in it hears
// that it was rolled back, which is then true).
//
// ctx bounds the wait for the writer. Once fn has started it runs to its
// end: the context handed to fn (for its statements, shadowing the
// caller's) carries ctx's values but not its cancellation, because a
// statement interrupted by a cancelled context rolls back the whole
// shared transaction (sqlite3_interrupt), and with it other customers'
// orders.
func (db *DB) Tx(ctx context.Context, fn func(ctx context.Context, tx consent.Tx, now time.Time) error) error {
	j := &job{ctx: ctx, fn: fn, done: make(chan result, 1)}
	select {
	case db.commit.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.commit.quit:
		return ErrClosed
	}
	var r result
	select {
	case r = <-j.done:
	case <-ctx.Done():
		// Still waiting in the queue: the job is withdrawn and never
		// runs. Already started: it runs to its end (see above), and
		// the caller hears how it ended.
		if j.cancel() {
			return ctx.Err()
		}
		r = <-j.done
	case <-db.commit.stopped:
		// The committer answers every job it took before it stops; a
		// job still in the channel was never started.
		select {
		case r = <-j.done:
		default:
			return ErrClosed
		}
	}
	if r.panic != nil {
		panic(r.panic)
	}
	return r.err
}

// run is the committer's loop: take the first waiting use case, then all
// that are already waiting behind it, and commit them together.
func (db *DB) run() {
	defer close(db.commit.stopped)
	var carry []*job
	for {
		batch := carry
		carry = nil
		if len(batch) == 0 {
			select {
			case j := <-db.commit.jobs:
				batch = append(batch, j)
			case <-db.commit.quit:
				return
			}
		}
	more:
		for len(batch) < maxBatch {
			select {
			case j := <-db.commit.jobs:
				batch = append(batch, j)
			default:
				break more
			}
		}
		carry = db.runBatch(batch)
		// The writer's connection is free now: prepare the statements
		// the batch ran unprepared, for the next ones.
		db.w.PrepareWanted(context.Background())
		if db.restartLog.Swap(false) { // only SQLite's checkpoints set it
			db.finishCheckpoint()
		}
	}
}

// runBatch runs the batch in one transaction and answers each job. It
// returns the jobs it did not start because the transaction broke under
// an earlier one; they go into the next transaction.
func (db *DB) runBatch(batch []*job) (notStarted []*job) {
	// Jobs whose caller gave up before they started are answered now.
	live := batch[:0:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			if j.cancel() {
				j.done <- result{err: err}
			}
			continue
		}
		if j.state.Load() == jobCancelled {
			continue // its caller has already returned
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return nil
	}
	bg := context.Background()
	tx, err := db.w.BeginTx(bg, nil)
	if err == nil && db.pg {
		if err = lockWriters(bg, tx, batchStores(live)); err != nil {
			tx.Rollback()
		}
	}
	if err != nil {
		for _, j := range live {
			j.done <- result{err: fmt.Errorf("begin: %w", err)}
		}
		return nil
	}
	alone := len(live) == 1
	var ran []*job // jobs whose writes are in the transaction
	broken := error(nil)
	// One guard for the whole batch: its first refused statement fails
	// the batch (below), and the statements it binds to the transaction
	// serve every use case in it.
	w := consent.NewWriteTx(tx, db.w).Sequenced(db.pg)
	for i, j := range live {
		if !j.start() {
			continue // withdrawn by its caller since the batch was formed
		}
		if !alone {
			if _, err := tx.ExecContext(bg, `SAVEPOINT use_case`); err != nil {
				// Not requeued: the same failure would come back forever.
				for k, j := range live[i:] {
					if k == 0 || j.start() { // the others' callers may have gone
						j.done <- result{err: fmt.Errorf("begin: %w", err)}
					}
				}
				broken = err
				break
			}
		}
		r := call(j, w, db.Now().UTC())
		if misuse := w.Misused(); misuse != nil {
			// A programming error: fail the batch. The statement never
			// reached SQLite, so the transaction is intact and rolling it
			// back undoes every use case in it; each hears so, truthfully.
			r = result{err: fmt.Errorf("commit: %w", misuse), panic: r.panic}
			// The use cases not started yet go into the next transaction.
			j.done <- r
			broken, notStarted = misuse, live[i+1:]
			break
		}
		if r.err == nil && r.panic == nil {
			if !alone {
				if _, err := tx.ExecContext(bg, `RELEASE use_case`); err != nil {
					// SQLite itself ended the transaction (a full disk, an
					// I/O error): everything in it is gone.
					j.done <- result{err: fmt.Errorf("commit: %w", err)}
					broken, notStarted = err, live[i+1:]
					break
				}
			}
			ran = append(ran, j)
			continue
		}
		if alone {
			tx.Rollback()
			j.done <- r
			return nil
		}
		// Undo this use case only. If that fails, SQLite has already
		// rolled back the whole transaction (a full disk, an I/O error).
		if _, err := tx.ExecContext(bg, `ROLLBACK TO use_case; RELEASE use_case`); err != nil {
			j.done <- r
			broken, notStarted = err, live[i+1:]
			break
		}
		j.done <- r
	}
	if broken != nil {
		tx.Rollback()
		// The jobs that ran have changed their callers' variables, so
		// they are not run again: their callers hear that nothing of it
		// was kept, as after a failed commit.
		for _, j := range ran {
			j.done <- result{err: fmt.Errorf("commit: rolled back with its batch: %w", broken)}
		}
		slog.Error("write batch rolled back", "err", broken, "failed", len(ran), "requeued", len(notStarted))
		return notStarted
	}
	err = tx.Commit()
	if err == nil {
		db.commit.commits.Add(1)
		db.commit.useCases.Add(int64(len(ran)))
		db.journal(ran)
	} else {
		err = fmt.Errorf("commit: %w", err)
	}
	for _, j := range ran {
		j.done <- result{err: err}
	}
	return nil
}

// call runs one use case and catches its panic, which Tx raises again in
// the caller's goroutine, where the handler's recoverer answers it. The
// stack is logged here, where the panic happened: raised again, the
// value alone would point at Tx. (fn must not call runtime.Goexit: that
// would end the committer, and every later Tx would answer ErrClosed.)
func call(j *job, tx consent.Tx, now time.Time) (r result) {
	defer func() {
		if v := recover(); v != nil {
			slog.Error("use case panicked; raised again in its caller", "panic", v, "stack", string(debug.Stack()))
			r = result{panic: v}
		}
	}()
	ctx, journal := consent.WithJournal(context.WithoutCancel(j.ctx))
	j.journal = journal
	return result{err: j.fn(ctx, tx, now)}
}

// journal writes the withdrawals and blocking-list changes of the use
// cases just committed to the withdrawal journal, on the disk before
// their callers hear "done". The commit stands if that fails: the ledger
// holds them, and the next start or nightly backup writes what the
// journal lacks (orders.SyncWithdrawalJournal).
func (db *DB) journal(ran []*job) {
	var entries []consent.JournalEntry
	for _, j := range ran {
		if j.journal != nil {
			entries = append(entries, j.journal.Entries...)
		}
	}
	if err := AppendJournal(db.Path, entries, db.Now(), false); err != nil {
		slog.Error("withdrawal journal: entries not written; the next start writes them", "err", err, "entries", len(entries))
	}
}

// stop ends the committer after the batch in hand, and waits for it.
func (c *committer) stop() {
	c.once.Do(func() { close(c.quit) })
	<-c.stopped
}

// StoreBeforeTx readies ctx for a use case whose store is found from its
// data (a customer's, on the public pages) by find. A chain's writers
// lock their stores' chains before the use case runs (lockWriters), so on
// PostgreSQL the store is found here, before the transaction; on SQLite
// one writer runs every use case, and StoreInTx finds it inside the
// transaction that writes, not on a reader from the request's goroutine
// (whose fresh stack SQLite's deep frames made grow: with the two
// queries, a fifth of the server's time per one-click unsubscribe in
// load's burst).
func (db *DB) StoreBeforeTx(ctx context.Context, find func(context.Context, consent.Querier) context.Context) context.Context {
	if db.pg {
		ctx = find(ctx, db.sql)
	}
	return consent.InStore(ctx)
}

// StoreInTx is StoreBeforeTx's other half, inside the use case's
// transaction: on SQLite the store find names; on PostgreSQL ctx as
// StoreBeforeTx left it, the store whose chain the batch has locked.
func (db *DB) StoreInTx(ctx context.Context, tx consent.Tx, find func(context.Context, consent.Querier) context.Context) context.Context {
	if db.pg {
		return ctx
	}
	return find(ctx, tx)
}

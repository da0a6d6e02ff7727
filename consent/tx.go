package consent

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
)

// Tx is what a use case gets inside a write transaction: statements, and
// nothing that ends the transaction. The transaction may be shared with
// other customers' use cases (orders.DB.Tx commits them together), so a
// use case that committed, rolled back or released savepoints itself
// would decide for them too. There is no Commit or Rollback here, and
// only WriteTx makes a Tx (the unexported method).
type Tx interface {
	Querier
	writeTx()
}

// ErrTxControl is the error of a statement that would end or nest the
// shared transaction.
var ErrTxControl = errors.New("a use case may not begin, commit, roll back or release the shared transaction")

// WriteTx guards a *sql.Tx for the use cases run in it. A statement that
// begins, commits, rolls back, or sets or releases a savepoint is refused
// before it reaches SQLite, logged with the stack of the use case that
// sent it, and remembered (Misused), so that the committer can fail the
// batch rather than commit around a programming error.
type WriteTx struct {
	tx       *sql.Tx
	prepared *Prepared // the writer's statements, nil for none
	misused  error
	// sequenced: the ledger's seq comes from the sequence
	// consent_events_seq (a chain's PostgreSQL database, where stores
	// append at the same time), not from MAX(seq) + 1.
	sequenced bool
	// bound are the prepared statements bound to tx so far. The use
	// cases of a batch run the same queries, and binding a statement to
	// the transaction (sql.Tx.StmtContext) allocates it anew and
	// registers it with the handle under the handle's lock: 17 µs of a
	// one-click withdrawal's 200.
	bound map[*sql.Stmt]*sql.Stmt
}

// Sequenced makes Append take the ledger's seq from the sequence
// consent_events_seq (a chain's PostgreSQL database). It returns w.
func (w *WriteTx) Sequenced(on bool) *WriteTx {
	w.sequenced = on
	return w
}

// NewWriteTx guards tx. Where prepared is the handle tx began on, its
// statements are reused in the transaction.
func NewWriteTx(tx *sql.Tx, prepared *Prepared) *WriteTx {
	return &WriteTx{tx: tx, prepared: prepared}
}

// stmt returns the cached statement for query bound to the transaction,
// nil where there is none.
func (w *WriteTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if w.prepared == nil {
		return nil
	}
	// Only what is prepared already: the transaction holds the writer's
	// one connection, so preparing on the handle now would wait for it
	// forever. The rest is prepared after the transaction.
	st := w.prepared.cached(query)
	if st == nil {
		return nil
	}
	b, ok := w.bound[st]
	if !ok {
		if w.bound == nil {
			w.bound = map[*sql.Stmt]*sql.Stmt{}
		}
		b = w.tx.StmtContext(ctx, st)
		w.bound[st] = b
	}
	return b
}

func (w *WriteTx) writeTx() {}

// Misused reports the first refused statement, nil if there was none.
func (w *WriteTx) Misused() error { return w.misused }

func (w *WriteTx) check(query string) error {
	if kw := txControlOf(query); kw != "" {
		err := fmt.Errorf("%w: %s", ErrTxControl, kw)
		if w.misused == nil {
			w.misused = err
		}
		slog.Error("use case sent a transaction statement: a programming error; the batch fails", "statement", kw, "stack", string(debug.Stack()))
		return err
	}
	return nil
}

// ExecContext runs a statement in the transaction.
func (w *WriteTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := w.check(query); err != nil {
		return nil, err
	}
	if st := w.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return w.tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a query in the transaction.
func (w *WriteTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := w.check(query); err != nil {
		return nil, err
	}
	if st := w.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return w.tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query for one row in the transaction. A refused
// statement gives a Row whose Scan fails (with a cancelled context: a
// Row cannot carry an error of its own); Misused tells why.
func (w *WriteTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := w.check(query); err != nil {
		done, cancel := context.WithCancel(ctx)
		cancel()
		return w.tx.QueryRowContext(done, query, args...)
	}
	if st := w.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return w.tx.QueryRowContext(ctx, query, args...)
}

// verdicts caches txControl by query text. The queries are constants in
// the code, so each is read once instead of at every statement (9 µs of a
// one-click withdrawal's 200); texts built at run time
// beyond maxVerdicts are read each time.
var verdicts struct {
	sync.Map // query → txControl(query)
	n        atomic.Int32
}

const maxVerdicts = 1000

// txControlOf is txControl(query), cached.
func txControlOf(query string) string {
	if kw, ok := verdicts.Load(query); ok {
		return kw.(string)
	}
	kw := txControl(query)
	if verdicts.n.Load() < maxVerdicts {
		if _, loaded := verdicts.LoadOrStore(query, kw); !loaded {
			verdicts.n.Add(1)
		}
	}
	return kw
}

// txControl returns the first keyword of the first statement in query
// that controls transactions (BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT,
// RELEASE), "" if there is none. It reads every statement of a string of
// several, skipping comments and quoted text.
func txControl(query string) string {
	i, n := 0, len(query)
	for i < n {
		// The start of a statement: skip blanks, comments and semicolons.
		for i < n {
			switch {
			case query[i] == ' ' || query[i] == '\t' || query[i] == '\n' || query[i] == '\r' || query[i] == ';':
				i++
				continue
			case strings.HasPrefix(query[i:], "--"):
				for i < n && query[i] != '\n' {
					i++
				}
				continue
			case strings.HasPrefix(query[i:], "/*"):
				if end := strings.Index(query[i+2:], "*/"); end >= 0 {
					i += end + 4
				} else {
					i = n
				}
				continue
			}
			break
		}
		start := i
		for i < n && (query[i] >= 'a' && query[i] <= 'z' || query[i] >= 'A' && query[i] <= 'Z') {
			i++
		}
		kw := query[start:i]
		for _, control := range []string{"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"} {
			if strings.EqualFold(kw, control) {
				return control
			}
		}
		create := strings.EqualFold(kw, "CREATE")
		// The rest of the statement, up to a semicolon outside quotes,
		// comments and a trigger's BEGIN … END body.
		body, cases := false, 0
		for i < n && (body || query[i] != ';') {
			switch c := query[i]; {
			case c == '\'' || c == '"' || c == '`' || c == '[':
				closing := c
				if c == '[' {
					closing = ']'
				}
				i++
				for i < n && query[i] != closing {
					i++
				}
				i++
			case strings.HasPrefix(query[i:], "--"):
				for i < n && query[i] != '\n' {
					i++
				}
			case strings.HasPrefix(query[i:], "/*"):
				if end := strings.Index(query[i+2:], "*/"); end >= 0 {
					i += end + 4
				} else {
					i = n
				}
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
				w := i
				for i < n && (query[i] >= 'a' && query[i] <= 'z' || query[i] >= 'A' && query[i] <= 'Z' || query[i] == '_' || query[i] >= '0' && query[i] <= '9') {
					i++
				}
				// Words matter only inside a CREATE (a trigger's body).
				switch word := query[w:i]; {
				case !create:
				case strings.EqualFold(word, "BEGIN"):
					body = true
				case body && strings.EqualFold(word, "CASE"):
					cases++
				case body && strings.EqualFold(word, "END") && cases > 0:
					cases--
				case body && strings.EqualFold(word, "END"):
					body = false
				}
			default:
				i++
			}
		}
	}
	return ""
}

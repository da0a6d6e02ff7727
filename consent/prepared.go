package consent

import (
	"context"
	"database/sql"
	"strings"
	"sync"
)

// Prepared is a *sql.DB that prepares each query text once and reuses the
// statement. modernc's SQLite parses and plans a statement for every call
// otherwise: a quarter of a one-click unsubscribe's time, and half a
// millisecond of a confirmation's (BENCHMARKS.md). SQLite
// re-prepares a cached statement itself when the schema changes.
type Prepared struct {
	*sql.DB
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
	// wanted are queries a transaction ran unprepared: on a handle of one
	// connection the transaction holds it, so they are prepared after it
	// ends (PrepareWanted).
	wanted map[string]bool
}

// maxPrepared bounds the cache. The queries are constants in the code, a
// few hundred; texts built at run time (IN lists) beyond the bound run
// unprepared, as before.
const maxPrepared = 400

// NewPrepared wraps db.
func NewPrepared(db *sql.DB) *Prepared {
	return &Prepared{DB: db, stmts: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// stmt returns the prepared statement for query, nil where it is not
// cached: a text of several statements (which a prepared statement would
// cut after the first), a full cache, or an error, which the unprepared
// call then reports as before.
func (p *Prepared) stmt(ctx context.Context, query string) *sql.Stmt {
	p.mu.RLock()
	st, ok := p.stmts[query]
	full := len(p.stmts) >= maxPrepared
	p.mu.RUnlock()
	if ok || full || !preparable(query) {
		return st
	}
	return p.prepare(ctx, query)
}

// preparable says whether query is one statement; a prepared statement
// would silently cut a text of several after the first.
func preparable(query string) bool {
	return !strings.Contains(strings.TrimRight(query, "; \t\r\n"), ";")
}

// cached returns the statement prepared for query, or nil and notes the
// query to be prepared when the connection is free again.
func (p *Prepared) cached(query string) *sql.Stmt {
	p.mu.RLock()
	st, ok := p.stmts[query]
	p.mu.RUnlock()
	if ok {
		return st
	}
	if preparable(query) {
		p.mu.Lock()
		if len(p.stmts)+len(p.wanted) < maxPrepared {
			p.wanted[query] = true
		}
		p.mu.Unlock()
	}
	return nil
}

// PrepareWanted prepares the queries transactions ran unprepared since
// the last call. The committer calls it between transactions, when the
// writer's one connection is free.
func (p *Prepared) PrepareWanted(ctx context.Context) {
	p.mu.Lock()
	var queries []string
	for q := range p.wanted {
		queries = append(queries, q)
		delete(p.wanted, q)
	}
	p.mu.Unlock()
	for _, q := range queries {
		p.prepare(ctx, q)
	}
}

func (p *Prepared) prepare(ctx context.Context, query string) *sql.Stmt {
	st, err := p.DB.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.stmts[query]; ok {
		st.Close()
		return old
	}
	if len(p.stmts) >= maxPrepared {
		st.Close()
		return nil
	}
	p.stmts[query] = st
	return st
}

// ExecContext runs a statement.
func (p *Prepared) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.DB.ExecContext(ctx, query, args...)
}

// QueryContext runs a query.
func (p *Prepared) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query for one row.
func (p *Prepared) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, query, args...)
}

// Close closes the statements, then the database.
func (p *Prepared) Close() error {
	p.mu.Lock()
	for q, st := range p.stmts {
		st.Close()
		delete(p.stmts, q)
	}
	p.mu.Unlock()
	return p.DB.Close()
}

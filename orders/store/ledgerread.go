package store

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/consentdesk/consentdesk/consent"
	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// cReader reads the ledger for verify through SQLite's C API, as
// modernc.org/sqlite/lib has it transpiled to Go, on a read-only
// connection of its own (the target: a chain's 10,000,000 events
// in 10 s). Through database/sql the 22 hashed columns of 1,000,000
// events took 3.0 s on one core: a fresh Go string per text column, and
// three calls per column, each taking the connection's mutex (modernc
// opens every connection SQLITE_OPEN_FULLMUTEX). Through this reader
// they take 1.2–1.6 s: its connection has no mutex (one goroutine uses
// it), each column is one sqlite3_value, and a row's text is copied
// once, into a block it reuses (BENCHMARKS.md).
type cReader struct {
	tls  *libc.TLS
	db   uintptr
	stmt uintptr
	// block holds the text of the row read, which its strings point
	// into: the next row overwrites it (consent.HashedReader).
	block []byte
	cols  [22]struct {
		v    uintptr // the column's sqlite3_value
		p    uintptr // its text
		n, t int32   // the text's length (-1 when not text), the type
	}
}

// sqliteHashed is a consent.HashedReader on the SQLite database at uri
// (a "file:" URI with its mode).
func sqliteHashed(uri string) consent.HashedReader {
	return func(ctx context.Context, lo, hi int64, each func(e *consent.Event) error) error {
		r, err := openCReader(uri)
		if err != nil {
			return fmt.Errorf("consent: read ledger: %w", err)
		}
		defer r.close()
		return r.read(ctx, lo, hi, each)
	}
}

func openCReader(uri string) (r *cReader, err error) {
	r = &cReader{tls: libc.NewTLS()}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	name, err := libc.CString(uri)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(r.tls, name)
	// SQLite hands out the connection and the statement through a
	// pointer to C memory.
	p := libc.Xcalloc(r.tls, 1, types.Size_t(unsafe.Sizeof(uintptr(0))))
	if p == 0 {
		return nil, r.error(sqlite3.SQLITE_NOMEM)
	}
	defer libc.Xfree(r.tls, p)
	// NOMUTEX: the connection is used by this goroutine alone.
	rc := sqlite3.Xsqlite3_open_v2(r.tls, name, p, sqlite3.SQLITE_OPEN_READONLY|sqlite3.SQLITE_OPEN_NOMUTEX|sqlite3.SQLITE_OPEN_URI, 0)
	r.db = cPointer(p)
	if rc != sqlite3.SQLITE_OK {
		return nil, r.error(rc)
	}
	// As the server's connections wait for a lock (DSN).
	sqlite3.Xsqlite3_busy_timeout(r.tls, r.db, 10000)
	query, err := libc.CString(`SELECT ` + consent.HashedColumns + ` FROM consent_events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(r.tls, query)
	if rc := sqlite3.Xsqlite3_prepare_v2(r.tls, r.db, query, -1, p, 0); rc != sqlite3.SQLITE_OK {
		return nil, r.error(rc)
	}
	r.stmt = cPointer(p)
	return r, nil
}

// cPointer is the pointer SQLite wrote at p.
func cPointer(p uintptr) uintptr {
	return *(*uintptr)(unsafe.Pointer(unsafe.SliceData(libc.GoBytes(p, int(unsafe.Sizeof(p))))))
}

func (r *cReader) error(rc int32) error {
	if r.db == 0 {
		return fmt.Errorf("%s (%d)", libc.GoString(sqlite3.Xsqlite3_errstr(r.tls, rc)), rc)
	}
	return fmt.Errorf("%s (%d)", libc.GoString(sqlite3.Xsqlite3_errmsg(r.tls, r.db)), rc)
}

func (r *cReader) close() {
	if r.stmt != 0 {
		sqlite3.Xsqlite3_finalize(r.tls, r.stmt)
	}
	if r.db != 0 {
		sqlite3.Xsqlite3_close_v2(r.tls, r.db)
	}
	r.tls.Close()
}

func (r *cReader) read(ctx context.Context, lo, hi int64, each func(e *consent.Event) error) error {
	if rc := sqlite3.Xsqlite3_bind_int64(r.tls, r.stmt, 1, lo); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("consent: read ledger: %w", r.error(rc))
	}
	if rc := sqlite3.Xsqlite3_bind_int64(r.tls, r.stmt, 2, hi); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("consent: read ledger: %w", r.error(rc))
	}
	defer sqlite3.Xsqlite3_reset(r.tls, r.stmt)
	var e consent.Event
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		switch rc := sqlite3.Xsqlite3_step(r.tls, r.stmt); rc {
		case sqlite3.SQLITE_ROW:
		case sqlite3.SQLITE_DONE:
			return nil
		default:
			return fmt.Errorf("consent: read ledger: %w", r.error(rc))
		}
		if err := r.take(); err != nil {
			return err
		}
		if err := consent.ReadHashed(&e, r); err != nil {
			return err
		}
		if err := each(&e); err != nil {
			return err
		}
	}
}

// take copies the row's text columns into the block, at once: SQLite's
// pointers hold only until the next step.
func (r *cReader) take() error {
	size := 0
	for i := range r.cols {
		// One call per column for its value, then the value's type and
		// text: each sqlite3_column_* call takes the connection's mutex
		// and checks for a failed allocation, and three of them per
		// column were a fifth of verify's time. The unprotected value
		// is safe here: one goroutine uses the connection.
		c := &r.cols[i]
		c.v = sqlite3.Xsqlite3_column_value(r.tls, r.stmt, int32(i))
		c.t = sqlite3.Xsqlite3_value_type(r.tls, c.v)
		c.p, c.n = 0, -1
		if c.t != sqlite3.SQLITE_TEXT && c.t != sqlite3.SQLITE_BLOB {
			continue // a number, or NULL: Text refuses it
		}
		c.p = sqlite3.Xsqlite3_value_text(r.tls, c.v)
		c.n = sqlite3.Xsqlite3_value_bytes(r.tls, c.v)
		if c.p == 0 && c.n > 0 {
			return fmt.Errorf("consent: read ledger: %w", r.error(sqlite3.SQLITE_NOMEM))
		}
		size += int(c.n)
	}
	if size > cap(r.block) {
		r.block = make([]byte, 0, 2*size)
	}
	r.block = r.block[:0]
	return nil
}

// Int is a number column; a NULL or text is refused, as database/sql's
// reader refuses it (consent.HashedRow).
func (r *cReader) Int(i int) (int64, error) {
	c := &r.cols[i]
	if c.t != sqlite3.SQLITE_INTEGER {
		return 0, fmt.Errorf("consent: scan event: a number column holds %s", sqliteTypeName(c.t))
	}
	return sqlite3.Xsqlite3_value_int64(r.tls, c.v), nil
}

// Text is a text column, copied into the block.
func (r *cReader) Text(i int) (string, error) {
	c := &r.cols[i]
	if c.n < 0 {
		return "", fmt.Errorf("consent: scan event: a text column holds %s", sqliteTypeName(c.t))
	}
	if c.n == 0 {
		return "", nil
	}
	start := len(r.block)
	r.block = append(r.block, libc.GoBytes(c.p, int(c.n))...)
	return unsafe.String(&r.block[start], int(c.n)), nil
}

// sqliteTypeName names a column's type as %T names the value
// database/sql gives for it, so that both readers report alike.
func sqliteTypeName(t int32) string {
	switch t {
	case sqlite3.SQLITE_INTEGER:
		return "int64"
	case sqlite3.SQLITE_FLOAT:
		return "float64"
	case sqlite3.SQLITE_TEXT:
		return "string"
	case sqlite3.SQLITE_BLOB:
		return "[]uint8"
	}
	return "<nil>"
}

package orders_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/orders/orderstest"
	"github.com/consentdesk/consentdesk/orders/store"
)

// One schema on both engines: a SQLite file and a PostgreSQL database,
// each migrated from assets/migrations, have the same tables, columns,
// types (by typeOf), indexes and CHECK constraints, but for the few
// differences intended and listed here with their reasons. A column or a
// CHECK added to one engine only fails here.
func TestOneSchemaOnBothEngines(t *testing.T) {
	if !orderstest.Postgres() {
		t.Skip("compares a SQLite file with a PostgreSQL database: runs in the PostgreSQL pass")
	}
	ctx := context.Background()
	lite, err := store.Open(ctx, filepath.Join(t.TempDir(), "schema.db"), assets.Migrations(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := orderstest.Open(ctx, t, filepath.Join(t.TempDir(), "schema-pg"), assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	a, err := sqliteSchema(ctx, lite.SQL())
	if err != nil {
		t.Fatal(err)
	}
	b, err := postgresSchema(ctx, pg.SQL())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range schemaDiff(a, b) {
		t.Error(d)
	}
}

// intended are the differences between the engines' schemas that are
// meant, each with its reason; anything else is drift.
var intended = map[string]string{
	// The counter's search: SQLite's FTS5 table (kept by triggers) against
	// a trigram GIN index on the column on PostgreSQL.
	"table customers_fts: sqlite only":                    "FTS5 search index",
	"index customers(search) unique=false: postgres only": "trigram GIN search index (pg_trgm)",
}

type schema struct {
	tables  map[string]map[string]string // table → column → "TYPE NULL|NOT NULL"
	indexes map[string]bool              // "table(cols) unique?"
	checks  map[string]bool              // "table: column literals…"
}

// typeOf maps each engine's column types to one name.
func typeOf(t string) string {
	switch t = strings.ToLower(strings.TrimSpace(t)); t {
	case "integer", "int", "bigint", "smallint", "boolean":
		return "INTEGER"
	case "text", "character varying", "varchar":
		return "TEXT"
	case "blob", "bytea":
		return "BLOB"
	case "real", "double precision", "numeric":
		return "REAL"
	}
	return strings.ToUpper(t)
}

var checkLiteral = regexp.MustCompile(`'[^']*'|\b\d+\b`)

// checkKey reduces a CHECK to its column and its literals, sorted: the
// engines write the same constraint differently (IN (…) against = ANY
// (ARRAY[…])), but a value missing on one side differs here.
func checkKey(table, expr string) string {
	col := regexp.MustCompile(`[a-z_][a-z0-9_]*`).FindString(strings.TrimLeft(strings.ToLower(expr), "( "))
	lits := checkLiteral.FindAllString(expr, -1)
	sort.Strings(lits)
	return fmt.Sprintf("%s: %s %s", table, col, strings.Join(lits, ","))
}

func sqliteSchema(ctx context.Context, q *sql.DB) (schema, error) {
	s := schema{tables: map[string]map[string]string{}, indexes: map[string]bool{}, checks: map[string]bool{}}
	rows, err := q.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		return s, err
	}
	defs := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return s, err
		}
		if strings.HasPrefix(name, "customers_fts_") {
			continue // FTS5's own shadow tables
		}
		defs[name] = def
	}
	rows.Close()
	for table, def := range defs {
		s.tables[table] = map[string]string{}
		cols, err := q.QueryContext(ctx, `SELECT name, type, "notnull", pk FROM pragma_table_info(?)`, table)
		if err != nil {
			return s, err
		}
		for cols.Next() {
			var name, typ string
			var notNull, pk int
			if err := cols.Scan(&name, &typ, &notNull, &pk); err != nil {
				return s, err
			}
			null := "NULL"
			if notNull == 1 || pk > 0 {
				null = "NOT NULL"
			}
			s.tables[table][name] = typeOf(typ) + " " + null
		}
		cols.Close()
		idx, err := q.QueryContext(ctx, `SELECT name, "unique", origin FROM pragma_index_list(?)`, table)
		if err != nil {
			return s, err
		}
		type index struct {
			name   string
			unique bool
		}
		var list []index
		for idx.Next() {
			var name, origin string
			var unique int
			if err := idx.Scan(&name, &unique, &origin); err != nil {
				return s, err
			}
			if origin != "pk" {
				list = append(list, index{name, unique == 1})
			}
		}
		idx.Close()
		for _, i := range list {
			var cols []string
			c, err := q.QueryContext(ctx, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, i.name)
			if err != nil {
				return s, err
			}
			for c.Next() {
				var n sql.NullString
				if err := c.Scan(&n); err != nil {
					return s, err
				}
				if !n.Valid {
					n.String = "expr" // an expression, not a column
				}
				cols = append(cols, n.String)
			}
			c.Close()
			s.indexes[fmt.Sprintf("%s(%s) unique=%v", table, strings.Join(cols, ","), i.unique)] = true
		}
		for _, expr := range checksOf(def) {
			s.checks[checkKey(table, expr)] = true
		}
	}
	return s, nil
}

// checksOf are the expressions of every CHECK (…) in a CREATE TABLE.
func checksOf(def string) []string {
	var out []string
	for i := 0; ; {
		j := strings.Index(strings.ToUpper(def[i:]), "CHECK")
		if j < 0 {
			return out
		}
		start := strings.Index(def[i+j:], "(")
		if start < 0 {
			return out
		}
		start += i + j
		depth := 0
		for k := start; k < len(def); k++ {
			switch def[k] {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 {
				out = append(out, def[start+1:k])
				i = k + 1
				break
			}
		}
		if depth != 0 {
			return out
		}
	}
}

func postgresSchema(ctx context.Context, q *sql.DB) (schema, error) {
	s := schema{tables: map[string]map[string]string{}, indexes: map[string]bool{}, checks: map[string]bool{}}
	rows, err := q.QueryContext(ctx, `SELECT c.table_name, c.column_name, c.data_type, c.is_nullable FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'`)
	if err != nil {
		return s, err
	}
	for rows.Next() {
		var table, col, typ, nullable string
		if err := rows.Scan(&table, &col, &typ, &nullable); err != nil {
			return s, err
		}
		if s.tables[table] == nil {
			s.tables[table] = map[string]string{}
		}
		null := "NULL"
		if nullable == "NO" {
			null = "NOT NULL"
		}
		s.tables[table][col] = typeOf(typ) + " " + null
	}
	rows.Close()
	idx, err := q.QueryContext(ctx, `SELECT t.relname, ix.indisunique, string_agg(COALESCE(a.attname, 'expr'), ',' ORDER BY k.n)
		FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_namespace ns ON ns.oid = t.relnamespace
		JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) ON true
		LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
		WHERE ns.nspname = 'public' AND NOT ix.indisprimary
		GROUP BY ix.indexrelid, t.relname, ix.indisunique`)
	if err != nil {
		return s, err
	}
	for idx.Next() {
		var table, cols string
		var unique bool
		if err := idx.Scan(&table, &unique, &cols); err != nil {
			return s, err
		}
		s.indexes[fmt.Sprintf("%s(%s) unique=%v", table, cols, unique)] = true
	}
	idx.Close()
	chk, err := q.QueryContext(ctx, `SELECT t.relname, pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
		JOIN pg_namespace ns ON ns.oid = t.relnamespace WHERE ns.nspname = 'public' AND c.contype = 'c'`)
	if err != nil {
		return s, err
	}
	for chk.Next() {
		var table, def string
		if err := chk.Scan(&table, &def); err != nil {
			return s, err
		}
		for _, expr := range checksOf(def) {
			s.checks[checkKey(table, expr)] = true
		}
	}
	chk.Close()
	return s, nil
}

// schemaDiff lists what differs, less the intended differences.
func schemaDiff(a, b schema) []string {
	var out []string
	add := func(d string) {
		if _, ok := intended[d]; !ok {
			out = append(out, d)
		}
	}
	for table, cols := range a.tables {
		other, ok := b.tables[table]
		if !ok {
			add("table " + table + ": sqlite only")
			continue
		}
		for col, def := range cols {
			switch od, ok := other[col]; {
			case !ok:
				add(fmt.Sprintf("column %s.%s: sqlite only", table, col))
			case od != def:
				add(fmt.Sprintf("column %s.%s: %s on sqlite, %s on postgres", table, col, def, od))
			}
		}
		for col := range other {
			if _, ok := cols[col]; !ok {
				add(fmt.Sprintf("column %s.%s: postgres only", table, col))
			}
		}
	}
	for table := range b.tables {
		if _, ok := a.tables[table]; !ok {
			add("table " + table + ": postgres only")
		}
	}
	for k := range a.indexes {
		if !b.indexes[k] {
			add("index " + k + ": sqlite only")
		}
	}
	for k := range b.indexes {
		if !a.indexes[k] {
			add("index " + k + ": postgres only")
		}
	}
	for k := range a.checks {
		if !b.checks[k] {
			add("check " + k + ": sqlite only")
		}
	}
	for k := range b.checks {
		if !a.checks[k] {
			add("check " + k + ": postgres only")
		}
	}
	sort.Strings(out)
	return out
}

package orders

import "strings"

// The SQL of the counter's use cases that differs between the two
// engines (orders/store knows which one it runs on).

// searchIndex returns the query of the ids of the customers whose search
// key holds every word (three characters or more) through the trigram
// index: SQLite's FTS5 table, PostgreSQL's pg_trgm index on the column.
func (db *DB) searchIndex(words []string) (query string, args []any) {
	if db.Postgres() {
		// pg_trgm answers LIKE '%…%' from its index.
		query = `SELECT id FROM customers WHERE true`
		for _, w := range words {
			query += ` AND search LIKE ? ESCAPE '\'`
			args = append(args, likeSubstring(w))
		}
		return query, args
	}
	// Each word a quoted phrase: a substring, nothing in it an operator.
	for i, w := range words {
		words[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	}
	return `SELECT rowid FROM customers_fts WHERE customers_fts MATCH ?`, []any{strings.Join(words, " AND ")}
}

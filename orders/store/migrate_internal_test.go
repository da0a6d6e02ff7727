package store

import (
	"strings"
	"testing"
	"testing/fstest"
)

// One migration file holds both engines, with a block for one engine
// only where they differ; PostgreSQL applies its own files up to 0018
// and the shared ones after them.
func TestMigrationsForEachEngine(t *testing.T) {
	body := "ALTER TABLE t ADD COLUMN a TEXT;\n-- engine: sqlite\nCREATE VIRTUAL TABLE f USING fts5(a);\n-- engine: postgres\nCREATE INDEX t_a ON t USING gin (a gin_trgm_ops);\n-- engine: both\nCREATE INDEX t_b ON t (b);\n"
	lite, pg := engineBlocks(body, false), engineBlocks(body, true)
	if !strings.Contains(lite, "fts5") || strings.Contains(lite, "gin") || !strings.Contains(lite, "ADD COLUMN a") || !strings.Contains(lite, "t_b") {
		t.Errorf("SQLite's text:\n%s", lite)
	}
	if strings.Contains(pg, "fts5") || !strings.Contains(pg, "gin") || !strings.Contains(pg, "ADD COLUMN a") || !strings.Contains(pg, "t_b") {
		t.Errorf("PostgreSQL's text:\n%s", pg)
	}
	files := fstest.MapFS{
		"0001_init.sql": {}, "0013_search.sql": {}, "0014_jobs.sql": {}, "0019_both.sql": {},
		"postgres/0013_schema.sql": {}, "postgres/0014_jobs.sql": {},
	}
	for _, c := range []struct {
		pg   bool
		want string
	}{
		{false, "0001_init.sql 0013_search.sql 0014_jobs.sql 0019_both.sql"},
		{true, "postgres/0013_schema.sql postgres/0014_jobs.sql 0019_both.sql"},
	} {
		got, err := migrationFiles(files, c.pg)
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("postgres=%v: %v %v, want %s", c.pg, got, err, c.want)
		}
	}
	if _, err := migrationFiles(fstest.MapFS{"x_bad.sql": {}}, false); err == nil {
		t.Error("a file without a number was taken")
	}
}

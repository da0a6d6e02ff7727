package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// The log starts over even when every checkpoint ends behind a commit.
// SQLite starts the log over only in a transaction
// that begins with all of it in the file. Beside a writer that never
// paused, the checkpointer always ended behind the newest commit, so no
// transaction ever began so, and the log grew to 2.7 GB in 30 s of
// orders. Here the commit that lands during the checkpoint is held on a
// gate; the next use case must then start the log over, which counts up
// the log header's checkpoint sequence number (bytes 12–15).
func TestLogStartsOverAfterACheckpointEndsBehind(t *testing.T) {
	defer func(d time.Duration) { checkpointEvery = d }(checkpointEvery)
	checkpointEvery = time.Hour // the test runs the checkpoints itself (Open reads it)
	db := openCommitDB(t)
	ctx := context.Background()
	write := func(v string) {
		t.Helper()
		if err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, _ time.Time) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (?)`, v)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	startedOver := func() uint32 {
		t.Helper()
		b, err := os.ReadFile(db.Path + "-wal")
		if err != nil || len(b) < 32 {
			t.Fatalf("log file: %v (%d bytes)", err, len(b))
		}
		return binary.BigEndian.Uint32(b[12:16])
	}
	for i := range 50 {
		write(fmt.Sprint("before ", i))
	}
	before := startedOver()
	release := hold(t, db) // a use case whose transaction began before the checkpoint
	db.checkpoint()
	if err := release(); err != nil { // and commits after it
		t.Fatal(err)
	}
	write("next")
	if got := startedOver(); got != before+1 {
		t.Errorf("the log's checkpoint sequence went from %d to %d: it did not start over", before, got)
	}
	// And what the log held is in the file and readable.
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 52 {
		t.Errorf("rows: %d, %v; want 52", n, err)
	}
}

package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
)

func TestNextBackup(t *testing.T) {
	at := func(s string) time.Time {
		v, _ := time.ParseInLocation("2006-01-02 15:04", s, orders.Berlin)
		return v
	}
	for _, c := range []struct{ now, at, want string }{
		{"2026-11-22 01:00", "02:30", "2026-11-22 02:30"},
		{"2026-11-22 02:30", "02:30", "2026-11-23 02:30"},
		{"2026-11-22 23:59", "00:00", "2026-11-23 00:00"},
		{"2026-03-28 12:00", "02:30", "2026-03-29 02:30"}, // the night the clocks go forward
	} {
		got, err := nextBackup(at(c.now), c.at)
		if err != nil || !got.Equal(at(c.want)) {
			t.Errorf("%s at %s: %v %v", c.now, c.at, got, err)
		}
	}
	for _, bad := range []string{"", "2:3:0", "24:00", "12:60", "noon", "-1:00"} {
		if _, err := nextBackup(time.Now(), bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func events(t *testing.T, db string) int64 {
	t.Helper()
	v, _, _, err := orders.VerifyFile(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return v.Events
}

// TestBackupRotateRestoreAndServe: nightly copies rotate; a restore
// refuses a live database and a tampered backup, keeps the old database
// aside, verifies, and the server runs on the result.
func TestBackupRotateRestoreAndServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "store.db")
	token, err := run(t, "token", "create", "--name", "erp", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	token = strings.TrimSpace(token)
	if _, err := run(t, "demo", "--db", db); err != nil {
		t.Fatal(err)
	}
	store, err := orders.Open(ctx, db, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	backups := filepath.Join(dir, "backups")
	day := time.Date(2026, 11, 20, 1, 30, 0, 0, time.UTC)
	var last string
	for i := 0; i < 3; i++ {
		store.Now = func() time.Time { return day.AddDate(0, 0, i) }
		if last, err = store.BackupInto(ctx, backups, 2); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(backups, "*"))
	if len(files) != 4 || filepath.Base(files[0]) != "consentdesk-20261121-013000.db" {
		t.Errorf("after rotation: %v", files)
	}
	seq, hash, _ := consent.Head(ctx, store.SQL())
	head, _ := os.ReadFile(last + ".head")
	if !strings.Contains(string(head), hash) || !strings.Contains(string(head), "head_seq: "+itoa(seq)) {
		t.Errorf("head file %q, chain head %d %s", head, seq, hash)
	}
	// The heads file beside the database keeps every night's head; the
	// rotation inside the backups folder never touches it.
	if heads, err := os.ReadFile(db + ".heads"); err != nil || strings.Count(string(heads), "\nhead ")+1 != 3 || !strings.HasSuffix(string(heads), " "+itoa(seq)+" "+hash+" "+last+"\n") {
		t.Errorf("heads file after three nights and a rotation: %v\n%s", err, heads)
	}
	want := events(t, last)
	// The store goes on after the backup.
	if _, err := store.Demo(ctx); err != nil {
		t.Fatal(err)
	}
	store.Close()
	if events(t, db) <= want {
		t.Fatal("no new events after the backup")
	}

	// A running server: the restore refuses.
	srv := startServer(t, db)
	if _, err := run(t, "restore", "--from", last, "--db", db); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("restore over a running server: %v", err)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()

	// A tampered backup: refused, nothing changed.
	bad := filepath.Join(dir, "bad.db")
	if err := copyFile(last, bad); err != nil {
		t.Fatal(err)
	}
	tamper(t, bad)
	before := events(t, db)
	if _, err := run(t, "restore", "--from", bad, "--db", db); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("tampered backup restored: %v", err)
	}
	if events(t, db) != before {
		t.Error("a refused restore changed the database")
	}
	if _, err := run(t, "restore", "--db", db); err == nil {
		t.Error("restore without --from")
	}

	out, err := run(t, "restore", "--from", last, "--db", db)
	if err != nil || !strings.Contains(out, "intact") || !strings.Contains(out, "before-restore") {
		t.Fatalf("restore: %v %q", err, out)
	}
	if got := events(t, db); got != want {
		t.Errorf("restored %d events, the backup had %d", got, want)
	}
	aside, _ := filepath.Glob(db + ".before-restore-*")
	if len(aside) == 0 || events(t, aside[0]) != before {
		t.Errorf("previous database not kept: %v", aside)
	}

	// Serve from it: the token made before the backup works.
	srv = startServer(t, db)
	req, _ := http.NewRequest(http.MethodGet, "http://"+srv.addr+"/api/v1/orders/1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("order from the restored database: %v %v", err, res)
	}
	res.Body.Close()
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

package main

import (
	"database/sql"
	"testing"

	"github.com/consentdesk/consentdesk/orders"
)

func tamper(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", orders.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{`DROP TRIGGER consent_events_no_update`, `UPDATE consent_events SET action = 'withdraw' WHERE seq = 2`} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
}

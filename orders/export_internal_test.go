package orders

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/consentdesk/consentdesk/assets"
)

// The copy for a data subject (Art. 15(3) GDPR) is one read transaction:
// every part of it comes from the same snapshot. A write that lands after
// the export has started is in none of it. If any part of exportIn read
// through the pool instead of its connection, the access log written
// mid-export would show up here.
func TestExportIsOneConsistentRead(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"), assets.Migrations(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ImportCustomers(ctx, []Customer{{Salutation: "Frau", FirstName: "Erika", LastName: "Muster", Email: "erika@example.org"}}); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := db.sql.QueryRow(`SELECT MAX(id) FROM customers`).Scan(&id); err != nil {
		t.Fatal(err)
	}

	conn, err := db.sql.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN DEFERRED`); err != nil {
		t.Fatal(err)
	}
	var before int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE customer_id = ?`, id).Scan(&before); err != nil {
		t.Fatal(err)
	}
	// Written by another connection while the export's snapshot is open.
	if err := db.LogAccess(ctx, Access{Action: AuditView, CustomerID: id, Detail: "mid-export"}); err != nil {
		t.Fatal(err)
	}
	x, err := db.exportIn(ctx, conn, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(x.AccessLog) != before {
		t.Errorf("export inside the snapshot has %d access rows, want the %d of its start", len(x.AccessLog), before)
	}
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}

	full, err := db.Export(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(full.AccessLog) != before+1 || full.Customer.ID != id {
		t.Errorf("export afterwards: %d access rows for customer %d, want %d", len(full.AccessLog), full.Customer.ID, before+1)
	}
}

package orders_test

import (
	"context"
	"strings"
	"testing"
)

// generate's data: real customers through the import's checks, events
// through the ledger, which verifies; never into a database that holds
// customers.
func TestSynthesize(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	var seen []int
	if err := db.Synthesize(ctx, 130, 700, func(c, e int) { seen = append(seen, e) }); err != nil {
		t.Fatal(err)
	}
	v, err := db.Verify(ctx)
	if err != nil || !v.OK || v.Events != 700 {
		t.Fatalf("ledger after synthesize: %+v, %v", v, err)
	}
	found, err := db.SearchCustomers(ctx, "mül", 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 || len(found) == 130 {
		t.Errorf("search mül found %d of 130", len(found))
	}
	for _, c := range found {
		if !strings.HasPrefix(c.LastName, "Müller") {
			t.Errorf("search mül found %s %s", c.FirstName, c.LastName)
		}
	}
	if len(seen) == 0 || seen[len(seen)-1] != 700 {
		t.Errorf("progress: %v", seen)
	}
	err = db.Synthesize(ctx, 10, 10, nil)
	if err == nil || !strings.Contains(err.Error(), "new database only") {
		t.Errorf("a second run on the same database: %v", err)
	}
	if v, _ := db.Verify(ctx); v.Events != 700 {
		t.Errorf("the refused run changed the ledger: %d events", v.Events)
	}
}

package orders

import (
	"fmt"
	"time"
)

// storedTime reads a time as stored (layout), or says which row's field
// does not parse: a bad value must never become the year 1 in silence.
// An empty value is the zero time (not set).
func storedTime(layout, value, table, field string, id int64) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(layout, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %d: the stored %s %q is no time: %w", table, id, field, value, err)
	}
	return t, nil
}

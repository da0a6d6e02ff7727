package orders

import "github.com/consentdesk/consentdesk/consent"

// InStore marks a test's use case as one that keeps to its store, as
// PlaceOrder's is.
var InStore = consent.InStore

package orders

// InStore marks a test's use case as one that keeps to its store
// (inStore), as PlaceOrder's is.
var InStore = inStore

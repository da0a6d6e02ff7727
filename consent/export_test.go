package consent

// VerifyInParts makes Verify check every ledger in n parts, until the
// returned function restores the default.
func VerifyInParts(n int) (restore func()) {
	from, parts := verifyInPartsFrom, verifyParts
	verifyInPartsFrom, verifyParts = 1, func() int { return n }
	return func() { verifyInPartsFrom, verifyParts = from, parts }
}

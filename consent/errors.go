// Package consent holds the rules of marketing consent: channels, the
// append-only ledger of consent events and the state derived from it,
// privacy notice versions, the store's controller details, and the tokens
// that let a customer withdraw without logging in. It knows nothing of
// HTTP or PDF.
package consent

import (
	"errors"
	"fmt"
)

// Code classifies an Error so that the web layer can pick a status.
type Code string

const (
	Invalid  Code = "invalid"   // the input breaks a rule; Fields says which
	NotFound Code = "not_found" // the thing does not exist (or the token is wrong)
	Conflict Code = "conflict"  // the request clashes with the current state
	Locked   Code = "locked"    // too many wrong tries
	Denied   Code = "denied"    // not allowed for this person
)

// Error is the one error type that the domain hands to people. Key and the
// values of Fields are message keys in the catalogue (assets/i18n), so the
// web layer can say them in German or English.
type Error struct {
	Code   Code
	Key    string
	Fields map[string]string
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("%s: %s %v", e.Code, e.Key, e.Fields)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Key)
}

// Errorf builds an Error without fields.
func Errorf(code Code, key string) *Error { return &Error{Code: code, Key: key} }

// ErrorCode returns the code of err, or "" for an internal error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// FieldErrors collects per-field problems while validating input.
type FieldErrors map[string]string

// Add records the first problem of a field.
func (f FieldErrors) Add(field, key string) {
	if _, ok := f[field]; !ok {
		f[field] = key
	}
}

// Err returns nil when no field had a problem.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: Invalid, Key: "err.invalid_input", Fields: map[string]string(f)}
}

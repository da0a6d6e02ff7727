// Package consentdesk holds what every other package may import and
// nothing else: the application's one error type (as WTF Dial's root
// package does) and the formatting of money, dates and times in German
// and English. It imports no package of this module.
package consentdesk

import (
	"errors"
	"fmt"
)

// Code classifies an Error so that the web layer can pick a status.
type Code string

const (
	Invalid   Code = "invalid"   // the input breaks a rule; Fields says which
	NotFound  Code = "not_found" // the thing does not exist (or the token is wrong)
	Conflict  Code = "conflict"  // the request clashes with the current state
	Locked    Code = "locked"    // too many wrong tries
	Denied    Code = "denied"    // not signed in, or a wrong or expired credential
	Forbidden Code = "forbidden" // signed in, but not allowed (a role, a token's scope)
	TooMany   Code = "too_many"  // too many requests from one client
	TooLarge  Code = "too_large" // a body or an upload over its limit
	CSRF      Code = "csrf"      // a form post without its CSRF token
)

// Error is the one error type that the application hands to people. Key
// and the values of Fields are message keys in the catalogue
// (assets/i18n), Args the values its placeholders take, so that the web
// layer can say them in German or English.
type Error struct {
	Code   Code
	Key    string
	Args   []any
	Fields map[string]string
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("%s: %s %v", e.Code, e.Key, e.Fields)
	}
	if len(e.Args) > 0 {
		return fmt.Sprintf("%s: %s %v", e.Code, e.Key, e.Args)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Key)
}

// Errorf builds an Error: key is the catalogue message, args fill its
// placeholders.
func Errorf(code Code, key string, args ...any) *Error {
	return &Error{Code: code, Key: key, Args: args}
}

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

package consentdesk_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/consentdesk/consentdesk"
)

func TestErrorf(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", consentdesk.Errorf(consentdesk.NotFound, "err.order_not_found_n", 42))
	if consentdesk.ErrorCode(err) != consentdesk.NotFound {
		t.Errorf("code through a wrap: %q", consentdesk.ErrorCode(err))
	}
	var e *consentdesk.Error
	if !errors.As(err, &e) || e.Key != "err.order_not_found_n" || len(e.Args) != 1 || e.Args[0] != 42 {
		t.Errorf("error: %+v", e)
	}
	if consentdesk.ErrorCode(errors.New("disk full")) != "" {
		t.Error("an internal error has a code")
	}
	f := consentdesk.FieldErrors{}
	if f.Err() != nil {
		t.Error("no field problem is an error")
	}
	f.Add("email", "err.email_invalid")
	f.Add("email", "err.required") // the first problem stays
	if consentdesk.ErrorCode(f.Err()) != consentdesk.Invalid || f["email"] != "err.email_invalid" {
		t.Errorf("field errors: %v", f.Err())
	}
}

package consent_test

import (
	"testing"

	"github.com/consentdesk/consentdesk/consent"
)

func ev(ch consent.Channel, a consent.Action, level consent.OptInLevel, at string) consent.Event {
	return consent.Event{Channel: ch, Action: a, OptInLevel: level, CreatedAt: at, NoticeVersionID: "de-1"}
}

func TestDerive(t *testing.T) {
	const e = consent.Email
	cases := []struct {
		name   string
		events []consent.Event
		state  consent.State
		level  consent.OptInLevel
	}{
		{"nothing", nil, consent.None, ""},
		{"single grant", []consent.Event{ev(e, consent.Grant, consent.SingleOptIn, "t1")}, consent.Granted, consent.SingleOptIn},
		{"grant without level counts as single", []consent.Event{ev(e, consent.Grant, "", "t1")}, consent.Granted, consent.SingleOptIn},
		{"double opt-in waits", []consent.Event{ev(e, consent.Grant, consent.ConfirmedOptIn, "t1")}, consent.Pending, consent.ConfirmedOptIn},
		{"confirmed", []consent.Event{ev(e, consent.Grant, consent.ConfirmedOptIn, "t1"), ev(e, consent.Confirm, "", "t2")}, consent.Granted, consent.ConfirmedOptIn},
		{"confirm without pending does nothing", []consent.Event{ev(e, consent.Confirm, "", "t1")}, consent.None, ""},
		{"confirm after withdrawal does nothing", []consent.Event{ev(e, consent.Grant, consent.ConfirmedOptIn, "t1"), ev(e, consent.Withdraw, "", "t2"), ev(e, consent.Confirm, "", "t3")}, consent.Withdrawn, consent.ConfirmedOptIn},
		{"withdrawn", []consent.Event{ev(e, consent.Grant, consent.SingleOptIn, "t1"), ev(e, consent.Withdraw, "", "t2")}, consent.Withdrawn, consent.SingleOptIn},
		{"withdraw pending", []consent.Event{ev(e, consent.Grant, consent.ConfirmedOptIn, "t1"), ev(e, consent.Withdraw, "", "t2")}, consent.Withdrawn, consent.ConfirmedOptIn},
		{"objection without grant", []consent.Event{ev(e, consent.Withdraw, "", "t1")}, consent.Withdrawn, ""},
		{"granted again", []consent.Event{ev(e, consent.Grant, consent.SingleOptIn, "t1"), ev(e, consent.Withdraw, "", "t2"), ev(e, consent.Grant, consent.SingleOptIn, "t3")}, consent.Granted, consent.SingleOptIn},
		{"pending expires", []consent.Event{ev(e, consent.Grant, consent.ConfirmedOptIn, "t1"), ev(e, consent.Expire, "", "t2")}, consent.None, ""},
		{"expire leaves granted alone", []consent.Event{ev(e, consent.Grant, consent.SingleOptIn, "t1"), ev(e, consent.Expire, "", "t2")}, consent.Granted, consent.SingleOptIn},
		{"other channel untouched", []consent.Event{ev(consent.SMS, consent.Grant, consent.SingleOptIn, "t1")}, consent.None, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := consent.Derive(tc.events)[e]
			if s.State != tc.state || s.OptInLevel != tc.level {
				t.Errorf("got %s/%s, want %s/%s", s.State, s.OptInLevel, tc.state, tc.level)
			}
		})
	}
	all := consent.Derive(nil)
	for _, ch := range append(consent.Channels, consent.HealthData) {
		if all[ch].State != consent.None {
			t.Errorf("%s starts %s, want none: every switch starts off", ch, all[ch].State)
		}
	}
}

func TestDeriveUpdatedAtAndGrantedAt(t *testing.T) {
	s := consent.Derive([]consent.Event{ev(consent.Email, consent.Grant, consent.ConfirmedOptIn, "t1"), ev(consent.Email, consent.Confirm, "", "t2")})[consent.Email]
	if s.UpdatedAt != "t2" || s.GrantedAt != "t2" || s.NoticeVersion != "de-1" {
		t.Errorf("%+v", s)
	}
}

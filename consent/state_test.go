package consent_test

import (
	"testing"
	"time"

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

// Retention periods run from the end of the store's calendar year (§147(4)
// AO, §257(5) HGB); a record made just after midnight on New Year's Day in
// Berlin is stored in UTC as the old year and must count in the new one.
func TestRetainUntilCountsTheStoresYear(t *testing.T) {
	cases := []struct {
		at    string
		years int
		want  string
	}{
		{"2026-12-31T23:30:00Z", 6, "2033-12-31"}, // 00:30 on 1 Jan 2027 in Berlin
		{"2026-12-31T22:59:59Z", 6, "2032-12-31"}, // 23:59:59 on 31 Dec 2026 in Berlin
		{"2026-06-30T22:30:00Z", 10, "2036-12-31"},
		{"2027-01-01T00:30:00+01:00", 8, "2035-12-31"},
	}
	for _, c := range cases {
		at, err := time.Parse(time.RFC3339, c.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := consent.RetainUntil(at, c.years).Format("2006-01-02"); got != c.want {
			t.Errorf("RetainUntil(%s, %d) = %s, want %s", c.at, c.years, got, c.want)
		}
	}
}

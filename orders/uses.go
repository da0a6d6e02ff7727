package orders

import (
	"context"
	"log/slog"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
)

// Use is one advertising use of a channel: a call, a letter, a message.
type Use struct {
	CustomerID int64
	Channel    consent.Channel
	// Topic is what the use was about (a recall's topic); "" is offers.
	Topic    string
	Note     string
	StaffID  int64  // staff on the customer page
	APIToken string // or the API token that reported it
}

// RecordUse appends a use event. §7a UWG asks that the proof of a phone
// consent be kept five years from the grant and from each use; the use
// events are what the erasure and the retention job count from. Only a
// granted channel may be used (UWG §7(2)): a use without consent is
// refused, not recorded as if it were lawful.
func (db *DB) RecordUse(ctx context.Context, u Use) (consent.Event, error) {
	ctx = consent.InStore(ctx) // one event in the store's chain
	f := consentdesk.FieldErrors{}
	if !u.Channel.Valid() {
		f.Add("channel", "err.channel_invalid")
	}
	u.Note = cleanText(f, "note", u.Note, 500)
	if err := f.Err(); err != nil {
		return consent.Event{}, err
	}
	var e consent.Event
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		cust, err := getCustomer(ctx, tx, u.CustomerID)
		if err != nil {
			return err
		}
		if cust.Erased() {
			return consentdesk.Errorf(consentdesk.Conflict, "err.customer_erased")
		}
		topic := u.Topic
		if topic == "" {
			topic = consent.TopicOffers
		}
		events, err := consent.Events(ctx, tx, cust.ID)
		if err != nil {
			return err
		}
		st := consent.DeriveTopic(events, topic)[u.Channel]
		if st.State != consent.Granted {
			return &consentdesk.Error{Code: consentdesk.Conflict, Key: "err.use_without_consent", Fields: map[string]string{"channel": "err.use_without_consent"}}
		}
		e = consent.Event{CustomerID: cust.ID, Channel: u.Channel, Action: consent.Use, LegalBasis: consent.BasisConsent,
			Source: consent.BackOffice, Actor: consent.ByStaff, NoticeVersionID: st.NoticeVersion, StaffID: u.StaffID,
			CreatedAt: Stamp(now), Contact: cust.Contact(u.Channel), Note: u.Note, Topic: u.Topic}
		if u.APIToken != "" {
			e.Source, e.Actor, e.APIToken = consent.API, consent.ByAPI, u.APIToken
		}
		n, err := consent.Notice(ctx, tx, st.NoticeVersion)
		if err != nil {
			return err
		}
		e.NoticeSHA256 = n.SHA256
		return consent.Append(ctx, tx, &e)
	})
	if err != nil {
		return consent.Event{}, err
	}
	slog.Info("advertising use recorded", "customer_id", u.CustomerID, "channel", u.Channel, "event", e.Seq)
	return e, nil
}

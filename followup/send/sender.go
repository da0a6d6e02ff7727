package send

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/orders"

	"github.com/consentdesk/consentdesk/consent"
	gomail "github.com/wneessen/go-mail"
)

// SenderConfig tunes the sender; the zero value is the production setting.
type SenderConfig struct {
	PublicURL   string        // base of links and QR codes; overrides the store setting
	From        string        // the SMTP account's From; empty: the store's address
	MaxAttempts int           // give up after this many; default 10
	Backoff     time.Duration // wait before the first retry, doubled each time; default 1 minute
	// StaleAfter is how long a mail may stay "sending" before the sender
	// takes it for one whose result was never recorded (the database
	// refused the write after the SMTP server took it) and queues it
	// again; default 10 minutes, well above an attempt's 2-minute limit.
	StaleAfter time.Duration
	// Shared says that other server processes send from the same outbox
	// (a chain's PostgreSQL database). A mail "sending" at the start may
	// then be in another's hand, not left by a crash of this one: only
	// those older than StaleAfter are queued again.
	Shared bool
	// Wake, when set, is the channel that wakes the sender (Signal): the
	// database is opened before the sender exists, and its MailQueued
	// option can signal here from the start (orders.Options). Capacity 1.
	Wake chan struct{}
}

// Sender delivers the outbox. One runs per server process; several
// share an outbox (a chain's PostgreSQL database), each mail claimed by
// one of them with FOR UPDATE SKIP LOCKED (claim).
type Sender struct {
	db        *orders.DB // the mail's data, settings and consent, and the writes (Tx)
	tokens    *consent.Tokens
	transport followup.Transport
	cfg       SenderConfig
	wake      chan struct{}
	poll      time.Duration // look for due mails this often even when not woken
}

const (
	// defaultPoll is how often the sender looks for due mails when no
	// use case woke it (a retry's time has come).
	defaultPoll = 30 * time.Second
	// maxBackoff is the longest wait between two attempts of one mail.
	maxBackoff = 2 * time.Hour
)

// NewSender builds a sender; Run starts it.
func NewSender(db *orders.DB, tokens *consent.Tokens, t followup.Transport, cfg SenderConfig) *Sender {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Minute
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 10 * time.Minute
	}
	poll := defaultPoll
	// A mail left "sending" by a server that died is taken up on a poll:
	// with a shared outbox, poll at least that often, so that it does not
	// wait for the next order to wake a sender.
	if cfg.Shared && poll > cfg.StaleAfter {
		poll = cfg.StaleAfter
	}
	wake := cfg.Wake
	if wake == nil {
		wake = make(chan struct{}, 1)
	}
	return &Sender{db: db, tokens: tokens, transport: t, cfg: cfg, wake: wake, poll: poll}
}

// Signal tells whoever waits on a wake channel (the sender) that a mail
// was queued, so that it does not wait for the next poll. It never
// blocks: for orders.Options.MailQueued, set before the sender exists.
func Signal(wake chan struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}

// Run delivers due mails until ctx ends. A mail being sent when ctx ends
// is finished and recorded first, so that a clean stop never leaves a
// mail whose fate is unknown.
func (s *Sender) Run(ctx context.Context) error {
	if err := s.recoverInterrupted(ctx); err != nil {
		return err
	}
	tick := time.NewTicker(s.poll)
	defer tick.Stop()
	// Mails left "sending" are looked for on the poll, not on every
	// wake-up: that statement is the whole outbox's and runs alone,
	// while an order wakes the sender many times a second under load.
	requeue := true
	for {
		if _, err := s.drain(ctx, requeue); err != nil && ctx.Err() == nil {
			slog.Error("outbox", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
			requeue = false
		case <-tick.C:
			requeue = true
		}
	}
}

// recoverInterrupted requeues mails left "sending" by a crash. Whether the
// server took them is unknown; they are sent again with the same
// Message-ID, by which mail programs recognise a duplicate. A lost pickup
// mail is the worse outcome.
func (s *Sender) recoverInterrupted(ctx context.Context) error {
	if s.cfg.Shared {
		return s.requeueStale(ctx)
	}
	return s.requeueSending(ctx, 0, "interrupted while sending; sent again with the same Message-ID")
}

// requeueStale requeues mails that have been "sending" for longer than
// StaleAfter: their result could not be recorded (found: such a mail
// waited for the next restart and was only then sent again). It runs on
// every poll, so that no restart is needed.
func (s *Sender) requeueStale(ctx context.Context) error {
	return s.requeueSending(ctx, s.cfg.StaleAfter, "result not recorded; sent again with the same Message-ID")
}

// requeueSending requeues the mails "sending" for at least age. Every
// time the sender uses is the store's (the time its transaction gets):
// one clock for the sender and the writes it shares commits with.
func (s *Sender) requeueSending(ctx context.Context, age time.Duration, why string) error {
	var n int64
	err := s.db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		var err error
		n, err = followup.RequeueSending(ctx, tx, age, why, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("outbox: requeue: %w", err)
	}
	if n > 0 {
		slog.Warn("outbox: mails left sending requeued", "count", n, "why", why)
	}
	return nil
}

// Drain delivers every mail that is due now and reports how many it
// handled. It stops early, between two mails, when ctx ends.
func (s *Sender) Drain(ctx context.Context) (int, error) { return s.drain(ctx, true) }

// drain is Drain; requeue: first queue again the mails left "sending"
// for longer than StaleAfter.
func (s *Sender) drain(ctx context.Context, requeue bool) (int, error) {
	defer s.transport.Close()
	if requeue {
		if err := s.requeueStale(ctx); err != nil {
			return 0, err
		}
	}
	n := 0
	for ctx.Err() == nil {
		// The mail in hand is finished even if ctx ends meanwhile.
		one, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		done, err := s.next(one)
		cancel()
		if err != nil {
			return n, err
		}
		if done {
			return n, nil
		}
		n++
	}
	return n, nil
}

// next handles the oldest due mail; done reports that none was due.
func (s *Sender) next(ctx context.Context) (done bool, err error) {
	m, now, done, err := s.claim(ctx)
	if err != nil || done {
		return done, err
	}

	d, reason, err := s.prepare(ctx, m, now)
	if err != nil {
		// Reading the customer, the order or the consent failed: a
		// passing database error (busy, disk full for a moment) is not
		// the mail's fault. It is tried again later, like a refused
		// delivery, and fails for good only after MaxAttempts (found: one
		// such error failed the mail for ever).
		slog.Warn("mail could not be prepared", "mail_id", m.ID, "attempts", m.Attempts, "err", err)
		return false, s.retryOrFail(ctx, m, nil, "", err, now)
	}
	if reason != "" {
		return false, s.suppress(ctx, m, reason, d.To.Email != "", now)
	}
	msg, subject, err := compose(d)
	if err != nil {
		return false, s.finish(ctx, m, followup.Failed, nil, "", err.Error(), now)
	}
	raw, err := followup.Render(msg)
	if err != nil {
		return false, s.finish(ctx, m, followup.Failed, nil, "", err.Error(), now)
	}
	status, derr := s.transport.Deliver(ctx, m.ID, msg, raw)
	if derr == nil {
		slog.Info("mail delivered", "mail_id", m.ID, "kind", m.Kind, "customer_id", m.CustomerID, "status", status)
		if status == followup.Sent && d.ExistingCustomerAd {
			return false, s.finishExistingCustomerAd(ctx, m, raw, subject, now)
		}
		return false, s.finish(ctx, m, status, raw, subject, "", now)
	}
	if !followup.Temporary(derr) {
		slog.Error("mail failed", "mail_id", m.ID, "attempts", m.Attempts, "code", smtpCode(derr))
		return false, s.finish(ctx, m, followup.Failed, raw, subject, derr.Error(), now)
	}
	return false, s.retryOrFail(ctx, m, raw, subject, derr, now)
}

// claim takes the oldest due mail and marks it "sending", counting the
// attempt; done reports that none was due. Its time is the time of this
// attempt, to the end.
func (s *Sender) claim(ctx context.Context) (m followup.Mail, now time.Time, done bool, err error) {
	if s.db.Postgres() {
		// Several servers send from a chain's outbox: each mail to one.
		now = s.db.Now().UTC()
		m, done, err = followup.ClaimShared(ctx, s.db.SQL(), now)
		return m, now, done, err
	}
	err = s.db.Tx(ctx, func(ctx context.Context, tx consent.Tx, txNow time.Time) error {
		now = txNow.UTC()
		var err error
		m, done, err = followup.Claim(ctx, tx, now)
		return err
	})
	return m, now, done, err
}

// inMailsStore is ctx for recording the result of an attempt: it keeps
// to the mail's store (its row, a use in that store's chain), so that on
// a chain's database it does not wait for every store's writers. An
// erasure still runs alone, so that a result never refills a row the
// erasure emptied.
func inMailsStore(ctx context.Context, m followup.Mail) context.Context {
	return consent.InStore(consent.WithStore(ctx, m.StoreID))
}

// retryOrFail queues a mail again after a temporary error, with a
// doubling wait, or fails it after MaxAttempts.
func (s *Sender) retryOrFail(ctx context.Context, m followup.Mail, raw []byte, subject string, derr error, now time.Time) error {
	if m.Attempts >= s.cfg.MaxAttempts {
		slog.Error("mail failed", "mail_id", m.ID, "attempts", m.Attempts, "code", smtpCode(derr))
		return s.finish(ctx, m, followup.Failed, raw, subject, derr.Error(), now)
	}
	wait := s.cfg.Backoff << (m.Attempts - 1)
	if wait > maxBackoff || wait <= 0 {
		wait = maxBackoff
	}
	slog.Warn("mail deferred", "mail_id", m.ID, "attempts", m.Attempts, "retry_in", wait.String(), "code", smtpCode(derr))
	return s.db.Tx(inMailsStore(ctx, m), func(ctx context.Context, tx consent.Tx, _ time.Time) error {
		return followup.Defer(ctx, tx, m.ID, now.Add(wait), derr.Error(), subject, now)
	})
}

// prepare reads what the mail needs and checks, again, that it may go
// out. A non-empty reason means it must not: a catalogue key
// ("mail.suppressed.…"), which the mailbox shows in the staff's language
// and the API passes on as it is.
func (s *Sender) prepare(ctx context.Context, m followup.Mail, now time.Time) (draft, string, error) {
	ctrl, err := s.db.Letterhead(ctx, m.StoreID) // from the store the mail comes from
	if err != nil {
		return draft{}, "", err
	}
	to, sale, err := s.db.MailRecipient(ctx, m.CustomerID)
	if err != nil {
		return draft{}, "", err
	}
	child := to.Child(now)
	if to.Email == "" {
		return draft{}, "mail.suppressed.no_address", nil
	}
	email, byTopic, err := s.db.EmailConsent(ctx, m.CustomerID)
	if err != nil {
		return draft{}, "", err
	}
	pending := consent.Summary(byTopic) // a double opt-in waits when any topic waits
	d := draft{Mail: m, To: to, SaleAddress: sale, Store: ctrl, BaseURL: ctrl.PublicURL, Tokens: s.tokens, From: s.cfg.From, Now: now}
	if s.cfg.PublicURL != "" {
		d.BaseURL = s.cfg.PublicURL
	}
	switch {
	case m.Kind == followup.DoubleOptIn && pending.State != consent.Pending:
		return d, "mail.suppressed.nothing_to_confirm", nil
	case m.Kind == followup.DoubleOptIn:
		if d.Since, err = time.Parse(time.RFC3339Nano, pending.UpdatedAt); err != nil {
			return draft{}, "", fmt.Errorf("customer %d: the stored time %q of the pending e-mail consent is no time: %w", m.CustomerID, pending.UpdatedAt, err)
		}
		// The mail names the topics it confirms, and only those.
		for _, t := range consent.EventTopics(nil, ctrl.TopicKeys()) {
			if byTopic[t].State == consent.Pending {
				d.Topics = append(d.Topics, t)
			}
		}
	case m.Kind == followup.Recall:
		// Only with consent for the recall's topic on e-mail, or for
		// contact lenses under §7(3) UWG (similar goods, the address from
		// the sale, never asked for that cell, no objection) where the
		// store enabled it.
		st := byTopic[m.Topic]
		uwg := m.Topic == consent.TopicContactLenses && email.State != consent.Withdrawn && ctrl.MayAdvertiseByEmail(st, sale, child)
		if st.State != consent.Granted && !uwg {
			return d, "mail.suppressed.no_recall_consent", nil
		}
		// Its reason line names the true basis (§7(3) Nr. 4 UWG).
		d.RecallUWG73 = st.State != consent.Granted
	case m.Marketing && !ctrl.MayAdvertiseByEmail(email, sale, child):
		// §7 UWG, GDPR Art. 21(3): withdrawn after the mail was queued.
		return d, "mail.suppressed.withdrawn", nil
	}
	// Advertising without a granted consent rests on §7(3) UWG; each
	// such mail sent is recorded in the ledger with that basis.
	d.ExistingCustomerAd = m.Marketing && email.State != consent.Granted
	if m.OrderID != 0 {
		if d.Order, err = s.db.MailOrder(ctx, m.OrderID); err != nil {
			return draft{}, "", err
		}
	}
	return d, "", nil
}

// suppress marks a mail not sent (followup.Suppress).
func (s *Sender) suppress(ctx context.Context, m followup.Mail, reason string, hasAddress bool, now time.Time) error {
	replacement := int64(0)
	err := s.db.Tx(inMailsStore(ctx, m), func(ctx context.Context, tx consent.Tx, _ time.Time) error {
		var err error
		replacement, err = followup.Suppress(ctx, tx, m, reason, hasAddress, now)
		return err
	})
	if err != nil {
		return err
	}
	slog.Info("mail suppressed", "mail_id", m.ID, "kind", m.Kind, "customer_id", m.CustomerID, "replacement_id", replacement)
	return nil
}

// finishExistingCustomerAd records a sent §7(3) UWG mail and, in the same
// commit, a ledger event with the basis uwg_7_3: the store can show on
// which basis each advertising mail without consent went out.
func (s *Sender) finishExistingCustomerAd(ctx context.Context, m followup.Mail, raw []byte, subject string, now time.Time) error {
	err := s.db.Tx(inMailsStore(ctx, m), func(ctx context.Context, tx consent.Tx, _ time.Time) error {
		recorded, err := followup.Finish(ctx, tx, m.ID, followup.Sent, raw, subject, "", now)
		if err != nil || !recorded {
			return err // not recorded: erased during the attempt, nothing to record
		}
		e := consent.Event{CustomerID: m.CustomerID, Channel: consent.Email, Action: consent.Use, LegalBasis: consent.BasisUWG73,
			Source: consent.System, Actor: consent.BySystem, CreatedAt: orders.Stamp(now), Note: fmt.Sprintf("mail %d", m.ID)}
		return consent.Append(ctx, tx, &e)
	})
	if err != nil {
		return fmt.Errorf("outbox: record mail %d: %w", m.ID, err)
	}
	return nil
}

func (s *Sender) finish(ctx context.Context, m followup.Mail, status followup.Status, raw []byte, subject, lastError string, now time.Time) error {
	recorded := false
	err := s.db.Tx(inMailsStore(ctx, m), func(ctx context.Context, tx consent.Tx, _ time.Time) error {
		var err error
		recorded, err = followup.Finish(ctx, tx, m.ID, status, raw, subject, lastError, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("outbox: record mail %d: %w", m.ID, err)
	}
	if !recorded {
		// Erased during the attempt: the file written must go too.
		if f, ok := s.transport.(followup.Folder); ok {
			return f.Remove(m.ID)
		}
	}
	return nil
}

// smtpCode is the server's reply code of a failed send, for the log (the
// reply text may name the recipient).
func smtpCode(err error) int {
	var se *gomail.SendError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	return 0
}

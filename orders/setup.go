package orders

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
)

// FirstManagerName is the account a fresh store starts with.
const FirstManagerName = "Filialleitung"

// EnsureStore sets up a fresh database: placeholder store details, the
// default privacy notices (templates by language) and a first manager. It
// returns that manager's PIN, once; on a store already set up it returns "".
func (db *DB) EnsureStore(ctx context.Context, notices map[string]string) (string, error) {
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		if c, err := consent.LoadController(ctx, tx); err == nil {
			return upgradeNotices(ctx, tx, c, notices, now)
		} else if consentdesk.ErrorCode(err) != consentdesk.NotFound {
			return err
		}
		c := consent.DefaultController()
		if err := consent.SaveController(ctx, tx, c, Stamp(now)); err != nil {
			return err
		}
		for _, lang := range consent.Langs {
			if _, err := consent.Publish(ctx, tx, lang, notices[lang], c, 0, Stamp(now)); err != nil {
				return fmt.Errorf("publish default notice %s: %w", lang, err)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM staff`).Scan(&n); err != nil || n > 0 {
		return "", err
	}
	pin := randomPIN()
	if _, err := db.AddStaff(ctx, FirstManagerName, pin, RoleManager, HomeStore(RoleManager)); err != nil {
		return "", err
	}
	return pin, nil
}

// upgradeNotices brings a store's notices up to what the product does
// now, at its start. A store still on an earlier default template gets
// today's default; every notice is rendered again, so that the
// paragraphs the settings fill ({advertising}, {health_data}) say what
// this version does. Only a changed text becomes a new version (Art.
// 13: the notice the customer reads is the one in force); the consents
// given keep the version they cite.
func upgradeNotices(ctx context.Context, tx consent.Tx, c consent.Controller, notices map[string]string, now time.Time) error {
	for _, lang := range consent.Langs {
		cur, err := consent.CurrentNotice(ctx, tx, lang)
		if consentdesk.ErrorCode(err) == consentdesk.NotFound {
			continue
		} else if err != nil {
			return err
		}
		template := cur.Template
		if slices.Contains(assets.SupersededNotices[lang], consent.TextHash(template)) && notices[lang] != "" {
			template = notices[lang]
		}
		if _, err := consent.Publish(ctx, tx, lang, template, c, 0, Stamp(now)); err != nil {
			return fmt.Errorf("notice %s: %w", lang, err)
		}
	}
	return nil
}

func randomPIN() string {
	for {
		n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
		if err != nil {
			panic(err)
		}
		pin := fmt.Sprintf("%06d", n.Int64())
		if ValidatePIN(pin, RoleManager) == nil {
			return pin
		}
	}
}

// Controller returns the store settings.
func (db *DB) Controller(ctx context.Context) (consent.Controller, error) {
	return consent.LoadController(ctx, db.sql)
}

// SaveController stores new settings and publishes new notice versions
// where the filled-in text changes.
func (db *DB) SaveController(ctx context.Context, c consent.Controller, staffID int64) error {
	_, err := db.SaveSettings(ctx, c, staffID)
	return err
}

// SaveSettings is SaveController that also says which notice versions it
// published: only a text that changed makes one, and the manager is told.
func (db *DB) SaveSettings(ctx context.Context, c consent.Controller, staffID int64) ([]string, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var published []string
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		if err := consent.SaveController(ctx, tx, c, Stamp(now)); err != nil {
			return err
		}
		var err error
		if published, err = consent.Republish(ctx, tx, c, staffID, Stamp(now)); err != nil {
			return err
		}
		return PublishStoreNotices(ctx, tx, 0, staffID, now)
	})
	return published, err
}

// SaveLogo stores a PNG or JPEG logo, judged by its content.
func (db *DB) SaveLogo(ctx context.Context, logo []byte) error {
	mime := ScanMIME(logo)
	if mime != "image/png" && mime != "image/jpeg" || len(logo) > 2<<20 {
		return &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"logo": "err.logo_type"}}
	}
	return consent.SaveLogo(ctx, db.sql, logo, mime, Stamp(db.Now()))
}

// PublishNotice saves an edited notice template as a new version.
func (db *DB) PublishNotice(ctx context.Context, lang, template string, staffID int64) (consent.NoticeVersion, error) {
	if lang != "de" && lang != "en" {
		return consent.NoticeVersion{}, consentdesk.Errorf(consentdesk.Invalid, "err.choice_invalid")
	}
	var v consent.NoticeVersion
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		c, err := consent.LoadController(ctx, tx)
		if err != nil {
			return err
		}
		if v, err = consent.Publish(ctx, tx, lang, template, c, staffID, Stamp(now)); err != nil {
			return err
		}
		return PublishStoreNotices(ctx, tx, 0, staffID, now)
	})
	return v, err
}

// Notice, CurrentNotice and Notices read notice versions.
func (db *DB) Notice(ctx context.Context, id string) (consent.NoticeVersion, error) {
	return consent.Notice(ctx, db.sql, id)
}

// CurrentNotice is the version in force in ctx's store: the store's own
// where each store is its own controller, else the chain's.
func (db *DB) CurrentNotice(ctx context.Context, lang string) (consent.NoticeVersion, error) {
	return currentNotice(ctx, db.sql, lang)
}

// CustomersNotice is the notice in force for a customer, in lang: their
// store's own where each store is its own controller (the public pages
// have no store of their own to go by).
func (db *DB) CustomersNotice(ctx context.Context, customerID int64, lang string) (consent.NoticeVersion, error) {
	return currentNotice(inCustomersStore(ctx, db.sql, customerID), db.sql, lang)
}

// Notices are the versions of ctx's store (see CurrentNotice).
func (db *DB) Notices(ctx context.Context, lang string) ([]consent.NoticeVersion, error) {
	store, err := noticeStore(ctx, db.sql)
	if err != nil {
		return nil, err
	}
	return consent.NoticesIn(ctx, db.sql, store, lang)
}

// SetDoubleOptIn switches the double opt-in for e-mail consent on or off
// (CONSENTDESK_DOUBLE_OPT_IN). The notices do not depend on it, so none is
// republished.
func (db *DB) SetDoubleOptIn(ctx context.Context, on bool) error {
	return db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		c, err := consent.LoadController(ctx, tx)
		if err != nil || c.DoubleOptIn == on {
			return err
		}
		c.DoubleOptIn = on
		slog.Info("double opt-in set", "on", on)
		return consent.SaveController(ctx, tx, c, Stamp(now))
	})
}

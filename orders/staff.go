package orders

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"golang.org/x/crypto/bcrypt"
)

// Staff roles.
const (
	RoleCounter = "counter"
	RoleManager = "manager"
)

// Staff is a member of the store's team who signs in with a PIN.
type Staff struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Disabled bool   `json:"disabled"`
}

// Lockout after repeated wrong PINs (GDPR Art. 32).
const (
	MaxPINTries  = 5
	LockDuration = 15 * time.Minute
	SessionTTL   = 12 * time.Hour
)

// ManagerPINLength is the shortest PIN a manager may have: a manager's
// PIN opens every customer's data and the erasure.
const ManagerPINLength = 6

// ValidatePIN checks a new PIN: 4 to 8 digits (a manager's at least 6),
// and none of the PINs guessed first: one digit repeated, a run up or
// down ("1234", "9876"), a pair repeated ("1212"), a keypad column
// ("2580").
func ValidatePIN(pin, role string) error {
	f := consent.FieldErrors{}
	switch {
	case len(pin) < 4 || len(pin) > 8 || strings.Trim(pin, "0123456789") != "":
		f.Add("pin", "err.pin_format")
	case role == RoleManager && len(pin) < ManagerPINLength:
		f.Add("pin", "err.pin_manager_length")
	case trivialPIN(pin):
		f.Add("pin", "err.pin_trivial")
	}
	return f.Err()
}

func trivialPIN(pin string) bool {
	up, down := true, true
	for i := 1; i < len(pin); i++ {
		up = up && pin[i] == pin[i-1]+1
		down = down && pin[i] == pin[i-1]-1
	}
	if up || down || strings.Count(pin, pin[:1]) == len(pin) {
		return true
	}
	if len(pin)%2 == 0 && strings.Repeat(pin[:2], len(pin)/2) == pin {
		return true
	}
	for _, common := range []string{"2580", "0852", "1379", "1004", "2000", "6969", "1122", "112233", "123123", "654321", "121212"} {
		if pin == common {
			return true
		}
	}
	return false
}

// AddStaff creates a staff member.
func (db *DB) AddStaff(ctx context.Context, name, pin, role string) (Staff, error) {
	f := consent.FieldErrors{}
	name = cleanText(f, "name", name, 60)
	if name == "" {
		f.Add("name", "err.required")
	}
	if role != RoleCounter && role != RoleManager {
		f.Add("role", "err.choice_invalid")
	}
	if err := ValidatePIN(pin, role); err != nil {
		f.Add("pin", err.(*consent.Error).Fields["pin"])
	}
	if err := f.Err(); err != nil {
		return Staff{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pin), bcrypt.DefaultCost)
	if err != nil {
		return Staff{}, err
	}
	s := Staff{Name: name, Role: role}
	err = db.Tx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM staff WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return &consent.Error{Code: consent.Conflict, Key: "err.invalid_input", Fields: map[string]string{"name": "err.staff_name_taken"}}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO staff (name, role, pin_hash, created_at) VALUES (?, ?, ?, ?)`, name, role, string(hash), Stamp(now))
		if err != nil {
			return err
		}
		s.ID, err = res.LastInsertId()
		return err
	})
	return s, err
}

// StaffList returns the active staff, for the sign-in screen.
func (db *DB) StaffList(ctx context.Context) ([]Staff, error) {
	return db.listStaff(ctx, `WHERE disabled = 0 ORDER BY name COLLATE NOCASE`)
}

func (db *DB) listStaff(ctx context.Context, where string) ([]Staff, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id, name, role, disabled FROM staff `+where)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Staff{}
	for rows.Next() {
		var s Staff
		if err := rows.Scan(&s.ID, &s.Name, &s.Role, &s.Disabled); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SignIn checks a PIN and opens a session. It returns the cookie value,
// which is stored only as a hash. After MaxPINTries wrong PINs the account
// is locked for LockDuration; a locked account refuses even the right PIN.
func (db *DB) SignIn(ctx context.Context, staffID int64, pin, lang string) (string, Staff, error) {
	s, err := db.checkPIN(ctx, staffID, pin)
	if err != nil {
		return "", Staff{}, err
	}
	token := randomToken()
	if lang != "en" {
		lang = "de"
	}
	err = db.Tx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, Stamp(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, staff_id, lang, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			hashToken(token), s.ID, lang, Stamp(now), Stamp(now.Add(SessionTTL)))
		return err
	})
	if err != nil {
		return "", Staff{}, err
	}
	slog.Info("staff signed in", "staff_id", s.ID)
	return token, s, nil
}

// checkPIN checks a staff member's PIN, counting wrong ones: after
// MaxPINTries the account is locked for LockDuration and refuses even the
// right PIN. A right PIN resets the count.
func (db *DB) checkPIN(ctx context.Context, staffID int64, pin string) (Staff, error) {
	var s Staff
	var hash string
	found, locked := false, false
	// One attempt is reserved and counted before the PIN is compared, in
	// the same transaction as the lock decision: however many guesses
	// arrive at once, at most MaxPINTries are compared between two locks
	// (found: 64 parallel guesses got 32-66 compared).
	err := db.Tx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		var lockedUntil string
		var failed int
		err := tx.QueryRowContext(ctx, `SELECT id, name, role, pin_hash, failed_attempts, locked_until FROM staff WHERE id = ? AND disabled = 0`, staffID).
			Scan(&s.ID, &s.Name, &s.Role, &hash, &failed, &lockedUntil)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		if t, err := time.Parse(time.RFC3339Nano, lockedUntil); err == nil && now.Before(t) {
			locked = true
			return nil
		}
		if failed+1 >= MaxPINTries {
			_, err = tx.ExecContext(ctx, `UPDATE staff SET failed_attempts = 0, locked_until = ? WHERE id = ?`, Stamp(now.Add(LockDuration)), s.ID)
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE staff SET failed_attempts = ? WHERE id = ?`, failed+1, s.ID)
		return err
	})
	if err != nil {
		return Staff{}, err
	}
	if !found {
		// The same cost as a real check, so timing does not tell which ids exist.
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(pin))
		return Staff{}, consent.Errorf(consent.Denied, "err.signin_failed")
	}
	if locked {
		return Staff{}, consent.Errorf(consent.Locked, "err.signin_locked")
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(pin)) != nil {
		return Staff{}, consent.Errorf(consent.Denied, "err.signin_failed")
	}
	// The right PIN: the count starts again, and a lock that this very
	// attempt's reservation set is lifted.
	if err := db.Tx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, `UPDATE staff SET failed_attempts = 0, locked_until = '' WHERE id = ?`, s.ID)
		return err
	}); err != nil {
		return Staff{}, err
	}
	return s, nil
}

// Session is a signed-in staff member.
type Session struct {
	Staff Staff
	Lang  string
	// HandOver is set while the customer holds the tablet: the session
	// reaches the customer's screens only (see SetHandOver).
	HandOver string
}

// Session looks up the session of a cookie value.
func (db *DB) Session(ctx context.Context, token string) (Session, error) {
	var s Session
	err := db.sql.QueryRowContext(ctx, `SELECT st.id, st.name, st.role, se.lang, se.hand_over FROM sessions se JOIN staff st ON st.id = se.staff_id
		WHERE se.id_hash = ? AND se.expires_at > ? AND st.disabled = 0`, hashToken(token), Stamp(db.Now())).
		Scan(&s.Staff.ID, &s.Staff.Name, &s.Staff.Role, &s.Lang, &s.HandOver)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, consent.Errorf(consent.Denied, "err.signin_required")
	}
	return s, err
}

// SetSessionLang switches the language of a session.
func (db *DB) SetSessionLang(ctx context.Context, token, lang string) error {
	if lang != "de" && lang != "en" {
		return consent.Errorf(consent.Invalid, "err.choice_invalid")
	}
	_, err := db.w.ExecContext(ctx, `UPDATE sessions SET lang = ? WHERE id_hash = ?`, lang, hashToken(token))
	return err
}

// SetHandOver locks a session to the customer's screens while the
// customer holds the tablet (state names the screen), or records where it
// goes after. Only UnlockHandOver, with the staff member's PIN, clears it.
func (db *DB) SetHandOver(ctx context.Context, token, state string) error {
	if state == "" {
		return errors.New("hand over: empty state")
	}
	return db.Tx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, `UPDATE sessions SET hand_over = ? WHERE id_hash = ?`, state, hashToken(token))
		return err
	})
}

// UnlockHandOver takes the tablet back: the PIN of the session's staff
// member, counted like a sign-in (wrong PINs lock the account). It returns
// the state the session was in.
func (db *DB) UnlockHandOver(ctx context.Context, token, pin string) (string, error) {
	sess, err := db.Session(ctx, token)
	if err != nil {
		return "", err
	}
	if _, err := db.checkPIN(ctx, sess.Staff.ID, pin); err != nil {
		return "", err
	}
	err = db.Tx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, `UPDATE sessions SET hand_over = '' WHERE id_hash = ?`, hashToken(token))
		return err
	})
	if err != nil {
		return "", err
	}
	slog.Info("tablet taken back", "staff_id", sess.Staff.ID)
	return sess.HandOver, nil
}

// SignOut ends a session.
func (db *DB) SignOut(ctx context.Context, token string) error {
	_, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, hashToken(token))
	return err
}

// CreateAPIToken makes a bearer token for another program and returns it;
// only its hash is stored.
func (db *DB) CreateAPIToken(ctx context.Context, name string) (string, error) {
	f := consent.FieldErrors{}
	name = cleanText(f, "name", name, 100)
	if name == "" {
		f.Add("name", "err.required")
	}
	if err := f.Err(); err != nil {
		return "", err
	}
	token := "cdk_" + randomToken()
	_, err := db.w.ExecContext(ctx, `INSERT INTO api_tokens (name, token_hash, created_at) VALUES (?, ?, ?)`, name, hashToken(token), Stamp(db.Now()))
	if err != nil {
		return "", fmt.Errorf("create api token: %w", err)
	}
	return token, nil
}

// APIToken returns the program behind a valid bearer token.
func (db *DB) APIToken(ctx context.Context, token string) (APIClient, error) {
	var a APIClient
	err := db.sql.QueryRowContext(ctx, `SELECT id, name FROM api_tokens WHERE token_hash = ?`, hashToken(token)).Scan(&a.ID, &a.Name)
	if errors.Is(err, sql.ErrNoRows) {
		return APIClient{}, consent.Errorf(consent.Denied, "err.token_invalid")
	}
	return a, err
}

// APIClient is the program behind an API token: its id for the audit log,
// its name for the consent ledger (actor api).
type APIClient struct {
	ID   int64
	Name string
}

var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not-a-pin"), bcrypt.DefaultCost)
	return h
})

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // the system's randomness failed: nothing safe can go on
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken stores secrets as SHA-256: they are long and random, so a
// plain hash suffices and a lookup stays one index probe.
func hashToken(t string) string {
	s := sha256.Sum256([]byte(t))
	return hex.EncodeToString(s[:])
}

// AllStaff returns every staff member, disabled ones too, for the
// manager's staff page.
func (db *DB) AllStaff(ctx context.Context) ([]Staff, error) {
	return db.listStaff(ctx, `ORDER BY disabled, name COLLATE NOCASE`)
}

// SetStaffDisabled disables or enables a staff member; disabling ends
// their sessions at once. Nobody disables themself, and the last active
// manager stays, so that the store cannot lock itself out.
func (db *DB) SetStaffDisabled(ctx context.Context, id int64, disabled bool, by int64) error {
	return db.Tx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		var role string
		if err := tx.QueryRowContext(ctx, `SELECT role FROM staff WHERE id = ?`, id).Scan(&role); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return consent.Errorf(consent.NotFound, "err.staff_not_found")
			}
			return err
		}
		if disabled {
			if id == by {
				return consent.Errorf(consent.Conflict, "err.staff_self")
			}
			if role == RoleManager {
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM staff WHERE role = 'manager' AND disabled = 0 AND id <> ?`, id).Scan(&n); err != nil {
					return err
				}
				if n == 0 {
					return consent.Errorf(consent.Conflict, "err.staff_last_manager")
				}
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE staff_id = ?`, id); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE staff SET disabled = ? WHERE id = ?`, disabled, id)
		return err
	})
}

// ResetPIN gives a staff member a new PIN, lifts a lockout and ends their
// sessions.
func (db *DB) ResetPIN(ctx context.Context, id int64, pin string) error {
	var role string
	if err := db.sql.QueryRowContext(ctx, `SELECT role FROM staff WHERE id = ?`, id).Scan(&role); errors.Is(err, sql.ErrNoRows) {
		return consent.Errorf(consent.NotFound, "err.staff_not_found")
	} else if err != nil {
		return err
	}
	if err := ValidatePIN(pin, role); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pin), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	return db.Tx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		res, err := tx.ExecContext(ctx, `UPDATE staff SET pin_hash = ?, failed_attempts = 0, locked_until = '' WHERE id = ?`, string(hash), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return consent.Errorf(consent.NotFound, "err.staff_not_found")
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE staff_id = ?`, id)
		return err
	})
}

package orders

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
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
	// StoreID is the store the staff member belongs to; 0 for a manager
	// of the whole chain.
	StoreID int64 `json:"store_id,omitempty"`
	// LockedUntil is the latest running lockout of the account, from any
	// client; zero when none runs (the manager's staff page).
	LockedUntil time.Time `json:"-"`
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
	f := consentdesk.FieldErrors{}
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

// HomeStore is where a new account of role works unless it is given a
// store: a counter account in the first store, a manager's chain-wide (0).
func HomeStore(role string) int64 {
	if role == RoleManager {
		return 0
	}
	return consent.FirstStore
}

// AddStaff creates a staff member of a store; store 0 makes a manager
// of the whole chain (counter staff always belong to a store).
func (db *DB) AddStaff(ctx context.Context, name, pin, role string, store int64) (Staff, error) {
	f := consentdesk.FieldErrors{}
	if store == 0 && role == RoleCounter {
		f.Add("store", "err.store_required")
	}
	name = cleanText(f, "name", name, 60)
	if name == "" {
		f.Add("name", "err.required")
	}
	if role != RoleCounter && role != RoleManager {
		f.Add("role", "err.choice_invalid")
	}
	if err := ValidatePIN(pin, role); err != nil {
		f.Add("pin", err.(*consentdesk.Error).Fields["pin"])
	}
	if err := f.Err(); err != nil {
		return Staff{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pin), PINCost)
	if err != nil {
		return Staff{}, err
	}
	s := Staff{Name: name, Role: role, StoreID: store}
	err = db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		if store != 0 {
			if _, err := StoreWhere(ctx, tx, `id = ?`, store); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM staff WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return &consentdesk.Error{Code: consentdesk.Conflict, Key: "err.invalid_input", Fields: map[string]string{"name": "err.staff_name_taken"}}
		}
		return tx.QueryRowContext(ctx, `INSERT INTO staff (name, role, pin_hash, created_at, store_id) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			name, role, string(hash), Stamp(now), nullID(store)).Scan(&s.ID)
	})
	return s, err
}

// StaffList returns the active staff, for the sign-in screen.
func (db *DB) StaffList(ctx context.Context) ([]Staff, error) {
	return db.listStaff(ctx, `WHERE disabled = 0 ORDER BY name COLLATE NOCASE`)
}

func (db *DB) listStaff(ctx context.Context, where string) ([]Staff, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id, name, role, disabled, COALESCE(store_id, 0),
		COALESCE((SELECT MAX(x) FROM (SELECT locked_until AS x UNION ALL SELECT locked_until FROM pin_lockouts p WHERE p.staff_id = staff.id) l), '') FROM staff `+where)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	now := db.Now()
	out := []Staff{}
	for rows.Next() {
		var s Staff
		var locked string
		if err := rows.Scan(&s.ID, &s.Name, &s.Role, &s.Disabled, &s.StoreID, &locked); err != nil {
			return nil, err
		}
		t, err := storedTime(time.RFC3339Nano, locked, "staff member", "locked_until", s.ID)
		if err != nil {
			return nil, err
		}
		if t.After(now) {
			s.LockedUntil = t
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Login is one sign-in attempt: the account by id or by name (the
// sign-in screen shows names only where the store chooses so), the PIN,
// the session's language and the client it came from.
type Login struct {
	StaffID int64
	Name    string
	PIN     string
	Lang    string
	// Client is the address the attempt came from (IPv6 by its /64):
	// wrong PINs lock that client out of the account, not everyone.
	Client string
}

// SignIn checks a PIN and opens a session. It returns the cookie value,
// which is stored only as a hash. After MaxPINTries wrong PINs from one
// client, that client is locked out of the account for LockDuration and
// refused even the right PIN; after AccountMaxPINTries from all clients
// together the account is locked until LockDuration passes or a manager
// lifts it (Unlock). GDPR Art. 32.
func (db *DB) SignIn(ctx context.Context, in Login) (string, Staff, error) {
	id := in.StaffID
	name := norm.NFC.String(strings.TrimSpace(in.Name)) // composed, as the names are stored (cleanText)
	// No staff name holds a control character or a byte that is not
	// UTF-8 (cleanText refuses them), so such a name is not looked up:
	// PostgreSQL refuses both in any text, which made them an error page
	// instead of a refusal.
	if id == 0 && name != "" && consent.PlainText(name) {
		// An unknown name costs what a wrong PIN costs and says the same:
		// the sign-in screen tells nobody which names exist.
		err := db.sql.QueryRowContext(ctx, `SELECT id FROM staff WHERE name = ? COLLATE NOCASE AND disabled = 0`, name).Scan(&id)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return "", Staff{}, err
		}
	}
	s, err := db.checkPIN(ctx, id, in.PIN, in.Client)
	if err != nil {
		return "", Staff{}, err
	}
	token := randomToken()
	lang := in.Lang
	if lang != "en" {
		lang = "de"
	}
	err = db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, Stamp(now)); err != nil {
			return err
		}
		// The session works in the staff member's store; a chain-wide
		// manager's in the first store until they choose another.
		store := s.StoreID
		if store == 0 {
			store = consent.FirstStore
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, staff_id, lang, created_at, expires_at, store_id) VALUES (?, ?, ?, ?, ?, ?)`,
			hashToken(token), s.ID, lang, Stamp(now), Stamp(now.Add(SessionTTL)), store)
		return err
	})
	if err != nil {
		return "", Staff{}, err
	}
	slog.Info("staff signed in", "staff_id", s.ID)
	return token, s, nil
}

// AccountMaxPINTries is how many wrong PINs, from all clients together,
// lock the account itself. It is well above MaxPINTries, so that a
// stranger on the store's network locks out only his own device, and it
// still bounds the guesses that many devices together get.
const AccountMaxPINTries = 20

// checkPIN checks a staff member's PIN, counting wrong ones per client
// and per account (see SignIn). A right PIN resets both counts for the
// client it came from.
func (db *DB) checkPIN(ctx context.Context, staffID int64, pin, client string) (Staff, error) {
	var s Staff
	var hash string
	found, locked, lockedAccount := false, false, false
	if client == "" {
		client = "local"
	}
	// One attempt is reserved and counted before the PIN is compared, in
	// the same transaction as the lock decision: however many guesses
	// arrive at once, at most MaxPINTries are compared between two locks
	// (found: 64 parallel guesses got 32-66 compared).
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		var lockedUntil, clientLocked string
		var failed, clientFailed int
		err := tx.QueryRowContext(ctx, `SELECT id, name, role, pin_hash, failed_attempts, locked_until, COALESCE(store_id, 0) FROM staff WHERE id = ? AND disabled = 0`, staffID).
			Scan(&s.ID, &s.Name, &s.Role, &hash, &failed, &lockedUntil, &s.StoreID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		err = tx.QueryRowContext(ctx, `SELECT failed_attempts, locked_until FROM pin_lockouts WHERE staff_id = ? AND client = ?`, s.ID, client).
			Scan(&clientFailed, &clientLocked)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if lockedAt(lockedUntil, now) || lockedAt(clientLocked, now) {
			locked = true
			return nil
		}
		// A lock that has run out starts a fresh count.
		if lockedUntil != "" {
			failed = 0
		}
		if clientLocked != "" {
			clientFailed = 0
		}
		clientLocked, lockedUntil = "", ""
		if clientFailed+1 >= MaxPINTries {
			clientFailed, clientLocked = 0, Stamp(now.Add(LockDuration))
		} else {
			clientFailed++
		}
		if failed+1 >= AccountMaxPINTries {
			failed, lockedUntil, lockedAccount = 0, Stamp(now.Add(LockDuration)), true
			slog.Warn("staff account locked after wrong PINs from several clients", "staff_id", s.ID)
		} else {
			failed++
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO pin_lockouts (staff_id, client, failed_attempts, locked_until, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (staff_id, client) DO UPDATE SET failed_attempts = excluded.failed_attempts, locked_until = excluded.locked_until, updated_at = excluded.updated_at`,
			s.ID, client, clientFailed, clientLocked, Stamp(now)); err != nil {
			return err
		}
		// Rows of clients that have been quiet for a day are forgotten.
		if _, err := tx.ExecContext(ctx, `DELETE FROM pin_lockouts WHERE updated_at < ?`, Stamp(now.Add(-24*time.Hour))); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE staff SET failed_attempts = ?, locked_until = ? WHERE id = ?`, failed, lockedUntil, s.ID)
		return err
	})
	if err != nil {
		return Staff{}, err
	}
	if !found {
		// The same cost as a real check, so timing does not tell which ids exist.
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(pin))
		return Staff{}, consentdesk.Errorf(consentdesk.Denied, "err.signin_failed")
	}
	if locked {
		return Staff{}, consentdesk.Errorf(consentdesk.Locked, "err.signin_locked")
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(pin)) != nil {
		return Staff{}, consentdesk.Errorf(consentdesk.Denied, "err.signin_failed")
	}
	// The right PIN: this client's count starts again (and a lock that
	// this very attempt's reservation set is lifted), and the attempt's
	// own reservation is given back to the account. Counts from other
	// clients stay: a guesser elsewhere is not let off by the owner's
	// sign-in.
	if err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM pin_lockouts WHERE staff_id = ? AND client = ?`, s.ID, client); err != nil {
			return err
		}
		if lockedAccount {
			_, err := tx.ExecContext(ctx, `UPDATE staff SET failed_attempts = 0, locked_until = '' WHERE id = ?`, s.ID)
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE staff SET failed_attempts = CASE WHEN failed_attempts > 0 THEN failed_attempts - 1 ELSE 0 END WHERE id = ?`, s.ID)
		return err
	}); err != nil {
		return Staff{}, err
	}
	return s, nil
}

func lockedAt(until string, now time.Time) bool {
	t, err := time.Parse(time.RFC3339Nano, until)
	return err == nil && now.Before(t)
}

// Unlock lifts every lockout of a staff member, per client and for the
// account: another manager's way back for a colleague locked out by
// someone guessing (`consentdesk staff unlock`, the staff page).
func (db *DB) Unlock(ctx context.Context, id int64) error {
	return db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		res, err := tx.ExecContext(ctx, `UPDATE staff SET failed_attempts = 0, locked_until = '' WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return consentdesk.Errorf(consentdesk.NotFound, "err.staff_not_found")
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM pin_lockouts WHERE staff_id = ?`, id)
		return err
	})
}

// StaffByName finds a staff member by name (case-insensitive), for the
// command line.
func (db *DB) StaffByName(ctx context.Context, name string) (Staff, error) {
	var s Staff
	err := db.sql.QueryRowContext(ctx, `SELECT id, name, role, disabled, COALESCE(store_id, 0) FROM staff WHERE name = ? COLLATE NOCASE`, strings.TrimSpace(name)).
		Scan(&s.ID, &s.Name, &s.Role, &s.Disabled, &s.StoreID)
	if errors.Is(err, sql.ErrNoRows) {
		return Staff{}, consentdesk.Errorf(consentdesk.NotFound, "err.staff_not_found")
	}
	return s, err
}

// Session is a signed-in staff member.
type Session struct {
	Staff Staff
	Lang  string
	// HandOver is set while the customer holds the tablet: the session
	// reaches the customer's screens only (see SetHandOver).
	HandOver string
	// StoreID is the store the session works in: what it records happens
	// there.
	StoreID int64
}

// Session looks up the session of a cookie value.
func (db *DB) Session(ctx context.Context, token string) (Session, error) {
	var s Session
	err := db.sql.QueryRowContext(ctx, `SELECT st.id, st.name, st.role, COALESCE(st.store_id, 0), se.lang, se.hand_over, se.store_id FROM sessions se JOIN staff st ON st.id = se.staff_id
		WHERE se.id_hash = ? AND se.expires_at > ? AND st.disabled = 0`, hashToken(token), Stamp(db.Now())).
		Scan(&s.Staff.ID, &s.Staff.Name, &s.Staff.Role, &s.Staff.StoreID, &s.Lang, &s.HandOver, &s.StoreID)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, consentdesk.Errorf(consentdesk.Denied, "err.signin_required")
	}
	return s, err
}

// SetSessionLang switches the language of a session.
func (db *DB) SetSessionLang(ctx context.Context, token, lang string) error {
	if lang != "de" && lang != "en" {
		return consentdesk.Errorf(consentdesk.Invalid, "err.choice_invalid")
	}
	return db.Tx(ctx, func(ctx context.Context, tx consent.Tx, _ time.Time) error {
		_, err := tx.ExecContext(ctx, `UPDATE sessions SET lang = ? WHERE id_hash = ?`, lang, hashToken(token))
		return err
	})
}

// SetHandOver locks a session to the customer's screens while the
// customer holds the tablet (state names the screen), or records where it
// goes after. Only UnlockHandOver, with the staff member's PIN, clears it.
func (db *DB) SetHandOver(ctx context.Context, token, state string) error {
	if state == "" {
		return errors.New("hand over: empty state")
	}
	return db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, `UPDATE sessions SET hand_over = ? WHERE id_hash = ?`, state, hashToken(token))
		return err
	})
}

// Hand-back pauses: after every HandbackTries wrong PINs on a tablet's
// hand-back screen, the screen waits HandbackPause, doubling with each
// further round up to LockDuration.
const (
	HandbackTries = 5
	HandbackPause = 30 * time.Second
)

// handbackPause is the pause after the round-th run of wrong PINs.
func handbackPause(round int) time.Duration {
	d := HandbackPause
	for i := 1; i < round && d < LockDuration; i++ {
		d *= 2
	}
	return min(d, LockDuration)
}

// UnlockHandOver takes the tablet back: the PIN of the session's staff
// member, or of a manager who may work in the session's store. Wrong PINs
// are counted for the tablet (its session), never against an account: a
// customer holding the tablet must not lock the colleague, or the
// manager, out of the counter. After HandbackTries of them the screen
// pauses (handbackPause) and answers Locked, with the seconds left. It
// returns the state the session was in.
func (db *DB) UnlockHandOver(ctx context.Context, token, pin string) (string, error) {
	sess, err := db.Session(ctx, token)
	if err != nil {
		return "", err
	}
	// The attempt is counted before the PIN is compared, in one
	// transaction with the pause: parallel guesses get no extra tries.
	var paused time.Duration
	err = db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		var failed int
		var until string
		if err := tx.QueryRowContext(ctx, `SELECT handback_failed, handback_paused_until FROM sessions WHERE id_hash = ?`, hashToken(token)).Scan(&failed, &until); err != nil {
			return err
		}
		if lockedAt(until, now) {
			t, _ := time.Parse(time.RFC3339Nano, until)
			paused = t.Sub(now)
			return nil
		}
		failed++
		if failed%HandbackTries == 0 {
			until = Stamp(now.Add(handbackPause(failed / HandbackTries)))
		}
		_, err := tx.ExecContext(ctx, `UPDATE sessions SET handback_failed = ?, handback_paused_until = ? WHERE id_hash = ?`, failed, until, hashToken(token))
		return err
	})
	if err != nil {
		return "", err
	}
	if paused > 0 {
		return "", consentdesk.Errorf(consentdesk.Locked, "err.handback_paused", int(paused.Seconds())+1)
	}
	by, err := db.handbackPIN(ctx, sess, pin)
	if err != nil {
		return "", err
	}
	if by == 0 {
		return "", consentdesk.Errorf(consentdesk.Denied, "err.handback_pin_wrong")
	}
	err = db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, `UPDATE sessions SET hand_over = '', handback_failed = 0, handback_paused_until = '' WHERE id_hash = ?`, hashToken(token))
		return err
	})
	if err != nil {
		return "", err
	}
	slog.Info("tablet taken back", "staff_id", sess.Staff.ID, "by_staff_id", by)
	return sess.HandOver, nil
}

// handbackPIN is the staff member whose PIN pin is, of those who may take
// the session's tablet back: its own staff member, then the managers of
// its store and of the whole chain. 0 for none.
func (db *DB) handbackPIN(ctx context.Context, sess Session, pin string) (int64, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id, pin_hash FROM staff WHERE disabled = 0 AND (id = ? OR (role = ? AND (store_id IS NULL OR store_id = ?)))
		ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END, id`, sess.Staff.ID, RoleManager, sess.StoreID, sess.Staff.ID)
	if err != nil {
		return 0, err
	}
	type cand struct {
		id   int64
		hash string
	}
	var all []cand
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.id, &c.hash); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, c := range all {
		if bcrypt.CompareHashAndPassword([]byte(c.hash), []byte(pin)) == nil {
			return c.id, nil
		}
	}
	return 0, nil
}

// SetSessionStore moves a chain-wide manager's session to another store:
// what they record from then on happens there. Staff of one store work in
// their own store only.
func (db *DB) SetSessionStore(ctx context.Context, token string, store int64) error {
	sess, err := db.Session(ctx, token)
	if err != nil {
		return err
	}
	if sess.Staff.StoreID != 0 {
		return consentdesk.Errorf(consentdesk.Denied, "err.store_switch_denied")
	}
	return db.Tx(ctx, func(ctx context.Context, tx consent.Tx, _ time.Time) error {
		if _, err := StoreWhere(ctx, tx, `id = ?`, store); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE sessions SET store_id = ? WHERE id_hash = ?`, store, hashToken(token))
		return err
	})
}

// SignOut ends a session.
func (db *DB) SignOut(ctx context.Context, token string) error {
	return db.Tx(ctx, func(ctx context.Context, tx consent.Tx, _ time.Time) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, hashToken(token))
		return err
	})
}

// API token scopes (docs/api.md): ScopeOrders creates and reads orders and
// reads consents; ScopeAdmin may do everything, erasure and exports
// included. An ERP that only sends orders cannot erase customers
// (GDPR Art. 25(2), Art. 32: no more access than the purpose needs).
const (
	ScopeOrders = "orders"
	ScopeAdmin  = "admin"
)

// lastUseEvery is how often a token's last use is written: once a
// minute is exact enough to find a forgotten token, and a busy ERP does
// not turn every request into a disk write.
const lastUseEvery = time.Minute

// NewAPIToken describes a token to create.
type NewAPIToken struct {
	Name  string
	Scope string // ScopeOrders when empty
	// Expires is when the token stops working; zero means never.
	Expires time.Time
	// StoreID is the store the token acts for; 0 means the first store.
	StoreID int64
}

// CreateAPIToken makes a bearer token and returns it; only its hash
// is stored. The name must not be in use by another token that still
// works: `token revoke --name` must hit the one meant.
func (db *DB) CreateAPIToken(ctx context.Context, in NewAPIToken) (string, error) {
	f := consentdesk.FieldErrors{}
	name := cleanText(f, "name", in.Name, 100)
	if name == "" {
		f.Add("name", "err.required")
	}
	for _, prefix := range consent.ReservedPrefixes {
		if strings.HasPrefix(name, prefix) {
			// The ledger hashes a token's name beside its prefixed
			// fields; such a name would make two events hash alike
			// (docs/data-and-backups.md, "The ledger's hash").
			f.Add("name", "err.token_name_reserved")
		}
	}
	scope := in.Scope
	if scope == "" {
		scope = ScopeOrders
	}
	if scope != ScopeOrders && scope != ScopeAdmin {
		f.Add("scope", "err.choice_invalid")
	}
	if !in.Expires.IsZero() && !in.Expires.After(db.Now()) {
		f.Add("expires", "err.token_expiry_past")
	}
	if err := f.Err(); err != nil {
		return "", err
	}
	expires := ""
	if !in.Expires.IsZero() {
		expires = Stamp(in.Expires)
	}
	store := in.StoreID
	if store == 0 {
		store = consent.FirstStore
	}
	token := "cdk_" + randomToken()
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		if _, err := StoreWhere(ctx, tx, `id = ?`, store); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_tokens WHERE name = ? AND revoked_at = '' AND (expires_at = '' OR expires_at > ?)`, name, Stamp(now)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return &consentdesk.Error{Code: consentdesk.Conflict, Key: "err.invalid_input", Fields: map[string]string{"name": "err.token_name_taken"}}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (name, token_hash, created_at, scope, expires_at, store_id) VALUES (?, ?, ?, ?, ?, ?)`,
			name, hashToken(token), Stamp(now), scope, expires, store)
		return err
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// APIToken returns the program behind a valid bearer token: not revoked,
// not expired. It records the token's use, at most once a minute.
func (db *DB) APIToken(ctx context.Context, token string) (APIClient, error) {
	var a APIClient
	var expires, revoked, lastUsed string
	err := db.sql.QueryRowContext(ctx, `SELECT id, name, scope, expires_at, revoked_at, last_used_at, store_id FROM api_tokens WHERE token_hash = ?`, hashToken(token)).
		Scan(&a.ID, &a.Name, &a.Scope, &expires, &revoked, &lastUsed, &a.StoreID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && revoked != "") {
		return APIClient{}, consentdesk.Errorf(consentdesk.Denied, "err.token_invalid")
	}
	if err != nil {
		return APIClient{}, err
	}
	now := db.Now()
	until, err := storedTime(time.RFC3339Nano, expires, "API token", "expires_at", a.ID)
	if err != nil {
		return APIClient{}, err
	}
	if expires != "" && !now.Before(until) {
		return APIClient{}, consentdesk.Errorf(consentdesk.Denied, "err.token_expired")
	}
	if t, err := time.Parse(time.RFC3339Nano, lastUsed); err != nil || now.Sub(t) >= lastUseEvery {
		if err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
			_, err := tx.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, Stamp(now), a.ID)
			return err
		}); err != nil {
			return APIClient{}, err
		}
	}
	return a, nil
}

// APIClient is the program behind an API token: its id for the audit log,
// its name for the consent ledger (actor api), its scope for what it may
// do.
type APIClient struct {
	ID    int64
	Name  string
	Scope string
	// StoreID is the store the token acts for: what it records happens
	// there.
	StoreID int64
}

// APITokenInfo is a token as `consentdesk token list` shows it; the
// token itself is never stored and never shown again.
type APITokenInfo struct {
	ID       int64
	Name     string
	Scope    string
	Created  time.Time
	Expires  time.Time // zero: never
	Revoked  time.Time // zero: not revoked
	LastUsed time.Time // zero: never used
	Store    string    // the store it acts for
}

// APITokens lists every token, revoked and expired ones too, oldest
// first.
func (db *DB) APITokens(ctx context.Context) ([]APITokenInfo, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT t.id, t.name, t.scope, t.created_at, t.expires_at, t.revoked_at, t.last_used_at, s.name
		FROM api_tokens t JOIN stores s ON s.id = t.store_id ORDER BY t.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []APITokenInfo{}
	for rows.Next() {
		var t APITokenInfo
		var created, expires, revoked, used string
		if err := rows.Scan(&t.ID, &t.Name, &t.Scope, &created, &expires, &revoked, &used, &t.Store); err != nil {
			return nil, err
		}
		for _, f := range []struct {
			dst        *time.Time
			value, col string
		}{{&t.Created, created, "created_at"}, {&t.Expires, expires, "expires_at"}, {&t.Revoked, revoked, "revoked_at"}, {&t.LastUsed, used, "last_used_at"}} {
			var err error
			if *f.dst, err = storedTime(time.RFC3339Nano, f.value, "API token", f.col, t.ID); err != nil {
				return nil, err
			}
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeAPIToken ends every working token of that name at once and
// returns how many it ended; none is an error (a typo must not look like
// success).
func (db *DB) RevokeAPIToken(ctx context.Context, name string) (int, error) {
	var n int64
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at = ''`, Stamp(now), strings.TrimSpace(name))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, consentdesk.Errorf(consentdesk.NotFound, "err.token_not_found")
	}
	slog.Info("api token revoked", "tokens", n)
	return int(n), nil
}

// PINCost is bcrypt's cost for the staff's PINs: its default, 2^10
// rounds. The test suites lower it (orderstest.Main): under the race
// detector, hashing the PINs of each test's staff and sign-ins took the
// web tests from 122 s to 409 s, most of CI's time.
var PINCost = bcrypt.DefaultCost

var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not-a-pin"), PINCost)
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
	return db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		var role string
		if err := tx.QueryRowContext(ctx, `SELECT role FROM staff WHERE id = ?`, id).Scan(&role); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return consentdesk.Errorf(consentdesk.NotFound, "err.staff_not_found")
			}
			return err
		}
		if disabled {
			if id == by {
				return consentdesk.Errorf(consentdesk.Conflict, "err.staff_self")
			}
			if role == RoleManager {
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM staff WHERE role = 'manager' AND disabled = 0 AND id <> ?`, id).Scan(&n); err != nil {
					return err
				}
				if n == 0 {
					return consentdesk.Errorf(consentdesk.Conflict, "err.staff_last_manager")
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
		return consentdesk.Errorf(consentdesk.NotFound, "err.staff_not_found")
	} else if err != nil {
		return err
	}
	if err := ValidatePIN(pin, role); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pin), PINCost)
	if err != nil {
		return err
	}
	return db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		res, err := tx.ExecContext(ctx, `UPDATE staff SET pin_hash = ?, failed_attempts = 0, locked_until = '' WHERE id = ?`, string(hash), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return consentdesk.Errorf(consentdesk.NotFound, "err.staff_not_found")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pin_lockouts WHERE staff_id = ?`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE staff_id = ?`, id)
		return err
	})
}

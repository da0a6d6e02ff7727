package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/unicode/norm"
)

// Customer is a person who orders at the counter.
type Customer struct {
	ID         int64  `json:"id"`
	Salutation string `json:"salutation"`
	FirstName  string `json:"first_name"`
	LastName   string `json:"last_name"`
	Street     string `json:"street"`
	PostalCode string `json:"postal_code"`
	City       string `json:"city"`
	Email      string `json:"email"`
	Mobile     string `json:"mobile"` // E.164
	Phone      string `json:"phone"`  // E.164
	Lang       string `json:"lang"`
	CreatedAt  string `json:"created_at,omitempty"`
	UpdatedAt  string `json:"updated_at,omitempty"`
	// ErasedAt is set when the customer was erased (GDPR Art. 17); every
	// personal field is then empty.
	ErasedAt string `json:"erased_at,omitempty"`
	// Under16 marks a child or teenager (Art. 8 GDPR by analogy): a
	// parent or guardian decides about marketing consent. BirthDate
	// (YYYY-MM-DD) is optional; asking every adult for it would collect
	// more than is needed (Art. 5(1)(c)).
	Under16   bool   `json:"under_16,omitempty"`
	BirthDate string `json:"birth_date,omitempty"`
	// StoreID is the store that first recorded the customer: the
	// customer's controller where each store is its own (franchise.go).
	StoreID int64 `json:"store_id,omitempty"`
}

// ConsentAge is the age from which a customer decides about marketing
// consent alone (Art. 8 GDPR by analogy; the usual assumption in a shop).
const ConsentAge = 16

// Child reports whether a parent or guardian decides for the customer
// on day now: marked under 16, or younger than 16 by the date of birth.
func (c Customer) Child(now time.Time) bool {
	if c.BirthDate != "" {
		if b, err := time.Parse("2006-01-02", c.BirthDate); err == nil {
			return now.In(Berlin).Before(b.AddDate(ConsentAge, 0, 0))
		}
	}
	return c.Under16
}

// Erased reports whether the customer was erased.
func (c Customer) Erased() bool { return c.ErasedAt != "" }

// Salutations offered; empty means none given.
var Salutations = []string{"", "Frau", "Herr", "Divers"}

// Name is the full name for letters and lists.
func (c Customer) Name() string {
	return strings.TrimSpace(c.FirstName + " " + c.LastName)
}

// HasPostalAddress reports whether a letter could reach the customer.
func (c Customer) HasPostalAddress() bool {
	return c.Street != "" && c.PostalCode != "" && c.City != ""
}

// Contact returns the address or number that a channel would use, or ""
// when the customer gave none: such a channel cannot be switched on.
func (c Customer) Contact(ch consent.Channel) string {
	switch ch {
	case consent.Post:
		if c.HasPostalAddress() {
			return c.Street + ", " + c.PostalCode + " " + c.City
		}
	case consent.Email:
		return c.Email
	case consent.SMS:
		return c.Mobile
	case consent.Phone:
		if c.Phone != "" {
			return c.Phone
		}
		return c.Mobile
	}
	return ""
}

const maxText = 200

// cleanText trims and checks a free-text field: no control characters and
// at most max runes.
func cleanText(f consentdesk.FieldErrors, field, v string, max int) string {
	// Composed (NFC): "Müller" typed on the tablet and "Mu\u0308ller" from a
	// Mac are one name, found by one search and printed whole.
	v = norm.NFC.String(strings.TrimSpace(v))
	// A bidirectional override (U+202E and its kin) would print a name
	// backwards on the signed confirmation, and in the ledger's export.
	if strings.IndexFunc(v, func(r rune) bool {
		return unicode.IsControl(r) || r == unicode.ReplacementChar || unicode.Is(unicode.Bidi_Control, r)
	}) >= 0 {
		f.Add(field, "err.control_chars")
	}
	if len([]rune(v)) > max {
		f.Add(field, "err.too_long")
	}
	return v
}

// NormalizeEmail checks the syntax of an address and lower-cases its
// domain. It accepts a bare address only, not "Name <addr>".
func NormalizeEmail(v string) (string, bool) {
	v = strings.TrimSpace(v)
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" || len(v) > 254 {
		return "", false
	}
	at := strings.LastIndexByte(v, '@')
	local, domain := v[:at], strings.ToLower(v[at+1:])
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", false
	}
	return local + "@" + domain, true
}

// NormalizePhone parses a number, with Germany as the default region, and
// returns it in E.164. With mobileOnly, a landline number is refused (an
// SMS could not reach it).
func NormalizePhone(v string, mobileOnly bool) (string, string) {
	v = strings.TrimSpace(v)
	// Only what people write in a number: phonenumbers would read letters
	// as a keypad's digits (found by FuzzNormalizePhone), turning a typo
	// into somebody else's number.
	if len(v) > 40 || strings.Trim(v, "0123456789+-/(). ") != "" {
		return "", "err.phone_invalid"
	}
	n, err := phonenumbers.Parse(v, "DE")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", "err.phone_invalid"
	}
	if e164 := phonenumbers.Format(n, phonenumbers.E164); len(e164) > 16 { // E.164: at most 15 digits
		return "", "err.phone_invalid"
	}
	if mobileOnly {
		switch phonenumbers.GetNumberType(n) {
		case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
		default:
			return "", "err.mobile_not_mobile"
		}
	}
	return phonenumbers.Format(n, phonenumbers.E164), ""
}

// Normalize validates the customer's fields, prefixing field names with
// prefix ("customer."), and returns the cleaned customer.
func (c Customer) Normalize(f consentdesk.FieldErrors, prefix string) Customer {
	out := Customer{ID: c.ID, Lang: c.Lang}
	out.Salutation = cleanText(f, prefix+"salutation", c.Salutation, 20)
	valid := false
	for _, s := range Salutations {
		valid = valid || s == out.Salutation
	}
	if !valid {
		f.Add(prefix+"salutation", "err.choice_invalid")
	}
	out.FirstName = cleanText(f, prefix+"first_name", c.FirstName, 100)
	out.LastName = cleanText(f, prefix+"last_name", c.LastName, 100)
	if out.LastName == "" {
		f.Add(prefix+"last_name", "err.required")
	}
	out.Street = cleanText(f, prefix+"street", c.Street, maxText)
	out.PostalCode = cleanText(f, prefix+"postal_code", c.PostalCode, 10)
	out.City = cleanText(f, prefix+"city", c.City, 100)
	if out.PostalCode != "" && strings.IndexFunc(out.PostalCode, func(r rune) bool {
		return !(unicode.IsDigit(r) || unicode.IsLetter(r) || r == ' ' || r == '-')
	}) >= 0 {
		f.Add(prefix+"postal_code", "err.postal_code_invalid")
	}
	if e := strings.TrimSpace(c.Email); e != "" {
		if n, ok := NormalizeEmail(e); ok {
			out.Email = n
		} else {
			f.Add(prefix+"email", "err.email_invalid")
		}
	}
	if m := strings.TrimSpace(c.Mobile); m != "" {
		n, key := NormalizePhone(m, true)
		if key != "" {
			f.Add(prefix+"mobile", key)
		}
		out.Mobile = n
	}
	if p := strings.TrimSpace(c.Phone); p != "" {
		n, key := NormalizePhone(p, false)
		if key != "" {
			f.Add(prefix+"phone", key)
		}
		out.Phone = n
	}
	out.Under16 = c.Under16
	if b := strings.TrimSpace(c.BirthDate); b != "" {
		t, err := time.Parse("2006-01-02", b)
		switch {
		case err != nil:
			f.Add(prefix+"birth_date", "err.date_format")
		case t.After(time.Now()) || t.Before(time.Now().AddDate(-120, 0, 0)):
			f.Add(prefix+"birth_date", "err.birth_date_range")
		}
		out.BirthDate = b
	}
	switch out.Lang {
	case "":
		out.Lang = "de"
	case "de", "en":
	default:
		f.Add(prefix+"lang", "err.choice_invalid")
	}
	// GDPR Art. 25: ask for little, but a name and one way to reach the
	// customer about the order.
	if out.Email == "" && out.Mobile == "" && out.Phone == "" && !out.HasPostalAddress() && f[prefix+"email"] == "" && f[prefix+"mobile"] == "" && f[prefix+"phone"] == "" {
		f.Add(prefix+"email", "err.contact_required")
	}
	return out
}

// SearchKey is what the counter's search matches against.
func (c Customer) SearchKey() string {
	digits := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
	}
	return strings.ToLower(strings.Join([]string{c.FirstName, c.LastName, c.Email, digits(c.Mobile), digits(c.Phone)}, " "))
}

func insertCustomer(ctx context.Context, tx consent.Tx, c *Customer, now time.Time) error {
	c.CreatedAt, c.UpdatedAt = Stamp(now), Stamp(now)
	// RETURNING rather than LastInsertId, which PostgreSQL's driver
	// does not have.
	// The store that records the customer first is theirs (their
	// controller where each store is its own).
	c.StoreID = consent.StoreOf(ctx)
	err := tx.QueryRowContext(ctx, `INSERT INTO customers (salutation, first_name, last_name, street, postal_code, city, email, mobile, phone, lang, search, created_at, updated_at,
			under_16, birth_date, store_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.Salutation, c.FirstName, c.LastName, c.Street, c.PostalCode, c.City, c.Email, c.Mobile, c.Phone, c.Lang, c.SearchKey(), c.CreatedAt, c.UpdatedAt,
		c.Under16, c.BirthDate, c.StoreID).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("insert customer: %w", err)
	}
	return nil
}

// CustomerColumns are the columns ScanCustomer reads, in its order.
const CustomerColumns = `id, salutation, first_name, last_name, street, postal_code, city, email, mobile, phone, lang, created_at, updated_at, erased_at,
	under_16, birth_date, store_id`

// ScanCustomer reads a customer's row of CustomerColumns.
func ScanCustomer(row interface{ Scan(...any) error }) (Customer, error) {
	var c Customer
	err := row.Scan(&c.ID, &c.Salutation, &c.FirstName, &c.LastName, &c.Street, &c.PostalCode, &c.City, &c.Email, &c.Mobile, &c.Phone, &c.Lang, &c.CreatedAt, &c.UpdatedAt, &c.ErasedAt,
		&c.Under16, &c.BirthDate, &c.StoreID)
	if errors.Is(err, sql.ErrNoRows) {
		return Customer{}, consentdesk.Errorf(consentdesk.NotFound, "err.customer_not_found")
	}
	return c, err
}

// getCustomer reads one customer; another store's customer is not
// found where each store is its own controller (franchise.go).
func getCustomer(ctx context.Context, q consent.Querier, id int64) (Customer, error) {
	c, err := ScanCustomer(q.QueryRowContext(ctx, `SELECT `+CustomerColumns+` FROM customers WHERE id = ?`, id))
	if err != nil {
		return c, err
	}
	if store, ok, err := ownStore(ctx, q); err != nil {
		return Customer{}, err
	} else if ok && c.StoreID != store {
		return Customer{}, consentdesk.Errorf(consentdesk.NotFound, "err.customer_not_found")
	}
	return c, nil
}

// Customer returns one customer.
func (db *DB) Customer(ctx context.Context, id int64) (Customer, error) {
	return getCustomer(ctx, db.sql, id)
}

// searchable turns what no customer's search key holds into spaces:
// control characters and bytes that are not UTF-8 (Normalize refuses
// them in every field the key is made of). A NUL byte was an error for
// the counter instead of an answer (SQLite's FTS5 read it as the end of
// the query, "unterminated string"; PostgreSQL refuses it in any text),
// and as a word of its own it cut SQLite's LIKE pattern down to "%",
// which listed every customer. A byte that is not UTF-8 became U+FFFD
// in the word, which then matched no one.
func searchable(q string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return ' '
		}
		return r
	}, norm.NFC.String(q)) // composed, as the names are (cleanText)
}

// SearchCustomers finds customers whose name, e-mail or phone contains
// every word of q, best matches (by last name) first.
func (db *DB) SearchCustomers(ctx context.Context, q string, limit int) ([]Customer, error) {
	words := strings.Fields(strings.ToLower(searchable(q)))
	if len(words) == 0 || len(words) > 5 {
		return nil, nil
	}
	var match []string // three characters or more: the trigram index
	var where []string // shorter: compared on the candidates
	var args []any
	for _, w := range words {
		// A phone number typed as "0170 …" is stored as "+49170 …".
		if strings.Trim(w, "0123456789+-/()") == "" {
			w = strings.TrimLeft(strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, w), "0")
			if w == "" {
				continue
			}
		}
		if utf8.RuneCountInString(w) >= 3 {
			match = append(match, w)
			continue
		}
		where = append(where, `search LIKE ? ESCAPE '\'`)
		args = append(args, likeSubstring(w))
	}
	if len(match) == 0 && len(where) == 0 {
		return nil, nil
	}
	query := `SELECT ` + CustomerColumns + ` FROM customers WHERE erased_at = ''`
	scope, scopeArgs, err := storeScope(ctx, db.sql, "store_id")
	if err != nil {
		return nil, err
	}
	query += scope
	if len(match) > 0 {
		// At most searchCandidates matches are sorted by name: a search
		// that finds more (every tenth customer is an "Ann…") shows the
		// first of them, and the clerk types more. Without the bound, its
		// time grew with the customers found.
		in, inArgs := db.searchIndex(match)
		query += ` AND id IN (` + in + ` LIMIT ` + strconv.Itoa(searchCandidates) + `)`
		args = append(inArgs, args...)
	}
	args = append(scopeArgs, args...)
	for _, w := range where {
		query += ` AND ` + w
	}
	args = append(args, limit)
	rows, err := db.sql.QueryContext(ctx, query+` ORDER BY last_name COLLATE NOCASE, first_name COLLATE NOCASE LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("search customers: %w", err)
	}
	defer rows.Close()
	var out []Customer
	for rows.Next() {
		c, err := ScanCustomer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// likeSubstring is a LIKE pattern of w anywhere, with LIKE's own
// characters escaped (ESCAPE '\').
func likeSubstring(w string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(w) + "%"
}

// searchCandidates bounds the matches a search sorts (SearchCustomers).
const searchCandidates = 2000

// ImportCustomers adds customers taken over from another system, all in
// one transaction: every one is checked as at the counter, and one
// invalid record leaves the database unchanged. No consent comes with
// them; that is given only at the counter or on paper. A record whose
// contact is on the blocking list starts withdrawn on that channel.
func (db *DB) ImportCustomers(ctx context.Context, in []Customer) (int, error) {
	// A copy: normalising and the ids filled in must not change the
	// caller's slice.
	list := append([]Customer(nil), in...)
	for i := range list {
		f := consentdesk.FieldErrors{}
		list[i] = list[i].Normalize(f, fmt.Sprintf("customers.%d.", i))
		if err := f.Err(); err != nil {
			return 0, err
		}
	}
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		for i := range list {
			// A re-import of a person who objected or was erased starts
			// blocked (§35(3) BDSG).
			if _, err := db.createCustomer(ctx, tx, &list[i], now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(list), nil
}

// NationalPhone shows a stored E.164 number as Germans write it
// ("0171 4455667"); a foreign number keeps its international form.
// CallNumber is the number to call a customer on, as dialled in
// Germany: the phone, else the mobile; "" for neither.
func CallNumber(c Customer) string {
	if c.Phone != "" {
		return NationalPhone(c.Phone)
	}
	return NationalPhone(c.Mobile)
}

func NationalPhone(e164 string) string {
	if e164 == "" {
		return ""
	}
	n, err := phonenumbers.Parse(e164, "DE")
	if err != nil {
		return e164
	}
	if n.GetCountryCode() == 49 {
		return phonenumbers.Format(n, phonenumbers.NATIONAL)
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

// MaskContact shows a contact so that its owner recognises it and
// whoever else holds a printed confirmation learns no more than that
// (the public pages): "j.w•••@example.org",
// "+49 170 •••• 567", "Hauptstraße •, 79098 Freiburg".
func MaskContact(v string) string {
	switch {
	case v == "":
		return ""
	case strings.HasPrefix(v, "+"):
		return maskPhone(v)
	case strings.Contains(v, "@"):
		at := strings.LastIndexByte(v, '@')
		local := []rune(v[:at])
		keep := min(3, len(local)-1)
		return string(local[:max(keep, 0)]) + "•••" + v[at:]
	default:
		// "Street 12a, 79098 City": the house number goes.
		street, rest, ok := strings.Cut(v, ", ")
		if !ok {
			return "•••"
		}
		words := strings.Fields(street)
		for i, w := range words {
			if strings.ContainsAny(w, "0123456789") {
				words[i] = "•"
			}
		}
		return strings.Join(words, " ") + ", " + rest
	}
}

// maskPhone keeps the country code, the area or network code and the last
// three digits: "+49 170 •••• 567".
func maskPhone(e164 string) string {
	n, err := phonenumbers.Parse(e164, "DE")
	if err != nil {
		return "•••"
	}
	groups := strings.Fields(phonenumbers.Format(n, phonenumbers.INTERNATIONAL))
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, strings.Join(groups[min(2, len(groups)):], ""))
	if len(groups) < 3 || len(digits) < 5 {
		return groups[0] + " ••••"
	}
	return groups[0] + " " + groups[1] + " •••• " + digits[len(digits)-3:]
}

// FillEmptyFields gives the customer id each field of from that it has
// empty, each recorded as a change (GDPR Art. 16): a store's customer
// merged into the chain's when its database joined (orders/chain).
func FillEmptyFields(ctx context.Context, tx consent.Tx, id int64, from Customer, now time.Time) error {
	c, err := ScanCustomer(tx.QueryRowContext(ctx, `SELECT `+CustomerColumns+` FROM customers WHERE id = ?`, id))
	if err != nil {
		return err
	}
	fields := []struct {
		col      string
		dst, src *string
	}{{"salutation", &c.Salutation, &from.Salutation}, {"first_name", &c.FirstName, &from.FirstName}, {"street", &c.Street, &from.Street},
		{"postal_code", &c.PostalCode, &from.PostalCode}, {"city", &c.City, &from.City}, {"email", &c.Email, &from.Email},
		{"mobile", &c.Mobile, &from.Mobile}, {"phone", &c.Phone, &from.Phone}, {"birth_date", &c.BirthDate, &from.BirthDate}}
	changed := false
	for _, f := range fields {
		if *f.dst == "" && *f.src != "" {
			*f.dst = *f.src
			changed = true
			if _, err := tx.ExecContext(ctx, `INSERT INTO customer_changes (customer_id, field, old_value, new_value, created_at) VALUES (?, ?, '', ?, ?)`,
				id, f.col, *f.dst, Stamp(now)); err != nil {
				return err
			}
		}
	}
	if !changed {
		return nil
	}
	_, err = tx.ExecContext(ctx, `UPDATE customers SET salutation = ?, first_name = ?, street = ?, postal_code = ?, city = ?, email = ?, mobile = ?, phone = ?,
		birth_date = ?, search = ?, updated_at = ? WHERE id = ?`,
		c.Salutation, c.FirstName, c.Street, c.PostalCode, c.City, c.Email, c.Mobile, c.Phone, c.BirthDate, c.SearchKey(), Stamp(now), id)
	return err
}

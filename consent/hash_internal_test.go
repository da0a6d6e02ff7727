package consent

import (
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// The written-out encoding is byte for byte what Go's encoding/json wrote
// before it was spelled out, so that every existing chain verifies
// unchanged: every single byte, the escapes' neighbours, and random text.
func TestHashInputIsGoJSON(t *testing.T) {
	var cases []string
	for c := 0; c < 256; c++ {
		cases = append(cases, string([]byte{byte(c)}), "a"+string([]byte{byte(c)})+"z")
		// In every place of the eight bytes tested at once.
		for at := range 16 {
			b := []byte("0123456789abcdef")
			b[at] = byte(c)
			cases = append(cases, string(b))
		}
	}
	cases = append(cases, "", "de-\xff", "de-\xfe", "\u2028\u2029", "Weiß <b>&amp;</b>", "😀", "\xed\xa0\x80", "\xf4\x90\x80\x80", `"\`)
	rng := rand.New(rand.NewSource(1))
	alphabet := []rune{'a', '"', '\\', '<', '>', '&', '\n', '\x00', '\x1f', '\x7f', 'ä', '\u2028', '\u2029', '€', '😀', utf8.RuneError}
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for j := rng.Intn(12); j > 0; j-- {
			if rng.Intn(8) == 0 {
				b.WriteByte(byte(rng.Intn(256))) // raw, often invalid UTF-8
			} else {
				b.WriteRune(alphabet[rng.Intn(len(alphabet))])
			}
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		want, _ := json.Marshal([]string{s, "x", s})
		if got := hashInput([]string{s, "x", s}); string(got) != string(want) {
			t.Fatalf("%q: %s, Go's json %s", s, got, want)
		}
	}
}

// The three test vectors of docs/data-and-backups.md ("The ledger's hash,
// byte for byte"), from which an auditor re-implements verify: the exact
// bytes hashed and the hash, and the document shows both.
func TestLedgerHashVectors(t *testing.T) {
	first := Event{Seq: 1, CustomerID: 7, Channel: Email, Action: Grant, OptInLevel: SingleOptIn, LegalBasis: BasisConsent,
		Source: CounterTablet, Actor: ByCustomer, NoticeVersionID: "de-1",
		NoticeSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", OrderID: 3, StaffID: 2,
		EvidenceSHA256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
		CreatedAt:      "2026-11-29T10:00:00Z", PrevHash: GenesisHash}
	second := Event{Seq: 2, CustomerID: 7, Channel: Post, Action: Withdraw, LegalBasis: BasisConsent,
		Source: API, Actor: ByAPI, CreatedAt: "2026-11-29T10:05:00.5Z", APIToken: `ERP "Kasse" <1> & Söhne`, RepresentativeOf: "mother"}
	second.PrevHash = first.ComputeHash()
	// The first event of the second store's chain: its own genesis.
	third := Event{Seq: 3, CustomerID: 8, Channel: SMS, Action: Grant, OptInLevel: SingleOptIn, LegalBasis: BasisConsent,
		Source: CounterTablet, Actor: ByCustomer, NoticeVersionID: "de-1",
		NoticeSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", OrderID: 4, StaffID: 5,
		CreatedAt: "2026-11-29T11:00:00Z", Topic: "eye_test", StoreID: 2, PrevHash: GenesisHash}
	doc, err := os.ReadFile("../docs/data-and-backups.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		e     Event
		input string
		hash  string
	}{
		{first, `["1","7","email","grant","single","consent","counter_tablet","customer","de-1","9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","3","2","60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752","2026-11-29T10:00:00Z","0000000000000000000000000000000000000000000000000000000000000000"]`,
			"c43e6d2a435a72edc3675cccdefc331e1ad9631a8978a08663858a840b6422c9"},
		{second, `["2","7","post","withdraw","","consent","api","api","","","0","0","","2026-11-29T10:05:00.5Z","` + second.PrevHash + `","ERP \"Kasse\" \u003c1\u003e \u0026 Söhne","representative:mother"]`,
			"0c0838bba859d6dfb2605c406e46a4b40ee234eb4f4271bf8a995b152f76ebb6"},
		{third, `["3","8","sms","grant","single","consent","counter_tablet","customer","de-1","9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","4","5","","2026-11-29T11:00:00Z","0000000000000000000000000000000000000000000000000000000000000000","topic:eye_test","store:2"]`,
			"e5e132e6367977314e1028b7f1dc20a0ed5ebb3cce07b05d165d4812629114c0"},
	} {
		if got := string(hashInput(v.e.hashedFields())); got != v.input {
			t.Errorf("input of event %d:\n%s\nwant\n%s", v.e.Seq, got, v.input)
		}
		if got := v.e.ComputeHash(); got != v.hash {
			t.Errorf("hash of event %d: %s, want %s", v.e.Seq, got, v.hash)
		}
		if !strings.Contains(string(doc), v.input) || !strings.Contains(string(doc), v.hash) {
			t.Errorf("docs/data-and-backups.md does not show event %d's input and hash", v.e.Seq)
		}
	}
}

// Text that would make the hash input ambiguous never reaches the ledger
// ("de-\xff" and "de-\xfe" would hash alike).
func TestAppendRefusesAmbiguousText(t *testing.T) {
	a := Event{Seq: 1, NoticeVersionID: "de-\xff", CreatedAt: "t", PrevHash: GenesisHash}
	b := a
	b.NoticeVersionID = "de-\xfe"
	if a.ComputeHash() != b.ComputeHash() {
		t.Fatal("the probe no longer shows the old ambiguity")
	}
	for _, e := range []Event{a, b,
		{NoticeVersionID: "de-1\x00"}, {APIToken: "ERP\u0085"}, {APIToken: "representative:mother"}} {
		if err := e.checkHashedText(); !errors.Is(err, ErrLedgerText) {
			t.Errorf("%q/%q accepted: %v", e.NoticeVersionID, e.APIToken, err)
		}
	}
	if err := (&Event{APIToken: `ERP "Kasse" <1> & Söhne`, RepresentativeOf: "mother"}).checkHashedText(); err != nil {
		t.Errorf("plain text refused: %v", err)
	}
}

// verify's hash check reuses its buffers from one event to the next: it
// must say what ComputeHash says for each, a long event after a short
// one and back, and no for one changed field.
func TestHashCheckerAgreesWithComputeHash(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	words := []string{"", "post", `ERP "Kasse" <1> & Söhne`, "\u2028", "de-1", strings.Repeat("ä€😀<", 40), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"a\\b\nc\x01\xff", "2026-11-30T10:00:00Z"}
	pick := func() string { return words[rng.Intn(len(words))] }
	var h hashChecker
	for i := range 2000 {
		e := Event{Seq: rng.Int63n(1 << 40), CustomerID: rng.Int63n(1000), Channel: Channel(pick()), Action: Action(pick()),
			OptInLevel: OptInLevel(pick()), LegalBasis: LegalBasis(pick()), Source: Source(pick()), Actor: Actor(pick()),
			NoticeVersionID: pick(), NoticeSHA256: pick(), OrderID: rng.Int63n(5) - 1, StaffID: rng.Int63n(1 << 20),
			EvidenceSHA256: pick(), CreatedAt: pick(), PrevHash: pick(),
			APIToken: pick(), RepresentativeOf: pick(), Topic: pick(), StoreID: rng.Int63n(3), JoinedFrom: pick()}
		e.Hash = e.ComputeHash()
		if !h.holds(&e) {
			t.Fatalf("event %d: ComputeHash's hash does not hold: %+v", i, e)
		}
		if want := hashInput(e.hashedFields()); string(h.input) != string(want) {
			t.Fatalf("event %d: the checker hashed\n%s\nComputeHash hashes\n%s", i, h.input, want)
		}
		changed := e
		changed.CustomerID++
		if h.holds(&changed) {
			t.Fatalf("event %d: a changed customer holds", i)
		}
	}
}

// verify takes the columns as the driver gives them; a NULL is refused,
// as the typed scan refused it, instead of standing in for "" or 0.
func TestHashedColumnsRefuseNull(t *testing.T) {
	row := func() []any {
		v := make([]any, 22)
		for i := range v {
			v[i] = "x"
		}
		for _, i := range []int{0, 1, 10, 11, 19, 20} {
			v[i] = int64(i)
		}
		return v
	}
	var e Event
	if err := ReadHashed(&e, anyRow(row())); err != nil || e.Seq != 0 || e.CustomerID != 1 || e.JoinedFrom != "x" || e.Position != 20 {
		t.Fatalf("a whole row: %v, %+v", err, e)
	}
	for _, i := range []int{1, 9, 20, 21} {
		v := row()
		v[i] = nil
		if err := ReadHashed(&e, anyRow(v)); err == nil {
			t.Errorf("column %d NULL: accepted", i)
		}
	}
	v := row()
	v[13] = []byte("2026-11-30T10:00:00Z")
	if err := ReadHashed(&e, anyRow(v)); err != nil || e.CreatedAt != "2026-11-30T10:00:00Z" {
		t.Errorf("text as bytes: %v, %q", err, e.CreatedAt)
	}
}

// A hash in hex, the most common field of the hash input: verify writes
// four per event (go test -bench AppendJSONString ./consent).
func BenchmarkAppendJSONString(b *testing.B) {
	s := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	buf := make([]byte, 0, 256)
	for b.Loop() {
		buf = appendJSONString(buf[:0], "", s)
	}
}

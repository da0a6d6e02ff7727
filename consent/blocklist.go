package consent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// BlockReason says why a contact is on the blocking list.
type BlockReason string

const (
	BlockedByObjection BlockReason = "objection" // Art. 21(3) GDPR, Art. 7(3), §7(3) Nr. 4 UWG
	BlockedByErasure   BlockReason = "erasure"   // Art. 17, §35(3) BDSG
)

// BlockList is the blocking list of contacts that objected or were erased
// (§35(3) BDSG; OLG Frankfurt 6 U 54/19: after an objection any further
// advertising letter is unlawful, a re-import included). It stores a
// keyed hash of the normalised contact, never the contact itself, so that
// it may outlive the erasure without keeping readable personal data.
type BlockList struct {
	key []byte
	// joined are the keys of stores' databases that joined the chain:
	// their entries were hashed with those, and match only with them.
	joined [][]byte
}

// NewBlockList uses key (32 bytes from the key file) for the hashes it
// writes, and key and joined for those it matches.
func NewBlockList(key []byte, joined ...[]byte) *BlockList {
	return &BlockList{key: key, joined: joined}
}

// Hash is the keyed hash of one channel's normalised contact. The channel
// is part of it, so that the same digits as SMS and as phone stay apart.
func (b *BlockList) Hash(ch Channel, normalised string) string {
	return hashWith(b.key, ch, normalised)
}

// hashes are the contact's hashes under every key, with the placeholders
// of a query's IN list.
func (b *BlockList) hashes(ch Channel, normalised string) (string, []any) {
	args := []any{ch, hashWith(b.key, ch, normalised)}
	for _, k := range b.joined {
		args = append(args, hashWith(k, ch, normalised))
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(args)-1), ", "), args
}

func hashWith(key []byte, ch Channel, normalised string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ch))
	m.Write([]byte{0})
	m.Write([]byte(normalised))
	return hex.EncodeToString(m.Sum(nil))
}

// Block puts a contact on the list, or puts it back after a lift.
func (b *BlockList) Block(ctx context.Context, tx Tx, ch Channel, normalised string, reason BlockReason, now string) error {
	if normalised == "" || !ch.Valid() {
		return nil
	}
	return BlockHash(ctx, tx, ch, b.Hash(ch, normalised), reason, now)
}

// BlockHash puts a contact on the list by its hash, as a restore puts
// back an entry of the withdrawal journal (the contact itself may be in
// no record of the restored database any more).
func BlockHash(ctx context.Context, tx Tx, ch Channel, keyHash string, reason BlockReason, now string) error {
	if !ch.Valid() || keyHash == "" {
		return fmt.Errorf("consent: block: invalid entry %q %q", ch, keyHash)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO block_list (channel, key_hash, reason, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (channel, key_hash) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at, lifted_at = ''
		WHERE block_list.lifted_at <> ''`, ch, keyHash, reason, now)
	if err != nil {
		return fmt.Errorf("consent: block: %w", err)
	}
	if j := journalOf(ctx); j != nil {
		j.Entries = append(j.Entries, JournalEntry{Kind: JournalBlock, Channel: ch, KeyHash: keyHash, Reason: reason})
	}
	return nil
}

// BlockedHash reports whether the list holds the hash, not lifted.
func BlockedHash(ctx context.Context, q Querier, ch Channel, keyHash string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM block_list WHERE channel = ? AND key_hash = ? AND lifted_at = ''`, ch, keyHash).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("consent: read block list: %w", err)
	}
	return n > 0, nil
}

// Blocked reports whether a contact is on the list and not lifted.
func (b *BlockList) Blocked(ctx context.Context, q Querier, ch Channel, normalised string) (bool, error) {
	if normalised == "" || !ch.Valid() {
		return false, nil
	}
	var n int
	in, args := b.hashes(ch, normalised)
	err := q.QueryRowContext(ctx, `SELECT 1 FROM block_list WHERE channel = ? AND key_hash IN (`+in+`) AND lifted_at = '' LIMIT 1`, args...).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("consent: read block list: %w", err)
	}
	return true, nil
}

// Lift takes a contact off the list: a fresh explicit consent of the
// customer, recorded in the ledger as an Unblock event by the caller.
func (b *BlockList) Lift(ctx context.Context, tx Tx, ch Channel, normalised, now string) error {
	in, args := b.hashes(ch, normalised)
	_, err := tx.ExecContext(ctx, `UPDATE block_list SET lifted_at = ? WHERE channel = ? AND key_hash IN (`+in+`) AND lifted_at = ''`, append([]any{now}, args...)...)
	if err != nil {
		return fmt.Errorf("consent: lift block: %w", err)
	}
	if j := journalOf(ctx); j != nil {
		for _, h := range args[1:] {
			j.Entries = append(j.Entries, JournalEntry{Kind: JournalLift, Channel: ch, KeyHash: h.(string)})
		}
	}
	return nil
}

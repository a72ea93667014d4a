package sqlstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"

	"github.com/outhook/outhook/webhook"
)

// KeySize is the length of a Key's Bytes: AES-256 takes 32 bytes.
const KeySize = 32

// maxKeyIDLen bounds a Key's ID, which every encrypted row repeats.
const maxKeyIDLen = 64

// Key is an application key that encrypts secrets at rest (see
// WithEncryption). Its ID is stored beside every row it encrypts, so that a
// row names the key that reads it and keys can rotate. Like webhook.Secret, a
// Key never prints its bytes: fmt (every verb) and log/slog show only its ID.
type Key struct {
	// ID names the key in the rows it encrypts: 1 to 64 characters out of
	// A-Z, a-z, 0-9 and ".", "_", "-", ":" (a date, say: "2026-05").
	ID string
	// Bytes is the AES-256 key: KeySize random bytes, kept outside the
	// database (an environment variable, a secrets manager).
	Bytes []byte
}

// String shows the key's ID only.
func (k Key) String() string { return "sqlstore.Key(" + k.ID + ")" }

// GoString shows the key's ID only.
func (k Key) GoString() string { return fmt.Sprintf("sqlstore.Key{ID: %q}", k.ID) }

// Format implements fmt.Formatter, so that no verb prints the key's bytes.
func (k Key) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(k.GoString()))
		return
	}
	_, _ = f.Write([]byte(k.String()))
}

// LogValue implements slog.LogValuer with the key's ID only.
func (k Key) LogValue() slog.Value { return slog.GroupValue(slog.String("id", k.ID)) }

// ErrInvalidKey is matched (errors.Is) by every *KeyError.
var ErrInvalidKey = errors.New("sqlstore: invalid encryption key")

// KeyError is NewKeyring's error for a key it refuses.
type KeyError struct {
	// ID is the refused key's ID.
	ID string
	// Reason says what is wrong with it, without its bytes.
	Reason string
}

// Error names the key and the reason.
func (e *KeyError) Error() string {
	return fmt.Sprintf("sqlstore: encryption key %q: %s", e.ID, e.Reason)
}

// Is reports whether target is ErrInvalidKey.
func (e *KeyError) Is(target error) bool { return target == ErrInvalidKey }

// ErrUnknownKey is matched by the *DecryptError of a row encrypted with a key
// the Store was not given.
var ErrUnknownKey = errors.New("sqlstore: unknown encryption key")

// ErrDecrypt is matched by the *DecryptError of a row whose ciphertext does
// not authenticate: altered, truncated, or copied from another row or column.
var ErrDecrypt = errors.New("sqlstore: ciphertext does not authenticate")

// ErrNoKeys is returned by Store.Reencrypt on a Store without WithEncryption.
var ErrNoKeys = errors.New("sqlstore: the store has no encryption keys (WithEncryption)")

// DecryptError is the error of reading a record whose encrypted columns
// cannot be decrypted. It matches ErrUnknownKey or ErrDecrypt.
type DecryptError struct {
	// Record is the record's ID.
	Record uuid.UUID
	// KeyID is the key the row names.
	KeyID string
	// Column is the column that failed to decrypt; empty when the key is
	// unknown.
	Column string
	// Err is ErrUnknownKey or ErrDecrypt.
	Err error
}

// Error names the record, the key and the column.
func (e *DecryptError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("sqlstore: record %s: key %q: %v", e.Record, e.KeyID, e.Err)
	}
	return fmt.Sprintf("sqlstore: record %s: %s under key %q: %v", e.Record, e.Column, e.KeyID, e.Err)
}

// Unwrap returns Err.
func (e *DecryptError) Unwrap() error { return e.Err }

// Keyring holds the keys of a Store's encryption at rest: the first key
// encrypts, every key decrypts. Make one with NewKeyring; it is immutable and
// safe for concurrent use.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewKeyring returns a Keyring of keys; keys[0] encrypts what the Store
// writes, and every key reads the rows that name it. It refuses, with a
// *KeyError, an empty list, a key that is not KeySize bytes, and an ID that
// is empty, too long, has other characters than A-Z, a-z, 0-9, ".", "_",
// "-", ":", or repeats. NewKeyring keeps no reference to the keys' bytes.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, &KeyError{Reason: "no keys given"}
	}
	kr := &Keyring{current: keys[0].ID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for _, k := range keys {
		if err := checkKeyID(k.ID); err != nil {
			return nil, err
		}
		if len(k.Bytes) != KeySize {
			return nil, &KeyError{ID: k.ID, Reason: fmt.Sprintf("has %d bytes; AES-256 takes %d", len(k.Bytes), KeySize)}
		}
		if _, dup := kr.aeads[k.ID]; dup {
			return nil, &KeyError{ID: k.ID, Reason: "given twice"}
		}
		block, err := aes.NewCipher(k.Bytes) // copies the key
		if err != nil {
			return nil, &KeyError{ID: k.ID, Reason: err.Error()}
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, &KeyError{ID: k.ID, Reason: err.Error()}
		}
		kr.aeads[k.ID] = aead
	}
	return kr, nil
}

func checkKeyID(id string) error {
	switch {
	case id == "":
		return &KeyError{Reason: "the ID is empty"}
	case len(id) > maxKeyIDLen:
		return &KeyError{ID: id, Reason: fmt.Sprintf("the ID is longer than %d bytes", maxKeyIDLen)}
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-' || c == ':'
		if !ok {
			return &KeyError{ID: id, Reason: fmt.Sprintf("the ID has the character %q", c)}
		}
	}
	return nil
}

// Current returns the ID of the key that encrypts: the first one given.
func (kr *Keyring) Current() string { return kr.current }

// WithEncryption makes a Store encrypt, at rest, the secrets of the records
// it writes: Secret, PreviousSecret and Headers, each with AES-256-GCM under
// kr's current key, a random nonce, and the record's ID and the column's name
// as additional data, so that a ciphertext moved to another row or column
// does not decrypt. Every row names its key (the key_id column); rows written
// without encryption stay readable, and Store.Reencrypt rewrites them, and
// those under older keys, with the current key.
//
// Reading a row under a key kr does not hold, or whose ciphertext does not
// authenticate, fails with a *DecryptError. kr must come from NewKeyring:
// WithEncryption panics on a nil kr, so that an ignored NewKeyring error does
// not store secrets in plaintext.
func WithEncryption(kr *Keyring) StoreOption {
	if kr == nil {
		panic("sqlstore: WithEncryption(nil): pass the Keyring NewKeyring returned without an error")
	}
	return storeOption(func(s *Store) { s.keys = kr })
}

// Columns encrypted at rest, named in the additional data.
const (
	colSecret         = "secret"
	colPreviousSecret = "previous_secret"
	colHeaders        = "headers"
)

// additionalData binds a ciphertext to its record and column.
func additionalData(id, column string) []byte {
	return []byte("outhook_webhook\x00" + id + "\x00" + column)
}

// seal encrypts plaintext for the column of the record id with the current
// key: base64 of nonce followed by ciphertext and tag.
func (kr *Keyring) seal(id, column, plaintext string) string {
	aead := kr.aeads[kr.current]
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	_, _ = rand.Read(out) // never fails (crypto/rand)
	out = aead.Seal(out, out, []byte(plaintext), additionalData(id, column))
	return base64.StdEncoding.EncodeToString(out)
}

// open decrypts what seal returned for the column of the record id under
// the key keyID. kr may be nil: every key is unknown then.
func (kr *Keyring) open(id, keyID, column, sealed string) (string, error) {
	fail := func(column string, err error) error {
		rec, _ := uuid.Parse(id)
		return &DecryptError{Record: rec, KeyID: keyID, Column: column, Err: err}
	}
	var aead cipher.AEAD
	if kr != nil {
		aead = kr.aeads[keyID]
	}
	if aead == nil {
		return "", fail("", ErrUnknownKey)
	}
	b, err := base64.StdEncoding.DecodeString(sealed)
	n := aead.NonceSize()
	if err != nil || len(b) < n+aead.Overhead() {
		return "", fail(column, ErrDecrypt)
	}
	plain, err := aead.Open(nil, b[:n], b[n:], additionalData(id, column))
	if err != nil {
		return "", fail(column, ErrDecrypt)
	}
	return string(plain), nil
}

// maxReencryptTries bounds Reencrypt's retries of a row written meanwhile.
const maxReencryptTries = 10

// Reencrypt rewrites, under the current key of WithEncryption's Keyring,
// every record stored in plaintext or under another key, and reports how
// many it rewrote. It changes neither the records' Version nor UpdatedAt.
// It is safe to run while the Store is in use, and again after an error.
//
// It makes key rotation finishable: give the Store a Keyring with the new
// key first and the old ones after it, run Reencrypt, and once it returns
// without an error no row names the old keys, which can be dropped. It also
// encrypts the rows written before encryption was turned on. A row under a
// key the Keyring does not hold stops it with a *DecryptError. On a Store
// without WithEncryption it returns ErrNoKeys.
func (s *Store) Reencrypt(ctx context.Context) (int, error) {
	if s.keys == nil {
		return 0, ErrNoKeys
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(
		`SELECT id FROM outhook_webhook WHERE key_id <> ? ORDER BY created_us, id`), s.keys.current)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: reencrypt: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlstore: reencrypt: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sqlstore: reencrypt: %w", err)
	}
	n := 0
	for _, id := range ids {
		done, err := s.reencryptRow(ctx, id)
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	return n, nil
}

// reencryptRow rewrites one row under the current key, unless it is gone or
// was rewritten meanwhile; it reports whether it wrote.
func (s *Store) reencryptRow(ctx context.Context, id string) (bool, error) {
	for range maxReencryptTries {
		r, err := s.readRow(ctx, s.db, id)
		if errors.Is(err, webhook.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if r.keyID == s.keys.current {
			return false, nil
		}
		w, err := decodeRow(r, s.keys)
		if err != nil {
			return false, err
		}
		n, err := encodeRow(w, s.keys)
		if err != nil {
			return false, err
		}
		// The version guards against an Update or Disable in between, which
		// bumps it; Reencrypt itself changes nothing a reader sees.
		res, err := s.db.ExecContext(ctx, s.d.rebind(`UPDATE outhook_webhook
	SET key_id = ?, secret = ?, previous_secret = ?, headers = ?
	WHERE id = ? AND version = ? AND key_id = ?`),
			n.keyID, n.secret, n.previousSecret, n.headers, id, r.version, r.keyID)
		if err != nil {
			return false, fmt.Errorf("sqlstore: reencrypt %s: %w", id, err)
		}
		if changed, err := res.RowsAffected(); err != nil {
			return false, fmt.Errorf("sqlstore: reencrypt %s: %w", id, err)
		} else if changed == 1 {
			return true, nil
		}
		if err := ctx.Err(); err != nil {
			return false, fmt.Errorf("sqlstore: reencrypt %s: %w", id, err)
		}
	}
	return false, fmt.Errorf("sqlstore: reencrypt %s: %d tries: %w", id, maxReencryptTries, errRowBusy)
}

// errRowBusy says a row kept changing under Reencrypt.
var errRowBusy = errors.New("the record kept changing")

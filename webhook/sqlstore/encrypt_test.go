package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/sqlstore"
)

func key(id string, b byte) sqlstore.Key {
	return sqlstore.Key{ID: id, Bytes: bytes.Repeat([]byte{b}, sqlstore.KeySize)}
}

func keyring(t *testing.T, keys ...sqlstore.Key) *sqlstore.Keyring {
	t.Helper()
	kr, err := sqlstore.NewKeyring(keys...)
	require.NoError(t, err)
	return kr
}

// rawRow is a record's row as the database holds it.
type rawRow struct{ data, keyID, secret, previousSecret, headers string }

func readRaw(t *testing.T, db *sql.DB, d sqlstore.Dialect, id uuid.UUID) rawRow {
	t.Helper()
	var r rawRow
	require.NoError(t, db.QueryRow(rebind(d, `SELECT data, key_id, secret, previous_secret, headers FROM outhook_webhook WHERE id = ?`),
		id.String()).Scan(&r.data, &r.keyID, &r.secret, &r.previousSecret, &r.headers))
	return r
}

func setColumn(t *testing.T, db *sql.DB, d sqlstore.Dialect, id uuid.UUID, column, value string) {
	t.Helper()
	_, err := db.Exec(rebind(d, `UPDATE outhook_webhook SET `+column+` = ? WHERE id = ?`), value, id.String())
	require.NoError(t, err)
}

// secretRecord is a valid record with every secret field set: a rotated
// secret with its predecessor, and a header carrying a token.
func secretRecord(t *testing.T, ctx context.Context, s *sqlstore.Store, name string) *webhook.Webhook {
	t.Helper()
	w := &webhook.Webhook{Name: name, Triggers: []string{"t/one"}, URL: "https://a.example/hook",
		Headers: map[string]string{"Authorization": "Bearer tok-" + uuid.NewString()}}
	require.NoError(t, s.Create(ctx, w))
	w, err := webhook.RotateSecret(ctx, s, w.ID, time.Hour)
	require.NoError(t, err)
	require.NotEmpty(t, w.PreviousSecret)
	return w
}

func TestNewKeyringRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []sqlstore.Key
		want string
	}{
		{"no keys", nil, "no keys given"},
		{"short key", []sqlstore.Key{{ID: "k1", Bytes: make([]byte, 16)}}, "has 16 bytes; AES-256 takes 32"},
		{"long key", []sqlstore.Key{{ID: "k1", Bytes: make([]byte, 33)}}, "has 33 bytes"},
		{"nil key", []sqlstore.Key{{ID: "k1"}}, "has 0 bytes"},
		{"empty id", []sqlstore.Key{key("", 1)}, "the ID is empty"},
		{"long id", []sqlstore.Key{key(strings.Repeat("k", 65), 1)}, "longer than 64"},
		{"space in id", []sqlstore.Key{key("key one", 1)}, "the character ' '"},
		{"duplicate id", []sqlstore.Key{key("k1", 1), key("k2", 2), key("k1", 3)}, `"k1": given twice`},
		{"bad second key", []sqlstore.Key{key("k1", 1), {ID: "k2", Bytes: []byte("short")}}, `"k2": has 5 bytes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kr, err := sqlstore.NewKeyring(tc.keys...)
			assert.Nil(t, kr)
			require.ErrorIs(t, err, sqlstore.ErrInvalidKey)
			var ke *sqlstore.KeyError
			require.ErrorAs(t, err, &ke)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	kr, err := sqlstore.NewKeyring(key("2026-05", 1), key("2025_11.a:b", 2))
	require.NoError(t, err)
	assert.Equal(t, "2026-05", kr.Current(), "the first key encrypts")
}

func TestKeyNeverPrints(t *testing.T) {
	k := sqlstore.Key{ID: "k1", Bytes: []byte("0123456789abcdef0123456789ABCDEF")}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("key", "key", k)
	outs := []string{logged.String()}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		outs = append(outs, fmt.Sprintf(f, k), fmt.Sprintf(f, []sqlstore.Key{k}), fmt.Sprintf(f, &k))
	}
	for _, out := range outs {
		assert.Contains(t, out, "k1")
		for _, leak := range []string{"0123456789", "3031323334", "MDEyMzQ1", "48 49 50"} {
			assert.NotContains(t, out, leak)
		}
	}
}

func TestWithEncryptionNilPanics(t *testing.T) {
	assert.PanicsWithValue(t, "sqlstore: WithEncryption(nil): pass the Keyring NewKeyring returned without an error",
		func() { sqlstore.WithEncryption(nil) })
}

func TestEncryptionRoundTrip(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		store := sqlstore.New(db, d, sqlstore.WithEncryption(keyring(t, key("k1", 1))))
		w := secretRecord(t, ctx, store, "enc")

		got, err := store.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.Equal(t, w, got)
		all, err := store.List(ctx, webhook.ListQuery{})
		require.NoError(t, err)
		require.Len(t, all.Records, 1)
		assert.Equal(t, w, all.Records[0])
		active, err := store.ListActive(ctx, webhook.Route{Trigger: "t/one"})
		require.NoError(t, err)
		require.Len(t, active, 1)
		assert.Equal(t, w, active[0])

		raw := readRaw(t, db, d, w.ID)
		assert.Equal(t, "k1", raw.keyID)
		for _, plain := range []string{w.Secret.Reveal(), w.PreviousSecret.Reveal(), w.Headers["Authorization"], "tok-"} {
			for column, v := range map[string]string{"data": raw.data, "secret": raw.secret,
				"previous_secret": raw.previousSecret, "headers": raw.headers} {
				assert.NotContains(t, v, plain, "column %s", column)
			}
		}
		for _, v := range []string{raw.secret, raw.previousSecret, raw.headers} {
			b, err := base64.StdEncoding.DecodeString(v)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, len(b), 12+16, "nonce and tag")
		}

		// The same secret in two records seals differently (a random nonce).
		a := &webhook.Webhook{Name: "a", Triggers: []string{"t/one"}, URL: "https://a.example/", Secret: w.Secret}
		b := &webhook.Webhook{Name: "b", Triggers: []string{"t/one"}, URL: "https://b.example/", Secret: w.Secret}
		require.NoError(t, store.Create(ctx, a))
		require.NoError(t, store.Create(ctx, b))
		assert.NotEqual(t, readRaw(t, db, d, a.ID).secret, readRaw(t, db, d, b.ID).secret)

		// Update and Disable keep the row readable.
		got.Description = "edited"
		got.Secret = ""
		require.NoError(t, store.Update(ctx, got))
		assert.Equal(t, w.Secret.Reveal(), got.Secret.Reveal())
		ok, err := store.Disable(ctx, w.ID, "failing", time.Now())
		require.NoError(t, err)
		require.True(t, ok)
		got, err = store.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.Equal(t, w.Secret.Reveal(), got.Secret.Reveal())
		assert.Equal(t, w.PreviousSecret.Reveal(), got.PreviousSecret.Reveal())
		assert.Equal(t, w.Headers, got.Headers)
	})
}

func TestEncryptionTurnedOn(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		plain := sqlstore.New(db, d)
		w := secretRecord(t, ctx, plain, "before")
		none := &webhook.Webhook{Name: "no headers", Triggers: []string{"t/one"}, URL: "https://a.example/"}
		require.NoError(t, plain.Create(ctx, none))
		raw := readRaw(t, db, d, w.ID)
		assert.Empty(t, raw.keyID)
		assert.Equal(t, w.Secret.Reveal(), raw.secret, "without WithEncryption the secret is stored as it is")

		enc := sqlstore.New(db, d, sqlstore.WithEncryption(keyring(t, key("k1", 1))))
		got, err := enc.Get(ctx, w.ID)
		require.NoError(t, err, "plaintext rows stay readable")
		assert.Equal(t, w, got)

		n, err := enc.Reencrypt(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		raw = readRaw(t, db, d, w.ID)
		assert.Equal(t, "k1", raw.keyID)
		assert.NotContains(t, raw.secret, w.Secret.Reveal())
		got, err = enc.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.Equal(t, w, got, "Reencrypt changes neither Version nor UpdatedAt")
		got, err = enc.Get(ctx, none.ID)
		require.NoError(t, err)
		assert.Nil(t, got.Headers)
		assert.Empty(t, got.PreviousSecret)

		n, err = enc.Reencrypt(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "nothing left to rewrite")

		_, err = plain.Get(ctx, w.ID)
		assert.ErrorIs(t, err, sqlstore.ErrUnknownKey, "a store without keys does not read encrypted rows")
		_, err = plain.Reencrypt(ctx)
		assert.ErrorIs(t, err, sqlstore.ErrNoKeys)
	})
}

func TestKeyRotation(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		old := sqlstore.New(db, d, sqlstore.WithEncryption(keyring(t, key("2026-01", 1))))
		var recs []*webhook.Webhook
		for i := range 3 {
			recs = append(recs, secretRecord(t, ctx, old, fmt.Sprint("r", i)))
		}

		// The new key first, the old one kept to read what it encrypted.
		both := sqlstore.New(db, d, sqlstore.WithEncryption(keyring(t, key("2026-07", 2), key("2026-01", 1))))
		list, err := both.List(ctx, webhook.ListQuery{})
		require.NoError(t, err)
		assert.Equal(t, recs, list.Records)
		fresh := secretRecord(t, ctx, both, "new")
		assert.Equal(t, "2026-07", readRaw(t, db, d, fresh.ID).keyID, "the first key encrypts")

		n, err := both.Reencrypt(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		for _, w := range recs {
			assert.Equal(t, "2026-07", readRaw(t, db, d, w.ID).keyID)
		}

		// The old key can go.
		onlyNew := sqlstore.New(db, d, sqlstore.WithEncryption(keyring(t, key("2026-07", 2))))
		list, err = onlyNew.List(ctx, webhook.ListQuery{})
		require.NoError(t, err)
		assert.Equal(t, append(recs, fresh), list.Records)

		_, err = old.Get(ctx, recs[0].ID)
		var de *sqlstore.DecryptError
		require.ErrorAs(t, err, &de)
		assert.ErrorIs(t, err, sqlstore.ErrUnknownKey)
		assert.Equal(t, recs[0].ID, de.Record)
		assert.Equal(t, "2026-07", de.KeyID)
	})
}

func TestUnknownKey(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		lost := sqlstore.New(db, d, sqlstore.WithEncryption(keyring(t, key("lost", 9))))
		w := secretRecord(t, ctx, lost, "lost")
		store := sqlstore.New(db, d, sqlstore.WithEncryption(keyring(t, key("k1", 1))))

		_, err := store.Get(ctx, w.ID)
		require.ErrorIs(t, err, sqlstore.ErrUnknownKey)
		assert.NotErrorIs(t, err, sqlstore.ErrDecrypt)
		var de *sqlstore.DecryptError
		require.ErrorAs(t, err, &de)
		assert.Equal(t, sqlstore.DecryptError{Record: w.ID, KeyID: "lost", Err: sqlstore.ErrUnknownKey}, *de)
		assert.Equal(t, fmt.Sprintf(`sqlstore: record %s: key "lost": sqlstore: unknown encryption key`, w.ID), err.Error())
		_, err = store.List(ctx, webhook.ListQuery{})
		assert.ErrorIs(t, err, sqlstore.ErrUnknownKey)
		_, err = store.ListActive(ctx, webhook.Route{Trigger: "t/one"})
		assert.ErrorIs(t, err, sqlstore.ErrUnknownKey)
		_, err = store.Reencrypt(ctx)
		assert.ErrorIs(t, err, sqlstore.ErrUnknownKey, "Reencrypt stops at a row it cannot read")

		// Keeping the stored secret needs it decrypted; replacing every
		// secret does not, which recovers a record whose key is lost.
		keep := w.Clone()
		keep.Secret = ""
		assert.ErrorIs(t, store.Update(ctx, keep), sqlstore.ErrUnknownKey)
		w.Secret, w.PreviousSecret, w.PreviousSecretExpiresAt = "", "", time.Time{}
		require.NoError(t, w.RotateSecret("", 0, time.Now()))
		w.Headers = map[string]string{"Authorization": "Bearer new"}
		require.NoError(t, store.Update(ctx, w))
		got, err := store.Get(ctx, w.ID)
		require.NoError(t, err)
		assert.Equal(t, w, got)
	})
}

func TestTamperedCiphertext(t *testing.T) {
	flip := func(s string) string {
		b, _ := base64.StdEncoding.DecodeString(s)
		b[len(b)/2] ^= 1
		return base64.StdEncoding.EncodeToString(b)
	}
	for _, tc := range []struct {
		name   string
		column string // the column that fails to decrypt
		tamper func(t *testing.T, db *sql.DB, d sqlstore.Dialect, victim, other uuid.UUID)
	}{
		{"flipped bit", "secret", func(t *testing.T, db *sql.DB, d sqlstore.Dialect, victim, _ uuid.UUID) {
			setColumn(t, db, d, victim, "secret", flip(readRaw(t, db, d, victim).secret))
		}},
		{"truncated", "headers", func(t *testing.T, db *sql.DB, d sqlstore.Dialect, victim, _ uuid.UUID) {
			h := readRaw(t, db, d, victim).headers
			b, _ := base64.StdEncoding.DecodeString(h)
			setColumn(t, db, d, victim, "headers", base64.StdEncoding.EncodeToString(b[:len(b)-1]))
		}},
		{"too short for a nonce", "previous_secret", func(t *testing.T, db *sql.DB, d sqlstore.Dialect, victim, _ uuid.UUID) {
			setColumn(t, db, d, victim, "previous_secret", base64.StdEncoding.EncodeToString([]byte("short")))
		}},
		{"not base64", "secret", func(t *testing.T, db *sql.DB, d sqlstore.Dialect, victim, _ uuid.UUID) {
			setColumn(t, db, d, victim, "secret", "whsec_plaintext!")
		}},
		{"secret moved from another row", "secret", func(t *testing.T, db *sql.DB, d sqlstore.Dialect, victim, other uuid.UUID) {
			setColumn(t, db, d, victim, "secret", readRaw(t, db, d, other).secret)
		}},
		{"headers moved from another row", "headers", func(t *testing.T, db *sql.DB, d sqlstore.Dialect, victim, other uuid.UUID) {
			setColumn(t, db, d, victim, "headers", readRaw(t, db, d, other).headers)
		}},
		{"previous secret moved to the secret column", "secret", func(t *testing.T, db *sql.DB, d sqlstore.Dialect, victim, _ uuid.UUID) {
			setColumn(t, db, d, victim, "secret", readRaw(t, db, d, victim).previousSecret)
		}},
		{"key id changed to another known key", "secret", func(t *testing.T, db *sql.DB, d sqlstore.Dialect, victim, _ uuid.UUID) {
			setColumn(t, db, d, victim, "key_id", "k2")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
				ctx := context.Background()
				store := sqlstore.New(db, d, sqlstore.WithEncryption(keyring(t, key("k1", 1), key("k2", 2))))
				victim := secretRecord(t, ctx, store, "victim")
				other := secretRecord(t, ctx, store, "other")
				tc.tamper(t, db, d, victim.ID, other.ID)

				_, err := store.Get(ctx, victim.ID)
				require.ErrorIs(t, err, sqlstore.ErrDecrypt)
				var de *sqlstore.DecryptError
				require.ErrorAs(t, err, &de)
				assert.Equal(t, victim.ID, de.Record)
				assert.Equal(t, tc.column, de.Column)
				assert.Contains(t, err.Error(), victim.ID.String())
				_, err = store.List(ctx, webhook.ListQuery{})
				assert.ErrorIs(t, err, sqlstore.ErrDecrypt)
				_, err = store.Get(ctx, other.ID)
				assert.NoError(t, err, "the other row is intact")
			})
		})
	}
}

// TestReencryptRaces runs Reencrypt while the health monitor disables and an
// administrator rotates every record: all of it must survive, and every row
// must end up under the current key.
func TestReencryptRaces(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		ctx := context.Background()
		plain := sqlstore.New(db, d)
		var recs []*webhook.Webhook
		for i := range 20 {
			recs = append(recs, secretRecord(t, ctx, plain, fmt.Sprint("r", i)))
		}
		store := sqlstore.New(db, d, sqlstore.WithEncryption(keyring(t, key("k1", 1))))
		var (
			wg      sync.WaitGroup
			reErr   error
			rotated = make([]*webhook.Webhook, len(recs))
			errs    = make([]error, 2*len(recs))
		)
		wg.Go(func() { _, reErr = store.Reencrypt(ctx) })
		for i, w := range recs {
			wg.Go(func() { _, errs[2*i] = store.Disable(ctx, w.ID, "failing", time.Now()) })
			wg.Go(func() { rotated[i], errs[2*i+1] = webhook.RotateSecret(ctx, store, w.ID, 0) })
		}
		wg.Wait()
		require.NoError(t, reErr)
		require.NoError(t, errors.Join(errs...))
		for i, w := range recs {
			got, err := store.Get(ctx, w.ID)
			require.NoError(t, err)
			assert.True(t, got.Disabled)
			assert.Equal(t, rotated[i].Secret.Reveal(), got.Secret.Reveal())
			assert.Equal(t, w.Headers, got.Headers)
			assert.Equal(t, "k1", readRaw(t, db, d, w.ID).keyID)
		}
	})
}

func ExampleWithEncryption() {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(exampleDir(), "example.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := sqlstore.Migrate(ctx, db, sqlstore.SQLite); err != nil {
		panic(err)
	}

	// Keys live outside the database: 32 random bytes each, read here from
	// base64 (an environment variable, a secrets manager...).
	may, _ := base64.StdEncoding.DecodeString("Fo9cIOvm9wVcUPoRzHlWhS3Z3ypUr3cPnN2Tp/dCMSI=")
	kr, err := sqlstore.NewKeyring(sqlstore.Key{ID: "2026-05", Bytes: may})
	if err != nil {
		panic(err)
	}
	store := sqlstore.New(db, sqlstore.SQLite, sqlstore.WithEncryption(kr))
	w := &webhook.Webhook{Name: "CRM", Triggers: []string{"shop/order-paid"}, URL: "https://crm.example/hooks",
		Headers: map[string]string{"Authorization": "Bearer crm-token"}}
	if err := store.Create(ctx, w); err != nil {
		panic(err)
	}
	var keyID, secret, headers string
	if err := db.QueryRow(`SELECT key_id, secret, headers FROM outhook_webhook`).Scan(&keyID, &secret, &headers); err != nil {
		panic(err)
	}
	fmt.Println("stored under", keyID, "in plaintext:", strings.Contains(secret, w.Secret.Reveal()) || strings.Contains(headers, "crm-token"))
	got, err := store.Get(ctx, w.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println("read back:", got.Secret == w.Secret, got.Headers["Authorization"])

	// Rotation: the new key first, the old one after it until Reencrypt has
	// rewritten every row; then the old key can go.
	nov, _ := base64.StdEncoding.DecodeString("l3b8Xh0zYq1dK6m2rT9vWc4pN7sA5eJ0uF8gH2iB1oE=")
	kr, err = sqlstore.NewKeyring(sqlstore.Key{ID: "2026-11", Bytes: nov}, sqlstore.Key{ID: "2026-05", Bytes: may})
	if err != nil {
		panic(err)
	}
	n, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.WithEncryption(kr)).Reencrypt(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("re-encrypted:", n)
	// Output:
	// stored under 2026-05 in plaintext: false
	// read back: true Bearer crm-token
	// re-encrypted: 1
}

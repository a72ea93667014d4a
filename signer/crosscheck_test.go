package signer

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStandardWebhooksCrossCheck checks outhook against the official Standard
// Webhooks Go library, an implementation written independently: each
// verifies what the other signs. The library checks timestamps against the
// wall clock, so these requests are signed now.
func TestStandardWebhooksCrossCheck(t *testing.T) {
	now := time.Now()
	bodies := map[string][]byte{
		"json":    []byte(`{"test": 2432232314}`),
		"empty":   {},
		"unicode": []byte(`{"registrantName":"Jöhn Smïth ✓"}`),
		"binary":  {0, 1, 2, 0xff, '\n', '.'},
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			secret := mustSecret(t, SchemeStandardWebhooks)
			theirs, err := standardwebhooks.NewWebhook(secret)
			require.NoError(t, err)
			ours, err := New(Config{Scheme: SchemeStandardWebhooks})
			require.NoError(t, err)
			in := Input{MessageID: "msg_" + name, Timestamp: now, Body: body}

			t.Run("they verify ours", func(t *testing.T) {
				h := http.Header{}
				require.NoError(t, ours.Sign(h, []string{secret}, in))
				assert.NoError(t, theirs.Verify(body, h))
			})
			t.Run("they verify ours during a rotation", func(t *testing.T) {
				h := http.Header{}
				require.NoError(t, ours.Sign(h, []string{mustSecret(t, SchemeStandardWebhooks), secret}, in))
				assert.NoError(t, theirs.Verify(body, h))
			})
			t.Run("we verify theirs", func(t *testing.T) {
				sig, err := theirs.Sign(in.MessageID, now, body)
				require.NoError(t, err)
				h := http.Header{}
				h.Set(standardwebhooks.HeaderWebhookID, in.MessageID)
				h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
				h.Set(standardwebhooks.HeaderWebhookSignature, sig)
				v, err := NewVerifier(Config{Scheme: SchemeStandardWebhooks}, []string{secret})
				require.NoError(t, err)
				assert.NoError(t, v.Verify(h, body))
			})
			t.Run("we verify theirs, with the secret's base64 alone", func(t *testing.T) {
				bare := strings.TrimPrefix(secret, "whsec_")
				theirs, err := standardwebhooks.NewWebhook(bare)
				require.NoError(t, err)
				sig, err := theirs.Sign(in.MessageID, now, body)
				require.NoError(t, err)
				h := http.Header{}
				h.Set(standardwebhooks.HeaderWebhookID, in.MessageID)
				h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
				h.Set(standardwebhooks.HeaderWebhookSignature, sig)
				v, err := NewVerifier(Config{Scheme: SchemeStandardWebhooks}, []string{bare})
				require.NoError(t, err)
				assert.NoError(t, v.Verify(h, body))
			})
			t.Run("both refuse a tampered body", func(t *testing.T) {
				h := http.Header{}
				require.NoError(t, ours.Sign(h, []string{secret}, in))
				tampered := append(append([]byte(nil), body...), 'x')
				assert.Error(t, theirs.Verify(tampered, h))
				v, err := NewVerifier(Config{Scheme: SchemeStandardWebhooks}, []string{secret})
				require.NoError(t, err)
				assert.ErrorIs(t, v.Verify(h, tampered), ErrInvalidSignature)
			})
		})
	}
}

// TestStandardWebhooksVectorsCrossCheck has the library sign each vector,
// ignoring its old timestamp, and compares with the vector's header.
func TestStandardWebhooksVectorsCrossCheck(t *testing.T) {
	for i, v := range loadVectors(t) {
		if v.Scheme != "standard-webhooks" {
			continue
		}
		t.Run(v.name(i), func(t *testing.T) {
			theirs, err := standardwebhooks.NewWebhook(v.Secret)
			require.NoError(t, err)
			sig, err := theirs.Sign(v.ID, time.Unix(v.Timestamp, 0), []byte(v.Body))
			require.NoError(t, err)
			assert.Equal(t, v.Headers["webhook-signature"], sig)
			assert.NoError(t, theirs.VerifyIgnoringTimestamp([]byte(v.Body), v.header()))
		})
	}
}

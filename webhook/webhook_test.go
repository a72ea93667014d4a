package webhook_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/storetest"
	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
)

func valid() *webhook.Webhook {
	return &webhook.Webhook{Name: "CRM", Triggers: []string{pageTrigger}, URL: "https://crm.example/hooks"}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(*webhook.Webhook)
		field string
	}{
		{"valid", func(*webhook.Webhook) {}, ""},
		{"GET", func(w *webhook.Webhook) { w.Method = "GET" }, ""},
		{"custom header", func(w *webhook.Webhook) { w.Headers = map[string]string{"Authorization": "Bearer x"} }, ""},
		{"empty name", func(w *webhook.Webhook) { w.Name = " " }, "name"},
		{"no trigger", func(w *webhook.Webhook) { w.Triggers = nil }, "triggers"},
		{"malformed trigger", func(w *webhook.Webhook) { w.Triggers = []string{"a b"} }, "triggers"},
		{"relative url", func(w *webhook.Webhook) { w.URL = "/hooks" }, "url"},
		{"ftp url", func(w *webhook.Webhook) { w.URL = "ftp://example.org/x" }, "url"},
		{"no host", func(w *webhook.Webhook) { w.URL = "https:///x" }, "url"},
		{"garbage url", func(w *webhook.Webhook) { w.URL = "http://[::1" }, "url"},
		{"PUT", func(w *webhook.Webhook) { w.Method = "PUT" }, "method"},
		{"lowercase post", func(w *webhook.Webhook) { w.Method = "post" }, "method"},
		{"unknown scheme", func(w *webhook.Webhook) { w.Signing = signer.Config{Scheme: "rot13"} }, "signing"},
		{"bad algorithm", func(w *webhook.Webhook) { w.Signing = signer.Config{Algorithm: "md5"} }, "signing"},
		{"override signature", func(w *webhook.Webhook) { w.Headers = map[string]string{"webhook-signature": "forged"} }, "headers"},
		{"override algo", func(w *webhook.Webhook) { w.Headers = map[string]string{"Webhook-Signature-Algo": "none"} }, "headers"},
		{"override content type", func(w *webhook.Webhook) { w.Headers = map[string]string{"Content-Type": "text/plain"} }, "headers"},
		{"override delivery id", func(w *webhook.Webhook) { w.Headers = map[string]string{"Webhook-Delivery-Id": "1"} }, "headers"},
		{"header injection", func(w *webhook.Webhook) { w.Headers = map[string]string{"X-A": "1\r\nX-B: 2"} }, "headers"},
		{"bad header name", func(w *webhook.Webhook) { w.Headers = map[string]string{"X A": "1"} }, "headers"},
		{"header name with parentheses", func(w *webhook.Webhook) { w.Headers = map[string]string{"X(Bad)": "1"} }, "headers"},
		{"header name with NUL", func(w *webhook.Webhook) { w.Headers = map[string]string{"X-A\x00": "1"} }, "headers"},
		{"non-ASCII header name", func(w *webhook.Webhook) { w.Headers = map[string]string{"X-Ä": "1"} }, "headers"},
		{"empty header name", func(w *webhook.Webhook) { w.Headers = map[string]string{"": "1"} }, "headers"},
		{"header value with NUL", func(w *webhook.Webhook) { w.Headers = map[string]string{"X-A": "a\x00b"} }, "headers"},
		{"header value with LF", func(w *webhook.Webhook) { w.Headers = map[string]string{"X-A": "a\nb"} }, "headers"},
		{"header value with DEL", func(w *webhook.Webhook) { w.Headers = map[string]string{"X-A": "a\x7fb"} }, "headers"},
		{"header value with tab", func(w *webhook.Webhook) { w.Headers = map[string]string{"X-A": "a\tb"} }, ""},
		{"user agent", func(w *webhook.Webhook) { w.Headers = map[string]string{"User-Agent": "TYPO3/13"} }, ""},
		{"credentials in url", func(w *webhook.Webhook) { w.URL = "https://user:pass@crm.example/hooks" }, "url"},
		{"user in url", func(w *webhook.Webhook) { w.URL = "https://user@crm.example/hooks" }, "url"},
		{"1-byte secret", func(w *webhook.Webhook) { w.Secret = "x" }, "secret"},
		{"15-byte secret", func(w *webhook.Webhook) { w.Secret = "0123456789abcde" }, "secret"},
		{"16-byte secret", func(w *webhook.Webhook) { w.Secret = "0123456789abcdef" }, ""},
		{"short previous secret", func(w *webhook.Webhook) { w.PreviousSecret = "short" }, "previous_secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := valid()
			tt.mod(w)
			err := w.Validate()
			if tt.field == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, webhook.ErrInvalidWebhook)
			var ve *webhook.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tt.field, ve.Field)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestCheckTriggers(t *testing.T) {
	reg := registry(t)
	w := valid()
	assert.NoError(t, w.CheckTriggers(reg))
	w.Triggers = append(w.Triggers, "myapp/nope")
	err := w.CheckTriggers(reg)
	assert.ErrorIs(t, err, webhook.ErrInvalidWebhook)
	assert.ErrorIs(t, err, trigger.ErrUnknownTrigger)
}

func TestMemoryStore(t *testing.T) {
	for name, newStore := range map[string]func() *webhook.MemoryStore{
		"NewMemoryStore": func() *webhook.MemoryStore { return webhook.NewMemoryStore() },
		"zero value":     func() *webhook.MemoryStore { return &webhook.MemoryStore{} },
	} {
		t.Run(name, func(t *testing.T) { testMemoryStore(t, newStore()) })
	}
}

// A zero MemoryStore reads as empty before anything was created.
func TestMemoryStoreZeroReads(t *testing.T) {
	ctx := context.Background()
	var s webhook.MemoryStore
	all, err := s.List(ctx, webhook.ListQuery{AllTenants: true})
	require.NoError(t, err)
	assert.Empty(t, all.Records)
	assert.Empty(t, all.Next)
	active, err := s.ListActive(ctx, webhook.Route{Trigger: pageTrigger})
	require.NoError(t, err)
	assert.Empty(t, active)
	_, err = s.Get(ctx, uuid.New())
	assert.ErrorIs(t, err, webhook.ErrNotFound)
	assert.ErrorIs(t, s.Delete(ctx, uuid.New()), webhook.ErrNotFound)
	assert.ErrorIs(t, s.Update(ctx, valid()), webhook.ErrNotFound)
}

func testMemoryStore(t *testing.T, s *webhook.MemoryStore) {
	ctx := context.Background()

	w := valid()
	w.Headers = map[string]string{"X-A": "1"}
	require.NoError(t, s.Create(ctx, w))
	assert.NotEqual(t, uuid.Nil, w.ID, "Create sets an ID")
	assert.Equal(t, uuid.Version(4), w.ID.Version())
	assert.Len(t, w.Secret.Reveal(), 64, "Create generates a secret")
	assert.False(t, w.CreatedAt.IsZero())

	again := *w
	assert.ErrorIs(t, s.Create(ctx, &again), webhook.ErrExists)
	assert.ErrorIs(t, s.Create(ctx, &webhook.Webhook{}), webhook.ErrInvalidWebhook)

	// Callers cannot reach into the store through the records they hold.
	w.Headers["X-A"] = "changed by caller"
	w.Triggers[0] = "changed/by-caller"
	got, err := s.Get(ctx, w.ID)
	require.NoError(t, err)
	assert.Equal(t, "1", got.Headers["X-A"])
	assert.Equal(t, []string{pageTrigger}, got.Triggers)
	got.Headers["X-A"] = "changed again"
	again2, err := s.Get(ctx, w.ID)
	require.NoError(t, err)
	assert.Equal(t, "1", again2.Headers["X-A"])

	// Update keeps the secret when none is given, and validates.
	got.Name = "renamed"
	secret := got.Secret
	got.Secret = ""
	require.NoError(t, s.Update(ctx, got))
	again3, err := s.Get(ctx, w.ID)
	require.NoError(t, err)
	assert.Equal(t, "renamed", again3.Name)
	assert.Equal(t, secret, again3.Secret)
	got.URL = "nope"
	assert.ErrorIs(t, s.Update(ctx, got), webhook.ErrInvalidWebhook)

	missing := valid()
	missing.ID = uuid.New()
	assert.ErrorIs(t, s.Update(ctx, missing), webhook.ErrNotFound)
	_, err = s.Get(ctx, uuid.New())
	assert.ErrorIs(t, err, webhook.ErrNotFound)
	assert.ErrorIs(t, s.Delete(ctx, uuid.New()), webhook.ErrNotFound)

	off := valid()
	off.Disabled = true
	require.NoError(t, s.Create(ctx, off))
	all, err := s.List(ctx, webhook.ListQuery{})
	require.NoError(t, err)
	assert.Len(t, all.Records, 2)
	active, err := s.ListActive(ctx, webhook.Route{Trigger: pageTrigger})
	require.NoError(t, err)
	require.Len(t, active, 1)
	assert.Equal(t, w.ID, active[0].ID)

	require.NoError(t, s.Delete(ctx, w.ID))
	active, err = s.ListActive(ctx, webhook.Route{Trigger: pageTrigger})
	require.NoError(t, err)
	assert.Empty(t, active)
}

func TestValidateExplainsCredentialsAndShortSecrets(t *testing.T) {
	w := valid()
	w.URL = "https://bob:hunter2@crm.example/hooks"
	err := w.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "header", "the message suggests a header instead")
	assert.NotContains(t, err.Error(), "hunter2", "the message does not echo the password")

	w = valid()
	w.Secret = "tiny"
	err = w.Validate()
	assert.ErrorIs(t, err, webhook.ErrSecretTooShort)
	assert.NotContains(t, err.Error(), "tiny")
}

// A record that net/http could not send is refused when it is saved, not
// retried as a failing attempt every time.
func TestStoreRefusesHeadersNetHTTPWouldNotSend(t *testing.T) {
	for _, h := range []map[string]string{{"X(Bad)": "1"}, {"X-A": "nul\x00"}, {"X-A": "cr\rlf"}} {
		w := valid()
		w.Headers = h
		assert.ErrorIs(t, new(webhook.MemoryStore).Create(context.Background(), w), webhook.ErrInvalidWebhook, "%q", h)
	}
}

func TestMemoryStoreConcurrencyContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) webhook.Store { return new(webhook.MemoryStore) }, 500)
}

func TestMemoryStoreTenants(t *testing.T) {
	storetest.RunTenants(t,
		func(*testing.T) webhook.Store { return new(webhook.MemoryStore) },
		func(_ *testing.T, n int) webhook.Store {
			return webhook.NewMemoryStore(webhook.WithMaxRecordsPerTenant(n))
		})
}

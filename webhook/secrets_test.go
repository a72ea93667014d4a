package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/webhook"
)

func TestRotateSecret(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	w := valid()
	w.Secret = "old-secret"
	require.NoError(t, w.RotateSecret("new-secret", time.Hour, now))
	assert.Equal(t, webhook.Secret("new-secret"), w.Secret)
	assert.Equal(t, webhook.Secret("old-secret"), w.PreviousSecret)

	assert.Equal(t, []string{"new-secret", "old-secret"}, w.Secrets(now.Add(59*time.Minute)), "during the overlap")
	assert.Equal(t, []string{"new-secret"}, w.Secrets(now.Add(time.Hour)), "after the overlap")

	require.NoError(t, w.RotateSecret("", 0, now))
	assert.Len(t, w.Secret.Reveal(), 64, "generated")
	assert.Empty(t, w.PreviousSecret, "no overlap keeps nothing")
	assert.ErrorIs(t, w.RotateSecret(w.Secret, time.Hour, now), webhook.ErrInvalidWebhook)

	ctx := context.Background()
	store := webhook.NewMemoryStore()
	rec := valid()
	require.NoError(t, store.Create(ctx, rec))
	rotated, err := webhook.RotateSecret(ctx, store, rec.ID, time.Hour)
	require.NoError(t, err)
	got, err := store.Get(ctx, rec.ID)
	require.NoError(t, err)
	assert.Equal(t, rotated.Secret, got.Secret)
	assert.Equal(t, rec.Secret, got.PreviousSecret)
	assert.NotEqual(t, rec.Secret, got.Secret)
	_, err = webhook.RotateSecret(ctx, store, uuid.New(), time.Hour)
	assert.ErrorIs(t, err, webhook.ErrNotFound)
}

func TestTYPO3SignsWithTheNewSecretDuringRotation(t *testing.T) {
	store := webhook.NewMemoryStore()
	rc := newReceiver(t)
	rec := record(t, store, rc.URL)
	old := rec.Secret.Reveal()
	require.NoError(t, rec.RotateSecret("brand-new-secret-0123", time.Hour, time.Now()))
	require.NoError(t, store.Update(context.Background(), rec))

	d := webhook.NewDispatcher(store, registry(t), loopback)
	_, err := d.Dispatch(context.Background(), pageUpdated{ID: 1})
	require.NoError(t, err)
	reqs := rc.requests()
	require.Len(t, reqs, 1)
	got := reqs[0].Header.Get("Webhook-Signature")
	assert.Equal(t, typo3Signature("brand-new-secret-0123", rec.ID.String(), reqs[0].Body), got)
	assert.NotEqual(t, typo3Signature(old, rec.ID.String(), reqs[0].Body), got)
}

func TestInsecureSkipVerify(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	store := webhook.NewMemoryStore()
	strict := record(t, store, srv.URL)
	lax := record(t, store, srv.URL, func(w *webhook.Webhook) { w.InsecureSkipVerify = true })
	d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithLogger(logger), webhook.WithBackOff(fastBackOff(1)))

	deliveries, err := d.Dispatch(context.Background(), pageUpdated{})
	require.NoError(t, err)
	require.Len(t, deliveries, 2)
	byRecord := map[uuid.UUID]webhook.Delivery{}
	for _, del := range deliveries {
		byRecord[del.WebhookID] = del
	}
	assert.Equal(t, webhook.StatusFailed, byRecord[strict.ID].Status, "a self-signed certificate fails by default")
	assert.Contains(t, byRecord[strict.ID].Err.Error(), "certificate")
	assert.Equal(t, webhook.StatusDelivered, byRecord[lax.ID].Status)
	assert.Contains(t, logs.String(), "TLS verification is off")
}

// TestSecretsNeverLeak formats records and errors every way and greps all
// logs for the secrets.
func TestSecretsNeverLeak(t *testing.T) {
	const secret, previous = "s3cr3t-current-0123456789", "s3cr3t-previous-9876543210"
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := webhook.NewMemoryStore()
	answers := []http.HandlerFunc{status(500), status(404)}
	rc := newReceiver(t, answers...)
	rec := record(t, store, rc.URL, func(w *webhook.Webhook) {
		w.Secret = webhook.Secret(secret)
		w.PreviousSecret, w.PreviousSecretExpiresAt = webhook.Secret(previous), time.Now().Add(time.Hour)
	})
	gone := record(t, store, "http://127.0.0.1:1/refused", func(w *webhook.Webhook) { w.Secret = webhook.Secret(secret) })
	d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithLogger(logger), webhook.WithBackOff(fastBackOff(2)))
	deliveries, err := d.Dispatch(context.Background(), pageUpdated{})
	require.NoError(t, err)

	var out strings.Builder
	for _, v := range []any{rec, *rec, gone, []*webhook.Webhook{rec}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
	}
	logger.Info("record", "webhook", rec, "value", *rec)
	// slog's handlers do not call LogValue on the elements of slices and
	// maps, and json.Marshal does not either: the Secret type redacts itself.
	page, err := store.List(context.Background(), webhook.ListQuery{})
	require.NoError(t, err)
	list := page.Records
	byID := map[string]*webhook.Webhook{rec.ID.String(): rec}
	logger.Info("records", "list", list, "map", byID, "values", []webhook.Webhook{*rec})
	slog.New(slog.NewTextHandler(&logs, nil)).Info("records", "list", list, "map", byID, "secret", rec.Secret)
	for _, v := range []any{rec, list, byID, struct{ W webhook.Webhook }{*rec}} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		out.Write(b)
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s"} {
		fmt.Fprintf(&out, verb+"\n", rec.Secret)
		fmt.Fprintf(&out, verb+"\n", []webhook.Secret{rec.Secret})
	}
	for _, del := range deliveries {
		require.Error(t, del.Err)
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			fmt.Fprintf(&out, verb+"\n", del.Err)
			fmt.Fprintf(&out, verb+"\n", del)
		}
		for e := del.Err; e != nil; e = errors.Unwrap(e) {
			out.WriteString(e.Error())
		}
	}
	bad := *rec
	bad.URL = "ftp://x"
	fmt.Fprintln(&out, bad.Validate())

	all := out.String() + logs.String()
	require.NotEmpty(t, logs.String())
	for _, s := range []string{secret, previous} {
		assert.NotContains(t, all, s)
	}
	assert.Contains(t, all, "[redacted]")
	assert.Equal(t, secret, rec.Secret.Reveal(), "Reveal reads the value on purpose")
}

// A Secret decodes from JSON like a string, and a redacted one read back
// from JSON decodes empty, which Update takes as "keep the stored one".
func TestSecretJSON(t *testing.T) {
	ctx := context.Background()
	store := new(webhook.MemoryStore)
	rec := valid()
	require.NoError(t, store.Create(ctx, rec))

	b, err := json.Marshal(rec)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"secret":"[redacted]"`)
	var back webhook.Webhook
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Empty(t, back.Secret.Reveal())
	back.Description = "edited through a JSON round trip"
	require.NoError(t, store.Update(ctx, &back))
	got, err := store.Get(ctx, rec.ID)
	require.NoError(t, err)
	assert.Equal(t, rec.Secret.Reveal(), got.Secret.Reveal(), "the stored secret is kept")

	var in webhook.Webhook
	require.NoError(t, json.Unmarshal([]byte(`{"secret":"given-by-an-admin-0123"}`), &in))
	assert.Equal(t, "given-by-an-admin-0123", in.Secret.Reveal())
}

// Records print and log their URL cut to scheme and host: user:pass@, path
// tokens and query tokens stay out of logs.
func TestRecordURLIsRedacted(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	for _, raw := range []string{
		"https://bob:hunter2@hooks.example/x",
		"https://hooks.slack.example/services/T000/B000/XXXXSECRETXXXX",
		"https://hooks.example/in?token=XXXXSECRETXXXX",
		"https://hooks.example/#XXXXSECRETXXXX",
	} {
		w := valid()
		w.URL = raw
		logs.Reset()
		logger.Info("record", "webhook", w)
		for _, out := range []string{w.String(), fmt.Sprintf("%v", w), fmt.Sprintf("%+v", *w), logs.String()} {
			assert.NotContains(t, out, "hunter2")
			assert.NotContains(t, out, "XXXXSECRETXXXX")
			assert.Contains(t, out, "hooks.")
		}
	}
	assert.Equal(t, "https://hooks.example", webhook.RedactURL("https://hooks.example/"))
	assert.Equal(t, "https://hooks.example/…", webhook.RedactURL("https://hooks.example/a?b=c"))
	assert.Equal(t, "[invalid URL]", webhook.RedactURL("http://[::1"))
}

func TestStandardWebhooksRotationSignsWithBothDuringOverlap(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	clock := now
	store := webhook.NewMemoryStore()
	rc := newReceiver(t)
	rec := record(t, store, rc.URL, func(w *webhook.Webhook) {
		w.Signing = signer.Config{Scheme: signer.SchemeStandardWebhooks}
	})
	require.True(t, strings.HasPrefix(rec.Secret.Reveal(), "whsec_"), "Create generates a secret in the scheme's format")
	old := rec.Secret.Reveal()
	require.NoError(t, rec.RotateSecret("", time.Hour, now))
	require.NoError(t, store.Update(ctx, rec))
	d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithClock(func() time.Time { return clock }))

	verifies := func(secret string, at time.Time, r received) bool {
		v, err := signer.NewVerifier(rec.Signing, []string{secret}, signer.WithClock(func() time.Time { return at }))
		require.NoError(t, err)
		return v.Verify(r.Header, r.Body) == nil
	}

	_, err := d.Dispatch(ctx, pageUpdated{ID: 1})
	require.NoError(t, err)
	clock = now.Add(2 * time.Hour) // the overlap is over
	_, err = d.Dispatch(ctx, pageUpdated{ID: 2})
	require.NoError(t, err)

	reqs := rc.requests()
	require.Len(t, reqs, 2)
	assert.Len(t, strings.Fields(reqs[0].Header.Get("webhook-signature")), 2, "two signatures during the overlap")
	assert.True(t, verifies(rec.Secret.Reveal(), now, reqs[0]))
	assert.True(t, verifies(old, now, reqs[0]))
	assert.Len(t, strings.Fields(reqs[1].Header.Get("webhook-signature")), 1, "one signature after it")
	assert.True(t, verifies(rec.Secret.Reveal(), clock, reqs[1]))
	assert.False(t, verifies(old, clock, reqs[1]))
	assert.Equal(t, reqs[0].Header.Get(webhook.HeaderDeliveryID), reqs[0].Header.Get("webhook-id"), "webhook-id is the delivery ID")
}

func TestMalformedSecretIsRefusedAtValidation(t *testing.T) {
	w := valid()
	w.Signing = signer.Config{Scheme: signer.SchemeStandardWebhooks}
	w.Secret = "whsec_not base64!"
	err := w.Validate()
	var ve *webhook.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "secret", ve.Field)
	assert.ErrorIs(t, err, signer.ErrInvalidSecret)
	assert.NotContains(t, err.Error(), "not base64!", "the secret is not echoed")
}

func TestURLTokensStayOutOfErrors(t *testing.T) {
	// Some receivers (Slack) carry their token in the URL path or query.
	store := webhook.NewMemoryStore()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close() // no answer: a client error that names the URL
		}
	})
	record(t, store, rc.URL+"/services/T000/B000/XXXXtoken?key=qtoken")
	d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithBackOff(fastBackOff(1)))
	deliveries, err := d.Dispatch(context.Background(), pageUpdated{})
	require.NoError(t, err)
	require.Len(t, deliveries, 1)
	require.Error(t, deliveries[0].Err)
	msg := deliveries[0].Err.Error()
	assert.Contains(t, msg, strings.TrimPrefix(rc.URL, "http://"), "the host stays, for debugging")
	assert.NotContains(t, msg, "XXXXtoken")
	assert.NotContains(t, msg, "qtoken")
}

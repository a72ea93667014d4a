package webhook_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
)

// A redirect to another host carries neither the signature or token nor the
// record's own headers, nor a Referer; one on the same host keeps them.
func TestRedirectToAnotherHostDropsCredentials(t *testing.T) {
	for _, scheme := range []string{signer.SchemeTYPO3, signer.SchemeToken, signer.SchemeStandardWebhooks, signer.SchemeHMAC} {
		t.Run(scheme, func(t *testing.T) {
			b := newReceiver(t)
			a := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/moved":
				case "/same-host":
					http.Redirect(w, r, "/moved", http.StatusPermanentRedirect)
				default:
					http.Redirect(w, r, b.URL+"/elsewhere?x=1", http.StatusPermanentRedirect)
				}
			})
			store := webhook.NewMemoryStore()
			cross := record(t, store, a.URL+"/cross-host", func(w *webhook.Webhook) {
				w.Signing = signer.Config{Scheme: scheme}
				w.Headers = map[string]string{"X-Api-Key": "record-credential", "User-Agent": "custom/1"}
			})
			client := netguard.NewClient(netguard.New(netguard.AllowLoopback()), netguard.WithRedirects(3))
			d := webhook.NewDispatcher(store, registry(t), webhook.WithHTTPClient(client))

			deliveries, err := d.Dispatch(context.Background(), pageUpdated{ID: 1})
			require.NoError(t, err)
			require.Len(t, deliveries, 1)
			require.Equal(t, webhook.StatusDelivered, deliveries[0].Status, "%v", deliveries[0].Err)

			sent := a.requests()
			require.Len(t, sent, 1)
			got := b.requests()
			require.Len(t, got, 1, "the redirect was followed")
			s, err := signer.New(cross.Signing)
			require.NoError(t, err)
			for _, h := range append(s.Headers(), "X-Api-Key", "Referer") {
				if h != "Referer" {
					require.NotEmpty(t, sent[0].Header.Get(h), "host A got %s", h)
				}
				assert.Empty(t, got[0].Header.Get(h), "host B must not get %s", h)
			}
			for _, h := range []string{webhook.HeaderContentType, webhook.HeaderDeliveryID, webhook.HeaderTrigger, "User-Agent"} {
				assert.Equal(t, sent[0].Header.Get(h), got[0].Header.Get(h), "%s is no credential and is kept", h)
			}
			assert.Equal(t, sent[0].Body, got[0].Body, "a 308 resends the body")

			// On the same host the record's headers and the signature stay.
			store2 := webhook.NewMemoryStore()
			record(t, store2, a.URL+"/same-host", func(w *webhook.Webhook) {
				w.Signing = signer.Config{Scheme: scheme}
				w.Headers = map[string]string{"X-Api-Key": "record-credential"}
			})
			a2 := len(a.requests())
			d2 := webhook.NewDispatcher(store2, registry(t), webhook.WithHTTPClient(client))
			_, err = d2.Dispatch(context.Background(), pageUpdated{ID: 2})
			require.NoError(t, err)
			moved := a.requests()[a2:]
			require.Len(t, moved, 2)
			assert.Equal(t, "record-credential", moved[1].Header.Get("X-Api-Key"))
			assert.Equal(t, moved[0].Header.Get(s.Headers()[0]), moved[1].Header.Get(s.Headers()[0]))
			assert.Empty(t, moved[1].Header.Get("Referer"), "no Referer, even on the same host")
		})
	}
}

// A nil pointer of a registered message type is an error, not a panic; so
// is a JSONSerialize that panics.
func TestNilAndPanickingMessages(t *testing.T) {
	reg := registry(t)
	require.NoError(t, trigger.Register[panicky](reg, "myapp/panicky", "Panics"))
	store := webhook.NewMemoryStore()
	record(t, store, "https://example.com/hook")
	d := webhook.NewDispatcher(store, reg)

	var nilPage *pageUpdated
	_, err := d.Dispatch(context.Background(), nilPage)
	assert.ErrorIs(t, err, webhook.ErrNilMessage)
	assert.Contains(t, err.Error(), "*webhook_test.pageUpdated")
	_, err = d.Dispatch(context.Background(), nil)
	assert.ErrorIs(t, err, webhook.ErrNilMessage)
	_, err = d.Dispatch(context.Background(), panicky{})
	assert.ErrorIs(t, err, webhook.ErrEncode)
	assert.Contains(t, err.Error(), "panicked")
}

type panicky struct{}

func (panicky) JSONSerialize() any { panic("boom") }

// A record's own User-Agent is sent, as TYPO3 lets a record set it.
func TestRecordUserAgentIsHonoured(t *testing.T) {
	rc := newReceiver(t)
	store := webhook.NewMemoryStore()
	record(t, store, rc.URL, func(w *webhook.Webhook) { w.Headers = map[string]string{"user-agent": "TYPO3/13.4"} })
	record(t, store, rc.URL)
	d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithUserAgent("app/2"))
	_, err := d.Dispatch(context.Background(), pageUpdated{})
	require.NoError(t, err)
	var agents []string
	for _, r := range rc.requests() {
		agents = append(agents, r.Header.Get("User-Agent"))
	}
	assert.ElementsMatch(t, []string{"TYPO3/13.4", "app/2"}, agents)
}

// A redirect's relative Location is redacted to "/…", not ":///…".
func TestRelativeRedirectErrorIsReadable(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/secret-path", http.StatusFound) })
	store := webhook.NewMemoryStore()
	record(t, store, rc.URL)
	d := webhook.NewDispatcher(store, registry(t), loopback)
	deliveries, err := d.Dispatch(context.Background(), pageUpdated{})
	require.NoError(t, err)
	require.Len(t, deliveries, 1)
	msg := deliveries[0].Err.Error()
	assert.NotContains(t, msg, ":///")
	assert.NotContains(t, msg, "secret-path")
	assert.True(t, strings.Contains(msg, "redirect"), msg)
}

// With the default back-off, a Sync Dispatch ends within its one minute
// budget: a Retry-After of an hour ends the delivery after the first attempt
// instead of holding Dispatch for minutes, and a hanging receiver is cut off
// at the budget, not at the attempt timeout after it.
func TestSyncDispatchStaysWithinItsBudget(t *testing.T) {
	t.Run("Retry-After past the budget", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		store := webhook.NewMemoryStore()
		record(t, store, rc.URL)
		d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithMaxRetryAfter(2*time.Hour))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a guard, so old code fails instead of hanging
		defer cancel()
		deliveries, err := d.Dispatch(ctx, pageUpdated{})
		require.NoError(t, err)
		require.Len(t, deliveries, 1)
		del := deliveries[0]
		assert.Equal(t, webhook.StatusFailed, del.Status)
		assert.Equal(t, 1, del.Attempts)
		assert.ErrorIs(t, del.Err, transport.ErrBudgetExceeded)
		var de *webhook.DeliveryError
		require.ErrorAs(t, del.Err, &de)
		assert.True(t, de.Retryable)
		assert.NoError(t, ctx.Err(), "ended before the guard")
	})
	t.Run("hanging receiver", func(t *testing.T) {
		release := make(chan struct{})
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { <-release })
		t.Cleanup(func() { close(release) })
		store := webhook.NewMemoryStore()
		record(t, store, rc.URL)
		budget := func() backoff.BackOff {
			b := backoff.NewExponentialBackOff()
			b.MaxElapsedTime = 200 * time.Millisecond
			return transport.LimitAttempts(b, 5)
		}
		d := webhook.NewDispatcher(store, registry(t), loopback, webhook.WithBackOff(budget),
			webhook.WithAttemptTimeout(time.Minute))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		deliveries, err := d.Dispatch(ctx, pageUpdated{})
		require.NoError(t, err)
		require.Len(t, deliveries, 1)
		assert.Equal(t, webhook.StatusFailed, deliveries[0].Status)
		assert.ErrorIs(t, deliveries[0].Err, transport.ErrBudgetExceeded)
		assert.NoError(t, ctx.Err(), "cut off at the budget, long before the attempt timeout")
	})
}

package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/telemetry"
)

// The README's setup: metrics scraped by Prometheus through
// OpenTelemetry's exporter, under Prometheus' names.
func TestPrometheusScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	require.NoError(t, err)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	tel, err := telemetry.New(telemetry.WithMeterProvider(mp))
	require.NoError(t, err)
	require.NoError(t, tel.AddGauges(telemetry.Gauges{QueueLength: func() int { return 3 }}))
	defer tel.Close()

	rc := newReceiver(t, map[string]int{"/fail": 503})
	store := webhook.NewMemoryStore()
	createHook(t, store, rc.URL+"/ok", false)
	createHook(t, store, rc.URL+"/fail", false)
	d := webhook.NewDispatcher(store, registry(t), append(tel.DispatcherOptions(), loopbackClient(tel),
		webhook.WithBackOff(twoAttempts), webhook.WithLogger(quietLogger()))...)
	_, err = d.Dispatch(context.Background(), OrderPlaced{ID: 1})
	require.NoError(t, err)

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := string(body)
	for _, want := range []string{
		`outhook_delivery_attempts_total{otel_scope_name="github.com/outhook/outhook/webhook/telemetry"`,
		`outhook_outcome="success",outhook_status_class="2xx",outhook_trigger="shop/order-placed"`,
		`http_client_request_duration_seconds_bucket{error_type="503",http_request_method="POST",http_response_status_code="503"`,
		`outhook_delivery_dead_lettered_total{error_type="503"`,
		`outhook_queue_length{otel_scope_name="github.com/outhook/outhook/webhook/telemetry"`,
	} {
		assert.Contains(t, out, want)
	}
}

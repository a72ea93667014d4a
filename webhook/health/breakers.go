package health

// OpenBreakers returns how many endpoints have a circuit breaker that is not
// closed: open, or half-open and letting only its probes through. An
// endpoint is a record, or a host with WithPerHostLimits. Telemetry reports
// it as a gauge (outhook.endpoint.breaker_open).
func (m *Monitor) OpenBreakers() int {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, g := range m.gates {
		if g.breaker.current(now) != BreakerClosed {
			n++
		}
	}
	return n
}

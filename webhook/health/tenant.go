package health

import (
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// minTenantSweep is the least number of tenant gates kept before idle ones
// are swept out.
const minTenantSweep = 64

// WithTenantRateLimit allows each tenant (transport.Envelope.Tenant)
// perSecond attempts a second on average and burst at once (burst is at
// least 1), over all its records together, so that one tenant's burst cannot
// use up the share of the others. The application's own records, tenant "",
// are one tenant like the others. It applies in addition to WithRateLimit:
// an attempt waits for both, and is deferred with an error matching
// ErrRateLimited when either would delay it by more than the maximum wait.
// Without it, or with perSecond <= 0, there is no tenant rate limit.
func WithTenantRateLimit(perSecond float64, burst int) Option {
	return func(m *Monitor) {
		m.tenantRPS, m.tenantBurst = rate.Limit(perSecond), max(burst, 1)
		if perSecond <= 0 {
			m.tenantRPS = rate.Inf
		}
	}
}

// WithTenantConcurrencyLimit allows each tenant (transport.Envelope.Tenant;
// "" is a tenant too) at most n attempts in flight over all its records;
// more are deferred with an error matching ErrConcurrencyLimit. It applies in
// addition to WithConcurrencyLimit. Without it (or with n < 1) there is no
// limit.
func WithTenantConcurrencyLimit(n int) Option {
	return func(m *Monitor) { m.tenantConcurrency = n }
}

// tenantGate is the limits of one tenant.
type tenantGate struct {
	limiter  *rate.Limiter // nil without a tenant rate limit
	inflight int
}

func (m *Monitor) tenantLimited() bool { return m.tenantRPS != rate.Inf || m.tenantConcurrency > 0 }

// admitTenant passes an attempt, already admitted by its endpoint, through
// its tenant's limits, recording the claim in tk; m.mu must be held. On
// refusal it returns how long to wait and an error naming the tenant, having
// taken nothing; otherwise how long to wait first.
func (m *Monitor) admitTenant(tk *ticket, tenant string, now time.Time) (time.Duration, error) {
	t := m.tenantGate(tenant, now)
	// A gate just made is never refused (a full bucket, nothing in flight),
	// so a refusal leaves no idle gate behind.
	if m.tenantConcurrency > 0 && t.inflight >= m.tenantConcurrency {
		return busyWait, fmt.Errorf("%w for tenant %q", ErrConcurrencyLimit, tenant)
	}
	var wait time.Duration
	if t.limiter != nil {
		res := t.limiter.ReserveN(now, 1)
		if wait = res.DelayFrom(now); wait > m.maxWait {
			res.CancelAt(now)
			return wait, fmt.Errorf("%w for tenant %q", ErrRateLimited, tenant)
		}
		tk.tres = res
	}
	t.inflight++
	tk.t, tk.tenant = t, tenant
	return wait, nil
}

// tenantGate returns tenant's gate, making it if need be; m.mu must be held.
// Gates are made and dropped as tenants come and go; a gate is dropped only
// when it is in the state a new one starts in, so dropping changes nothing.
func (m *Monitor) tenantGate(tenant string, now time.Time) *tenantGate {
	if t := m.tenants[tenant]; t != nil {
		return t
	}
	if len(m.tenants) >= m.tenantSweepAt {
		// Amortised: a sweep follows at least as many new gates as it keeps.
		for name, t := range m.tenants {
			if m.tenantIdle(t, now) {
				delete(m.tenants, name)
			}
		}
		m.tenantSweepAt = max(2*len(m.tenants), minTenantSweep)
	}
	t := &tenantGate{}
	if m.tenantRPS != rate.Inf {
		t.limiter = rate.NewLimiter(m.tenantRPS, m.tenantBurst)
	}
	m.tenants[tenant] = t
	return t
}

// tenantIdle reports whether t has nothing in flight and a full bucket.
func (m *Monitor) tenantIdle(t *tenantGate, now time.Time) bool {
	return t.inflight == 0 && (t.limiter == nil || t.limiter.TokensAt(now) >= float64(m.tenantBurst))
}

// releaseTenant releases tk's claim on its tenant gate, refunding its rate
// token when asked, and drops the gate if it is idle; m.mu must be held.
func (m *Monitor) releaseTenant(tk ticket, now time.Time, refund bool) {
	if tk.t == nil {
		return
	}
	if refund && tk.tres != nil {
		tk.tres.CancelAt(now)
	}
	tk.t.inflight--
	if m.tenantIdle(tk.t, now) && m.tenants[tk.tenant] == tk.t {
		delete(m.tenants, tk.tenant)
	}
}

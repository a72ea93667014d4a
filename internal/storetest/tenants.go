package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/webhook"
)

// RunTenants runs the tenant contract on stores made by newStore: a record
// reaches only dispatches of its own tenant (a property test over random
// tenants, triggers and channels, with updates, disables and deletes in
// between), channels filter as documented, a tenant never changes, and List
// pages through one tenant or all of them. newLimited makes a store that
// allows perTenant records per tenant.
func RunTenants(t *testing.T, newStore func(t *testing.T) webhook.Store, newLimited func(t *testing.T, perTenant int) webhook.Store) {
	t.Run("RoutesMatchOracle", func(t *testing.T) { routesMatchOracle(t, newStore(t)) })
	t.Run("Channels", func(t *testing.T) { channels(t, newStore(t)) })
	t.Run("TenantIsFixed", func(t *testing.T) { tenantIsFixed(t, newStore(t)) })
	t.Run("ListPages", func(t *testing.T) { listPages(t, newStore(t)) })
	t.Run("LimitPerTenant", func(t *testing.T) { limitPerTenant(t, newLimited(t, 3)) })
}

var (
	tenants      = []string{"", "a", "b", "org/42", "ünïcødé", "A"}
	triggerPool  = []string{"t/one", "t/two", "t/three"}
	channelPool  = []string{"c1", "c2", "campaign/tech-conf", "C1"}
	propertySeed = uint64(20261202)
)

// pick returns 0 to max distinct elements of pool, at random.
func pick(r *rand.Rand, pool []string, min, max int) []string {
	n := min + r.IntN(max-min+1)
	perm := r.Perm(len(pool))
	out := make([]string, 0, n)
	for _, i := range perm[:n] {
		out = append(out, pool[i])
	}
	return out
}

func randomRecord(r *rand.Rand, i int) *webhook.Webhook {
	return &webhook.Webhook{
		Name:     fmt.Sprintf("rec-%d", i),
		Tenant:   tenants[r.IntN(len(tenants))],
		Triggers: pick(r, triggerPool, 1, 2),
		Channels: pick(r, channelPool, 0, 2),
		URL:      "https://example.com/hook",
		Disabled: r.IntN(6) == 0,
	}
}

func ids(ws []*webhook.Webhook) []uuid.UUID {
	out := make([]uuid.UUID, len(ws))
	for i, w := range ws {
		out[i] = w.ID
	}
	return out
}

// routesMatchOracle checks ListActive against Webhook.Matches over every
// record created, for random routes, while records change.
func routesMatchOracle(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(propertySeed, 1))
	t.Logf("seed %d", propertySeed)
	live := map[uuid.UUID]*webhook.Webhook{}
	for i := range 150 {
		w := randomRecord(r, i)
		require.NoError(t, s.Create(ctx, w))
		live[w.ID] = w
	}
	for round := range 40 {
		for range 5 {
			mutate(t, s, r, live)
		}
		w := randomRecord(r, 1000+round)
		require.NoError(t, s.Create(ctx, w))
		live[w.ID] = w

		for range 10 {
			route := webhook.Route{
				Tenant:   tenants[r.IntN(len(tenants))],
				Trigger:  triggerPool[r.IntN(len(triggerPool))],
				Channels: pick(r, channelPool, 0, 3),
			}
			var want []*webhook.Webhook
			for _, w := range live {
				if w.Matches(route) {
					want = append(want, w)
				}
			}
			got, err := s.ListActive(ctx, route)
			require.NoError(t, err)
			for _, w := range got {
				require.Equal(t, route.Tenant, w.Tenant, "round %d: %+v reached a record of another tenant", round, route)
			}
			wantIDs, gotIDs := ids(want), ids(got)
			sort.Slice(wantIDs, func(i, j int) bool { return wantIDs[i].String() < wantIDs[j].String() })
			sort.Slice(gotIDs, func(i, j int) bool { return gotIDs[i].String() < gotIDs[j].String() })
			require.Equal(t, wantIDs, gotIDs, "round %d: route %+v", round, route)
		}
	}
}

// mutate changes one live record at random: new triggers and channels,
// disabled or enabled, or deleted; live follows.
func mutate(t *testing.T, s webhook.Store, r *rand.Rand, live map[uuid.UUID]*webhook.Webhook) {
	t.Helper()
	ctx := context.Background()
	var id uuid.UUID
	for k := range live {
		id = k
		break
	}
	switch r.IntN(4) {
	case 0:
		require.NoError(t, s.Delete(ctx, id))
		delete(live, id)
	case 1:
		_, err := s.Disable(ctx, id, "test", live[id].UpdatedAt)
		require.NoError(t, err)
		got, err := s.Get(ctx, id)
		require.NoError(t, err)
		live[id] = got
	default:
		got, err := webhook.Modify(ctx, s, id, func(w *webhook.Webhook) error {
			w.Triggers = pick(r, triggerPool, 1, 3)
			w.Channels = pick(r, channelPool, 0, 3)
			w.Disabled = r.IntN(4) == 0
			return nil
		})
		require.NoError(t, err)
		live[id] = got
	}
}

func channels(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	mk := func(name string, chs ...string) {
		w := &webhook.Webhook{Name: name, Tenant: "org-42", Triggers: []string{"t/one"}, Channels: chs, URL: "https://example.com/hook"}
		require.NoError(t, s.Create(ctx, w))
	}
	mk("all")
	mk("tech", "campaign/tech-conf")
	mk("both", "campaign/tech-conf", "campaign/spring")
	other := &webhook.Webhook{Name: "other tenant", Tenant: "org-43", Triggers: []string{"t/one"}, Channels: []string{"campaign/tech-conf"}, URL: "https://example.com/hook"}
	require.NoError(t, s.Create(ctx, other))
	names := func(chs ...string) []string {
		got, err := s.ListActive(ctx, webhook.Route{Tenant: "org-42", Trigger: "t/one", Channels: chs})
		require.NoError(t, err)
		out := []string{}
		for _, w := range got {
			out = append(out, w.Name)
		}
		return out
	}
	assert.Equal(t, []string{"all"}, names(), "a message without channels reaches records without channels only")
	assert.Equal(t, []string{"all", "tech", "both"}, names("campaign/tech-conf"), "oldest first")
	assert.Equal(t, []string{"all", "both"}, names("campaign/spring"))
	assert.Equal(t, []string{"all", "tech", "both"}, names("campaign/spring", "campaign/tech-conf"), "each record once")
	assert.Equal(t, []string{"all"}, names("Campaign/Tech-Conf"), "channels compare exactly")

	bad := &webhook.Webhook{Name: "bad", Triggers: []string{"t/one"}, Channels: []string{"has space"}, URL: "https://example.com/hook"}
	err := s.Create(ctx, bad)
	assert.ErrorIs(t, err, webhook.ErrInvalidWebhook)
	assert.ErrorIs(t, err, webhook.ErrInvalidChannel)
}

func tenantIsFixed(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	w := &webhook.Webhook{Name: "fixed", Tenant: "a", Triggers: []string{"t/one"}, URL: "https://example.com/hook"}
	require.NoError(t, s.Create(ctx, w))
	got, err := s.Get(ctx, w.ID)
	require.NoError(t, err)
	assert.Equal(t, "a", got.Tenant)
	got.Tenant = "b"
	err = s.Update(ctx, got)
	require.ErrorIs(t, err, webhook.ErrInvalidWebhook)
	var ve *webhook.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "tenant", ve.Field)
	again, err := s.Get(ctx, w.ID)
	require.NoError(t, err)
	assert.Equal(t, "a", again.Tenant)
	assert.Equal(t, w.Version, again.Version, "the refused Update changed nothing")

	for _, bad := range []string{"tab\there", string([]byte{0xff}), string(make([]byte, webhook.MaxTenantLen+1))} {
		err := s.Create(ctx, &webhook.Webhook{Name: "bad", Tenant: bad, Triggers: []string{"t/one"}, URL: "https://example.com/hook"})
		assert.ErrorIs(t, err, webhook.ErrInvalidTenant, "%q", bad)
	}
}

func listPages(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	var mine []uuid.UUID
	for i := range 25 {
		tenant := "p"
		if i%5 == 4 {
			tenant = "q"
		}
		w := &webhook.Webhook{Name: fmt.Sprintf("r%02d", i), Tenant: tenant, Triggers: []string{"t/one"}, URL: "https://example.com/hook"}
		require.NoError(t, s.Create(ctx, w))
		if tenant == "p" {
			mine = append(mine, w.ID)
		}
	}
	var got []uuid.UUID
	q := webhook.ListQuery{Tenant: "p", Limit: 7}
	pages := 0
	for {
		p, err := s.List(ctx, q)
		require.NoError(t, err)
		pages++
		require.LessOrEqual(t, len(p.Records), 7)
		for _, w := range p.Records {
			assert.Equal(t, "p", w.Tenant)
			got = append(got, w.ID)
		}
		if p.Next == "" {
			break
		}
		require.Less(t, pages, 10, "List keeps returning a next page")
		q.After = p.Next
	}
	assert.Equal(t, mine, got, "every record of the tenant once, oldest first")
	assert.Equal(t, 3, pages)

	all, err := s.List(ctx, webhook.ListQuery{AllTenants: true})
	require.NoError(t, err)
	assert.Len(t, all.Records, 25)
	assert.Empty(t, all.Next)
	none, err := s.List(ctx, webhook.ListQuery{Tenant: "nobody"})
	require.NoError(t, err)
	assert.Empty(t, none.Records)

	for _, bad := range []string{"x", "bm90IGEgY3Vyc29y", "!!"} {
		_, err := s.List(ctx, webhook.ListQuery{After: bad})
		assert.ErrorIs(t, err, webhook.ErrInvalidCursor, "%q", bad)
	}
}

func limitPerTenant(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	mk := func(tenant string) (*webhook.Webhook, error) {
		w := &webhook.Webhook{Name: "limited", Tenant: tenant, Triggers: []string{"t/one"}, URL: "https://example.com/hook"}
		return w, s.Create(ctx, w)
	}
	var first *webhook.Webhook
	for i := range 3 {
		w, err := mk("x")
		require.NoError(t, err, "record %d", i)
		first = w
	}
	_, err := mk("x")
	require.ErrorIs(t, err, webhook.ErrTenantFull)
	assert.Contains(t, err.Error(), `"x"`)
	_, err = mk("other")
	require.NoError(t, err, "the limit is per tenant")
	require.NoError(t, s.Delete(ctx, first.ID))
	_, err = mk("x")
	require.NoError(t, err, "a deleted record frees its place")

	// Concurrent creates never exceed the limit.
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := mk("y")
			if err == nil {
				ok.Add(1)
			} else {
				assert.ErrorIs(t, err, webhook.ErrTenantFull)
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 3, ok.Load())
	p, err := s.List(ctx, webhook.ListQuery{Tenant: "y"})
	require.NoError(t, err)
	assert.Len(t, p.Records, 3)
}

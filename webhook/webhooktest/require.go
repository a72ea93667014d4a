package webhooktest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// MatchOption narrows which recorded dispatches an assertion considers, on
// top of the message's type and the match function. WithTenant,
// WithChannel and WithWebhook return one.
type MatchOption interface {
	applyMatch(*matchConfig)
}

type matchOption func(*matchConfig)

func (o matchOption) applyMatch(c *matchConfig) { o(c) }

// matchConfig is what the MatchOptions of one assertion ask for; each part
// is a string for the failure message and a test.
type matchConfig struct {
	wants []string
	tests []func(Dispatch) bool
}

func (c *matchConfig) add(want string, test func(Dispatch) bool) {
	c.wants = append(c.wants, want)
	c.tests = append(c.tests, test)
}

// WithTenant matches dispatches for tenant (webhook.WithTenant); "" is the
// application's own.
func WithTenant(tenant string) MatchOption {
	return matchOption(func(c *matchConfig) {
		c.add(fmt.Sprintf("for tenant %q", tenant), func(d Dispatch) bool { return d.Tenant == tenant })
	})
}

// WithChannel matches dispatches that carried channel, from
// webhook.WithChannels or the message's own Channels.
func WithChannel(channel string) MatchOption {
	return matchOption(func(c *matchConfig) {
		c.add(fmt.Sprintf("in channel %q", channel), func(d Dispatch) bool {
			for _, ch := range d.Channels {
				if ch == channel {
					return true
				}
			}
			return false
		})
	})
}

// WithWebhook matches dispatches that reached the record with id.
func WithWebhook(id uuid.UUID) MatchOption {
	return matchOption(func(c *matchConfig) {
		c.add("to record "+id.String(), func(d Dispatch) bool {
			for _, got := range d.WebhookIDs() {
				if got == id {
					return true
				}
			}
			return false
		})
	})
}

// find returns the messages of type M recorded by rec that match and opts,
// and a description of what was asked for. Duplicate dispatches do not
// count.
func find[M any](rec *Recorder, match func(M) bool, opts []MatchOption) ([]M, string) {
	var c matchConfig
	for _, o := range opts {
		if o != nil {
			o.applyMatch(&c)
		}
	}
	var out []M
	for _, d := range rec.Dispatches() {
		m, ok := d.Message.(M)
		if !ok || d.Duplicate() || (match != nil && !match(m)) {
			continue
		}
		all := true
		for _, test := range c.tests {
			all = all && test(d)
		}
		if all {
			out = append(out, m)
		}
	}
	want := "of " + reflect.TypeFor[M]().String()
	if match != nil {
		want += " matching the function"
	}
	if len(c.wants) > 0 {
		want += ", " + strings.Join(c.wants, ", ")
	}
	return out, want
}

// RequireDispatched fails t unless exactly one recorded dispatch is of a
// message of type M that match accepts (a nil match accepts every one) and
// that every option accepts; it returns that message. The failure message
// lists what was dispatched. Several matching dispatches are ambiguous, as
// in rivertest.RequireInserted: use RequireDispatchedN.
// Dispatches that only repeated an earlier one's idempotency key created
// nothing and do not count.
func RequireDispatched[M any](t testing.TB, rec *Recorder, match func(M) bool, opts ...MatchOption) M {
	t.Helper()
	got, want := find(rec, match, opts)
	if len(got) != 1 {
		t.Fatalf("webhooktest: want one dispatch %s, found %d\n%s", want, len(got), rec.describe())
		var zero M
		return zero
	}
	return got[0]
}

// RequireNotDispatched fails t if a recorded dispatch is of a message of
// type M that match (nil: any) and every option accept; the failure
// message lists what was dispatched.
func RequireNotDispatched[M any](t testing.TB, rec *Recorder, match func(M) bool, opts ...MatchOption) {
	t.Helper()
	got, want := find(rec, match, opts)
	if len(got) > 0 {
		t.Fatalf("webhooktest: want no dispatch %s, found %d\n%s", want, len(got), rec.describe())
	}
}

// RequireDispatchedN fails t unless exactly n recorded dispatches are of
// messages of type M that match (nil: any) and every option accept; it
// returns those messages, oldest first.
func RequireDispatchedN[M any](t testing.TB, rec *Recorder, n int, match func(M) bool, opts ...MatchOption) []M {
	t.Helper()
	got, want := find(rec, match, opts)
	if len(got) != n {
		t.Fatalf("webhooktest: want %d dispatches %s, found %d\n%s", n, want, len(got), rec.describe())
	}
	return got
}

// Count returns how many recorded dispatches are of messages of type M
// that match (nil: any) and every option accept.
func Count[M any](rec *Recorder, match func(M) bool, opts ...MatchOption) int {
	got, _ := find(rec, match, opts)
	return len(got)
}

// describe lists what rec recorded, for failure messages.
func (r *Recorder) describe() string {
	ds := r.Dispatches()
	var b strings.Builder
	if len(ds) == 0 {
		b.WriteString("nothing was dispatched")
	} else {
		fmt.Fprintf(&b, "dispatched (%d):", len(ds))
	}
	for i, d := range ds {
		fmt.Fprintf(&b, "\n  %d. %s %#v", i+1, d.Trigger.Identifier, d.Message)
		fmt.Fprintf(&b, "\n     tenant %q, channels %q, to %d record(s)", d.Tenant, d.Channels, len(d.Deliveries))
		if d.IdempotencyKey != "" {
			fmt.Fprintf(&b, ", idempotency key %q", d.IdempotencyKey)
		}
		if d.Duplicate() {
			b.WriteString(", a duplicate: not counted")
		}
	}
	if n := r.unobserved(); n > 0 {
		fmt.Fprintf(&b, "\n%d deliveries went through rec.Transport() without their Dispatch being recorded:"+
			" give rec.Option() to webhook.NewDispatcher", n)
	}
	return b.String()
}

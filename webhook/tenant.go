package webhook

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits on tenants and channels.
const (
	// MaxTenantLen is the longest tenant, in bytes.
	MaxTenantLen = 255
	// MaxChannelLen is the longest channel label, in bytes.
	MaxChannelLen = 128
	// MaxMessageChannels is the most channels one dispatch may carry.
	MaxMessageChannels = 10
	// MaxRecordChannels is the most channels one record may restrict itself to.
	MaxRecordChannels = 100
)

var (
	// ErrInvalidTenant is matched by the error for a tenant that is too long
	// or holds invalid UTF-8 or a control character.
	ErrInvalidTenant = errors.New("webhook: invalid tenant")
	// ErrInvalidChannel is matched by the error for a malformed channel
	// label, or too many of them.
	ErrInvalidChannel = errors.New("webhook: invalid channel")
	// ErrTenantRequired is returned by Dispatch for a message of a
	// trigger registered with trigger.PerTenant and dispatched without
	// WithTenant. Nothing is sent.
	ErrTenantRequired = errors.New("webhook: the trigger is per tenant; dispatch it WithTenant")
	// ErrTenantMismatch is an attempt's permanent error when the record
	// of a queued delivery no longer belongs to the delivery's tenant.
	ErrTenantMismatch = errors.New("webhook: record belongs to another tenant")
	// ErrTenantFull is returned by Store.Create when the record's tenant
	// already has the most records the store allows.
	ErrTenantFull = errors.New("webhook: tenant has the most records allowed")
	// ErrInvalidCursor is returned by Store.List for a cursor it did not
	// make.
	ErrInvalidCursor = errors.New("webhook: invalid cursor")
)

// ValidateTenant reports whether t can be a tenant: at most MaxTenantLen
// bytes of valid UTF-8 without control characters. The empty tenant, the
// application's own, is valid.
func ValidateTenant(t string) error {
	switch {
	case len(t) > MaxTenantLen:
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalidTenant, len(t), MaxTenantLen)
	case !utf8.ValidString(t):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidTenant)
	case strings.IndexFunc(t, isControl) >= 0:
		return fmt.Errorf("%w: %q holds a control character", ErrInvalidTenant, t)
	}
	return nil
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// ValidateChannel reports whether c is a well-formed channel label: 1 to
// MaxChannelLen bytes of ASCII letters, digits and - _ . : / ~, such as
// "campaign/tech-conf". Channels are compared exactly, letter case included.
func ValidateChannel(c string) error {
	if c == "" || len(c) > MaxChannelLen {
		return fmt.Errorf("%w: %q must have 1 to %d bytes", ErrInvalidChannel, c, MaxChannelLen)
	}
	for i := 0; i < len(c); i++ {
		switch b := c[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case strings.IndexByte("-_.:/~", b) >= 0:
		default:
			return fmt.Errorf("%w: %q: only letters, digits and - _ . : / ~ are allowed", ErrInvalidChannel, c)
		}
	}
	return nil
}

func validateChannels(cs []string, limit int) error {
	if len(cs) > limit {
		return fmt.Errorf("%w: %d channels, the limit is %d", ErrInvalidChannel, len(cs), limit)
	}
	for i, c := range cs {
		if err := ValidateChannel(c); err != nil {
			return err
		}
		for _, d := range cs[:i] {
			if c == d {
				return fmt.Errorf("%w: %q is listed twice", ErrInvalidChannel, c)
			}
		}
	}
	return nil
}

// Route says which records one dispatch reaches: the enabled records of
// Tenant that subscribe to Trigger and either have no channels or share one
// with Channels. Stores look records up by it through an index.
type Route struct {
	// Tenant is the tenant dispatched for; "" is the application's own.
	Tenant string
	// Trigger is the message's trigger identifier.
	Trigger string
	// Channels are the message's channel labels; none reaches only records
	// without channels.
	Channels []string
}

// Matches reports whether the record receives a dispatch on route r: it is
// enabled, of r's tenant, subscribed to r's trigger, and either without
// channels or with one of r's.
func (w *Webhook) Matches(r Route) bool {
	if w.Disabled || w.Tenant != r.Tenant || !w.Subscribes(r.Trigger) {
		return false
	}
	if len(w.Channels) == 0 {
		return true
	}
	for _, c := range w.Channels {
		for _, m := range r.Channels {
			if c == m {
				return true
			}
		}
	}
	return false
}

// Page sizes of Store.List.
const (
	// DefaultPageSize is the page size of a ListQuery without Limit.
	DefaultPageSize = 100
	// MaxPageSize is the largest page Store.List returns.
	MaxPageSize = 1000
)

// ListQuery selects a page of records for administration, oldest first.
type ListQuery struct {
	// Tenant lists that tenant's records ("" is the application's own),
	// unless AllTenants is set.
	Tenant string
	// AllTenants lists the records of every tenant (an operator's view).
	AllTenants bool
	// After is the Next of the previous page; "" starts at the oldest.
	After string
	// Limit is the page size: DefaultPageSize when 0, at most MaxPageSize.
	Limit int
}

// PageSize returns the number of records a page of q holds at most.
func (q ListQuery) PageSize() int {
	switch {
	case q.Limit <= 0:
		return DefaultPageSize
	case q.Limit > MaxPageSize:
		return MaxPageSize
	}
	return q.Limit
}

// Page is one page of Store.List.
type Page struct {
	// Records, oldest first.
	Records []*Webhook
	// Next is the cursor of the next page (ListQuery.After), or "" after
	// the last one.
	Next string
}

// Cursor is the position after one record in the order of Store.List: its
// creation time (to the microsecond) and ID. Stores encode it with String
// and read it back with ParseCursor.
type Cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// CursorAfter returns the cursor after w.
func CursorAfter(w *Webhook) Cursor { return Cursor{CreatedAt: w.CreatedAt, ID: w.ID} }

// String encodes the cursor, opaquely.
func (c Cursor) String() string {
	raw := strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + c.ID.String()
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// Before reports whether a record created at t with id comes before the
// cursor's position, or at it: List skips such records.
func (c Cursor) Before(t time.Time, id uuid.UUID) bool {
	us, cus := t.UnixMicro(), c.CreatedAt.UnixMicro()
	return us < cus || (us == cus && id.String() <= c.ID.String())
}

// ParseCursor reads a cursor made by Cursor.String; other strings give an
// error matching ErrInvalidCursor.
func ParseCursor(s string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, fmt.Errorf("%w: %q", ErrInvalidCursor, s)
	}
	us, id, ok := strings.Cut(string(raw), ".")
	n, err1 := strconv.ParseInt(us, 10, 64)
	u, err2 := uuid.Parse(id)
	if !ok || err1 != nil || err2 != nil {
		return Cursor{}, fmt.Errorf("%w: %q", ErrInvalidCursor, s)
	}
	return Cursor{CreatedAt: time.UnixMicro(n).UTC(), ID: u}, nil
}

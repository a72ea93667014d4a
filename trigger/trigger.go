package trigger

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
)

// Message is implemented by every type the application sends as a webhook.
// JSONSerialize returns the value that is JSON-encoded as the request body;
// a json.RawMessage is sent as it is, and a nil value is sent as the JSON
// literal null. Dispatching a nil pointer is an error (webhook.ErrNilMessage).
type Message interface {
	JSONSerialize() any
}

// Trigger describes one registered message type.
type Trigger struct {
	// Identifier names the trigger in webhook records, e.g. "myapp/page-updated".
	Identifier string `json:"identifier"`
	// Description tells administrators when the trigger fires.
	Description string `json:"description"`
	// Type is the Go type name of the message, for diagnostics.
	Type string `json:"type"`
	// PerTenant marks a trigger whose messages always belong to a tenant:
	// dispatching one without naming its tenant is an error, so that it
	// cannot reach the application's own records (tenant "") by omission.
	PerTenant bool `json:"per_tenant,omitempty"`
}

// Option configures a trigger at Register.
type Option interface{ apply(*Trigger) }

type optionFunc func(*Trigger)

func (f optionFunc) apply(t *Trigger) { f(t) }

// PerTenant marks the trigger's messages as belonging to a tenant: the
// Dispatcher refuses to dispatch one without a tenant (webhook.ForTenant).
// Register every trigger of a multi-tenant application's customers with it.
func PerTenant() Option { return optionFunc(func(t *Trigger) { t.PerTenant = true }) }

var (
	// ErrUnknownTrigger is returned for a message type or identifier that was never registered.
	ErrUnknownTrigger = errors.New("trigger: unknown trigger")
	// ErrInvalidIdentifier is returned by Register for an empty or malformed identifier.
	ErrInvalidIdentifier = errors.New("trigger: invalid identifier")
	// ErrDuplicate is returned by Register when the identifier or the message type is already registered.
	ErrDuplicate = errors.New("trigger: already registered")
)

// MaxIdentifierLen is the longest identifier Register accepts.
const MaxIdentifierLen = 128

// Registry maps message types to triggers. The zero value is an empty
// registry ready to use, like http.ServeMux's. A Registry is safe for
// concurrent use and must not be copied after first use.
type Registry struct {
	mu     sync.RWMutex
	byID   map[string]Trigger
	byType map[reflect.Type]Trigger
	goType map[string]reflect.Type // identifier -> M as registered
}

// NewRegistry returns an empty registry; new(Registry) does the same.
func NewRegistry() *Registry { return new(Registry) }

// Register binds the message type M to identifier. It fails with
// ErrInvalidIdentifier for a malformed identifier and with ErrDuplicate when
// the identifier or M is already registered. A pointer to M is looked up as M.
func Register[M Message](r *Registry, identifier, description string, opts ...Option) error {
	if err := ValidateIdentifier(identifier); err != nil {
		return err
	}
	registered := reflect.TypeOf((*M)(nil)).Elem()
	typ := registered
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	t := Trigger{Identifier: identifier, Description: description, Type: typ.String()}
	for _, o := range opts {
		o.apply(&t)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID == nil { // the zero Registry; reads of nil maps need no such care
		r.byID = map[string]Trigger{}
		r.byType = map[reflect.Type]Trigger{}
		r.goType = map[string]reflect.Type{}
	}
	if prev, ok := r.byID[identifier]; ok {
		return fmt.Errorf("%w: identifier %q is taken by %s", ErrDuplicate, identifier, prev.Type)
	}
	if prev, ok := r.byType[typ]; ok {
		return fmt.Errorf("%w: type %s is registered as %q", ErrDuplicate, t.Type, prev.Identifier)
	}
	r.byID[identifier] = t
	r.byType[typ] = t
	r.goType[identifier] = registered
	return nil
}

// MessageType returns the type M that identifier was registered with by
// Register[M] (a pointer type when M is one), so that tools can describe a
// trigger's payload: the admin handler derives its event catalog's JSON
// Schema from it. An unknown identifier gives an error matching
// ErrUnknownTrigger.
func (r *Registry) MessageType(identifier string) (reflect.Type, error) {
	r.mu.RLock()
	typ, ok := r.goType[identifier]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTrigger, identifier)
	}
	return typ, nil
}

// Lookup returns the trigger registered for the dynamic type of m.
// An unregistered type gives an error matching ErrUnknownTrigger.
func (r *Registry) Lookup(m Message) (Trigger, error) {
	typ := reflect.TypeOf(m)
	if typ == nil {
		return Trigger{}, fmt.Errorf("%w: nil message", ErrUnknownTrigger)
	}
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	r.mu.RLock()
	t, ok := r.byType[typ]
	r.mu.RUnlock()
	if !ok {
		return Trigger{}, fmt.Errorf("%w: message type %s is not registered", ErrUnknownTrigger, typ)
	}
	return t, nil
}

// Get returns the trigger with the given identifier, or an error matching
// ErrUnknownTrigger.
func (r *Registry) Get(identifier string) (Trigger, error) {
	r.mu.RLock()
	t, ok := r.byID[identifier]
	r.mu.RUnlock()
	if !ok {
		return Trigger{}, fmt.Errorf("%w: %q", ErrUnknownTrigger, identifier)
	}
	return t, nil
}

// Triggers lists every registered trigger, sorted by identifier.
func (r *Registry) Triggers() []Trigger {
	r.mu.RLock()
	out := make([]Trigger, 0, len(r.byID))
	for _, t := range r.byID {
		out = append(out, t)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Identifier < out[j].Identifier })
	return out
}

// ValidateIdentifier reports whether s is a well-formed trigger identifier:
// one or more segments separated by "/", each made of ASCII letters, digits,
// '.', '_' and '-', starting with a letter or digit, at most MaxIdentifierLen
// bytes in all. "typo3/page-modification" and "shop.order_paid" are valid.
func ValidateIdentifier(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrInvalidIdentifier)
	}
	if len(s) > MaxIdentifierLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidIdentifier, MaxIdentifierLen)
	}
	segStart := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			if segStart {
				return fmt.Errorf("%w: %q has an empty segment", ErrInvalidIdentifier, s)
			}
			segStart = true
			continue
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '_' || c == '-':
			if segStart {
				return fmt.Errorf("%w: %q: a segment must start with a letter or digit", ErrInvalidIdentifier, s)
			}
		default:
			return fmt.Errorf("%w: %q contains %q", ErrInvalidIdentifier, s, rune(c))
		}
		segStart = false
	}
	if segStart {
		return fmt.Errorf("%w: %q ends with '/'", ErrInvalidIdentifier, s)
	}
	return nil
}

package admin

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/invopop/jsonschema"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
)

// Event is one trigger in the event catalog: what receivers of it get.
type Event struct {
	// Identifier is the trigger's identifier, sent as Webhook-Trigger.
	Identifier string `json:"identifier"`
	// Description says when the trigger fires.
	Description string `json:"description"`
	// PerTenant marks a trigger whose messages always belong to a tenant.
	PerTenant bool `json:"per_tenant,omitempty"`
	// Schema is the JSON Schema (draft 2020-12) of the request body.
	Schema json.RawMessage `json:"schema"`
	// Example is an example request body, when the message type offers one
	// (see Exampler).
	Example json.RawMessage `json:"example,omitempty"`
}

// Schemer is implemented by a message type that describes its request body
// itself, instead of the schema derived from the Go type of what its
// JSONSerialize returns. WebhookSchema returns a JSON Schema document.
type Schemer interface {
	WebhookSchema() json.RawMessage
}

// Exampler is implemented by a message type that offers an example of
// itself: the catalog shows the example's body, and test deliveries send it.
// WebhookExample is called on the zero value of the type registered.
type Exampler interface {
	WebhookExample() trigger.Message
}

// Catalog describes every trigger of reg, sorted by identifier. A message
// type whose schema or example cannot be made gets the schema {} (any JSON
// value) and no example, and the returned error says why; the events are
// complete all the same.
func Catalog(reg *trigger.Registry) ([]Event, error) {
	var errs []error
	ts := reg.Triggers()
	out := make([]Event, 0, len(ts))
	for _, t := range ts {
		ev, err := describe(reg, t)
		out = append(out, ev)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// describe makes the catalog entry of t.
func describe(reg *trigger.Registry, t trigger.Trigger) (Event, error) {
	ev := Event{Identifier: t.Identifier, Description: t.Description, PerTenant: t.PerTenant, Schema: json.RawMessage(`{}`)}
	typ, err := reg.MessageType(t.Identifier)
	if err != nil {
		return ev, err
	}
	zero := zeroMessage(typ)
	example, err := exampleOf(zero)
	if err != nil {
		return ev, fmt.Errorf("admin: trigger %s: example: %w", t.Identifier, err)
	}
	if example != nil {
		if ev.Example, err = webhook.Encode(example); err != nil {
			return ev, fmt.Errorf("admin: trigger %s: example: %w", t.Identifier, err)
		}
	}
	schema, err := schemaOf(zero, example, t)
	if err != nil {
		return ev, fmt.Errorf("admin: trigger %s: schema: %w", t.Identifier, err)
	}
	ev.Schema = schema
	return ev, nil
}

// zeroMessage returns the zero value of a registered message type; a
// pointer type gives a pointer to a zero value.
func zeroMessage(typ reflect.Type) trigger.Message {
	if typ.Kind() == reflect.Pointer {
		m, _ := reflect.New(typ.Elem()).Interface().(trigger.Message)
		return m
	}
	m, _ := reflect.Zero(typ).Interface().(trigger.Message)
	return m
}

// exampleOf returns the message's example, if its type offers one.
func exampleOf(zero trigger.Message) (ex trigger.Message, err error) {
	e, ok := zero.(Exampler)
	if !ok {
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			ex, err = nil, fmt.Errorf("WebhookExample panicked: %v", r)
		}
	}()
	return e.WebhookExample(), nil
}

// schemaOf returns the message type's own schema, or one derived from the
// Go type of what its JSONSerialize returns (for the example, else for the
// zero value), titled with the trigger.
func schemaOf(zero, example trigger.Message, t trigger.Trigger) (json.RawMessage, error) {
	if s, ok := zero.(Schemer); ok {
		raw := s.WebhookSchema()
		if !json.Valid(raw) {
			return nil, errors.New("WebhookSchema did not return valid JSON")
		}
		return raw, nil
	}
	payload := example
	if payload == nil {
		payload = zero
	}
	typ, err := payloadType(payload)
	if err != nil {
		return nil, err
	}
	return reflectSchema(typ, t)
}

// payloadType is the Go type of what msg's JSONSerialize returns; nil for
// a nil value.
func payloadType(msg trigger.Message) (typ reflect.Type, err error) {
	defer func() {
		if r := recover(); r != nil {
			typ, err = nil, fmt.Errorf("JSONSerialize of the zero value panicked (offer an example or a schema): %v", r)
		}
	}()
	return reflect.TypeOf(msg.JSONSerialize()), nil
}

// reflectSchema derives the JSON Schema of typ with invopop/jsonschema.
func reflectSchema(typ reflect.Type, t trigger.Trigger) (raw json.RawMessage, err error) {
	s := &jsonschema.Schema{Version: jsonschema.Version}
	if typ != nil && typ != reflect.TypeOf(json.RawMessage{}) {
		defer func() {
			if r := recover(); r != nil {
				raw, err = nil, fmt.Errorf("cannot describe %s: %v", typ, r)
			}
		}()
		rf := jsonschema.Reflector{Anonymous: true, ExpandedStruct: true, AllowAdditionalProperties: true, Mapper: mapType}
		s = rf.ReflectFromType(typ)
	}
	s.Title = t.Identifier
	if s.Description == "" {
		s.Description = t.Description
	}
	return json.Marshal(s)
}

var (
	customSchemaType = reflect.TypeOf((*interface{ JSONSchema() *jsonschema.Schema })(nil)).Elem()
	jsonMarshaler    = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshaler    = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	timeType         = reflect.TypeOf(time.Time{})
)

// mapType describes types that encode themselves: a TextMarshaler is a
// string (a UUID one with format uuid), a json.Marshaler any JSON value,
// unless the type gives its own invopop schema.
func mapType(t reflect.Type) *jsonschema.Schema {
	if t == timeType || implements(t, customSchemaType) {
		return nil
	}
	switch {
	case implements(t, jsonMarshaler):
		return &jsonschema.Schema{}
	case implements(t, textMarshaler):
		if t.Name() == "UUID" && t.Kind() == reflect.Array && t.Len() == 16 {
			return &jsonschema.Schema{Type: "string", Format: "uuid"}
		}
		return &jsonschema.Schema{Type: "string"}
	}
	return nil
}

func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(iface))
}

// event returns the catalog entry of the trigger id, made once: a
// registry only grows, and an identifier keeps its type.
func (h *Handler) event(id string) (Event, error) {
	if v, ok := h.catalog.Load(id); ok {
		return v.(Event), nil
	}
	t, err := h.reg.Get(id)
	if err != nil {
		return Event{}, err
	}
	ev, err := describe(h.reg, t)
	if err != nil {
		h.cfg.logger.Warn("admin: event catalog", "trigger", id, "err", err)
	}
	h.catalog.Store(id, ev)
	return ev, nil
}

// events returns the catalog of every registered trigger.
func (h *Handler) events() []Event {
	ts := h.reg.Triggers()
	out := make([]Event, 0, len(ts))
	for _, t := range ts {
		if ev, err := h.event(t.Identifier); err == nil {
			out = append(out, ev)
		}
	}
	return out
}

package admin_test

import (
	"bytes"
	"encoding/json"
	"testing"

	santhosh "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook/admin"
)

// validate checks doc against schema with an independent validator.
func validate(t *testing.T, schema, doc json.RawMessage) error {
	t.Helper()
	s, err := santhosh.UnmarshalJSON(bytes.NewReader(schema))
	require.NoError(t, err)
	c := santhosh.NewCompiler()
	c.DefaultDraft(santhosh.Draft2020)
	c.AssertFormat()
	require.NoError(t, c.AddResource("catalog.json", s))
	compiled, err := c.Compile("catalog.json")
	require.NoError(t, err, "the schema compiles: %s", schema)
	inst, err := santhosh.UnmarshalJSON(bytes.NewReader(doc))
	require.NoError(t, err)
	return compiled.Validate(inst)
}

func TestCatalogExamplesMatchTheirSchemas(t *testing.T) {
	events, err := admin.Catalog(registry(t))
	require.NoError(t, err)
	require.Len(t, events, 4)
	byID := map[string]admin.Event{}
	for _, ev := range events {
		byID[ev.Identifier] = ev
		if ev.Example != nil {
			assert.NoError(t, validate(t, ev.Schema, ev.Example), ev.Identifier)
		}
	}

	page := byID["test/page-updated"]
	assert.Equal(t, "A page was created, updated or deleted", page.Description)
	assert.JSONEq(t, `{"page_id":42,"action":"edit","title":"Home","at":"2026-01-02T03:04:05Z","by":"7d9f3c1e-5a2b-4c8d-9e0f-1a2b3c4d5e6f"}`, string(page.Example))
	var schema struct {
		Title      string
		Type       string
		Required   []string
		Properties map[string]struct{ Type, Format string }
	}
	require.NoError(t, json.Unmarshal(page.Schema, &schema))
	assert.Equal(t, "test/page-updated", schema.Title)
	assert.Equal(t, "object", schema.Type)
	assert.ElementsMatch(t, []string{"page_id", "action", "at", "by"}, schema.Required, "omitempty fields are optional")
	assert.Equal(t, "integer", schema.Properties["page_id"].Type)
	assert.Equal(t, "date-time", schema.Properties["at"].Format)
	assert.Equal(t, "uuid", schema.Properties["by"].Format, "a UUID is a string, as it encodes")

	assert.Error(t, validate(t, page.Schema, json.RawMessage(`{"page_id":"42","action":"edit","at":"2026-01-02T03:04:05Z","by":"x"}`)),
		"the schema is not vacuous")

	file := byID["test/file-added"]
	assert.JSONEq(t, `{"file":"/fileadmin/a.pdf","size":0}`, string(file.Example),
		"the example is the body JSONSerialize returns, not the message type")
	assert.Contains(t, string(file.Schema), `"file"`, "the schema is of the body")
	assert.NotContains(t, string(file.Schema), `"Path"`)

	assert.Nil(t, byID["test/raw"].Example)
	assert.NoError(t, validate(t, byID["test/raw"].Schema, json.RawMessage(`[1,"x"]`)), "raw JSON can be anything")

	custom := byID["test/custom"]
	assert.True(t, custom.PerTenant)
	assert.Contains(t, string(custom.Schema), `"required":["n"]`, "a type's own schema is used")
	assert.Error(t, validate(t, custom.Schema, json.RawMessage(`{}`)))
}

// Panics broken message types cause are caught and named; the catalog is
// complete all the same.
type brokenExample struct{}

func (brokenExample) JSONSerialize() any              { return nil }
func (brokenExample) WebhookExample() trigger.Message { panic("no example today") }

type panicky struct{ p *struct{ N int } }

func (m panicky) JSONSerialize() any { return m.p.N }

type badSchema struct{}

func (badSchema) JSONSerialize() any             { return 1 }
func (badSchema) WebhookSchema() json.RawMessage { return json.RawMessage(`{`) }

type unencodable struct{}

func (unencodable) JSONSerialize() any { return func() {} }

func TestCatalogSurvivesBrokenTypes(t *testing.T) {
	reg := trigger.NewRegistry()
	require.NoError(t, trigger.Register[brokenExample](reg, "x/broken-example", ""))
	require.NoError(t, trigger.Register[panicky](reg, "x/panicky", ""))
	require.NoError(t, trigger.Register[badSchema](reg, "x/bad-schema", ""))
	require.NoError(t, trigger.Register[unencodable](reg, "x/unencodable", ""))
	events, err := admin.Catalog(reg)
	require.Error(t, err)
	for _, id := range []string{"x/broken-example", "x/panicky", "x/bad-schema", "x/unencodable"} {
		assert.Contains(t, err.Error(), id)
	}
	require.Len(t, events, 4)
	for _, ev := range events {
		assert.True(t, json.Valid(ev.Schema), ev.Identifier)
	}
}

func TestCatalogAPI(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, "portal:a", "GET", "/api/triggers", "")
	require.Equal(t, 200, w.Code)
	var body struct{ Triggers []admin.Event }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	require.Len(t, body.Triggers, 4)
	assert.Equal(t, "test/custom", body.Triggers[0].Identifier)
	w = f.do(t, "portal:a", "GET", "/triggers", "")
	require.Equal(t, 200, w.Code)
	assert.Contains(t, w.Body.String(), "test/page-updated")
	assert.Contains(t, w.Body.String(), "&#34;page_id&#34;: 42", "the example is shown, escaped")
}

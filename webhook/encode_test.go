package webhook_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/outhook/outhook/webhook"
)

func TestEncode(t *testing.T) {
	body, err := webhook.Encode(pageUpdated{ID: 1, Title: "<b>"})
	assert.NoError(t, err)
	assert.Equal(t, `{"id":1,"title":"<b>"}`, string(body), "no HTML escaping, no newline")
	body, err = webhook.Encode(rawMessage(`{"a": 1}`))
	assert.NoError(t, err)
	assert.Equal(t, `{"a": 1}`, string(body), "a json.RawMessage as it is")

	for name, tc := range map[string]struct {
		msg  any
		want error
	}{
		"nil pointer":  {(*pageUpdated)(nil), webhook.ErrNilMessage},
		"invalid raw":  {rawMessage(`{"a":`), webhook.ErrEncode},
		"panic":        {panicky{}, webhook.ErrEncode},
		"unencodable":  {rawValue{make(chan int)}, webhook.ErrEncode},
		"json.Marshal": {rawValue{json.RawMessage(`[1,2]`)}, nil},
	} {
		_, err := webhook.Encode(tc.msg.(interface{ JSONSerialize() any }))
		if tc.want == nil {
			assert.NoError(t, err, name)
			continue
		}
		assert.ErrorIs(t, err, tc.want, name)
	}
}

// rawValue serializes as its value.
type rawValue struct{ v any }

func (r rawValue) JSONSerialize() any { return r.v }

package trigger_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/trigger"
)

type pageUpdated struct{ ID int }

func (p pageUpdated) JSONSerialize() any { return map[string]int{"id": p.ID} }

type fileAdded struct{ Path string }

func (f *fileAdded) JSONSerialize() any { return f }

type raw json.RawMessage

func (r raw) JSONSerialize() any { return json.RawMessage(r) }

func TestRegister(t *testing.T) {
	r := trigger.NewRegistry()
	require.NoError(t, trigger.Register[pageUpdated](r, "myapp/page-updated", "A page changed"))
	require.NoError(t, trigger.Register[*fileAdded](r, "myapp/file-added", "A file was added"))

	tests := []struct {
		name string
		err  error
		reg  func() error
	}{
		{"duplicate identifier", trigger.ErrDuplicate, func() error { return trigger.Register[raw](r, "myapp/page-updated", "") }},
		{"duplicate type", trigger.ErrDuplicate, func() error { return trigger.Register[pageUpdated](r, "myapp/other", "") }},
		{"duplicate type through pointer", trigger.ErrDuplicate, func() error { return trigger.Register[*pageUpdated](r, "myapp/other", "") }},
		{"empty identifier", trigger.ErrInvalidIdentifier, func() error { return trigger.Register[raw](r, "", "") }},
		{"space", trigger.ErrInvalidIdentifier, func() error { return trigger.Register[raw](r, "my app", "") }},
		{"leading slash", trigger.ErrInvalidIdentifier, func() error { return trigger.Register[raw](r, "/x", "") }},
		{"trailing slash", trigger.ErrInvalidIdentifier, func() error { return trigger.Register[raw](r, "x/", "") }},
		{"empty segment", trigger.ErrInvalidIdentifier, func() error { return trigger.Register[raw](r, "a//b", "") }},
		{"segment starts with dash", trigger.ErrInvalidIdentifier, func() error { return trigger.Register[raw](r, "a/-b", "") }},
		{"non-ascii", trigger.ErrInvalidIdentifier, func() error { return trigger.Register[raw](r, "päge", "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, tt.reg(), tt.err)
		})
	}
	assert.Len(t, r.Triggers(), 2, "failed registrations must not change the registry")
}

func TestLookup(t *testing.T) {
	r := trigger.NewRegistry()
	require.NoError(t, trigger.Register[pageUpdated](r, "myapp/page-updated", "A page changed"))
	require.NoError(t, trigger.Register[*fileAdded](r, "myapp/file-added", "A file was added"))

	tests := []struct {
		name string
		msg  trigger.Message
		want string
		err  error
	}{
		{"value", pageUpdated{ID: 1}, "myapp/page-updated", nil},
		{"pointer to registered value type", &pageUpdated{ID: 1}, "myapp/page-updated", nil},
		{"registered as pointer", &fileAdded{}, "myapp/file-added", nil},
		{"unregistered", raw(`{}`), "", trigger.ErrUnknownTrigger},
		{"nil", nil, "", trigger.ErrUnknownTrigger},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Lookup(tt.msg)
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Identifier)
		})
	}

	got, err := r.Get("myapp/file-added")
	require.NoError(t, err)
	assert.Equal(t, "A file was added", got.Description)
	_, err = r.Get("nope")
	assert.ErrorIs(t, err, trigger.ErrUnknownTrigger)
}

func TestTriggersSorted(t *testing.T) {
	r := trigger.NewRegistry()
	require.NoError(t, trigger.Register[pageUpdated](r, "b/page", "page"))
	require.NoError(t, trigger.Register[*fileAdded](r, "a/file", "file"))
	require.NoError(t, trigger.Register[raw](r, "c/raw", "raw"))
	var ids []string
	for _, tr := range r.Triggers() {
		ids = append(ids, tr.Identifier)
	}
	assert.Equal(t, []string{"a/file", "b/page", "c/raw"}, ids)
}

func TestMessageType(t *testing.T) {
	r := trigger.NewRegistry()
	_, err := r.MessageType("a/file")
	assert.ErrorIs(t, err, trigger.ErrUnknownTrigger, "the zero Registry knows nothing")
	require.NoError(t, trigger.Register[pageUpdated](r, "b/page", "page"))
	require.NoError(t, trigger.Register[*fileAdded](r, "a/file", "file"))

	typ, err := r.MessageType("b/page")
	require.NoError(t, err)
	assert.Equal(t, reflect.TypeOf(pageUpdated{}), typ)
	typ, err = r.MessageType("a/file")
	require.NoError(t, err)
	assert.Equal(t, reflect.TypeOf(&fileAdded{}), typ, "a type registered as a pointer comes back as one")
	assert.True(t, typ.Implements(reflect.TypeOf((*trigger.Message)(nil)).Elem()))

	_, err = r.MessageType("c/raw")
	assert.ErrorIs(t, err, trigger.ErrUnknownTrigger)
	require.Error(t, trigger.Register[raw](r, "b/page", "taken"))
	_, err = r.MessageType("c/raw")
	assert.ErrorIs(t, err, trigger.ErrUnknownTrigger, "a failed Register leaves no type behind")
}

func TestRegistryConcurrent(t *testing.T) {
	r := trigger.NewRegistry()
	require.NoError(t, trigger.Register[pageUpdated](r, "myapp/page-updated", ""))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				_, err := r.Lookup(pageUpdated{})
				assert.NoError(t, err)
				_ = r.Triggers()
				_ = trigger.Register[raw](r, fmt.Sprintf("x/%d-%d", i, j), "")
			}
		}(i)
	}
	wg.Wait()
	// Only the first registration of raw can succeed.
	assert.Len(t, r.Triggers(), 2)
}

// The zero Registry is usable, as http.ServeMux's is: every method works on
// it, and the first Register creates its maps even under concurrent use.
func TestZeroRegistry(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, r *trigger.Registry)
	}{
		{"Triggers is empty", func(t *testing.T, r *trigger.Registry) {
			assert.Empty(t, r.Triggers())
		}},
		{"Get finds nothing", func(t *testing.T, r *trigger.Registry) {
			_, err := r.Get("myapp/page-updated")
			assert.ErrorIs(t, err, trigger.ErrUnknownTrigger)
		}},
		{"Lookup finds nothing", func(t *testing.T, r *trigger.Registry) {
			_, err := r.Lookup(pageUpdated{})
			assert.ErrorIs(t, err, trigger.ErrUnknownTrigger)
			_, err = r.Lookup(nil)
			assert.ErrorIs(t, err, trigger.ErrUnknownTrigger)
		}},
		{"Register then read", func(t *testing.T, r *trigger.Registry) {
			require.NoError(t, trigger.Register[pageUpdated](r, "myapp/page-updated", "A page changed"))
			got, err := r.Lookup(&pageUpdated{})
			require.NoError(t, err)
			assert.Equal(t, trigger.Trigger{Identifier: "myapp/page-updated", Description: "A page changed",
				Type: "trigger_test.pageUpdated"}, got)
			got, err = r.Get("myapp/page-updated")
			require.NoError(t, err)
			assert.Equal(t, "A page changed", got.Description)
			assert.Equal(t, []trigger.Trigger{got}, r.Triggers())
		}},
		{"Register refuses duplicates", func(t *testing.T, r *trigger.Registry) {
			require.NoError(t, trigger.Register[pageUpdated](r, "myapp/page-updated", ""))
			assert.ErrorIs(t, trigger.Register[raw](r, "myapp/page-updated", ""), trigger.ErrDuplicate)
			assert.ErrorIs(t, trigger.Register[pageUpdated](r, "myapp/other", ""), trigger.ErrDuplicate)
		}},
		{"Register refuses invalid identifiers", func(t *testing.T, r *trigger.Registry) {
			assert.ErrorIs(t, trigger.Register[raw](r, "a//b", ""), trigger.ErrInvalidIdentifier)
			assert.Empty(t, r.Triggers())
		}},
		{"concurrent Register and Lookup", func(t *testing.T, r *trigger.Registry) {
			regs := []func() error{
				func() error { return trigger.Register[pageUpdated](r, "myapp/page-updated", "") },
				func() error { return trigger.Register[*fileAdded](r, "myapp/file-added", "") },
				func() error { return trigger.Register[raw](r, "myapp/raw", "") },
			}
			start := make(chan struct{})
			var registered atomic.Int32
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start // all at once, so that the first Register races the reads
					for _, reg := range regs {
						_, err := r.Lookup(pageUpdated{})
						if err != nil {
							assert.ErrorIs(t, err, trigger.ErrUnknownTrigger)
						}
						_, _ = r.Get("myapp/raw")
						_ = r.Triggers()
						switch err := reg(); {
						case err == nil:
							registered.Add(1)
						default:
							assert.ErrorIs(t, err, trigger.ErrDuplicate)
						}
					}
				}()
			}
			close(start)
			wg.Wait()
			assert.EqualValues(t, len(regs), registered.Load(), "each registration succeeds once")
			assert.Len(t, r.Triggers(), len(regs))
			_, err := r.Lookup(&fileAdded{})
			assert.NoError(t, err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r trigger.Registry
			tt.run(t, &r)
		})
	}
}

func ExampleRegister() {
	reg := trigger.NewRegistry()
	err := trigger.Register[pageUpdated](reg, "myapp/page-updated", "A page was created, updated or deleted")
	fmt.Println(err)

	t, _ := reg.Lookup(pageUpdated{ID: 7})
	fmt.Println(t.Identifier, "-", t.Description)
	// Output:
	// <nil>
	// myapp/page-updated - A page was created, updated or deleted
}

// A Registry needs no constructor: the zero value is empty and ready.
func ExampleRegistry() {
	var reg trigger.Registry
	_ = trigger.Register[pageUpdated](&reg, "myapp/page-updated", "A page changed")
	for _, t := range reg.Triggers() {
		fmt.Println(t.Identifier, "-", t.Description)
	}
	// Output:
	// myapp/page-updated - A page changed
}

func FuzzValidateIdentifier(f *testing.F) {
	for _, s := range []string{"myapp/page-updated", "typo3/folder-added", "a", "", "/", "a//b", "a/-b", "päge", "x/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if trigger.ValidateIdentifier(s) != nil {
			return
		}
		// Whatever it accepts, Register takes, and Get finds.
		r := trigger.NewRegistry()
		if err := trigger.Register[pageUpdated](r, s, ""); err != nil {
			t.Fatalf("valid identifier %q refused by Register: %v", s, err)
		}
		if _, err := r.Get(s); err != nil {
			t.Fatalf("Get(%q): %v", s, err)
		}
	})
}

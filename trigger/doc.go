// Package trigger maps the application's typed webhook messages to trigger
// identifiers such as "myapp/page-updated".
//
// A message is any Go type with a JSONSerialize method; the value it returns is
// what a webhook receiver gets as the JSON body. Each message type is registered
// once, under one identifier, with a description shown to administrators:
//
//	reg := trigger.NewRegistry()
//	err := trigger.Register[PageUpdated](reg, "myapp/page-updated", "A page was created, updated or deleted")
//
// The zero Registry is ready to use too, so it can be a field of a larger
// struct without a constructor.
package trigger

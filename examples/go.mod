module github.com/outhook/outhook/examples

go 1.26.0

require (
	github.com/google/uuid v1.6.0
	github.com/outhook/outhook v0.0.0-00010101000000-000000000000
	github.com/outhook/outhook/webhook/admin v0.0.0-00010101000000-000000000000
	github.com/outhook/outhook/webhook/outbox v0.0.0-00010101000000-000000000000
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/bahlo/generic-list-go v0.2.0 // indirect
	github.com/buger/jsonparser v1.1.2 // indirect
	github.com/cenkalti/backoff/v4 v4.3.0 // indirect
	github.com/dustin/go-humanize v1.1.0 // indirect
	github.com/invopop/jsonschema v0.14.0 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/ncruces/go-strftime v1.1.0 // indirect
	github.com/outhook/outhook/transport/durable v0.0.0-00010101000000-000000000000 // indirect
	github.com/outhook/outhook/webhook/sqlstore v0.0.0-00010101000000-000000000000 // indirect
	github.com/pb33f/ordered-map/v2 v2.3.1 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	github.com/riverqueue/river v0.51.2 // indirect
	github.com/riverqueue/river/riverdriver v0.51.2 // indirect
	github.com/riverqueue/river/riverdriver/riversqlite v0.51.2 // indirect
	github.com/riverqueue/river/rivershared v0.51.2 // indirect
	github.com/riverqueue/river/rivertype v0.51.2 // indirect
	github.com/tidwall/gjson v1.20.0 // indirect
	github.com/tidwall/match v1.2.0 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
	github.com/tidwall/sjson v1.2.5 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	go.yaml.in/yaml/v4 v4.0.0-rc.2 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	golang.org/x/time v0.10.0 // indirect
	modernc.org/libc v1.80.1 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
	modernc.org/sqlite v1.62.0 // indirect
)

replace github.com/outhook/outhook => ..

replace (
	github.com/outhook/outhook/internal/pgtest => ../internal/pgtest
	github.com/outhook/outhook/transport/durable => ../transport/durable
	github.com/outhook/outhook/webhook/outbox => ../webhook/outbox
	github.com/outhook/outhook/webhook/sqlstore => ../webhook/sqlstore
)

replace github.com/outhook/outhook/webhook/admin => ../webhook/admin

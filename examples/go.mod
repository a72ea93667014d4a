module github.com/outhook/outhook/examples

go 1.26.0

require github.com/outhook/outhook v0.0.0-00010101000000-000000000000

replace github.com/outhook/outhook => ..

replace (
	github.com/outhook/outhook/internal/pgtest => ../internal/pgtest
	github.com/outhook/outhook/transport/durable => ../transport/durable
	github.com/outhook/outhook/webhook/outbox => ../webhook/outbox
	github.com/outhook/outhook/webhook/sqlstore => ../webhook/sqlstore
)

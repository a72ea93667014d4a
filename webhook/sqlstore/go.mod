module github.com/outhook/outhook/webhook/sqlstore

go 1.26.0

require github.com/outhook/outhook v0.0.0-00010101000000-000000000000

replace github.com/outhook/outhook => ../..

replace github.com/outhook/outhook/internal/pgtest => ../../internal/pgtest

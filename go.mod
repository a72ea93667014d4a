module github.com/outhook/outhook

go 1.22

require (
	github.com/cenkalti/backoff/v4 v4.3.0
	github.com/google/uuid v1.6.0
	github.com/standard-webhooks/standard-webhooks/libraries v0.0.1
	github.com/stretchr/testify v1.12.1
	golang.org/x/time v0.10.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect

package sqlstore

import "github.com/outhook/outhook/webhook"

// AttemptsQuery is the query Log.Attempts runs, for the EXPLAIN tests.
func AttemptsQuery(d Dialect, q webhook.AttemptQuery, before int64, limit int) (string, []any) {
	query, args := attemptsQuery(d, q, before, limit)
	return d.rebind(query), args
}

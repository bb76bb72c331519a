package dmapi

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
)

// scanPageSize is the page size the Find helpers ask for. The API documents
// no maximum; a server that caps it still pages correctly, because scan
// counts the items it has seen instead of trusting page arithmetic.
const scanPageSize = 500

// scan pages through a list from page 1 and returns the first item match
// accepts, or nil when no page holds one. It stops at an empty page, once
// count items were seen or, when the envelope has no count, at the last
// page; it never follows the envelope's links.
func scan[T any](ctx context.Context, list func(ctx context.Context, page int) (Page[T], error), match func(*T) bool) (*T, error) {
	seen := 0
	for page := 1; ; page++ {
		p, err := list(ctx, page)
		if err != nil {
			return nil, err
		}
		for i := range p.Results {
			if match(&p.Results[i]) {
				return &p.Results[i], nil
			}
		}
		seen += len(p.Results)
		switch {
		case len(p.Results) == 0:
			return nil, nil
		case p.Count > 0 && seen >= p.Count:
			return nil, nil
		case p.Count == 0 && !p.HasNext():
			return nil, nil
		}
	}
}

// setInt sets name to n when n is positive.
func setInt(q url.Values, name string, n int64) {
	if n > 0 {
		q.Set(name, strconv.FormatInt(n, 10))
	}
}

// setStr sets name to s when s is not empty.
func setStr(q url.Values, name, s string) {
	if s != "" {
		q.Set(name, s)
	}
}

// setPage sets page and page_size when they are positive.
func setPage(q url.Values, page, pageSize int) {
	setInt(q, "page", int64(page))
	setInt(q, "page_size", int64(pageSize))
}

// bodyQuery copies the named fields of a request body that the API also
// wants as query parameters. Numbers decoded from JSON (float64) keep their
// integer form: 1000000, not 1e+06.
func bodyQuery(body map[string]any, names ...string) url.Values {
	q := url.Values{}
	for _, name := range names {
		switch v := body[name].(type) {
		case nil:
		case float64:
			q.Set(name, strconv.FormatFloat(v, 'f', -1, 64))
		case string:
			setStr(q, name, v)
		default:
			q.Set(name, fmt.Sprint(v))
		}
	}
	return q
}

package dmapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// scanPageSize is the page size the Find helpers ask for. The API documents
// no maximum; a server that caps it still pages correctly, because [Each]
// counts the items it has seen instead of trusting page arithmetic.
const scanPageSize = 500

// ErrTooMany is the error of [Each] for a list that holds more items than
// its limit.
var ErrTooMany = errors.New("the list holds more items than the limit")

// Each calls visit with the items of a paged list in order, from page 1,
// until visit returns false or the list ends. list returns one page by its
// 1-based number. The list ends:
//   - at an empty page;
//   - once count items were seen, when the envelope has a count;
//   - at the last page (no next or next_page link), when it has none;
//   - at a 404 for a page past page 1 (DRF's "Invalid page", as when the
//     list shrank while being read).
//
// It never follows the envelope's links, which may name another host.
//
// With limit > 0, a list whose count is more than limit ends with
// [ErrTooMany] before any item is visited; when the envelope has no count,
// it ends with ErrTooMany before the page that would take it past limit,
// so visit never sees more than limit items. Other errors of list are
// returned as they are: the caller decides on retries.
func Each[T any](ctx context.Context, limit int, list func(ctx context.Context, page int) (Page[T], error), visit func(*T) bool) error {
	seen := 0
	for page := 1; ; page++ {
		p, err := list(ctx, page)
		switch {
		case err != nil && page > 1 && StatusOf(err) == http.StatusNotFound:
			return nil
		case err != nil:
			return err
		case limit > 0 && (p.Count > limit || seen+len(p.Results) > limit):
			return ErrTooMany
		}
		for i := range p.Results {
			if !visit(&p.Results[i]) {
				return nil
			}
		}
		seen += len(p.Results)
		switch {
		case len(p.Results) == 0:
			return nil
		case p.Count > 0 && seen >= p.Count:
			return nil
		case p.Count == 0 && !p.HasNext():
			return nil
		}
	}
}

// first returns the first item of a paged list (see [Each]) that match
// accepts, or nil when none does.
func first[T any](ctx context.Context, list func(ctx context.Context, page int) (Page[T], error), match func(*T) bool) (*T, error) {
	var found *T
	err := Each(ctx, 0, list, func(it *T) bool {
		if match(it) {
			found = it
		}
		return found == nil
	})
	return found, err
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

package sandbox

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// Catalog list pagination (DRF PageNumberPagination).
const (
	defaultPageSize = 20
	maxPageSize     = 1000
)

// pageRequest is a parsed page/page_size pair.
type pageRequest struct {
	number, size int
}

// parsePage reads page and page_size like DRF: an invalid page is a 404
// "Invalid page."; an invalid page_size falls back to the default and a large
// one is capped.
func parsePage(q url.Values) (pageRequest, *response) {
	pr := pageRequest{number: 1, size: defaultPageSize}
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			resp := notFound("Invalid page.")
			return pr, &resp
		}
		pr.number = n
	}
	if n, err := strconv.Atoi(q.Get("page_size")); err == nil && n > 0 {
		pr.size = min(n, maxPageSize)
	}
	return pr, nil
}

// bounds returns the slice [start, end) of total items on the page. A page
// past the end, except page 1, is a 404.
func (pr pageRequest) bounds(total int) (int, int, *response) {
	if pages := max(1, (total+pr.size-1)/pr.size); pr.number > pages {
		resp := notFound("Invalid page.")
		return 0, 0, &resp
	}
	start := (pr.number - 1) * pr.size
	return start, min(start+pr.size, total), nil
}

// links returns the absolute URLs of the next and previous pages, or nil.
func (pr pageRequest) links(r *http.Request, total int) (next, previous *string) {
	if pr.number*pr.size < total {
		next = pageURL(r, map[string]string{"page": strconv.Itoa(pr.number + 1)})
	}
	switch {
	case pr.number == 2:
		previous = pageURL(r, map[string]string{"page": ""})
	case pr.number > 2:
		previous = pageURL(r, map[string]string{"page": strconv.Itoa(pr.number - 1)})
	}
	return next, previous
}

// pageURL is the absolute URL of r with the query parameters in set replaced;
// an empty value removes the parameter.
func pageURL(r *http.Request, set map[string]string) *string {
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	q := r.URL.Query()
	for key, value := range set {
		if value == "" {
			q.Del(key)
		} else {
			q.Set(key, value)
		}
	}
	u.RawQuery = q.Encode()
	s := u.String()
	return &s
}

// page is the catalog list envelope of the OpenAPI schema's Paginated*
// models: the links are named next_page and previous_page.
type page struct {
	Count        int     `json:"count"`
	NextPage     *string `json:"next_page"`
	PreviousPage *string `json:"previous_page"`
	Results      any     `json:"results"`
}

// paginate returns the page of items requested by r's query, or an error
// response. render converts the items on the page.
func paginate[T, R any](r *http.Request, items []T, render func(T) R) (page, *response) {
	pr, errResp := parsePage(r.URL.Query())
	if errResp != nil {
		return page{}, errResp
	}
	start, end, errResp := pr.bounds(len(items))
	if errResp != nil {
		return page{}, errResp
	}
	results := make([]R, 0, end-start)
	for _, it := range items[start:end] {
		results = append(results, render(it))
	}
	next, prev := pr.links(r, len(items))
	return page{Count: len(items), NextPage: next, PreviousPage: prev, Results: results}, nil
}

// readSort reads sort: "id" or "-id". It reports whether the order is
// descending.
func readSort(q url.Values, defaultDescending bool) (bool, *response) {
	switch q.Get("sort") {
	case "":
		return defaultDescending, nil
	case "id":
		return false, nil
	case "-id":
		return true, nil
	}
	resp := fieldError("sort", "Select a valid choice. Allowed: id, -id.")
	return false, &resp
}

// firstOf returns the first non-empty value among the names.
func firstOf(q url.Values, names ...string) string {
	for _, n := range names {
		if v := q.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// sortByID sorts items by the id key returns.
func sortByID[T any](items []T, id func(T) int, descending bool) {
	slices.SortFunc(items, func(a, b T) int {
		if descending {
			return cmp.Compare(id(b), id(a))
		}
		return cmp.Compare(id(a), id(b))
	})
}

package dmapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/bulksync/bulksync/dmapi"
	"github.com/stretchr/testify/require"
)

// errInvalidPage is DRF's answer for a page past the end.
var errInvalidPage = &dmapi.Error{Op: "list", Status: http.StatusNotFound, Message: "Invalid page."}

// pages is a fake paged list: page n is pages[n-1]; a page past the end
// answers 404 "Invalid page." as DRF does, and errs replaces a page by an
// error.
type pages struct {
	pages   []dmapi.Page[int]
	errs    map[int]error
	fetched []int // the page numbers asked for
}

func (l *pages) list(_ context.Context, page int) (dmapi.Page[int], error) {
	l.fetched = append(l.fetched, page)
	if err := l.errs[page]; err != nil {
		return dmapi.Page[int]{}, err
	}
	if page > len(l.pages) {
		return dmapi.Page[int]{}, errInvalidPage
	}
	return l.pages[page-1], nil
}

func TestEach(t *testing.T) {
	t.Parallel()
	errBoom := &dmapi.Error{Op: "list", Status: http.StatusServiceUnavailable}
	for _, tt := range []struct {
		name        string
		pages       []dmapi.Page[int]
		errs        map[int]error
		limit       int
		stopAt      int // visit returns false for this item; 0: never
		wantItems   []int
		wantFetched []int
		wantErr     error
	}{
		{
			name:        "NextLinksWithoutCount",
			pages:       []dmapi.Page[int]{{Next: "p2", Results: []int{1, 2}}, {Next: "p3", Results: []int{3, 4}}, {Results: []int{5}}},
			wantItems:   []int{1, 2, 3, 4, 5},
			wantFetched: []int{1, 2, 3},
		},
		{
			name:        "NextPageLinksWithoutCount",
			pages:       []dmapi.Page[int]{{NextPage: "p2", Results: []int{1, 2}}, {PreviousPage: "p1", Results: []int{3}}},
			wantItems:   []int{1, 2, 3},
			wantFetched: []int{1, 2},
		},
		{
			name: "CountEndsBeforeTheLinks",
			pages: []dmapi.Page[int]{
				{Count: 3, NextPage: "p2", Results: []int{1, 2}},
				{Count: 3, NextPage: "p3", Results: []int{3}},
				{Count: 3, Results: []int{9}},
			},
			wantItems:   []int{1, 2, 3},
			wantFetched: []int{1, 2},
		},
		{
			name:        "CountWithoutLinks",
			pages:       []dmapi.Page[int]{{Count: 4, Results: []int{1, 2}}, {Count: 4, Results: []int{3, 4}}},
			wantItems:   []int{1, 2, 3, 4},
			wantFetched: []int{1, 2},
		},
		{
			name:        "EmptyPageEnds",
			pages:       []dmapi.Page[int]{{Count: 10, Next: "p2", Results: []int{1}}, {Count: 10, Next: "p3"}},
			wantItems:   []int{1},
			wantFetched: []int{1, 2},
		},
		{
			name:        "EmptyList",
			pages:       []dmapi.Page[int]{{}},
			wantFetched: []int{1},
		},
		{
			name:        "NotFoundPastPageOneEnds",
			pages:       []dmapi.Page[int]{{Count: 5, Next: "p2", Results: []int{1, 2}}},
			wantItems:   []int{1, 2},
			wantFetched: []int{1, 2},
		},
		{
			name:        "NotFoundOnPageOneFails",
			wantFetched: []int{1},
			wantErr:     errInvalidPage,
		},
		{
			name:        "ErrorIsReturned",
			pages:       []dmapi.Page[int]{{Next: "p2", Results: []int{1}}, {Results: []int{2}}},
			errs:        map[int]error{2: errBoom},
			wantItems:   []int{1},
			wantFetched: []int{1, 2},
			wantErr:     errBoom,
		},
		{
			name:        "VisitStops",
			pages:       []dmapi.Page[int]{{Count: 4, Results: []int{1, 2}}, {Count: 4, Results: []int{3, 4}}},
			stopAt:      2,
			wantItems:   []int{1, 2},
			wantFetched: []int{1},
		},
		{
			name:        "CountOverLimit",
			pages:       []dmapi.Page[int]{{Count: 4, Results: []int{1, 2}}, {Count: 4, Results: []int{3, 4}}},
			limit:       3,
			wantFetched: []int{1},
			wantErr:     dmapi.ErrTooMany,
		},
		{
			name:        "CountAtLimit",
			pages:       []dmapi.Page[int]{{Count: 4, Results: []int{1, 2}}, {Count: 4, Results: []int{3, 4}}},
			limit:       4,
			wantItems:   []int{1, 2, 3, 4},
			wantFetched: []int{1, 2},
		},
		{
			name:        "NoCountOverLimit",
			pages:       []dmapi.Page[int]{{NextPage: "p2", Results: []int{1, 2}}, {NextPage: "p3", Results: []int{3, 4}}, {Results: []int{5}}},
			limit:       3,
			wantItems:   []int{1, 2},
			wantFetched: []int{1, 2},
			wantErr:     dmapi.ErrTooMany,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := &pages{pages: tt.pages, errs: tt.errs}
			var items []int
			err := dmapi.Each(t.Context(), tt.limit, l.list, func(it *int) bool {
				items = append(items, *it)
				return *it != tt.stopAt
			})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.wantItems, items)
			require.Equal(t, tt.wantFetched, l.fetched)
		})
	}
}

// TestPageEnvelopes checks that both list envelopes decode, with or
// without a count.
func TestPageEnvelopes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		body     string
		wantNext bool
		want     dmapi.Page[int]
	}{
		{
			name:     "NextPrevious",
			body:     `{"count": 5, "next": "https://x/?page=3", "previous": "https://x/", "results": [3, 4]}`,
			wantNext: true,
			want:     dmapi.Page[int]{Count: 5, Next: "https://x/?page=3", Previous: "https://x/", Results: []int{3, 4}},
		},
		{
			name:     "NextPagePreviousPage",
			body:     `{"count": 5, "next_page": "https://x/?page=3", "previous_page": "https://x/", "results": [3, 4]}`,
			wantNext: true,
			want:     dmapi.Page[int]{Count: 5, NextPage: "https://x/?page=3", PreviousPage: "https://x/", Results: []int{3, 4}},
		},
		{
			name: "LastPage",
			body: `{"count": 5, "next_page": null, "previous_page": "https://x/?page=2", "results": [5]}`,
			want: dmapi.Page[int]{Count: 5, PreviousPage: "https://x/?page=2", Results: []int{5}},
		},
		{
			name: "NoCount",
			body: `{"next": null, "previous": null, "results": [1]}`,
			want: dmapi.Page[int]{Results: []int{1}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p dmapi.Page[int]
			require.NoError(t, json.Unmarshal([]byte(tt.body), &p))
			require.Equal(t, tt.want, p)
			require.Equal(t, tt.wantNext, p.HasNext())
		})
	}
}

// ExampleEach reads a list whole, refusing one longer than 1000 items.
func ExampleEach() {
	// list stands for a List method of the client, such as ListLicenses
	// with opts.Page = page.
	list := func(_ context.Context, page int) (dmapi.Page[string], error) {
		all := []string{"a", "b", "c"}
		start := min((page-1)*2, len(all))
		p := dmapi.Page[string]{Count: len(all), Results: all[start:min(start+2, len(all))]}
		if start+2 < len(all) {
			p.NextPage = fmt.Sprintf("?page=%d", page+1)
		}
		return p, nil
	}
	var got []string
	err := dmapi.Each(context.Background(), 1000, list, func(s *string) bool {
		got = append(got, *s)
		return true
	})
	switch {
	case errors.Is(err, dmapi.ErrTooMany):
		fmt.Println("too long to read whole")
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println(got)
	}
	// Output: [a b c]
}

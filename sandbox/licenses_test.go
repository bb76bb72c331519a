package sandbox

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	programLicensesPath = "/api/catalog/licenses/program/"
	userLicensesPath    = "/api/catalog/licenses/user/"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})

	tests := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"Missing", nil, "Authentication credentials were not provided."},
		{"BearerScheme", http.Header{"Authorization": {"Bearer " + testToken}}, "Authentication credentials were not provided."},
		{"NoToken", http.Header{"Authorization": {"Api-Token"}}, "Invalid token header. No credentials provided."},
		{"Spaces", http.Header{"Authorization": {"Api-Token a b"}}, "Invalid token header. Token string should not contain spaces."},
		{"WrongToken", http.Header{"Authorization": {"Api-Token nope"}}, "Invalid token."},
		{"PrefixOfToken", http.Header{"Authorization": {"Api-Token " + testToken[:5]}}, "Invalid token."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := b.callWith(t, http.MethodPost, programLicensesPath+"create/", programLicense("x"), tt.header)
			requireStatus(t, http.StatusUnauthorized, res)
			require.Equal(t, map[string]any{"detail": tt.want}, res.body)
			require.Equal(t, "Api-Token", res.header.Get("WWW-Authenticate"))
			require.NotContains(t, string(res.raw), testToken)
		})
	}

	t.Run("SchemeIsCaseInsensitive", func(t *testing.T) {
		t.Parallel()
		res := b.callWith(t, http.MethodGet, programLicensesPath, nil, http.Header{"Authorization": {"api-token " + testToken}})
		requireStatus(t, http.StatusOK, res)
	})
	require.Zero(t, b.srv.Stats().ProgramLicenses)
}

func TestCreateLicense(t *testing.T) {
	t.Parallel()

	t.Run("Program", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		body := programLicense("ext-1")
		body["metadata"] = map[string]any{"tier": "gold", "seats": 10}
		body["expired"] = "2025-01-01T00:00:00Z"
		body["transaction_id"] = "tx-1"
		res := b.call(t, http.MethodPost, programLicensesPath+"create/", body)
		requireStatus(t, http.StatusOK, res)
		created := res.body["created"]
		require.NotEmpty(t, created)
		require.Equal(t, jsonOf(t, `{
			"id": 1, "created": "`+created.(string)+`", "started": "2024-01-01T00:00:00Z",
			"expired": "2025-01-01T00:00:00Z", "name": "Data program", "count": 10, "active": true,
			"metadata": {"tier": "gold", "seats": 10}, "source": "api",
			"external_id": "ext-1", "platform_key": "acme", "program_id": "program-v1:acme+data+2024",
			"program_key": "program-v1:acme+data+2024", "program_name": "program-v1:acme+data+2024",
			"usage_count": 0}`), res.body)
		stored, found := b.srv.License("program", "ext-1")
		require.True(t, found)
		require.Equal(t, "tx-1", stored.TransactionID)
		require.JSONEq(t, `{}`, string(stored.EnrollmentConfig))

		st := b.srv.Stats()
		require.Equal(t, 1, st.ProgramLicenses)
		require.Equal(t, int64(1), st.Creates)
		require.Equal(t, 1, st.History)
		hist := b.srv.History()
		require.Len(t, hist, 1)
		require.Equal(t, HistoryEntry{Kind: "program", LicenseID: 1, TransactionID: "tx-1", ChangeType: "create", At: hist[0].At}, hist[0])
	})

	t.Run("ProgramAlternativeFields", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		body := programLicense("")
		delete(body, "platform_key")
		delete(body, "program_key")
		body["platform_org"] = "acme-org"
		body["program_id"] = "program-v1:acme+x+1"
		body["count"] = "7"
		body["started"] = "2024-01-01 10:30"
		res := b.call(t, http.MethodPost, programLicensesPath+"create/", body)
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, "acme-org", res.body["platform_key"])
		require.Equal(t, "program-v1:acme+x+1", res.body["program_key"])
		require.Equal(t, float64(7), res.body["count"])
		require.Equal(t, "2024-01-01T10:30:00Z", res.body["started"])
		require.Nil(t, res.body["external_id"])
	})

	t.Run("UserDefaults", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		res := b.call(t, http.MethodPost, userLicensesPath+"create/", map[string]any{"platform_key": "acme"})
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, float64(0), res.body["count"])
		require.Equal(t, true, res.body["active"])
		require.Equal(t, "", res.body["name"])
		require.Equal(t, res.body["created"], res.body["started"])
		require.NotContains(t, res.body, "program_key")
		require.Equal(t, 1, b.srv.Stats().UserLicenses)
	})

	t.Run("DuplicateExternalID", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programLicensesPath+"create/", programLicense("dup")))
		res := b.call(t, http.MethodPost, programLicensesPath+"create/", programLicense("dup"))
		requireStatus(t, http.StatusBadRequest, res)
		require.Equal(t, jsonOf(t, `{"external_id": ["license with this external id already exists."]}`), res.body)
		// external ids are unique per kind only.
		requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, userLicensesPath+"create/",
			map[string]any{"platform_key": "acme", "external_id": "dup"}))
		require.Equal(t, int64(2), b.srv.Stats().Creates)
	})

	t.Run("UnknownProgram", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{Fixtures: &Fixtures{Programs: []string{"program-v1:known"}}})
		res := b.call(t, http.MethodPost, programLicensesPath+"create/", programLicense("x"))
		requireStatus(t, http.StatusBadRequest, res)
		require.Equal(t, jsonOf(t, `{"program_key": ["Program not found."]}`), res.body)
	})
}

func TestCreateLicenseValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})

	with := func(changes map[string]any, drop ...string) map[string]any {
		body := programLicense("")
		for k, v := range changes {
			body[k] = v
		}
		for _, k := range drop {
			delete(body, k)
		}
		return body
	}
	tests := []struct {
		name   string
		path   string
		body   any
		status int
		want   string
	}{
		{"MissingProgramKey", "program", with(nil, "program_key"), 400, `{"program_key": ["This field is required."]}`},
		{"MissingProgramFields", "program", map[string]any{"platform_key": "p"}, 400,
			`{"program_key": ["This field is required."], "name": ["This field is required."], "count": ["This field is required."], "started": ["This field is required."]}`},
		{"MissingPlatform", "program", with(nil, "platform_key"), 400,
			`{"platform_key": ["One of platform_key, platform_org or platform_id is required."]}`},
		{"UserMissingPlatform", "user", map[string]any{}, 400, `{"platform_key": ["This field is required."]}`},
		{"BlankPlatform", "user", map[string]any{"platform_key": " "}, 400, `{"platform_key": ["This field may not be blank."]}`},
		{"CountNotInteger", "program", with(map[string]any{"count": "ten"}), 400, `{"count": ["A valid integer is required."]}`},
		{"CountFraction", "program", with(map[string]any{"count": 1.5}), 400, `{"count": ["A valid integer is required."]}`},
		{"CountBool", "program", with(map[string]any{"count": true}), 400, `{"count": ["A valid integer is required."]}`},
		{"CountNegative", "program", with(map[string]any{"count": -1}), 400, `{"count": ["Ensure this value is greater than or equal to 0."]}`},
		{"CountNull", "program", with(map[string]any{"count": nil}), 400, `{"count": ["This field may not be null."]}`},
		{"StartedFormat", "program", with(map[string]any{"started": "01/02/2024"}), 400,
			`{"started": ["Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."]}`},
		{"StartedNumber", "user", map[string]any{"platform_key": "p", "started": 5}, 400,
			`{"started": ["Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."]}`},
		{"ExpiredBeforeStarted", "program", with(map[string]any{"expired": "2023-01-01T00:00:00Z"}), 400,
			`{"expired": ["Ensure expired is after started."]}`},
		{"MetadataString", "program", with(map[string]any{"metadata": "x"}), 400,
			`{"metadata": ["Expected a dictionary of items but got type \"str\"."]}`},
		{"MetadataList", "user", map[string]any{"platform_key": "p", "metadata": []int{1}}, 400,
			`{"metadata": ["Expected a dictionary of items but got type \"list\"."]}`},
		{"EnrollmentConfigInt", "user", map[string]any{"platform_key": "p", "enrollment_config": 3}, 400,
			`{"enrollment_config": ["Expected a dictionary of items but got type \"int\"."]}`},
		{"ActiveNotBool", "user", map[string]any{"platform_key": "p", "active": "maybe"}, 400, `{"active": ["Must be a valid boolean."]}`},
		{"NameObject", "program", with(map[string]any{"name": map[string]any{}}), 400, `{"name": ["Not a valid string."]}`},
		{"MalformedJSON", "program", `{"name":`, 400, `{"detail": "JSON parse error - unexpected end of JSON input"}`},
		{"NotAnObject", "user", `[1]`, 400, `{"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := b.call(t, http.MethodPost, "/api/catalog/licenses/"+tt.path+"/create/", tt.body)
			requireStatus(t, tt.status, res)
			require.Equal(t, jsonOf(t, tt.want), res.body)
		})
	}

	t.Run("UnsupportedMediaType", func(t *testing.T) {
		t.Parallel()
		res := b.callWith(t, http.MethodPost, userLicensesPath+"create/", "platform_key=p", http.Header{
			"Authorization": {"Api-Token " + testToken},
			"Content-Type":  {"text/plain"},
		})
		requireStatus(t, http.StatusUnsupportedMediaType, res)
		require.Equal(t, `Unsupported media type "text/plain" in request.`, res.body["detail"])
	})
	require.Zero(t, b.srv.Stats().Creates)
}

func TestUpdateLicense(t *testing.T) {
	t.Parallel()

	setupLicense := func(t *testing.T) *testBundle {
		t.Helper()
		b := setup(t, Config{})
		requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programLicensesPath+"create/", programLicense("ext-1")))
		return b
	}

	t.Run("ByLicenseID", func(t *testing.T) {
		t.Parallel()
		b := setupLicense(t)
		res := b.call(t, http.MethodPost, programLicensesPath+"update/", map[string]any{
			"license_id": 1, "count": 25, "active": false, "transaction_id": "tx-2", "platform_key": "ignored",
		})
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, float64(25), res.body["count"])
		require.Equal(t, false, res.body["active"])
		require.Equal(t, "acme", res.body["platform_key"])
		require.NotContains(t, res.body, "transaction_id")
		require.Equal(t, "ext-1", res.body["external_id"])
		stored, _ := b.srv.License("program", "ext-1")
		require.Equal(t, "tx-2", stored.TransactionID)
	})

	t.Run("ByExternalID", func(t *testing.T) {
		t.Parallel()
		b := setupLicense(t)
		res := b.call(t, http.MethodPost, programLicensesPath+"update/", map[string]any{
			"external_id": "ext-1", "name": "Renamed", "expired": "2030-01-01T00:00:00Z", "change_type": "renewal",
		})
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, "Renamed", res.body["name"])
		require.Equal(t, "2030-01-01T00:00:00Z", res.body["expired"])
		hist := b.srv.History()
		require.Len(t, hist, 2)
		require.Equal(t, "renewal", hist[1].ChangeType)
		require.Equal(t, []string{"name", "expired"}, hist[1].Changed)

		res = b.call(t, http.MethodPost, programLicensesPath+"update/", map[string]any{"external_id": "ext-1", "expired": nil})
		requireStatus(t, http.StatusOK, res)
		require.Nil(t, res.body["expired"])
	})

	t.Run("SetsExternalIDByLicenseID", func(t *testing.T) {
		t.Parallel()
		b := setupLicense(t)
		res := b.call(t, http.MethodPost, programLicensesPath+"update/", map[string]any{"license_id": 1, "external_id": "ext-2"})
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, "ext-2", res.body["external_id"])
		list := b.call(t, http.MethodGet, programLicensesPath+"?external_id=ext-2", nil)
		require.Equal(t, float64(1), list.body["count"])
		list = b.call(t, http.MethodGet, programLicensesPath+"?external_id=ext-1", nil)
		require.Equal(t, float64(0), list.body["count"])
	})

	t.Run("HistoryCounting", func(t *testing.T) {
		t.Parallel()
		b := setupLicense(t)
		for i := range 3 {
			res := b.call(t, http.MethodPost, programLicensesPath+"update/", map[string]any{"license_id": 1, "count": 10 + i})
			requireStatus(t, http.StatusOK, res)
		}
		st := b.srv.Stats()
		require.Equal(t, int64(1), st.Creates)
		require.Equal(t, int64(3), st.Updates)
		require.Equal(t, 4, st.History)
		hist := b.srv.History()
		require.Nil(t, hist[1].Changed) // count 10 -> 10
		require.Equal(t, []string{"count"}, hist[2].Changed)
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		b := setupLicense(t)
		tests := []struct {
			name   string
			path   string
			body   any
			status int
			want   string
		}{
			{"NoKey", "program", map[string]any{"count": 1}, 400, `{"non_field_errors": ["Either license_id or external_id is required."]}`},
			{"NullExternalID", "program", map[string]any{"external_id": nil}, 400, `{"non_field_errors": ["Either license_id or external_id is required."]}`},
			{"UnknownID", "program", map[string]any{"license_id": 99}, 404, `{"detail": "License not found."}`},
			{"UnknownExternalID", "program", map[string]any{"external_id": "nope"}, 404, `{"detail": "License not found."}`},
			{"OtherKind", "user", map[string]any{"license_id": 1}, 404, `{"detail": "License not found."}`},
			{"BadLicenseID", "program", map[string]any{"license_id": "one"}, 400, `{"license_id": ["A valid integer is required."]}`},
			{"BadCountBeforeLookup", "program", map[string]any{"license_id": 99, "count": -5}, 400, `{"count": ["Ensure this value is greater than or equal to 0."]}`},
			{"ProgramChange", "program", map[string]any{"license_id": 1, "program_key": "other"}, 400, `{"program_key": ["Cannot update the program associated with a license."]}`},
			{"ExpiredBeforeStored", "program", map[string]any{"license_id": 1, "expired": "2020-01-01T00:00:00Z"}, 400, `{"expired": ["Ensure expired is after started."]}`},
		}
		for _, tt := range tests {
			res := b.call(t, http.MethodPost, "/api/catalog/licenses/"+tt.path+"/update/", tt.body)
			requireStatus(t, tt.status, res)
			require.Equal(t, jsonOf(t, tt.want), res.body, tt.name)
		}
		require.Zero(t, b.srv.Stats().Updates)
	})

	t.Run("ExternalIDTaken", func(t *testing.T) {
		t.Parallel()
		b := setupLicense(t)
		requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programLicensesPath+"create/", programLicense("ext-2")))
		res := b.call(t, http.MethodPost, programLicensesPath+"update/", map[string]any{"license_id": 2, "external_id": "ext-1"})
		requireStatus(t, http.StatusBadRequest, res)
		require.Equal(t, jsonOf(t, `{"external_id": ["license with this external id already exists."]}`), res.body)
	})
}

func TestListLicenses(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	for i := 1; i <= 45; i++ {
		body := programLicense(fmt.Sprintf("ext-%d", i))
		body["name"] = fmt.Sprintf("License %d", i)
		if i%3 == 0 {
			body["platform_key"] = "other"
			body["active"] = false
		}
		requireStatus(t, http.StatusOK, b.call(t, http.MethodPost, programLicensesPath+"create/", body))
	}

	ids := func(res result) []int {
		var out []int
		for _, r := range res.body["results"].([]any) {
			out = append(out, int(r.(map[string]any)["id"].(float64)))
		}
		return out
	}

	tests := []struct {
		name    string
		query   string
		count   int
		ids     []int
		hasNext bool
		hasPrev bool
	}{
		{"ByExternalID", "external_id=ext-7", 1, []int{7}, false, false},
		{"ByExternalIDOtherPlatform", "external_id=ext-6&platform_key=acme", 0, nil, false, false},
		{"UnknownExternalID", "external_id=none", 0, nil, false, false},
		{"NameExact", "name=License+4", 1, []int{4}, false, false},
		{"QueryContains", "query=license+4&sort=id", 7, []int{4, 40, 41, 42, 43, 44, 45}, false, false},
		{"PlatformAlias", "key=other&page_size=3", 15, []int{45, 42, 39}, true, false},
		{"OrgAlias", "org=other&page_size=3&page=5", 15, []int{9, 6, 3}, false, true},
		{"Inactive", "active=false&sort=id&page_size=2", 15, []int{3, 6}, true, false},
		{"Active", "active=true&page_size=1000", 30, nil, false, false},
		{"Source", "source=api&page_size=1", 45, []int{45}, true, false},
		{"DefaultPage", "", 45, []int{45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26}, true, false},
		{"SecondPage", "page=2&page_size=20&sort=id", 45, nil, true, true},
		{"LastPartialPage", "page=3&sort=id", 45, []int{41, 42, 43, 44, 45}, false, true},
		{"OversizedPageSize", "page_size=5000", 45, nil, false, false},
		{"InvalidPageSizeFallsBack", "page_size=abc", 45, nil, true, false},
		{"ProgramFilter", "program_id=program-v1:acme%2Bdata%2B2024&page_size=1", 45, []int{45}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := b.call(t, http.MethodGet, programLicensesPath+"?"+tt.query, nil)
			requireStatus(t, http.StatusOK, res)
			require.Equal(t, float64(tt.count), res.body["count"])
			if tt.ids != nil {
				require.Equal(t, tt.ids, ids(res))
			}
			require.Equal(t, tt.hasNext, res.body["next_page"] != nil, "next_page: %v", res.body["next_page"])
			require.Equal(t, tt.hasPrev, res.body["previous_page"] != nil, "previous_page: %v", res.body["previous_page"])
		})
	}

	t.Run("Links", func(t *testing.T) {
		t.Parallel()
		res := b.call(t, http.MethodGet, programLicensesPath+"?page=2&page_size=10&key=acme", nil)
		requireStatus(t, http.StatusOK, res)
		next, err := url.Parse(res.body["next_page"].(string))
		require.NoError(t, err)
		require.Equal(t, strings.TrimPrefix(b.url, "http://"), next.Host)
		require.Equal(t, url.Values{"page": {"3"}, "page_size": {"10"}, "key": {"acme"}}, next.Query())
		prev, err := url.Parse(res.body["previous_page"].(string))
		require.NoError(t, err)
		require.Equal(t, url.Values{"page_size": {"10"}, "key": {"acme"}}, prev.Query())

		// Following next until the end visits every license once.
		seen := map[int]bool{}
		link := b.url + programLicensesPath + "?page_size=7"
		for link != "" {
			res := b.call(t, http.MethodGet, strings.TrimPrefix(link, b.url), nil)
			requireStatus(t, http.StatusOK, res)
			for _, id := range ids(res) {
				require.False(t, seen[id])
				seen[id] = true
			}
			link, _ = res.body["next_page"].(string)
		}
		require.Len(t, seen, 45)
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		for query, want := range map[string]string{
			"page=4":       `{"detail": "Invalid page."}`,
			"page=0":       `{"detail": "Invalid page."}`,
			"page=x":       `{"detail": "Invalid page."}`,
			"sort=name":    `{"sort": ["Select a valid choice. Allowed: id, -id."]}`,
			"active=maybe": `{"active": ["Must be a valid boolean."]}`,
		} {
			res := b.call(t, http.MethodGet, programLicensesPath+"?"+query, nil)
			require.Equal(t, jsonOf(t, want), res.body, query)
			require.GreaterOrEqual(t, res.status, 400, query)
		}
	})

	t.Run("EmptyFirstPage", func(t *testing.T) {
		t.Parallel()
		res := b.call(t, http.MethodGet, userLicensesPath, nil)
		requireStatus(t, http.StatusOK, res)
		require.Equal(t, jsonOf(t, `{"count": 0, "next_page": null, "previous_page": null, "results": []}`), res.body)
	})
}

func TestRouting(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})

	res := b.call(t, http.MethodGet, programLicensesPath+"create/", nil)
	requireStatus(t, http.StatusMethodNotAllowed, res)
	require.Equal(t, jsonOf(t, `{"detail": "Method \"GET\" not allowed."}`), res.body)
	require.Equal(t, "POST", res.header.Get("Allow"))

	res = b.call(t, http.MethodDelete, programLicensesPath, nil)
	requireStatus(t, http.StatusMethodNotAllowed, res)

	res = b.call(t, http.MethodGet, "/api/catalog/licenses/course/", nil)
	requireStatus(t, http.StatusNotFound, res)
	require.Equal(t, jsonOf(t, `{"detail": "Not found."}`), res.body)

	res = b.call(t, http.MethodPost, programLicensesPath+"create/extra/", programLicense("x"))
	requireStatus(t, http.StatusNotFound, res)

	// Authentication comes before method dispatch, as in DRF.
	res = b.callWith(t, http.MethodGet, programLicensesPath+"create/", nil, nil)
	requireStatus(t, http.StatusUnauthorized, res)
}

func TestConcurrentCreates(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	const workers, ids = 8, 50
	var wg sync.WaitGroup
	statuses := make(chan int, workers*ids)
	for range workers {
		wg.Go(func() {
			for i := range ids {
				res, err := b.send(t, http.MethodPost, userLicensesPath+"create/",
					map[string]any{"platform_key": "acme", "external_id": fmt.Sprintf("e%d", i)},
					http.Header{"Authorization": {"Api-Token " + testToken}})
				if err == nil {
					statuses <- res.status
				}
			}
		})
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	require.Equal(t, map[int]int{http.StatusOK: ids, http.StatusBadRequest: (workers - 1) * ids}, counts)
	require.Equal(t, ids, b.srv.Stats().UserLicenses)
}

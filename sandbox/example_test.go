package sandbox_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bulksync/bulksync/sandbox"
)

func Example() {
	srv := sandbox.New(sandbox.Config{Token: "secret"})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	body := `{"platform_key": "acme", "external_id": "seat-pool-1", "count": 50}`
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/catalog/licenses/user/create/", strings.NewReader(body))
	req.Header.Set("Authorization", "Api-Token secret")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()

	stats := srv.Stats()
	fmt.Println(resp.StatusCode, stats.UserLicenses, stats.Creates, stats.Requests)
	// Output: 200 1 1 1
}

func ExampleParseFailStatus() {
	for _, s := range []string{"429", "reset", "200"} {
		fs, err := sandbox.ParseFailStatus(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("code=%d reset=%t\n", fs.Code, fs.Reset)
	}
	// Output:
	// code=429 reset=false
	// code=0 reset=true
	// parse fail status "200": code 200 is not a 4xx or 5xx status
}

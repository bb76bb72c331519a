package uipath_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/bulksync/bulksync/sandbox"
	"github.com/bulksync/bulksync/uipath"
)

func ExampleClient_AllocateGroup() {
	// A fake Automation Suite; use https://{yourDomain} in production.
	ts := httptest.NewServer(sandbox.New(sandbox.Config{Token: "unused"}))
	defer ts.Close()

	c, err := uipath.New(uipath.Config{
		BaseURL:      ts.URL,
		Organization: "acme",
		ClientID:     sandbox.DefaultUiPathClientID,
		ClientSecret: sandbox.DefaultUiPathClientSecret,
	})
	if err != nil {
		panic(err)
	}
	a, err := c.AllocateGroup(context.Background(), "song-one", "group-01", []string{"RPADEVPRONU", "IDU"}, false)
	if err != nil {
		panic(err)
	}
	fmt.Println(a.GroupID, a.OrganizationID, a.UserBundleCodes)
	// Output: group-01 song-one [RPADEVPRONU IDU]
}

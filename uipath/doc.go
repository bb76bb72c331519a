// Package uipath is a client for UiPath Automation Suite's "allocate
// licenses to a group" call:
//
//	PUT {BaseURL}/{Organization}/lease_/api/account/{accountId}/user-license/group/{groupId}
//	{"userBundleCodes": ["RPADEVPRONU", "IDU"], "useExternalLicense": false}
//
// The body is the group's complete set of bundle codes: the call replaces
// the allocation, so repeating it is safe. With an empty Organization the
// older path without that segment is used.
//
// # Authentication
//
// Requests carry "Authorization: Bearer <token>". The token comes from one
// of two grants, chosen by the Config:
//
//   - an external application's client credentials (ClientID,
//     ClientSecret, Scope) at {BaseURL}/identity_/connect/token, the grant
//     that matches the PM.License.Write scope;
//   - ROPC (Username, Password, Tenant) at
//     {BaseURL}/{Organization}/{Tenant}/api/account/authenticate, when no
//     ClientID is given.
//
// The token is fetched on first use, cached and shared by concurrent
// callers, which wait for a single fetch. It is renewed shortly before it
// expires (client-credentials tokens say when; ROPC tokens are assumed to
// last 30 minutes) and when a request is answered 401: the request is then
// sent once more with a new token. The token is never logged or put in an
// error.
//
// # Errors
//
// Failures are *dmapi.Error values, classified as in package dmapi: 404 (no
// license for the account) and 409 (the allocation exceeds the account's
// quantities) are Permanent; 401 after the retry with a new token, 403 and
// a refused credential exchange are Fatal; 429, 5xx and network failures
// are Retryable. Route on [dmapi.ClassOf].
package uipath

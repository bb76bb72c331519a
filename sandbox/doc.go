// Package sandbox is an in-process fake of the ibl.ai Data Manager API and of
// UiPath's group license allocation, with fault injection. bulksync uses it
// for `bulksync sandbox`, the embedded default mode, demos and tests.
//
// A Server is an http.Handler; serve it like any other:
//
//	srv := sandbox.New(sandbox.Config{Token: "secret", FailRate: 0.05})
//	ts := httptest.NewServer(srv) // or http.ListenAndServe(addr, srv)
//
// It keeps everything in memory, answers like the documented API (Django REST
// Framework shapes and messages, errors included) and is safe for concurrent
// use. License lookups by external_id are O(1).
//
// # Authentication
//
// Data Manager paths need "Authorization: <Config.AuthScheme> <Config.Token>"
// (the scheme defaults to Api-Token; Token, Api-Key and Bearer can be chosen).
// Without it they answer 401 {"detail": "Authentication credentials were not
// provided."}; with a wrong token, 401 {"detail": "Invalid token."}. The
// token never appears in answers or stats. Authentication is checked before
// the method, as in DRF. UiPath paths use their own credentials (below).
//
// # Data Manager endpoints
//
// Licenses, for kind "program" and "user":
//
//	GET  /api/catalog/licenses/{kind}/          list
//	POST /api/catalog/licenses/{kind}/create/   create (200)
//	POST /api/catalog/licenses/{kind}/update/   update by license_id or external_id (200, 404)
//
// The list filters on platform_key (alias key), platform_org (alias org),
// program_key or program_id (program), external_id, name (exact), query (name
// contains, case-insensitive), source and active; sort is -id (default) or id.
// Program creates need platform_key, platform_org or platform_id (stored as
// platform key "platform-<id>"), program_key (or program_id), name, count and
// started; user creates need platform_key. The sandbox treats platform_org as
// the same org key as platform_key. external_id is unique per kind (a blank
// one is null); a duplicate answers 400 {"external_id": ["license with this
// external id already exists."]}. An update by license_id that carries a new
// external_id changes it. Updates ignore platform_key/platform_org and reject
// a different program_key. Every create and update writes a license history
// record (see Server.History). Details carry exactly the documented fields:
// id, created, started, expired, name, count, active, metadata, source,
// external_id, platform_key and usage_count (user assignments of the
// license), plus program_id, program_key and program_name (all the program
// key) for programs. With verbose=true, list results also carry assignments
// {total, active, pending}: all user assignments, the active and fulfilled
// ones, and the active ones not yet fulfilled. enrollment_config and
// transaction_id are stored but not answered (see Server.License). Lists
// answer {count, next_page, previous_page, results}; with
// Config.IgnoreListFilters they ignore the external_id filter.
//
// Assignments, for kind "program" and "user":
//
//	GET|POST|DELETE /api/catalog/licenses/{kind}/assignment/        to a user
//	GET|POST|DELETE /api/catalog/licenses/{kind}/assignment/group/  to a group
//
// POST creates or updates the assignment keyed by (license, user) or
// (license, group) and answers 200. license_id is read from the body or the
// query; the user from user_id, email or (program) username. An unknown
// license, user or group answers 404 {"detail": "License not found."} (or
// "User not found.", "Group not found."); so does a license on another
// platform than a given platform_key. GET needs license_id and sorts by id;
// program lists also filter on user_id/email or group_id, active and
// fulfilled. DELETE needs the assignment_id and license_id query parameters
// and answers 200 without a body or 404 {"detail": "Assignment not found."}.
// Program assignments carry no platform_key; user-license assignments do. Sandbox groups have no members, so
// user_count and assigned_count are 0 and remove_user_assignments removes
// nothing.
//
// Program suggestions:
//
//	GET|POST|DELETE /api/catalog/suggestions/program/manage/        to a user
//	POST            /api/catalog/suggestions/program/manage/bulk/   bulk, to users
//	GET|POST|DELETE /api/catalog/suggestions/program/manage/group/  to a group
//
// POST creates or updates the suggestion keyed by (platform_key, program_key,
// user_id or group_id): 201 when created and 200 when updated for users, 200
// for groups. user_id is a user id or a username; an unknown user, group or
// program answers 400 with a field error. GET needs platform_key and filters
// on query (program key, username or group name). The user list sorts by -id,
// the group list by id; both answer {count, next_page, previous_page,
// results}. DELETE needs suggestion_id (and, for groups, platform_key) and
// answers 200 without a body or 404 {"detail": "Suggestion does not exist."}.
//
// The bulk endpoint takes {"platform_key", "suggestion_data": [{program_key,
// user_id, accepted?, visible?, metadata?}]}, upserts each valid item and
// answers 200 {"successes": N, "error_codes": [...]} with one code per problem,
// in item order:
//
//	invalid_item               the item is not an object
//	missing_field:<field>      program_key or user_id is missing
//	invalid_field:<field>      a field has the wrong type
//	user_not_found:<user_id>   no such user
//	program_not_found:<key>    no such program (when Fixtures.Programs is set)
//
// An item naming another platform_key fails the whole request with 400
// {"suggestion_data": ["All items must belong to platform_key."]}.
//
// Credential issuers, where {user} must be a known user (a user id or a
// username; else 404 {"detail": "Not found."}):
//
//	GET|POST       /api/credentials/orgs/{org}/users/{user}/issuers/
//	GET|PUT|DELETE /api/credentials/orgs/{org}/users/{user}/issuers/{entity_id}
//
// Answers hold exactly the Issuer schema {name, org, entityId, signatories,
// url, iconImage, allowed_template_tags}. name, org, signatories and url are
// read-only: name and org are the org key, url is "" and signatories {}. POST
// and PUT require entityId and iconImage (400 {"entityId": ["This field is
// required."]}); name, url and email are accepted and stored but never
// answered (see Server.Issuer). A duplicate entityId answers 400, and PUT
// cannot change it. The list reads q (name contains), limit (default 50, at
// most 1000) and offset and answers {"status": {"success": true,
// "description": "Ok"}, "result": {next, previous, count, data, num_pages,
// page_number, max_page_size}}. By default the other answers take the
// docstrings' forms: POST answers {"status": {..., "description":
// "Created"}, "result": issuer}, GET and PUT a one-element array [issuer],
// DELETE 200 {"status": {"success": true, "description": "Deleted"}}. With
// Config.IssuerSchemaForms they take the schema's: the bare issuer, and
// DELETE 204 without a body. An unknown entity id (or one of another org)
// answers 404 {"detail": "Issuer not found."}.
//
// Other errors: a wrong method answers 405 {"detail": "Method \"GET\" not
// allowed."}, an unknown path 404 {"detail": "Not found."}, malformed JSON 400
// {"detail": "JSON parse error - ..."}, a non-JSON body 415, and invalid
// fields 400 with DRF messages such as {"count": ["A valid integer is
// required."]}. A page past the end answers 404 {"detail": "Invalid page."};
// page_size defaults to 20 and is capped at 1000. List links are absolute
// URLs.
//
// # UiPath endpoints
//
//	POST /identity_/connect/token                                    client credentials (form)
//	POST /api/account/authenticate                                   ROPC (JSON)
//	POST /{org}/{tenant}/api/account/authenticate                    ROPC (JSON)
//	PUT  /{org}/lease_/api/account/{accountId}/user-license/group/{groupId}
//	PUT  /lease_/api/account/{accountId}/user-license/group/{groupId}
//
// The token endpoint checks grant_type=client_credentials, the client id and
// secret (400 {"error": "invalid_client"}) and a scope including
// PM.License.Write (400 {"error": "invalid_scope"}), and answers
// {access_token, expires_in, token_type: "Bearer", scope}. The ROPC endpoint
// checks UsernameOrEmailAddress and Password and answers {"result": token,
// "success": true, ...}. The allocation needs "Authorization: Bearer <token>"
// with an unexpired token (else 401 {"message": "Unauthorized"}) and a body
// {"userBundleCodes": [...], "useExternalLicense": bool}; it replaces the
// group's codes and answers 200 {groupId, organizationId, useExternalLicense,
// userBundleCodes}. Each code allocated to a group uses one of the account's
// UiPathConfig.Quantities; going over answers 409, an unknown code 400 and an
// account without a license 404, each as {"message": "..."}.
//
// # Faults
//
// Every API request is counted, then delayed by Config.Latency, then fails
// with probability Config.FailRate before doing anything: 503 {"detail":
// "Service temporarily unavailable"}, 429 with "Retry-After: 1" and {"detail":
// "Request was throttled. Expected available in 1 second."}, another status
// with {"detail": <status text>}, or a reset connection, as Config.FailStatus
// says. With probability Config.FailAfterWrite, a successful write (a POST,
// PUT or DELETE that changed state) loses its answer after taking effect: the
// client gets a 503 or, when FailStatus is reset, a reset connection. Fault
// decisions come from a random source seeded with Config.Seed.
//
// During an outage (Config.OutageAfter and Config.OutageFor, or
// Server.StartOutage) every API request answers 503 {"detail": "Service
// temporarily unavailable"}, without Retry-After, before taking effect.
//
// Beyond Config.RateLimit requests per second (a token bucket holding one
// second's worth), an API request answers 429 with "Retry-After: N", N the
// whole seconds until one would be taken (at least 1), and {"detail":
// "Request was throttled. Expected available in N seconds."}, before taking
// effect; Stats.Throttled counts them.
//
// # Inspection
//
// Paths under /_sandbox/ need no authentication and get no latency, faults or
// outages, and are not counted:
//
//	GET  /_sandbox/stats                                Stats
//	POST /_sandbox/outage?for=90s                       start an outage now (for=0s ends it); answers {from, until}
//	GET  /_sandbox/licenses/{program|user}?external_id= the StoredLicense, with enrollment_config and transaction_id
//	GET  /_sandbox/issuers/{entity_id}                  the StoredIssuer, with the name, url and email sent
//
// Stats keys: program_licenses, user_licenses, program_group_assignments,
// user_group_assignments, program_user_assignments, user_user_assignments,
// program_suggestions, group_suggestions, issuers, uipath_group_allocations,
// history, creates, updates, deletes, requests, faults, outage_answers,
// throttled (429s of --rate-limit) and by_endpoint ("METHOD /path/" of every endpoint, 0 until called, with
// wildcards such as {org} left in).
package sandbox

// Package dmapi is a typed client for the ibl.ai Data Manager API: one
// method per endpoint bulksync calls, the "Authorization: Api-Token" header,
// a base URL in either documented form (https://base.manager.iblai.app or
// the gateway https://api.iblai.app/dm), a per-request timeout and a
// [Limiter] that paces requests (package ratelimit has one shared by every
// worker process through Redis) and hears of every 429.
//
// It covers licenses, license assignments to groups and users, program
// suggestions (single, bulk and group) and credential issuers. List
// methods return one [Page]; [Each] pages through a whole list, in either
// envelope form, and the Find helpers use it and return nil, nil when
// nothing matches.
//
// Every failure is classified once, here, as [Retryable] (network errors,
// timeouts, 408, 429, 5xx), [Permanent] (other 4xx: the request itself is
// wrong) or [Fatal] (401/403: the key is wrong or lacks the DM admin role,
// so no further request can succeed; also an [Error] marked
// CredentialsRefused, which package uipath uses for a refused token
// request). Callers route on [ClassOf] and never
// parse messages. The client itself does not retry: retries belong to the
// caller, which knows whether a request is safe to repeat.
package dmapi

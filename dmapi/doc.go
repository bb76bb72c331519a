// Package dmapi is a typed client for the ibl.ai Data Manager API: one
// method per endpoint bulksync calls, the "Authorization: Api-Token" header,
// a base URL in either documented form (https://base.manager.iblai.app or
// the gateway https://api.iblai.app/dm), a per-request timeout and a
// client-side rate limit.
//
// Every failure is classified once, here, as [Retryable] (network errors,
// timeouts, 408, 429, 5xx), [Permanent] (other 4xx: the request itself is
// wrong) or [Fatal] (401/403: the key is wrong or lacks the DM admin role,
// so no further request can succeed). Callers route on [ClassOf] and never
// parse messages. The client itself does not retry: retries belong to the
// caller, which knows whether a request is safe to repeat.
package dmapi

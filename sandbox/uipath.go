package sandbox

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// uipathWriteScope is the scope the license allocation endpoint needs.
const uipathWriteScope = "PM.License.Write"

// allocationKey names a group of an account.
type allocationKey struct {
	account, group string
}

// uipathMessage is the error body of the lease API.
type uipathMessage struct {
	Message string `json:"message"`
}

func uipathError(status int, msg string) response {
	return response{status: status, body: uipathMessage{Message: msg}}
}

// oauthError is an OAuth 2 token endpoint error body.
type oauthError struct {
	Error string `json:"error"`
}

// tokenResponse is the client-credentials answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
}

// issueToken mints an access token valid for the configured TTL. Callers hold
// s.mu.
func (s *Server) issueToken() string {
	now := time.Now()
	for tok, exp := range s.uipathTokens {
		if now.After(exp) {
			delete(s.uipathTokens, tok)
		}
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	s.uipathTokens[tok] = now.Add(s.uipath.TokenTTL)
	return tok
}

func equalSecret(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// uipathToken is the external application's client-credentials grant
// (POST /identity_/connect/token, form encoded).
func (s *Server) uipathToken(r *http.Request) response {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		return response{status: http.StatusBadRequest, body: oauthError{Error: "invalid_request"}}
	}
	form := r.PostForm
	switch {
	case form.Get("grant_type") != "client_credentials":
		return response{status: http.StatusBadRequest, body: oauthError{Error: "unsupported_grant_type"}}
	case !equalSecret(form.Get("client_id"), s.uipath.ClientID) || !equalSecret(form.Get("client_secret"), s.uipath.ClientSecret):
		return response{status: http.StatusBadRequest, body: oauthError{Error: "invalid_client"}}
	case !slices.Contains(strings.Fields(form.Get("scope")), uipathWriteScope):
		return response{status: http.StatusBadRequest, body: oauthError{Error: "invalid_scope"}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return ok(tokenResponse{
		AccessToken: s.issueToken(),
		ExpiresIn:   int(s.uipath.TokenTTL / time.Second),
		TokenType:   "Bearer",
		Scope:       form.Get("scope"),
	})
}

// abpResponse is the ASP.NET Boilerplate envelope of the ROPC endpoint.
type abpResponse struct {
	Result              *string   `json:"result"`
	TargetURL           *string   `json:"targetUrl"`
	Success             bool      `json:"success"`
	Error               *abpError `json:"error"`
	UnAuthorizedRequest bool      `json:"unAuthorizedRequest"`
	ABP                 bool      `json:"__abp"`
}

type abpError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details string `json:"details"`
}

// uipathAuthenticate is the ROPC login (POST /api/account/authenticate, JSON
// {"TenancyName", "UsernameOrEmailAddress", "Password"}).
func (s *Server) uipathAuthenticate(r *http.Request) response {
	var body struct {
		TenancyName            string
		UsernameOrEmailAddress string
		Password               string
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return response{status: http.StatusBadRequest, body: abpResponse{
			Error: &abpError{Message: "Your request is not valid!", Details: "invalid JSON body"}, ABP: true,
		}}
	}
	if !equalSecret(body.UsernameOrEmailAddress, s.uipath.Username) || !equalSecret(body.Password, s.uipath.Password) {
		return response{status: http.StatusBadRequest, body: abpResponse{
			Error: &abpError{Message: "Login failed!", Details: "Invalid user name or password"}, ABP: true,
		}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.issueToken()
	return ok(abpResponse{Result: &tok, Success: true, ABP: true})
}

// checkBearer returns a 401 response unless header carries an unexpired
// access token.
func (s *Server) checkBearer(header string) *response {
	scheme, tok, _ := strings.Cut(header, " ")
	s.mu.Lock()
	exp, known := s.uipathTokens[strings.TrimSpace(tok)]
	s.mu.Unlock()
	var challenge string
	switch {
	case !strings.EqualFold(scheme, "Bearer") || !known:
		challenge = `Bearer error="invalid_token"`
	case time.Now().After(exp):
		challenge = `Bearer error="invalid_token", error_description="The token expired"`
	default:
		return nil
	}
	resp := uipathError(http.StatusUnauthorized, "Unauthorized")
	resp.header = http.Header{"Www-Authenticate": {challenge}}
	return &resp
}

// allocationResult is the answer of the group allocation.
type allocationResult struct {
	GroupID            string   `json:"groupId"`
	OrganizationID     string   `json:"organizationId"`
	UseExternalLicense bool     `json:"useExternalLicense"`
	UserBundleCodes    []string `json:"userBundleCodes"`
}

// hasLicense reports whether account holds a license.
func (s *Server) hasLicense(account string) bool {
	if len(s.uipath.Accounts) == 0 {
		return !strings.HasPrefix(account, "nolicense")
	}
	return slices.Contains(s.uipath.Accounts, account)
}

// allocateGroupLicenses replaces the bundle codes allocated to a group. Each
// code allocated to a group uses one of the account's licenses of that code.
func (s *Server) allocateGroupLicenses(r *http.Request) response {
	account, group := r.PathValue("accountId"), r.PathValue("groupId")
	if !s.hasLicense(account) {
		return uipathError(http.StatusNotFound, "No account license is allocated for the indicated organization")
	}
	var body struct {
		UserBundleCodes    *[]string `json:"userBundleCodes"`
		UseExternalLicense bool      `json:"useExternalLicense"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return uipathError(http.StatusBadRequest, fmt.Sprintf("Invalid request body: %v", err))
	}
	if body.UserBundleCodes == nil {
		return uipathError(http.StatusBadRequest, "userBundleCodes is required.")
	}
	var codes []string
	for _, code := range *body.UserBundleCodes {
		if _, known := s.uipath.Quantities[code]; !known {
			return uipathError(http.StatusBadRequest, fmt.Sprintf("Unknown user bundle code %q.", code))
		}
		if !slices.Contains(codes, code) {
			codes = append(codes, code)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	key := allocationKey{account: account, group: group}
	for _, code := range codes {
		used := 0
		for k, a := range s.allocations {
			if k.account == account && k != key && slices.Contains(a, code) {
				used++
			}
		}
		if used+1 > s.uipath.Quantities[code] {
			return uipathError(http.StatusConflict, "The license allocation is not allowed because it exceeds the account license quantities")
		}
	}
	if _, exists := s.allocations[key]; exists {
		s.counters.updates++
	} else {
		s.counters.creates++
	}
	s.allocations[key] = codes
	return written(http.StatusOK, allocationResult{
		GroupID:            group,
		OrganizationID:     account,
		UseExternalLicense: body.UseExternalLicense,
		UserBundleCodes:    append([]string{}, codes...),
	})
}

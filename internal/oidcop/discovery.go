package oidcop

import (
	"net/http"
	"strconv"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// discovery is the provider's metadata (OpenID Connect Discovery 1.0 §3) with the fields the
// op package's type lacks.
type discovery struct {
	oidc.DiscoveryConfiguration
	// PromptValuesSupported: OpenID Connect Prompt Create 1.0 §4.
	PromptValuesSupported []string `json:"prompt_values_supported"`
	// AuthorizationResponseIssParameterSupported: RFC 9207 — every authorization response
	// names the issuer, so an online service that talks to several providers cannot be
	// misled about which one answered.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
}

// metadata returns what the provider supports: the authorization code flow with PKCE S256 and
// a client secret (basic or post) or none for public clients, RS256 ID tokens, the configured
// acr values, and neither refresh tokens nor request objects.
func (p *Provider) metadata() discovery {
	iss := p.cfg.Issuer
	return discovery{
		DiscoveryConfiguration: oidc.DiscoveryConfiguration{
			Issuer:                            iss,
			AuthorizationEndpoint:             iss + AuthorizePath,
			TokenEndpoint:                     iss + TokenPath,
			UserinfoEndpoint:                  iss + UserinfoPath,
			EndSessionEndpoint:                iss + EndSessionPath,
			JwksURI:                           iss + JWKSPath,
			ScopesSupported:                   supportedScopes,
			ResponseTypesSupported:            []string{string(oidc.ResponseTypeCode)},
			ResponseModesSupported:            []string{string(oidc.ResponseModeQuery)},
			GrantTypesSupported:               []oidc.GrantType{oidc.GrantTypeCode},
			ACRValuesSupported:                p.cfg.ACR.Values(),
			SubjectTypesSupported:             []string{"public", "pairwise"},
			IDTokenSigningAlgValuesSupported:  []string{string(alg)},
			TokenEndpointAuthMethodsSupported: []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone},
			ClaimsSupported:                   supportedClaims,
			ClaimTypesSupported:               []string{"normal"},
			CodeChallengeMethodsSupported:     []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256},
			UILocalesSupported:                uiLocales,
			ClaimsLocalesSupported:            uiLocales,
			RequestParameterSupported:         false,
			RequestURIParameterSupported:      false,
		},
		PromptValuesSupported:                      []string{"none", "login", "consent"},
		AuthorizationResponseIssParameterSupported: true,
	}
}

// serveDiscovery answers GET /.well-known/openid-configuration. It changes only with a new
// release or configuration, so a cache may keep it for an hour.
func (p *Provider) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(3600))
	writeJSON(w, http.StatusOK, p.metadata())
}

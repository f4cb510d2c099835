package i18n

import (
	"regexp"
	"strings"
	"testing"
)

// wordingRule forbids a wording in one language's catalogue, except in the keys listed.
type wordingRule struct {
	lang   string
	re     *regexp.Regexp
	why    string
	except map[string]bool
}

// wordingRules keep the house wording (SPEC §3, the CSAM guide in seed/): English says "log
// on" — only the seed's heading "Logging in with security code via token" keeps "Logging in";
// Dutch says "aanmelden"; German "per Token", "per Smartphone-App" and an "E-Mail" that never
// breaks at its hyphen (U+2011); French "Munissez-vous de votre carte".
var wordingRules = []wordingRule{
	{"en", regexp.MustCompile(`(?i)\blog(s|ged|ging)?[ -]?in(to)?\b|\blogins?\b`), `English says "log on", not "log in"/"login"`,
		map[string]bool{"web.login.with": true}},
	{"nl", regexp.MustCompile(`(?i)inlog|ingelogd|uitlog|\blog(t)?\b|\blogins?\b`), `Dutch says "aanmelden", not "inloggen"/"log in"`, nil},
	{"fr", regexp.MustCompile(`(?i)\blogin\b|\blog[ -]?in\b|prenez en main`), `French says "se connecter" and "Munissez-vous de votre carte"`, nil},
	{"de", regexp.MustCompile(`(?i)einlogg|eingeloggt|\blog[ -]?in\b|\blogins?\b|über (Token|mobile App)|\bmobile App\b`), `German says "anmelden", "per Token", "per Smartphone-App"`, nil},
	{"de", regexp.MustCompile(`E-Mail`), `German "E-Mail" must not break at its hyphen: write E\u2011Mail (U+2011)`, nil},
}

func TestWording(t *testing.T) {
	t.Parallel()
	b, err := Load("en")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range wordingRules {
		for key, msg := range b.catalogs[r.lang] {
			if r.except[key] {
				continue
			}
			if m := r.re.FindString(msg); m != "" {
				t.Errorf("%s %s: %q in %q: %s", r.lang, key, m, msg, r.why)
			}
		}
	}
	// The required wordings themselves.
	for _, tt := range []struct{ lang, got, want string }{
		{"en", b.Printer("en").T("web.login.with", Msg("key.tokencard.short")), "Logging in with security code via token"},
		{"en", b.Printer("en").T("web.login.with", Msg("key.password.short")), "Logging in with username and password"},
		{"nl", b.Printer("nl").T("web.login.with", Msg("key.tokencard.short")), "Aanmelden met beveiligingscode via token"},
		{"de", b.Printer("de").T("key.tokencard.name"), "Sicherheitscode per Token"},
		{"de", b.Printer("de").T("key.totp.name"), "Sicherheitscode per Smartphone-App"},
		{"de", b.Printer("de").T("key.emailcode.name"), "Sicherheitscode per E\u2011Mail"},
		{"fr", b.Printer("fr").T("login.tokencard.step1"), "Munissez-vous de votre carte papier personnelle (token)"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.lang, tt.got, tt.want)
		}
	}
	for key, msg := range b.catalogs["en"] {
		if strings.Contains(msg, "Logging in") && key != "web.login.with" {
			t.Errorf("en %s: %q: only the seed heading says \"Logging in\"", key, msg)
		}
	}
}

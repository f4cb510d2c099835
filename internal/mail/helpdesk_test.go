package mail

import (
	"html"
	"strings"
	"testing"
)

// TestEveryMailNamesTheHelpdesk: with a helpdesk configured, every e-mail (which may tell the
// citizen to contact it) says how, in both bodies; without one, nothing is added. A key
// activation replacing the citizen's key of the same kind says so in one e-mail.
func TestEveryMailNamesTheHelpdesk(t *testing.T) {
	t.Parallel()
	with := newTestComposer(t, func(c *ComposerConfig) {
		c.Helpdesk = Helpdesk{Email: "helpdesk@example.be", Phone: "+32 2 123 45 67", URL: "/help"}
	})
	without := newTestComposer(t, nil)
	const want = "helpdesk@example.be · +32 2 123 45 67 · https://login.example.be/help"
	for _, name := range TemplateNames() {
		for _, lang := range []string{"nl", "fr", "de", "en"} {
			m, err := with.Render(recipient(lang), name, sampleData[name])
			if err != nil {
				t.Fatalf("%s %s: %v", name, lang, err)
			}
			text := strings.Join(strings.Fields(m.TextBody), " ") // plain text is wrapped
			if !strings.Contains(text, "Helpdesk") || !strings.Contains(text, want) || !strings.Contains(html.UnescapeString(m.HTMLBody), want) {
				t.Errorf("%s %s: no helpdesk contact in\n%s", name, lang, m.TextBody)
			}
			m, err = without.Render(recipient(lang), name, sampleData[name])
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(m.TextBody, " · ") {
				t.Errorf("%s %s: a contact without a helpdesk configured:\n%s", name, lang, m.TextBody)
			}
		}
	}
	m, err := without.Render(recipient("en"), TemplateKeyActivated, map[string]any{"Kind": "totp", "Replaces": "totp", "Reactivated": false})
	if err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(strings.Fields(m.TextBody), " "); !strings.Contains(text, "It replaces your earlier digital key “Security code via mobile app”, which has been deactivated") ||
		strings.Contains(text, "separate e-mail") {
		t.Errorf("replacing a key of the same kind:\n%s", m.TextBody)
	}
}

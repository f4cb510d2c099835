package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEDocumentsEverySetting keeps the README's configuration reference complete.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for _, name := range Names() {
		if !strings.Contains(readme, "`"+name+"`") {
			t.Errorf("README.md does not document the setting `%s`", name)
		}
	}
}

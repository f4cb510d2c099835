package i18n

import (
	"regexp"
	"sort"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// TestCataloguesComplete fails when any message is missing from, or extra in, any catalogue, or
// when a translation's placeholders differ from the English ones.
func TestCataloguesComplete(t *testing.T) {
	t.Parallel()
	b, err := Load("en")
	if err != nil {
		t.Fatal(err)
	}
	ref := b.Keys("en")
	if len(ref) == 0 {
		t.Fatal("the English catalogue is empty")
	}
	for _, lang := range Languages() {
		if diff := cmp.Diff(ref, b.Keys(lang)); diff != "" {
			t.Errorf("catalogue %s keys differ from en (-en +%s):\n%s", lang, lang, diff)
		}
		for _, k := range ref {
			msg := b.catalogs[lang][k]
			if msg == "" && b.catalogs["en"][k] != "" {
				t.Errorf("catalogue %s: %s is empty", lang, k)
			}
			if got, want := placeholders(msg), placeholders(b.catalogs["en"][k]); !cmp.Equal(got, want) {
				t.Errorf("catalogue %s: %s has placeholders %v, en has %v", lang, k, got, want)
			}
		}
	}
}

var placeholderRE = regexp.MustCompile(`\{[0-9]+\}`)

func placeholders(s string) []string {
	p := placeholderRE.FindAllString(s, -1)
	sort.Strings(p)
	if len(p) == 0 {
		return nil
	}
	return p
}

func TestNegotiate(t *testing.T) {
	t.Parallel()
	b, err := Load("en")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                           string
		query, cookie, account, accept string
		want                           string
	}{
		{"query wins", "fr", "de", "nl", "en", "fr"},
		{"cookie next", "", "de", "nl", "fr", "de"},
		{"account next", "", "", "nl", "fr", "nl"},
		{"accept-language", "", "", "", "de-BE,de;q=0.9,en;q=0.5", "de"},
		{"regional french", "", "", "", "fr-BE", "fr"},
		{"unsupported query ignored", "xx", "", "", "nl-BE", "nl"},
		{"uppercase query", "NL", "", "", "", "nl"},
		{"nothing matches", "", "", "", "ja,zh;q=0.8", "en"},
		{"garbage header", "", "", "", ";;;q=x", "en"},
		{"nothing at all", "", "", "", "", "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := b.Negotiate(tt.query, tt.cookie, tt.account, tt.accept); got != tt.want {
				t.Errorf("Negotiate(%q,%q,%q,%q) = %q, want %q", tt.query, tt.cookie, tt.account, tt.accept, got, tt.want)
			}
		})
	}
}

func TestPrinter(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"c/en/a.json": {Data: []byte(`{"hi":"Hello {0}, code {1}","plain":"x {0"}`)},
		"c/nl/a.json": {Data: []byte(`{"hi":"Hallo {0}, code {1}","plain":"x {0"}`)},
		"c/fr/a.json": {Data: []byte(`{}`)},
		"c/de/a.json": {Data: []byte(`{}`)},
	}
	b, err := LoadFS(fsys, "c", "en")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang, key string
		args      []any
		want      string
	}{
		{"nl", "hi", []any{"Jan", 18}, "Hallo Jan, code 18"},
		{"en", "hi", []any{"Jan"}, "Hello Jan, code {1}"},
		{"en", "plain", []any{1}, "x {0"},
		{"en", "missing", nil, "[missing]"},
		{"xx", "hi", []any{"A", "B"}, "Hello A, code B"},
		{"nl", "hi", []any{Msg("plain"), 1}, "Hallo x {0, code 1"},
	}
	for _, tt := range tests {
		if got := b.Printer(tt.lang).T(tt.key, tt.args...); got != tt.want {
			t.Errorf("Printer(%q).T(%q) = %q, want %q", tt.lang, tt.key, got, tt.want)
		}
	}
	if _, err := LoadFS(fsys, "c", "es"); err == nil {
		t.Error("LoadFS with unsupported fallback: want error")
	}
	dup := fstest.MapFS{
		"c/en/a.json": {Data: []byte(`{"k":"1"}`)},
		"c/en/b.json": {Data: []byte(`{"k":"2"}`)},
	}
	if _, err := LoadFS(dup, "c", "en"); err == nil {
		t.Error("LoadFS with a key in two files: want error")
	}
}

func TestLocalizedError(t *testing.T) {
	t.Parallel()
	b, err := Load("en")
	if err != nil {
		t.Fatal(err)
	}
	p := b.Printer("nl")
	if got := p.Error(NewError("error.generic")); got != b.catalogs["nl"]["error.generic"] {
		t.Errorf("Error(LocalizedError) = %q", got)
	}
	if got := p.Error(errPlain("db down")); got != b.catalogs["nl"]["error.generic"] {
		t.Errorf("Error(plain) = %q, want the generic message", got)
	}
}

type errPlain string

func (e errPlain) Error() string { return string(e) }

// TestAlternatives: a list argument prints its items translated, joined as choices in the
// reader's language; one item alone, none as nothing.
func TestAlternatives(t *testing.T) {
	t.Parallel()
	b, err := Load("en")
	if err != nil {
		t.Fatal(err)
	}
	three := Alternatives{"key.tokencard.short", "key.emailcode.short", "key.totp.short"}
	for _, c := range []struct {
		lang string
		list Alternatives
		want string
	}{
		{"en", three, "(security code via token, security code by e-mail or security code via mobile app)"},
		{"fr", three[1:], "(code de sécurité par e-mail ou code de sécurité via application mobile)"},
		{"de", three[:1], "(Sicherheitscode per Token)"},
		{"nl", nil, "()"},
	} {
		p := b.Printer(c.lang)
		got := "(" + p.alternatives(c.list) + ")"
		if got != c.want {
			t.Errorf("%s %v: %q, want %q", c.lang, c.list, got, c.want)
		}
	}
}

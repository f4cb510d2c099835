package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/language"
)

//go:embed catalog
var catalogFS embed.FS

// Languages are the supported languages, in the order the language switch shows them.
var languages = []string{"nl", "fr", "de", "en"}

// Languages returns the supported language codes in display order.
func Languages() []string { return append([]string(nil), languages...) }

// Supported reports whether lang is one of the supported language codes.
func Supported(lang string) bool {
	for _, l := range languages {
		if l == lang {
			return true
		}
	}
	return false
}

// Bundle is the set of loaded catalogues and the language matcher built from them.
type Bundle struct {
	catalogs map[string]map[string]string
	matcher  language.Matcher
	fallback string
}

// Load reads the embedded catalogues. fallback is the language used when nothing else matches
// (it must be supported).
func Load(fallback string) (*Bundle, error) {
	return LoadFS(catalogFS, "catalog", fallback)
}

// LoadFS reads catalogues from fsys under root (root/<lang>/*.json); tests use it with fstest.
func LoadFS(fsys fs.FS, root, fallback string) (*Bundle, error) {
	if !Supported(fallback) {
		return nil, fmt.Errorf("load catalogues: fallback language %q is not one of %s", fallback, strings.Join(languages, ", "))
	}
	b := &Bundle{catalogs: make(map[string]map[string]string), fallback: fallback}
	tags := make([]language.Tag, 0, len(languages))
	// The fallback goes first: the matcher answers with the first tag when nothing matches.
	ordered := append([]string{fallback}, languages...)
	seen := map[string]bool{}
	for _, lang := range ordered {
		if seen[lang] {
			continue
		}
		seen[lang] = true
		tags = append(tags, language.MustParse(lang))
		cat, err := loadLanguage(fsys, path.Join(root, lang))
		if err != nil {
			return nil, fmt.Errorf("load catalogue %s: %w", lang, err)
		}
		b.catalogs[lang] = cat
	}
	b.matcher = language.NewMatcher(tags)
	return b, nil
}

func loadLanguage(fsys fs.FS, dir string) (map[string]string, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	cat := make(map[string]string)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		raw, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		for k, v := range m {
			if _, dup := cat[k]; dup {
				return nil, fmt.Errorf("%s: key %q is defined in two files", e.Name(), k)
			}
			cat[k] = v
		}
	}
	return cat, nil
}

// Keys returns the sorted message keys of lang.
func (b *Bundle) Keys(lang string) []string {
	keys := make([]string, 0, len(b.catalogs[lang]))
	for k := range b.catalogs[lang] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Has reports whether the catalogue of lang holds key.
func (b *Bundle) Has(lang, key string) bool {
	_, ok := b.catalogs[lang][key]
	return ok
}

// Printer returns a Printer for lang; an unsupported lang gets the fallback language.
func (b *Bundle) Printer(lang string) *Printer {
	if _, ok := b.catalogs[lang]; !ok {
		lang = b.fallback
	}
	return &Printer{lang: lang, msgs: b.catalogs[lang]}
}

// Negotiate picks the language of a request: an explicit choice (?lang=) first, then the
// language cookie, then the account's preferred language, then the Accept-Language header,
// then the fallback. Empty or unsupported values are passed over.
func (b *Bundle) Negotiate(query, cookie, account, acceptLanguage string) string {
	for _, l := range []string{query, cookie, account} {
		if l = strings.ToLower(strings.TrimSpace(l)); Supported(l) {
			return l
		}
	}
	if acceptLanguage != "" {
		tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
		if err == nil && len(tags) > 0 {
			_, idx, conf := b.matcher.Match(tags...)
			if conf != language.No {
				base, _ := b.matcherTag(idx).Base()
				return base.String()
			}
		}
	}
	return b.fallback
}

func (b *Bundle) matcherTag(idx int) language.Tag {
	ordered := []string{b.fallback}
	for _, l := range languages {
		if l != b.fallback {
			ordered = append(ordered, l)
		}
	}
	return language.MustParse(ordered[idx])
}

// Msg is a message key used as an argument: T translates it too, so an error can say "you do
// not have this digital key ({0})" with the key kind's name in the reader's language.
type Msg string

// Alternatives is a list of message keys used as one argument: T translates each and joins
// them as choices ("a, b or c", the catalogue's "list.or" joining the last two). Empty, it
// prints nothing; the message should then be one that needs no list.
type Alternatives []Msg

// Printer translates message keys into one language.
type Printer struct {
	lang string
	msgs map[string]string
}

// Lang returns the printer's language code.
func (p *Printer) Lang() string { return p.lang }

// T returns the message for key with {0}, {1}, … replaced by args. A missing key yields the
// key itself in brackets, which the catalogue test prevents from ever reaching a citizen.
func (p *Printer) T(key string, args ...any) string {
	msg, ok := p.msgs[key]
	if !ok {
		return "[" + key + "]"
	}
	if len(args) == 0 || !strings.Contains(msg, "{") {
		return msg
	}
	var sb strings.Builder
	for i := 0; i < len(msg); i++ {
		if msg[i] == '{' {
			if end := strings.IndexByte(msg[i:], '}'); end > 1 {
				if n, err := strconv.Atoi(msg[i+1 : i+end]); err == nil && n >= 0 && n < len(args) {
					switch a := args[n].(type) {
					case Msg:
						sb.WriteString(p.T(string(a)))
					case Alternatives:
						sb.WriteString(p.alternatives(a))
					default:
						fmt.Fprint(&sb, args[n])
					}
					i += end
					continue
				}
			}
		}
		sb.WriteByte(msg[i])
	}
	return sb.String()
}

// alternatives writes the translated items of a joined as choices.
func (p *Printer) alternatives(a Alternatives) string {
	items := make([]string, len(a))
	for i, m := range a {
		items[i] = p.T(string(m))
	}
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return p.T("list.or", strings.Join(items[:len(items)-1], ", "), items[len(items)-1])
}

// Error translates err: a LocalizedError (found with errors.As) in its own words, anything
// else as the generic error message, so internal details never reach a citizen.
func (p *Printer) Error(err error) string {
	var le *LocalizedError
	if asLocalized(err, &le) {
		return p.T(le.Key, le.Args...)
	}
	return p.T("error.generic")
}

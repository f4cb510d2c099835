// Package i18n holds every user-facing string of Sleutelbos in four languages (nl, fr, de, en)
// and picks the language for a request.
//
// Catalogues are flat JSON files, one folder per language and one file per domain
// (catalog/en/web.json, catalog/en/mail.json, …), merged at load. Keys are dotted
// ("login.title"); arguments are positional placeholders {0}, {1}. A test proves that every
// language has exactly the same keys with the same placeholders, so no page or e-mail can show a
// missing message.
//
// Errors a citizen may see are LocalizedError values carrying a key and arguments; the web layer
// translates them when it renders, so domain packages never hold English text.
package i18n

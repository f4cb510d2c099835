// Package webtest drives a Sleutelbos server over HTTP the way a browser does — cookies, the
// CSRF field, redirects — so tests and benchmarks can walk logons against a real server
// (httptest or a separate process) without a browser.
package webtest

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// Page is a fetched page.
type Page struct {
	Status int
	URL    *url.URL
	Header http.Header
	Body   string
}

// Citizen is one browser: a cookie jar and a base URL. It is not safe for concurrent use.
type Citizen struct {
	Base   string
	Client *http.Client
	// csrf is the CSRF token of the last page that had a form: the token is bound to the
	// browser's session, so it is read from the pages like a browser's forms carry it.
	csrf string
}

// New returns a Citizen for the server at base (http://127.0.0.1:port), using transport rt
// (nil: http.DefaultTransport).
func New(base string, rt http.RoundTripper) *Citizen {
	jar, _ := cookiejar.New(nil)
	return &Citizen{Base: strings.TrimRight(base, "/"), Client: &http.Client{Jar: jar, Transport: rt}}
}

// Get fetches path, following redirects.
func (c *Citizen) Get(path string) (Page, error) {
	resp, err := c.Client.Get(c.Base + path)
	if err != nil {
		return Page{}, fmt.Errorf("GET %s: %w", path, err)
	}
	return c.read(resp)
}

// Post submits a form to path, following redirects. The CSRF field is the token of the last
// page that had a form (fetching the logon page first when none had).
func (c *Citizen) Post(path string, form url.Values) (Page, error) {
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" {
		if c.csrf == "" {
			if _, err := c.Get("/login"); err != nil {
				return Page{}, err
			}
		}
		form.Set("csrf", c.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, c.Base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return Page{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.Base)
	resp, err := c.Client.Do(req)
	if err != nil {
		return Page{}, fmt.Errorf("POST %s: %w", path, err)
	}
	return c.read(resp)
}

// Cookie returns the value of the named cookie for the base URL.
func (c *Citizen) Cookie(name string) string {
	u, _ := url.Parse(c.Base + "/")
	for _, ck := range c.Client.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func (c *Citizen) read(resp *http.Response) (Page, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Page{}, err
	}
	p := Page{Status: resp.StatusCode, URL: resp.Request.URL, Header: resp.Header, Body: string(b)}
	if m := csrfRE.FindStringSubmatch(p.Body); m != nil {
		c.csrf = html.UnescapeString(m[1])
	}
	return p, nil
}

var (
	csrfRE        = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	positionRE    = regexp.MustCompile(`(?:number|nummer|numéro|Nummer)\s+(\d{1,2})\b`)
	alertRE       = regexp.MustCompile(`(?s)role="alert"[^>]*>(.*?)</`)
	hiddenRE      = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	summaryRE     = regexp.MustCompile(`(?s)<div class="error-summary"[^>]*>(.*?)</div>`)
	summaryItemRE = regexp.MustCompile(`(?s)<li>(.*?)</li>`)
	tagRE         = regexp.MustCompile(`<[^>]+>`)
)

// Position returns the token card position a code page asks for, or 0.
func (p Page) Position() int {
	m := positionRE.FindStringSubmatch(p.Body)
	if m == nil {
		return 0
	}
	var n int
	fmt.Sscan(m[1], &n)
	return n
}

// Alert returns the page's error: the messages of its error summary, or else the text of its
// first role="alert" element, or "".
func (p Page) Alert() string {
	if s := summaryRE.FindStringSubmatch(p.Body); s != nil {
		var msgs []string
		for _, m := range summaryItemRE.FindAllStringSubmatch(s[1], -1) {
			msgs = append(msgs, strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(m[1], ""))))
		}
		return strings.Join(msgs, " ")
	}
	m := alertRE.FindStringSubmatch(p.Body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(m[1], "")))
}

// Hidden returns the value of the page's hidden form field name, or "".
func (p Page) Hidden(name string) string {
	for _, m := range hiddenRE.FindAllStringSubmatch(p.Body, -1) {
		if m[1] == name {
			return html.UnescapeString(m[2])
		}
	}
	return ""
}

// StartLogon opens the chooser (with query, e.g. "?level=substantial"), chooses kind and submits
// username and password. It returns the page that follows: the code step, the welcome page, or
// the password page with an error.
func (c *Citizen) StartLogon(query, kind, username, password string) (Page, error) {
	chooser, err := c.Get("/login" + query)
	if err != nil {
		return Page{}, err
	}
	return c.LogonFrom(chooser, kind, username, password)
}

// LogonFrom chooses kind on the chooser page p, sending its hidden fields (the level and where
// the logon returns to) as a browser does, and submits username and password.
func (c *Citizen) LogonFrom(chooser Page, kind, username, password string) (Page, error) {
	form := url.Values{"kind": {kind}}
	for _, f := range []string{"level", "return"} {
		if v := chooser.Hidden(f); v != "" {
			form.Set(f, v)
		}
	}
	p, err := c.Post("/login/choose", form)
	if err != nil {
		return p, err
	}
	if p.Status != http.StatusOK || p.URL.Path != "/login/password" {
		return p, fmt.Errorf("choose %s: status %d at %s: %s", kind, p.Status, p.URL.Path, p.Alert())
	}
	return c.Post("/login/password", url.Values{"username": {username}, "password": {password}})
}

// SubmitCode posts a code on the code step.
func (c *Citizen) SubmitCode(code string) (Page, error) {
	return c.Post("/login/code", url.Values{"code": {code}})
}

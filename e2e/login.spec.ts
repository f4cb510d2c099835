import { expect, test, type Page } from '@playwright/test';
import { expectAccessible } from './axe';

// The demo citizen created by `sleutelbos serve --demo` (SPEC §9); override for another server.
const USERNAME = process.env.SLEUTELBOS_E2E_USERNAME ?? 'demo';
const PASSWORD = process.env.SLEUTELBOS_E2E_PASSWORD ?? 'demo-password-1';
const DEMO_NAME = process.env.SLEUTELBOS_E2E_NAME ?? 'Demo Citizen';

// English reference wording (SPEC §3).
const LOGON_TITLE = 'Log on to online public services';

const LANGUAGES = ['nl', 'fr', 'de', 'en'] as const;

// The logon title shows as the document title or as a heading.
async function expectLogonPage(page: Page): Promise<void> {
  await expect
    .poll(
      async () =>
        (await page.title()).includes(LOGON_TITLE) ||
        (await page.getByRole('heading', { name: LOGON_TITLE }).count()) > 0,
      { message: `expected a page titled "${LOGON_TITLE}" (at ${page.url()})` },
    )
    .toBe(true);
}

// Opens the English key chooser, picks "password" and submits the username/password form.
async function submitPassword(page: Page, username: string, password: string): Promise<void> {
  await page.goto('/login?lang=en');
  await page.locator('button[name=kind][value=password]').click();
  await page.locator('input[name=username]').fill(username);
  await page.locator('input[name=password]').fill(password);
  await page.locator('button[type=submit]').filter({ hasText: 'Next' }).click();
}

// The visible error message on the current page.
async function errorText(page: Page): Promise<string> {
  const error = page.locator('.error, [role=alert]').filter({ hasText: /\S/ }).first();
  await expect(error).toBeVisible();
  return (await error.innerText()).replace(/\s+/g, ' ').trim();
}

for (const lang of LANGUAGES) {
  test(`home page in ${lang} has <html lang="${lang}"> and no serious accessibility violations`, async ({ page }) => {
    const response = await page.goto(`/?lang=${lang}`);
    expect(response?.ok(), `GET /?lang=${lang} answered ${response?.status()}`).toBe(true);
    await expect(page.locator('html')).toHaveAttribute('lang', lang);
    await expectAccessible(page, `/?lang=${lang}`);
  });
}

test('password logon welcomes the demo citizen and sign out returns to the logon page', async ({ page }) => {
  await page.goto('/login?lang=en');
  const passwordKind = page.locator('button[name=kind][value=password]');
  await expect(passwordKind).toBeVisible();
  await expectAccessible(page, 'key chooser');

  await passwordKind.click();
  await expect(page.locator('input[name=username]')).toBeVisible();
  await expect(page.locator('input[name=password]')).toBeVisible();
  await expectAccessible(page, 'username and password');

  await page.locator('input[name=username]').fill(USERNAME);
  await page.locator('input[name=password]').fill(PASSWORD);
  await page.locator('button[type=submit]').filter({ hasText: 'Next' }).click();

  const body = page.locator('body');
  await expect(body).toContainText('Welcome, ');
  await expect(body).toContainText(DEMO_NAME);
  // The welcome page says what the citizen can do next.
  await expect(page.getByRole('heading', { name: 'What you can do now' })).toBeVisible();
  await expect(page.locator('main')).toContainText('sign out with the “Sign out” button');
  await expectAccessible(page, 'after logon');

  await page.locator('form[action="/logout"] button').click();
  await expectLogonPage(page);
  await expect(page.locator('form[action="/logout"]')).toHaveCount(0);
  // Signing out is confirmed, once.
  await expect(page.getByRole('status')).toHaveText('You have signed out.');
  await expectAccessible(page, 'after sign out');
  await page.reload();
  await expect(page.getByText('You have signed out.')).toHaveCount(0);
});

test('a wrong password gets the same message as an unknown username', async ({ browser }) => {
  // Separate browser contexts: nothing from the first attempt leaks into the second.
  const wrongPasswordContext = await browser.newContext();
  const unknownUserContext = await browser.newContext();
  try {
    const wrongPasswordPage = await wrongPasswordContext.newPage();
    await submitPassword(wrongPasswordPage, USERNAME, `not-${PASSWORD}`);
    const wrongPassword = await errorText(wrongPasswordPage);
    await expectAccessible(wrongPasswordPage, 'wrong password');

    const unknownUserPage = await unknownUserContext.newPage();
    await submitPassword(unknownUserPage, `nobody-${Date.now()}`, `not-${PASSWORD}`);
    const unknownUser = await errorText(unknownUserPage);

    expect(wrongPassword).not.toBe('');
    expect(unknownUser, 'an unknown username must not be told apart from a wrong password').toBe(wrongPassword);
    await expect(wrongPasswordPage.locator('body')).not.toContainText('Welcome, ');
  } finally {
    await wrongPasswordContext.close();
    await unknownUserContext.close();
  }
});

// ---- form errors (DESIGN.md: the GOV.UK error pattern) ----

test('a form error: summary at the top with the focus, a link to the field, the field marked, "Error:" in the title', async ({ page }) => {
  await submitPassword(page, `nobody-${Date.now()}`, `not-${PASSWORD}`);
  const summary = page.locator('#error-summary');
  await expect(summary).toBeVisible();
  await expect(summary).toBeFocused();
  await expect(summary.getByRole('heading', { name: 'There is a problem' })).toBeVisible();
  await expect(page).toHaveTitle(/^Error: /);
  const username = page.locator('input#username');
  await expect(username).toHaveAttribute('aria-invalid', 'true');
  await expect(username).toHaveAttribute('aria-describedby', 'username-error');
  await expect(page.locator('#username-error')).toContainText('The username or password is incorrect.');
  await expectAccessible(page, 'password step with an error');

  // The summary's link leads to the field.
  await summary.getByRole('link', { name: 'The username or password is incorrect.' }).click();
  await expect(page).toHaveURL(/#username$/);
  await expect(username).toBeFocused();
});

for (const [lang, prefix] of [['nl', 'Fout: '], ['fr', 'Erreur : '], ['de', 'Fehler: ']] as const) {
  test(`a form error in ${lang}: "${prefix.trim()}" in the title, the summary focused`, async ({ page }) => {
    await page.goto(`/login?lang=${lang}`);
    await page.locator('button[name=kind][value=password]').click();
    await page.locator('input[name=username]').fill(`nobody-${Date.now()}`);
    await page.locator('input[name=password]').fill('not-the-password');
    await page.locator('form[action="/login/password"] button[type=submit]').click();
    await expect(page.locator('#error-summary')).toBeFocused();
    expect(await page.title()).toMatch(new RegExp(`^${prefix}`));
    await expectAccessible(page, `password step with an error (${lang})`);
  });
}

// ---- no dead ends (help, statements, language names) ----

test('the language links are named by their full language names', async ({ page }) => {
  await page.goto('/login?lang=en');
  for (const [code, name] of [['nl', 'Nederlands'], ['fr', 'Français'], ['de', 'Deutsch'], ['en', 'English']]) {
    const link = page.getByRole('link', { name, exact: true });
    await expect(link).toHaveText(code);
    await expect(link).toHaveAttribute('hreflang', code);
  }
  await page.getByRole('link', { name: 'Nederlands', exact: true }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'nl');
  await expect(page.getByRole('link', { name: 'Nederlands', exact: true })).toHaveAttribute('aria-current', 'true');
  await expectAccessible(page, 'chooser in Dutch after the language link');
});

test('the help page and the footer show the helpdesk, the privacy notice and the accessibility statement', async ({ page }) => {
  await page.goto('/login?lang=en');
  const footer = page.getByRole('contentinfo');
  await expect(footer.getByRole('link', { name: 'helpdesk@example.org' })).toHaveAttribute('href', 'mailto:helpdesk@example.org');
  await footer.getByRole('link', { name: 'Help with logging on' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Forgot your username or password?');
  await expect(page.getByRole('main').getByRole('link', { name: 'helpdesk@example.org' })).toBeVisible();
  await expectAccessible(page, 'help page');

  await page.getByRole('contentinfo').getByRole('link', { name: 'Privacy notice' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Privacy notice');
  await expectAccessible(page, 'privacy notice');
  await page.getByRole('contentinfo').getByRole('link', { name: 'Accessibility statement' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Accessibility statement');
  await expectAccessible(page, 'accessibility statement');
});

test('no key meets the level asked for: the page offers a way out', async ({ page }) => {
  await page.goto('/login?level=high&lang=en');
  await expect(page.locator('button[name=kind]')).toHaveCount(0);
  await expect(page.getByRole('main')).toContainText('Go back to the online service you came from');
  await expect(page.getByRole('main').getByRole('link', { name: 'helpdesk@example.org' })).toBeVisible();
  await expect(page.getByRole('main').getByRole('link', { name: 'Help with logging on' })).toBeVisible();
  await expectAccessible(page, 'no key meets the level');
});

// ---- wording ----

test('German "E-Mail" never breaks at its hyphen, whatever the width', async ({ page }) => {
  await page.goto('/login?level=substantial&lang=de');
  await expect(page.locator('button[name=kind][value=emailcode]')).toContainText('per E\u2011Mail');
  const { occurrences, broken } = await page.evaluate(() => {
    const main = document.querySelector('main') as HTMLElement;
    const texts: Text[] = [];
    const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (/E.Mail/.test(n.textContent ?? '')) texts.push(n as Text);
    }
    const broken: string[] = [];
    let occurrences = 0;
    // Narrow the page step by step: at some width a breakable hyphen would end a line.
    for (let width = 80; width <= 480; width += 2) {
      main.style.width = `${width}px`;
      for (const text of texts) {
        const re = /E.Mail/g;
        for (let m = re.exec(text.data); m; m = re.exec(text.data)) {
          occurrences++;
          const range = document.createRange();
          range.setStart(text, m.index);
          range.setEnd(text, m.index + m[0].length);
          const lines = new Set(Array.from(range.getClientRects()).filter((r) => r.width > 0).map((r) => Math.round(r.bottom)));
          if (lines.size > 1) broken.push(`${width}px: …${text.data.slice(Math.max(0, m.index - 20), m.index + 26)}…`);
        }
      }
    }
    return { occurrences, broken };
  });
  expect(occurrences, 'the German chooser mentions E-Mail').toBeGreaterThan(0);
  expect(broken, 'E-Mail broken across two lines').toEqual([]);
});

test('the heading of a logon step is the CSAM wording', async ({ page }) => {
  await page.goto('/login?level=substantial&lang=en');
  await page.locator('button[name=kind][value=tokencard]').click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Logging in with security code via token');
});

// ---- no misleading notices ----

test('Back after logging on leads to the welcome page, without an "expired" notice', async ({ page }) => {
  await submitPassword(page, USERNAME, PASSWORD);
  await expect(page.locator('body')).toContainText(`Welcome, ${DEMO_NAME}`);
  await page.goBack(); // to the username and password step
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator('body')).toContainText(`Welcome, ${DEMO_NAME}`);
  await expect(page.locator('body')).not.toContainText('took too long');
  await expectAccessible(page, 'welcome after Back');

  // With no logon in progress the steps lead to the chooser, without a notice.
  await page.locator('form[action="/logout"] button').click();
  await expect(page.getByRole('status')).toHaveText('You have signed out.');
  await page.goto('/login/code?lang=en');
  await expectLogonPage(page);
  await expect(page.locator('.notice')).toHaveCount(0);
});

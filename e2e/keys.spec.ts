import { expect, test, type Page } from '@playwright/test';
import { expectAccessible } from './axe';
import { cardCode, demoCitizen, freshTotpCode, type DemoCitizen } from './demo';

// Logging on with each security-code key (SPEC §2–§3) at level "substantial": key chooser →
// username and password → security code → welcome page → sign out, with axe on every page.
//
// The tests of this file run in order in one worker, even with --fully-parallel: the server never
// accepts a TOTP time step twice and a token card never asks the same position twice in a row, so
// two logons of the same citizen must not race. Each test still stands on its own (own browser
// context, own logon).
test.describe.configure({ mode: 'default' });

// English reference wording (SPEC §3) and its Dutch translation (internal/i18n/catalog/nl).
const TOKEN_PROMPT_EN = /Enter the security code number (\d{1,2}) of your card/;
const TOKEN_PROMPT_NL = /Vul de beveiligingscode nummer (\d{1,2}) van uw kaart in/;
const NO_KEY_EN = 'You do not have this digital key';

type Kind = 'tokencard' | 'emailcode' | 'totp';

// The demo citizens of `serve --demo`: `demo` has every key, `token` only a token card.
const demo = () => demoCitizen('demo');
const tokenOnly = () => demoCitizen('token');

/**
 * Opens the key chooser for level "substantial" in lang, chooses kind and submits the citizen's
 * username and password; runs axe on the chooser and on the username/password page.
 */
async function startLogon(page: Page, lang: string, kind: Kind, who: DemoCitizen): Promise<void> {
  await page.goto(`/login?level=substantial&lang=${lang}`);
  await expect(page.locator('html')).toHaveAttribute('lang', lang);
  const choice = page.locator(`button[name=kind][value=${kind}]`);
  await expect(choice).toBeVisible();
  // "password" alone is level low: not offered when substantial is asked for.
  await expect(page.locator('button[name=kind][value=password]')).toHaveCount(0);
  await expectAccessible(page, `key chooser (${lang}, substantial)`);

  await choice.click();
  const form = page.locator('form[action="/login/password"]');
  await expect(form.locator('input[name=username]')).toBeVisible();
  await expectAccessible(page, `username and password (${lang}, ${kind})`);
  await form.locator('input[name=username]').fill(who.username);
  await form.locator('input[name=password]').fill(who.password);
  await form.locator('button[type=submit]').click();
}

/** The security-code form of the code step (not the "send a new code" form next to it). */
function codeForm(page: Page) {
  return page.locator('form[action="/login/code"]');
}

/** Waits for the code step, checks its instruction and runs axe on it. */
async function expectCodePage(page: Page, prompt: RegExp | string, label: string): Promise<void> {
  await expect(codeForm(page).locator('input[name=code]')).toBeVisible();
  await expect(codeForm(page)).toContainText(prompt);
  await expectAccessible(page, label);
}

/** Types code into the code step and clicks its Next button. */
async function submitCode(page: Page, code: string): Promise<void> {
  await codeForm(page).locator('input[name=code]').fill(code);
  await codeForm(page).locator('button[type=submit]').click();
}

/** The card position the token card code page asks for ("… number N of your card"). */
async function askedPosition(page: Page, prompt: RegExp): Promise<number> {
  const text = await codeForm(page).innerText();
  const m = prompt.exec(text);
  expect(m, `the code page asks for a card position (${prompt}); it says: ${text}`).not.toBeNull();
  const n = Number(m![1]);
  expect(n, 'card position').toBeGreaterThanOrEqual(1);
  expect(n, 'card position').toBeLessThanOrEqual(24);
  return n;
}

/** A well-formed 6-digit code that differs from code in every digit. */
function wrongCode(code: string): string {
  return code.replace(/\d/g, (d) => String((Number(d) + 1) % 10));
}

/** Waits for the welcome page of the logged-on citizen, runs axe on it. */
async function expectWelcome(page: Page, welcome: string, label: string): Promise<void> {
  await expect(page.locator('body')).toContainText(welcome);
  await expect(page.locator('form[action="/logout"] button')).toBeVisible();
  await expect(page.locator('input[name=code]')).toHaveCount(0);
  await expectAccessible(page, label);
}

/** Signs out with the header's button and checks the session is gone (axe on the page after). */
async function signOut(page: Page, label: string): Promise<void> {
  await page.locator('form[action="/logout"] button').click();
  await expect(page.locator('form[action="/logout"]')).toHaveCount(0);
  await expect(page.locator('body')).not.toContainText('Welcome, ');
  await expectAccessible(page, label);
}

// ---- the development mailbox (/dev/mailbox, newest message first) ----

/** The id of a mailbox message link ("/dev/mailbox/17" → 17). */
function messageId(href: string | null): number {
  const m = /\/dev\/mailbox\/(\d+)$/.exec(href ?? '');
  return m ? Number(m[1]) : 0;
}

/** The highest message id in the mailbox now (0 when it is empty). */
async function newestMessageId(mailbox: Page): Promise<number> {
  await mailbox.goto('/dev/mailbox');
  const hrefs = await mailbox.locator('a[href^="/dev/mailbox/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  return Math.max(0, ...hrefs.map(messageId));
}

/**
 * Waits for a message to `to` newer than message `after`, opens the newest one and returns the
 * 6-digit code in its text body; runs axe on the list and on the message.
 */
async function mailedCode(mailbox: Page, to: string, after: number): Promise<string> {
  let href = '';
  await expect
    .poll(
      async () => {
        await mailbox.goto('/dev/mailbox');
        const link = mailbox.locator('tbody tr').filter({ hasText: to }).first().locator('a[href^="/dev/mailbox/"]');
        href = (await link.count()) > 0 ? ((await link.getAttribute('href')) ?? '') : '';
        return messageId(href) > after;
      },
      { message: `a new message to ${to} in /dev/mailbox (newer than #${after})`, timeout: 15_000 },
    )
    .toBe(true);
  await expectAccessible(mailbox, 'development mailbox');

  await mailbox.locator(`a[href="${href}"]`).click();
  await expect(mailbox).toHaveURL(new RegExp(`${href}$`));
  await expect(mailbox.locator('main')).toContainText(to);
  await expectAccessible(mailbox, 'development mailbox message');
  const text = await mailbox.locator('pre').first().innerText();
  const m = /^\s*(\d{6})\s*$/m.exec(text);
  expect(m, `a 6-digit code on a line of its own in message ${href}:\n${text}`).not.toBeNull();
  return m![1];
}

// ---- one logon per key kind ----

test('logon with the token card (security code number N of the card)', async ({ page }) => {
  const who = demo();
  await startLogon(page, 'en', 'tokencard', who);
  await expectCodePage(page, TOKEN_PROMPT_EN, 'token card code');
  await expect(codeForm(page)).toContainText('Take your personal paper card (token) in hand');
  const n = await askedPosition(page, TOKEN_PROMPT_EN);

  await submitCode(page, cardCode(who, n));
  await expectWelcome(page, `Welcome, ${who.name}`, 'welcome after token card');
  await signOut(page, 'after sign out (token card)');
});

test('logon with a security code by e-mail, read from the development mailbox', async ({ page, context }) => {
  const who = demo();
  // The mailbox needs no logon; a second tab of the same browser context reads it.
  const mailbox = await context.newPage();
  const before = await newestMessageId(mailbox);

  await startLogon(page, 'en', 'emailcode', who);
  // The page says where the code went, masked (d•••@example.org), and where else to look.
  const masked = who.email[0] + '•••' + who.email.slice(who.email.lastIndexOf('@'));
  await expectCodePage(page, `Enter the 6-digit security code we sent to ${masked}.`, 'e-mail code');
  await expect(codeForm(page)).toContainText('check your junk e-mail folder');
  await expect(page.locator('main')).not.toContainText(who.email);

  const code = await mailedCode(mailbox, who.email, before);
  await submitCode(page, code);
  await expectWelcome(page, `Welcome, ${who.name}`, 'welcome after e-mail code');
  await signOut(page, 'after sign out (e-mail code)');
});

test('logon with a security code from the authenticator app (TOTP)', async ({ page }) => {
  // freshTotpCode may wait for the next 30-second step.
  test.setTimeout(90_000);
  const who = demo();
  expect(who.totpSecret, 'the demo citizen has an authenticator app secret').not.toBe('');
  await startLogon(page, 'en', 'totp', who);
  await expectCodePage(page, 'Enter the 6-digit security code shown in your authenticator app', 'authenticator app code');

  await submitCode(page, await freshTotpCode(who.totpSecret));
  await expectWelcome(page, `Welcome, ${who.name}`, 'welcome after authenticator app code');
  await signOut(page, 'after sign out (authenticator app)');
});

// ---- errors ----

test('a wrong token card code shows an error, the right one then logs on', async ({ page }) => {
  const who = demo();
  await startLogon(page, 'en', 'tokencard', who);
  await expectCodePage(page, TOKEN_PROMPT_EN, 'token card code');
  const first = await askedPosition(page, TOKEN_PROMPT_EN);

  await submitCode(page, wrongCode(cardCode(who, first)));
  const alert = page.locator('[role=alert]').filter({ hasText: /\S/ });
  await expect(alert).toBeVisible();
  await expect(alert).toContainText('security code');
  // The error summary has the focus and leads to the code field, which is marked invalid.
  await expect(page.locator('#error-summary')).toBeFocused();
  await expect(page.locator('#error-summary a[href="#code"]')).toBeVisible();
  await expect(codeForm(page).locator('input[name=code]')).toHaveAttribute('aria-invalid', 'true');
  await expect(page).toHaveTitle(/^Error: /);
  await expect(page.locator('form[action="/logout"]')).toHaveCount(0);
  await expectCodePage(page, TOKEN_PROMPT_EN, 'token card code after a wrong code');

  // Read the position again: the page may ask for another one after a failure.
  const n = await askedPosition(page, TOKEN_PROMPT_EN);
  await submitCode(page, cardCode(who, n));
  await expectWelcome(page, `Welcome, ${who.name}`, 'welcome after a wrong, then the right code');
  await signOut(page, 'after sign out (wrong, then right code)');
});

test('a citizen without the chosen key is told so after username and password', async ({ page }) => {
  const who = tokenOnly();
  expect(who.kinds, `'${who.username}' must not have an authenticator app key for this test`).not.toContain('totp');
  await startLogon(page, 'en', 'totp', who);

  const alert = page.locator('[role=alert]').filter({ hasText: NO_KEY_EN });
  await expect(alert).toBeVisible();
  await expect(alert).toContainText('security code via mobile app');
  await expect(page.locator('input[name=code]')).toHaveCount(0);
  await expect(page.locator('form[action="/logout"]')).toHaveCount(0);
  await expectAccessible(page, 'no such key');
});

// ---- translated pages ----

test('logon in Dutch with the token card', async ({ page }) => {
  const who = tokenOnly();
  await startLogon(page, 'nl', 'tokencard', who);
  await expect(page.locator('html')).toHaveAttribute('lang', 'nl');
  await expectCodePage(page, TOKEN_PROMPT_NL, 'token card code (nl)');
  await expect(codeForm(page)).toContainText('Neem uw persoonlijke papieren kaart (token) bij de hand');
  await expect(codeForm(page).locator('button[type=submit]')).toHaveText('Volgende');
  const n = await askedPosition(page, TOKEN_PROMPT_NL);

  await submitCode(page, cardCode(who, n));
  await expectWelcome(page, `Welkom, ${who.name}`, 'welcome (nl)');
  await expect(page.locator('html')).toHaveAttribute('lang', 'nl');
  await signOut(page, 'after sign out (nl)');
});

import { expect, test, type Page } from '@playwright/test';
import { expectAccessible } from './axe';

// Creating an account (issue 13, "Create an account"), in a real browser, in two languages:
// the logon page's link, the form (first with a mistake: the GOV.UK error summary takes the
// focus), the code read from the development mailbox, and the new citizen logged on at level
// low in step 1 of the activation wizard. axe-core runs on every page. Each run uses its own
// username and address, so the tests stand on their own.
test.describe.configure({ mode: 'default' });

interface Texts {
  link: string;
  heading: string;
  problem: string;
  mismatch: string;
  codeHeading: string;
  sentTo: (masked: string) => string;
  wizardStep1: string;
  welcome: (name: string) => string;
}

// From the catalogues (internal/i18n/catalog/<lang>/web.json, signup.json, portal.json).
const texts: Record<'en' | 'fr', Texts> = {
  en: {
    link: 'Create an account',
    heading: 'Create an account',
    problem: 'There is a problem',
    mismatch: 'The two passwords are not the same. Type the same password twice.',
    codeHeading: 'Confirm your e-mail address',
    sentTo: (m) => `We sent a code to ${m}. Fill in the code to create your account, then click “Next”.`,
    wizardStep1: 'Confirm e-mail address',
    welcome: (n) => `Welcome, ${n}`,
  },
  fr: {
    link: 'Créer un compte',
    heading: 'Créer un compte',
    problem: 'Il y a un problème',
    mismatch: 'Les deux mots de passe ne sont pas identiques. Saisissez deux fois le même mot de passe.',
    codeHeading: 'Confirmez votre adresse e-mail',
    sentTo: (m) => `Nous avons envoyé un code à ${m}. Saisissez ce code pour créer votre compte, puis cliquez sur « Suivant ».`,
    wizardStep1: 'Confirmer l’adresse e-mail',
    welcome: (n) => `Bienvenue, ${n}`,
  },
};

/** The id of a mailbox message link ("/dev/mailbox/17" → 17). */
function messageId(href: string | null): number {
  const m = /\/dev\/mailbox\/(\d+)$/.exec(href ?? '');
  return m ? Number(m[1]) : 0;
}

/** Waits for a message to `to` in the development mailbox, opens it (axe on both pages) and returns its 6-digit code. */
async function mailedCode(mailbox: Page, to: string): Promise<string> {
  let href = '';
  await expect
    .poll(
      async () => {
        await mailbox.goto('/dev/mailbox');
        const link = mailbox.locator('tbody tr').filter({ hasText: to }).first().locator('a[href^="/dev/mailbox/"]');
        href = (await link.count()) > 0 ? ((await link.getAttribute('href')) ?? '') : '';
        return messageId(href) > 0;
      },
      { message: `a message to ${to} in /dev/mailbox`, timeout: 15_000 },
    )
    .toBe(true);
  await expectAccessible(mailbox, 'development mailbox');
  await mailbox.locator(`a[href="${href}"]`).click();
  await expect(mailbox.locator('main')).toContainText(to);
  await expectAccessible(mailbox, 'development mailbox message');
  const text = await mailbox.locator('pre').first().innerText();
  const m = /^\s*(\d{6})\s*$/m.exec(text);
  expect(m, `a 6-digit code on a line of its own:\n${text}`).not.toBeNull();
  return m![1];
}

for (const lang of ['en', 'fr'] as const) {
  test(`create an account and land in the activation wizard (${lang})`, async ({ page, context }) => {
    const t = texts[lang];
    const stamp = `${lang}${Date.now().toString(36)}`;
    const username = `e2e.${stamp}`;
    const email = `e2e.${stamp}@example.org`;
    const name = `E2E ${lang.toUpperCase()} Citizen`;
    const passphrase = `a private passphrase for ${stamp}`;

    // The logon page leads to the form.
    await page.goto(`/login?lang=${lang}`);
    await expect(page.locator('html')).toHaveAttribute('lang', lang);
    const link = page.locator('main a[href="/register"]');
    await expect(link).toHaveText(t.link);
    await link.click();
    await expect(page.locator('h1')).toHaveText(t.heading);
    await expectAccessible(page, `registration form (${lang})`);

    // A mistake first: the error summary, focused, leads to the field.
    const form = page.locator('form[action="/register"]');
    await form.locator('#username').fill(username);
    await form.locator('#name').fill(name);
    await form.locator('#email').fill(email);
    await expect(form.locator('#language')).toHaveValue(lang);
    await form.locator('#password').fill(passphrase);
    await form.locator('#confirm').fill(passphrase + '!');
    await form.locator('button[type=submit]').click();
    await expect(page.locator('#error-summary')).toBeFocused();
    await expect(page.locator('#error-summary')).toContainText(t.problem);
    await expect(page.locator('#error-summary a[href="#confirm"]')).toHaveText(t.mismatch);
    await expect(page.locator('#confirm')).toHaveAttribute('aria-invalid', 'true');
    await expect(page.locator('#username')).toHaveValue(username);
    await expect(page.locator('#password')).toHaveValue('');
    await expectAccessible(page, `registration form with an error (${lang})`);

    await form.locator('#password').fill(passphrase);
    await form.locator('#confirm').fill(passphrase);
    await form.locator('button[type=submit]').click();

    // The code step names the address masked.
    await expect(page).toHaveURL(/\/register\/code$/);
    await expect(page.locator('h1')).toHaveText(t.codeHeading);
    await expect(page.locator('main')).toContainText(t.sentTo(`${email[0]}•••@example.org`));
    await expect(page.locator('main')).not.toContainText(email);
    await expectAccessible(page, `registration code (${lang})`);

    const mailbox = await context.newPage();
    const code = await mailedCode(mailbox, email);
    await page.locator('form[action="/register/code"] #code').fill(code);
    await page.locator('form[action="/register/code"] button[type=submit]').click();

    // Logged on, in step 1 of the activation wizard.
    await expect(page).toHaveURL(/\/keys\/activate$/);
    await expect(page.locator('.progress li[aria-current=step]')).toContainText(t.wizardStep1);
    await expect(page.locator('header')).toContainText(t.welcome(name));
    await expect(page.locator('#email')).toHaveValue(email);
    await expectAccessible(page, `activation wizard after registration (${lang})`);
  });
}

import { expect, test, type Page } from '@playwright/test';
import { expectAccessible } from './axe';
import { cardCode, demoCitizen, type DemoCitizen } from './demo';

// Nobody stays locked out (issue 12), in a real browser with axe on every page, in two
// languages each:
//  - a citizen who forgot their password asks for a link from the logon's "Forgot your
//    username and/or password?", reads it in the development mailbox, proves their token card
//    (the mailbox alone never reaches level substantial), chooses a new password (a mistake
//    first: the error summary takes the focus) and logs on with it;
//  - a citizen throttles himself with wrong passwords, and a helpdesk agent finds him, reads
//    why he cannot log on, and lifts the throttle with a reason; he logs on again.
// The demo citizens of `serve --demo` used here (dora, emile, frank, helga) are used nowhere
// else; the tests of this file run in order in one worker.
// Each test walks many pages, each checked by axe: more than the default 30 seconds on a busy machine.
test.describe.configure({ mode: 'default', timeout: 120_000 });

interface ResetTexts {
  forgot: string;
  forgotPassword: string;
  identifier: string;
  sentTitle: string;
  keyTitle: string;
  cardPrompt: RegExp;
  passwordTitle: string;
  problem: string;
  mismatch: string;
  done: string;
  welcome: (name: string) => string;
}

// From the catalogues (internal/i18n/catalog/<lang>/web.json, recovery.json, keys.json).
const resetTexts: Record<'en' | 'fr', ResetTexts> = {
  en: {
    forgot: 'Forgot your username and/or password?',
    forgotPassword: 'I forgot my password',
    identifier: 'Username or e-mail address',
    sentTitle: 'Check your e-mail',
    keyTitle: 'Confirm with your digital key',
    cardPrompt: /Enter the security code number (\d{1,2}) of your card/,
    passwordTitle: 'Choose a new password',
    problem: 'There is a problem',
    mismatch: 'The two passwords are not the same. Type the same password twice.',
    done: 'Your new password has been saved, and you have been signed out everywhere. Log on with your new password.',
    welcome: (n) => `Welcome, ${n}`,
  },
  fr: {
    forgot: "Nom d'utilisateur et/ou mot de passe oublié ?",
    forgotPassword: 'J’ai oublié mon mot de passe',
    identifier: 'Nom d’utilisateur ou adresse e-mail',
    sentTitle: 'Consultez vos e-mails',
    keyTitle: 'Confirmez avec votre clé numérique',
    cardPrompt: /Introduisez le code de sécurité numéro (\d{1,2}) de votre carte/,
    passwordTitle: 'Choisissez un nouveau mot de passe',
    problem: 'Il y a un problème',
    mismatch: 'Les deux mots de passe ne sont pas identiques. Tapez deux fois le même mot de passe.',
    done: 'Votre nouveau mot de passe a été enregistré et vous avez été déconnecté partout. Connectez-vous avec votre nouveau mot de passe.',
    welcome: (n) => `Bienvenue, ${n}`,
  },
};

/** The id of a mailbox message link ("/dev/mailbox/17" → 17). */
function messageId(href: string | null): number {
  const m = /\/dev\/mailbox\/(\d+)$/.exec(href ?? '');
  return m ? Number(m[1]) : 0;
}

/** Waits for a message to `to` in the development mailbox, opens it (axe on both pages) and returns its text. */
async function newestMail(mailbox: Page, to: string, subject: string): Promise<string> {
  let href = '';
  await expect
    .poll(
      async () => {
        await mailbox.goto('/dev/mailbox');
        const link = mailbox.locator('tbody tr').filter({ hasText: to }).filter({ hasText: subject }).first().locator('a[href^="/dev/mailbox/"]');
        href = (await link.count()) > 0 ? ((await link.getAttribute('href')) ?? '') : '';
        return messageId(href) > 0;
      },
      { message: `a message "${subject}" to ${to} in /dev/mailbox`, timeout: 15_000 },
    )
    .toBe(true);
  await expectAccessible(mailbox, 'development mailbox');
  await mailbox.locator(`a[href="${href}"]`).click();
  await expect(mailbox.locator('main')).toContainText(to);
  await expectAccessible(mailbox, 'development mailbox message');
  return mailbox.locator('pre').first().innerText();
}

/** Logs who on with the password key (level low) and checks the welcome page. */
async function passwordLogon(page: Page, lang: string, who: DemoCitizen, password: string, welcome: string): Promise<void> {
  await page.goto(`/login?lang=${lang}`);
  await page.locator('button[name=kind][value=password]').click();
  const form = page.locator('form[action="/login/password"]');
  await form.locator('input[name=username]').fill(who.username);
  await form.locator('input[name=password]').fill(password);
  await form.locator('button[type=submit]').click();
  await expect(page.locator('body')).toContainText(welcome);
  await expectAccessible(page, `welcome (${lang})`);
}

const resetSubjects = { en: 'Set a new password on', fr: 'Choisissez un nouveau mot de passe sur' };

for (const [lang, username] of [['en', 'dora'], ['fr', 'emile']] as const) {
  test(`forgotten password: the link, the token card, a new password, a logon (${lang})`, async ({ page, context }) => {
    const t = resetTexts[lang];
    const who = demoCitizen(username);
    const passphrase = `a new private passphrase ${Date.now().toString(36)}`;

    // From the logon's password step to the forgotten-password form.
    await page.goto(`/login?lang=${lang}`);
    await page.locator('button[name=kind][value=password]').click();
    await expectAccessible(page, `password step (${lang})`);
    await page.getByRole('link', { name: t.forgot }).click();
    await expectAccessible(page, `help: forgotten (${lang})`);
    await page.getByRole('link', { name: t.forgotPassword }).click();
    await expect(page.locator('h1')).toBeVisible();
    await expectAccessible(page, `forgotten password form (${lang})`);
    await page.getByLabel(t.identifier).fill(who.username);
    await page.locator('form[action="/forgot/password"] button[type=submit]').click();
    await expect(page.locator('h1')).toHaveText(t.sentTitle);
    await expectAccessible(page, `link sent (${lang})`);

    // The link, from the development mailbox.
    const mailbox = await context.newPage();
    const text = await newestMail(mailbox, who.email, resetSubjects[lang]);
    const m = /(\/reset\?t=[0-9]+\.[A-Za-z0-9_-]+)/.exec(text);
    expect(m, `a reset link in the e-mail:\n${text}`).not.toBeNull();
    await mailbox.close();
    await page.goto(m![1]);

    // The token card: the mailbox alone is not enough.
    await expect(page).toHaveURL(/\/reset\/key$/);
    await expect(page.locator('h1')).toHaveText(t.keyTitle);
    await expectAccessible(page, `which key (${lang})`);
    await page.locator('button[name=kind][value=tokencard]').click();
    const codeForm = page.locator('form[action="/reset/code"]');
    await expect(codeForm.locator('input[name=code]')).toBeVisible();
    await expectAccessible(page, `card code (${lang})`);
    const pm = t.cardPrompt.exec(await codeForm.innerText());
    expect(pm, 'a card position').not.toBeNull();
    await codeForm.locator('input[name=code]').fill(cardCode(who, Number(pm![1])));
    await codeForm.locator('button[type=submit]').click();

    // The new password: a mistake first.
    await expect(page).toHaveURL(/\/reset\/password$/);
    await expect(page.locator('h1')).toHaveText(t.passwordTitle);
    await expectAccessible(page, `new password (${lang})`);
    const form = page.locator('form[action="/reset/password"]');
    await form.locator('#password').fill(passphrase);
    await form.locator('#confirm').fill(passphrase + '!');
    await form.locator('button[type=submit]').click();
    await expect(page.locator('#error-summary')).toBeFocused();
    await expect(page.locator('#error-summary')).toContainText(t.problem);
    await expect(page.locator('#error-summary a[href="#confirm"]')).toHaveText(t.mismatch);
    await expect(page.locator('#confirm')).toHaveAttribute('aria-invalid', 'true');
    await expectAccessible(page, `new password with an error (${lang})`);
    await form.locator('#password').fill(passphrase);
    await form.locator('#confirm').fill(passphrase);
    await form.locator('button[type=submit]').click();

    // Back at the logon, told so; the new password logs on.
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.locator('main')).toContainText(t.done);
    await expectAccessible(page, `logon after the reset (${lang})`);
    await passwordLogon(page, lang, who, passphrase, t.welcome(who.name));
  });
}

interface HelpdeskTexts {
  find: string;
  passwordThrottled: RegExp;
  reasonMissing: string;
  done: string;
  ok: string;
  welcome: (name: string) => string;
  cardPrompt: RegExp;
}

const helpdeskTexts: Record<'en' | 'nl', HelpdeskTexts> = {
  en: {
    find: 'Username or e-mail address',
    passwordThrottled: /Logons are refused until .+: 5 wrong passwords in a row were typed with this username\./,
    reasonMissing: 'Give a reason for this action.',
    done: 'Done. The citizen has been sent an e-mail about it',
    ok: 'Nothing stops a logon with security code via token at level substantial now',
    welcome: (n) => `Welcome, ${n}`,
    cardPrompt: /Enter the security code number (\d{1,2}) of your card/,
  },
  nl: {
    find: 'Gebruikersnaam of e-mailadres',
    passwordThrottled: /Aanmeldingen worden geweigerd tot .+: met deze gebruikersnaam werden 5 foute wachtwoorden na elkaar getypt\./,
    reasonMissing: 'Geef een reden voor deze actie.',
    done: 'Gedaan. De burger kreeg er een e-mail over',
    ok: 'Niets houdt een aanmelding met beveiligingscode via token op niveau substantieel nu tegen',
    welcome: (n) => `Welkom, ${n}`,
    cardPrompt: /Vul de beveiligingscode nummer (\d{1,2}) van uw kaart in/,
  },
};

for (const lang of ['en', 'nl'] as const) {
  test(`the helpdesk explains a throttled citizen and lifts the throttle (${lang})`, async ({ page, browser }) => {
    const t = helpdeskTexts[lang];
    const frank = demoCitizen('frank');
    const helga = demoCitizen('helga');

    // Frank types five wrong passwords: his username is throttled.
    const frankContext = await browser.newContext();
    const frankPage = await frankContext.newPage();
    for (let i = 0; i < 5; i++) {
      await frankPage.goto(`/login?lang=${lang}`);
      await frankPage.locator('button[name=kind][value=password]').click();
      const form = frankPage.locator('form[action="/login/password"]');
      await form.locator('input[name=username]').fill(frank.username);
      await form.locator('input[name=password]').fill(`wrong password ${i}`);
      await form.locator('button[type=submit]').click();
      await expect(frankPage.locator('#error-summary')).toBeVisible();
    }

    // Helga logs on with her token card (the console needs level substantial).
    await page.goto(`/login?level=substantial&lang=${lang}`);
    await page.locator('button[name=kind][value=tokencard]').click();
    const pw = page.locator('form[action="/login/password"]');
    await pw.locator('input[name=username]').fill(helga.username);
    await pw.locator('input[name=password]').fill(helga.password);
    await pw.locator('button[type=submit]').click();
    const code = page.locator('form[action="/login/code"]');
    const pm = t.cardPrompt.exec(await code.innerText());
    expect(pm, 'a card position').not.toBeNull();
    await code.locator('input[name=code]').fill(cardCode(helga, Number(pm![1])));
    await code.locator('button[type=submit]').click();
    await expect(page.locator('form[action="/logout"]')).toBeVisible();

    // The console: find Frank.
    await page.goto(`/helpdesk?lang=${lang}`);
    await expectAccessible(page, `helpdesk: find (${lang})`);
    await page.getByLabel(t.find).fill(frank.username);
    await page.locator('form[action="/helpdesk"] button[type=submit]').click();
    await expect(page).toHaveURL(/\/helpdesk\/citizens\/\d+$/);
    await expectAccessible(page, `helpdesk: the citizen (${lang})`);

    // Why can't he log on with his token card at level substantial?
    await page.locator('select#kind').selectOption('tokencard');
    await page.locator('select#level').selectOption('substantial');
    await page.locator('form.explain button[type=submit]').click();
    await expect(page.locator('#explanation li[data-obstacle="password_throttled"]')).toContainText(t.passwordThrottled);
    await expectAccessible(page, `helpdesk: the explanation (${lang})`);

    // An action needs a reason.
    await page.locator('button[name=action][value=lift_password]').click();
    await expect(page.locator('#error-summary')).toBeFocused();
    await expect(page.locator('#error-summary')).toContainText(t.reasonMissing);
    await expect(page.locator('#reason')).toHaveAttribute('aria-invalid', 'true');
    await expectAccessible(page, `helpdesk: an action without a reason (${lang})`);
    await page.locator('#reason').fill('Frank called; identity checked with his date of birth');
    await page.locator('button[name=action][value=lift_password]').click();
    await expect(page.locator('main')).toContainText(t.done);
    await expectAccessible(page, `helpdesk: done (${lang})`);

    // The explanation now says nothing stops him, and he logs on.
    await page.locator('select#kind').selectOption('tokencard');
    await page.locator('select#level').selectOption('substantial');
    await page.locator('form.explain button[type=submit]').click();
    await expect(page.locator('#explanation')).toContainText(t.ok);
    await passwordLogon(frankPage, lang, frank, frank.password, t.welcome(frank.name));
    await frankContext.close();
  });
}

import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { expectAccessible } from './axe';
import { cardCode, demoCitizen, freshTotpCode, type DemoCitizen } from './demo';

// My digital keys (SPEC §4), walked in a real browser: log on with the token card, activate a
// security code by e-mail and a security code via mobile app in the four-step wizard, end the
// session and log on with the new app key, see both keys in the list, deactivate the app key
// with its confirmation step, and log on with the e-mail key. axe-core runs on every step and a
// screenshot of every step is kept (test-results/, attached to the report).
//
// The demo citizens `anna` (English) and `bram` (Dutch) have only a token card; nothing else
// uses them, so the two languages may run beside the other spec files.
test.describe.configure({ mode: 'default' });

/** The texts the test looks for, from the catalogues (English is the reference wording). */
interface Texts {
  cardPrompt: RegExp;
  step: [string, string, string, string];
  emailIntro: string;
  recommend: string;
  install: string;
  scan: string;
  window: string;
  done: string;
  problem: string;
  wrongCode: string;
  deactivateQuestion: string;
  deactivated: string;
  active: string;
  deactivatedStatus: string;
  noKey: string;
}

const texts: Record<string, Texts> = {
  en: {
    cardPrompt: /Enter the security code number (\d{1,2}) of your card/,
    step: ['Confirm e-mail address', 'Select your digital key', 'Activate your digital key', 'Confirmation'],
    emailIntro: "Please check your e-mail address. You can change it here if it's not correct.",
    recommend: 'We recommend you to activate “Security code by e-mail” or “Security code via mobile app”.',
    install: 'Install the mobile authenticator app of your choice on your personal smartphone.',
    scan: 'Scan the QR code using your mobile app.',
    window: 'This code remains valid for just 60 seconds.',
    done: 'You have successfully created a new digital key.',
    problem: 'There is a problem',
    wrongCode: 'The registration code is not correct.',
    deactivateQuestion: 'Do you want to deactivate your digital key “Security code via mobile app”?',
    deactivated: 'Your digital key has been deactivated.',
    active: 'Active',
    deactivatedStatus: 'Deactivated',
    noKey: 'You do not have this digital key',
  },
  nl: {
    cardPrompt: /Vul de beveiligingscode nummer (\d{1,2}) van uw kaart in/,
    step: ['E-mailadres bevestigen', 'Uw digitale sleutel kiezen', 'Uw digitale sleutel activeren', 'Bevestiging'],
    emailIntro: 'Controleer uw e-mailadres. U kunt het hier wijzigen als het niet correct is.',
    recommend: 'We raden u aan om ‘Beveiligingscode per e-mail’ of ‘Beveiligingscode via mobiele app’ te activeren.',
    install: 'Installeer de mobiele authenticator-app van uw keuze op uw persoonlijke smartphone.',
    scan: 'Scan de QR-code met uw mobiele app.',
    window: 'Let op: deze code is slechts 60 seconden geldig.',
    done: 'U hebt met succes een nieuwe digitale sleutel aangemaakt.',
    problem: 'Er is een probleem',
    wrongCode: 'De registratiecode is niet correct.',
    deactivateQuestion: 'Wilt u uw digitale sleutel ‘Beveiligingscode via mobiele app’ deactiveren?',
    deactivated: 'Uw digitale sleutel is gedeactiveerd.',
    active: 'Actief',
    deactivatedStatus: 'Gedeactiveerd',
    noKey: 'U beschikt niet over deze digitale sleutel',
  },
};

/** Runs axe on the page as it is and keeps a full-page screenshot of it. */
class Steps {
  private n = 0;
  constructor(
    private readonly page: Page,
    private readonly info: TestInfo,
    private readonly lang: string,
  ) {}

  async shot(label: string): Promise<void> {
    await expectAccessible(this.page, `${label} (${this.lang})`);
    this.n++;
    const name = `step-${String(this.n).padStart(2, '0')}-${label.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`;
    const path = this.info.outputPath(name);
    await this.page.screenshot({ path, fullPage: true });
    await this.info.attach(`${this.lang} ${label}`, { path, contentType: 'image/png' });
  }
}

// ---- the development mailbox (/dev/mailbox, newest message first) ----

function messageId(href: string | null): number {
  const m = /\/dev\/mailbox\/(\d+)$/.exec(href ?? '');
  return m ? Number(m[1]) : 0;
}

async function newestMessageId(mailbox: Page): Promise<number> {
  await mailbox.goto('/dev/mailbox');
  const hrefs = await mailbox.locator('a[href^="/dev/mailbox/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  return Math.max(0, ...hrefs.map(messageId));
}

/** The 6-digit code of the newest message to `to` newer than message `after`. */
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
      { message: `a new message to ${to} (newer than #${after})`, timeout: 15_000 },
    )
    .toBe(true);
  await mailbox.goto(href);
  const text = await mailbox.locator('pre').first().innerText();
  const m = /^\s*(\d{6})\s*$/m.exec(text);
  expect(m, `a 6-digit code in message ${href}:\n${text}`).not.toBeNull();
  return m![1];
}

// ---- logging on ----

/** Chooses kind on the key chooser and submits the citizen's username and password. */
async function chooseAndPassword(page: Page, kind: string, who: DemoCitizen): Promise<void> {
  await page.locator(`button[name=kind][value=${kind}]`).click();
  const form = page.locator('form[action="/login/password"]');
  await form.locator('input[name=username]').fill(who.username);
  await form.locator('input[name=password]').fill(who.password);
  await form.locator('button[type=submit]').click();
}

async function submitLogonCode(page: Page, code: string): Promise<void> {
  const form = page.locator('form[action="/login/code"]');
  await form.locator('input[name=code]').fill(code);
  await form.locator('button[type=submit]').click();
}

/** The wizard's form (Next, Previous, Cancel live in it). */
function wizard(page: Page) {
  return page.locator('form.wizard');
}

async function next(page: Page): Promise<void> {
  await wizard(page).locator('button[name=action][value=next]').click();
}

/** Checks the wizard shows step n (1–4) as the current one of the progress bar. */
async function expectStep(page: Page, t: Texts, n: 1 | 2 | 3 | 4): Promise<void> {
  await expect(page.locator('h1')).toHaveText(t.step[n - 1]);
  await expect(page.locator('.progress li[aria-current=step]')).toContainText(t.step[n - 1]);
  await expect(page.locator('.progress li')).toHaveCount(4);
}

for (const [lang, username] of [
  ['en', 'anna'],
  ['nl', 'bram'],
] as const) {
  test(`activate an e-mail key and an app key, deactivate one, log on with the other (${lang})`, async ({ page, context }, testInfo) => {
    // Two authenticator codes may each wait for the next 30-second step.
    test.setTimeout(240_000);
    const t = texts[lang];
    const who = demoCitizen(username);
    expect(who.kinds, `'${username}' must start with only a token card`).toEqual(['password', 'tokencard']);
    const steps = new Steps(page, testInfo, lang);
    const mailbox = await context.newPage();

    // 1. My digital keys needs a logon; any active key will do. The card leads back to it.
    await page.goto(`/keys?lang=${lang}`);
    await expect(page).toHaveURL(/\/login\?.*return=%2Fkeys/);
    await expect(page.locator('html')).toHaveAttribute('lang', lang);
    await expect(page.locator('.more-info a[href="/keys"]')).toBeVisible();
    await steps.shot('logon to my digital keys');
    await chooseAndPassword(page, 'tokencard', who);
    const prompt = (await page.locator('form[action="/login/code"]').innerText()).match(t.cardPrompt);
    expect(prompt, 'the card position').not.toBeNull();
    await submitLogonCode(page, cardCode(who, Number(prompt![1])));
    await expect(page).toHaveURL(/\/keys$/);
    await expect(page.locator('tr[data-kind=tokencard][data-status=active]')).toBeVisible();
    await steps.shot('key list with the card');

    // 2. The wizard to a security code by e-mail.
    await page.locator('main a[href^="/keys/activate"]').click();
    await expectStep(page, t, 1);
    await expect(wizard(page)).toContainText(t.emailIntro);
    await expect(page.locator('#email')).toHaveValue(who.email);
    await steps.shot('wizard 1 confirm e-mail address');
    await next(page);
    await expectStep(page, t, 2);
    await expect(wizard(page)).toContainText(t.recommend);
    await expect(page.locator('input[name=kind][value=tokencard]')).toHaveCount(0);
    await steps.shot('wizard 2 select e-mail key');
    const beforeRegistration = await newestMessageId(mailbox);
    await page.locator('input[name=kind][value=emailcode]').check();
    await next(page);
    await expectStep(page, t, 3);
    await expect(wizard(page)).toContainText(`${who.email[0]}•••@${who.email.split('@')[1]}`);
    await steps.shot('wizard 3 registration code by e-mail');
    const code = await mailedCode(mailbox, who.email, beforeRegistration);
    // A wrong code first: the form-error pattern, the summary taking the focus.
    await wizard(page).locator('#code').fill(code === '000000' ? '111111' : '000000');
    await next(page);
    await expect(page.locator('.error-summary')).toBeFocused();
    await expect(page.locator('.error-summary')).toContainText(t.problem);
    await expect(page.locator('.error-summary a[href="#code"]')).toContainText(t.wrongCode);
    await expect(page.locator('#code')).toHaveAttribute('aria-invalid', 'true');
    await expect(page).toHaveTitle(/^(Error|Fout):/);
    await steps.shot('wizard 3 wrong registration code');
    await wizard(page).locator('#code').fill(code);
    await next(page);
    await expectStep(page, t, 4);
    await expect(page.locator('main')).toContainText(t.done);
    await steps.shot('wizard 4 e-mail key confirmation');

    // 3. The wizard to a security code via mobile app.
    await page.locator('.portal-nav a[href="/keys"]').click();
    await page.locator('main a[href^="/keys/activate"]').click();
    await expectStep(page, t, 1);
    await next(page);
    await expectStep(page, t, 2);
    await page.locator('input[name=kind][value=totp]').check();
    await next(page);
    await expectStep(page, t, 3);
    await expect(wizard(page)).toContainText(t.install);
    await steps.shot('wizard 3 install the app');
    await next(page);
    await expectStep(page, t, 3);
    await expect(wizard(page)).toContainText(t.scan);
    await expect(wizard(page)).toContainText(t.window);
    const qr = page.locator('img.qr');
    await expect.poll(() => qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
    const secret = (await page.locator('#secret').innerText()).replace(/\s+/g, '');
    expect(secret, 'the manual code (base32)').toMatch(/^[A-Z2-7]{32}$/);
    await steps.shot('wizard 3 scan the QR code');
    await wizard(page).locator('#code').fill(await freshTotpCode(secret));
    await next(page);
    await expectStep(page, t, 4);
    await steps.shot('wizard 4 app key confirmation');
    // The browser's Back never re-enters the activation: the page before (the QR code step)
    // is fetched again and shows the confirmation.
    await page.goBack();
    await expectStep(page, t, 4);
    await expect(page.locator('#code')).toHaveCount(0);
    await expect(page.locator('img.qr')).toHaveCount(0);

    // 4. End session: back to the logon page; log on with the new app key.
    await page.locator('button[name=action][value=end]').click();
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.locator('form[action="/logout"]')).toHaveCount(0);
    await steps.shot('logon page after end session');
    await page.goto(`/keys?lang=${lang}`);
    await chooseAndPassword(page, 'totp', who);
    await submitLogonCode(page, await freshTotpCode(secret));
    await expect(page).toHaveURL(/\/keys$/);

    // 5. Both new keys are in the list.
    await expect(page.locator('tr[data-kind=emailcode][data-status=active]')).toContainText(t.active);
    await expect(page.locator('tr[data-kind=totp][data-status=active]')).toContainText(t.active);
    await steps.shot('key list with both new keys');

    // 6. Deactivate the app key, with its confirmation step.
    await page.locator('tr[data-kind=totp] a[href$="/deactivate"]').click();
    await expect(page.locator('main')).toContainText(t.deactivateQuestion);
    await steps.shot('deactivate confirmation');
    await page.locator('main form button[type=submit]').click();
    await expect(page.locator('.notice')).toContainText(t.deactivated);
    await expect(page.locator('tr[data-kind=totp][data-status=deactivated]')).toContainText(t.deactivatedStatus);
    await steps.shot('key list after deactivation');

    // 7. Sign out; the app key no longer logs on, the e-mail key does.
    await page.locator('form[action="/logout"] button').click();
    await page.goto(`/login?level=substantial&lang=${lang}`);
    await chooseAndPassword(page, 'totp', who);
    await expect(page.locator('[role=alert]').filter({ hasText: t.noKey })).toBeVisible();
    await steps.shot('the deactivated app key');
    await page.goto(`/keys?lang=${lang}`);
    const beforeLogon = await newestMessageId(mailbox);
    await chooseAndPassword(page, 'emailcode', who);
    await submitLogonCode(page, await mailedCode(mailbox, who.email, beforeLogon));
    await expect(page).toHaveURL(/\/keys$/);
    await expect(page.locator('header')).toContainText(who.name);
    await steps.shot('logged on with the e-mail key');
  });
}

test('My profile and Info in French, with axe', async ({ page }, testInfo) => {
  const who = demoCitizen('chloe');
  const steps = new Steps(page, testInfo, 'fr');
  await page.goto('/info?lang=fr');
  await chooseAndPassword(page, 'tokencard', who);
  const prompt = (await page.locator('#code-prompt').innerText()).match(/(\d{1,2})/);
  expect(prompt, 'the card position').not.toBeNull();
  await submitLogonCode(page, cardCode(who, Number(prompt![1])));
  await expect(page).toHaveURL(/\/info$/);
  await expect(page.locator('html')).toHaveAttribute('lang', 'fr');
  await expect(page.locator('main')).toContainText('Niveau de garantie');
  await steps.shot('info');
  await page.locator('main a[href="/info/why"]').click();
  await expect(page.locator('h1')).toHaveText('Pourquoi recommandons-nous un code de sécurité ?');
  await steps.shot('why');
  await page.locator('.portal-nav a[href="/profile"]').click();
  await expect(page.locator('main')).toContainText(who.email);
  await steps.shot('profile');
  // An invalid new address: the form-error pattern.
  await page.locator('#email').fill('pas une adresse');
  await page.locator('form[action="/profile/email"] button').click();
  await expect(page.locator('.error-summary')).toBeFocused();
  await expect(page.locator('.error-summary')).toContainText('Il y a un problème');
  await expect(page.locator('#email')).toHaveAttribute('aria-invalid', 'true');
  await expect(page).toHaveTitle(/^Erreur :/);
  await steps.shot('profile invalid address');
  // The preferred language: the pages follow it.
  await page.locator('#language').selectOption('de');
  await page.locator('form[action="/profile/language"] button').click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'de');
  await expect(page.locator('.notice')).toContainText('Ihre bevorzugte Sprache wurde gespeichert.');
  await steps.shot('profile in German');
});

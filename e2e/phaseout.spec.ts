import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { expect, test, type Page } from '@playwright/test';
import { expectAccessible } from './axe';
import { cardCode, parseDemoOutput, totpCode, totpStep, type DemoCitizen } from './demo';
import { e2eDir, serverBinary } from './server';

// Phasing out the token (SPEC §5), the seed guide walked literally in a browser: a server of its
// own (`serve --demo` after one `admin phaseout set`), whose clock the test sets through
// --test-clock-file, and whose e-mails go over SMTP to a real SMTP server (cmd/smtpsink) that
// the test reads. In the prompt period (15 January 2024) citizens who have only a token take
// each of the pop-up's three ways; from 31 January 2024 00:00 Brussels time the token is not
// offered. axe-core runs on every page of the pop-up.
test.describe.configure({ mode: 'serial' });

const sinkBinary = process.env.SLEUTELBOS_E2E_SMTPSINK ?? path.join(e2eDir, '.bin', 'smtpsink');

interface Mail {
  to: string[];
  subject: string;
  text: string;
}

let base = '';
let sinkURL = '';
let clockFile = '';
let dataDir = '';
let server: ChildProcess | undefined;
let sink: ChildProcess | undefined;
let citizens = new Map<string, DemoCitizen>();
// The server's clock runs on from the instant in clockFile, from when it read it.
let clockBase = 0;
let clockSetAt = 0;

function setClock(iso: string): void {
  fs.writeFileSync(clockFile, `${iso}\n`);
  clockBase = Date.parse(iso);
  clockSetAt = Date.now();
}

/** The server's time now, as the test clock makes it (milliseconds since the epoch). */
function serverNow(): number {
  return clockBase + (Date.now() - clockSetAt);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** The server's environment: ours without the test harness's SLEUTELBOS_* variables. */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('SLEUTELBOS_')) env[k] = v;
  }
  return env;
}

test.beforeAll(async () => {
  test.setTimeout(90_000);
  for (const bin of [serverBinary, sinkBinary]) {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing; build it with scripts/e2e.sh`);
  }
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sleutelbos-phaseout-'));
  clockFile = path.join(dataDir, 'clock');
  setClock('2024-01-15T10:00:00Z');

  // The SMTP server the service sends to, and the address where the test reads what it got.
  sink = spawn(sinkBinary, [], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve, reject) => {
    const rl = readline.createInterface({ input: sink!.stdout! });
    rl.once('line', resolve);
    sink!.once('exit', (code) => reject(new Error(`smtpsink exited with ${code}`)));
  });
  const addrs = JSON.parse(first) as { smtp: string; http: string };
  sinkURL = `http://${addrs.http}`;
  const smtpPort = addrs.smtp.split(':')[1];

  // One command, as the operator would: the seed's token policy.
  const admin = execFileSync(
    serverBinary,
    ['admin', '--data-dir', dataDir, 'phaseout', 'set', 'tokencard', '--activation-closed-from', '2023-07-01',
      '--migration-prompt-from', '2023-09-01', '--disabled-from', '2024-01-31', '--confirm'],
    { cwd: dataDir, env: serverEnv(), encoding: 'utf8' },
  );
  expect(admin).toContain('phase-out policy of tokencard set');

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const logFile = path.join(e2eDir, '.bin', 'phaseout-server.log');
  const log = fs.openSync(logFile, 'w');
  server = spawn(
    serverBinary,
    ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--metrics-listen', '127.0.0.1:0', '--data-dir', dataDir, '--test-clock-file', clockFile,
      '--smtp-host', '127.0.0.1', '--smtp-port', smtpPort, '--smtp-tls', 'none', '--mail-poll', '200ms'],
    { cwd: dataDir, env: serverEnv(), stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || server.exitCode !== null) {
      throw new Error(`the phase-out server did not start:\n${fs.readFileSync(logFile, 'utf8').slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  citizens = parseDemoOutput(fs.readFileSync(logFile, 'utf8'));
});

test.afterAll(async () => {
  server?.kill('SIGTERM');
  sink?.kill('SIGTERM');
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

function citizen(username: string): DemoCitizen {
  const c = citizens.get(username);
  if (!c) throw new Error(`demo citizen ${username} not printed by the server`);
  expect(c.kinds, `'${username}' must start with only a token card`).toEqual(['password', 'tokencard']);
  return c;
}

async function mailsTo(to: string): Promise<Mail[]> {
  const res = await fetch(`${sinkURL}/messages?to=${encodeURIComponent(to)}`);
  return (await res.json()) as Mail[];
}

/** Waits for the e-mails to `to` whose subjects match each of `subjects`, and returns them. */
async function waitForMails(to: string, ...subjects: RegExp[]): Promise<Mail[]> {
  let found: Mail[] = [];
  await expect
    .poll(
      async () => {
        const all = await mailsTo(to);
        found = subjects.map((s) => all.filter((m) => s.test(m.subject)).at(-1)).filter((m): m is Mail => !!m);
        return found.length;
      },
      { message: `e-mails to ${to}: ${subjects.join(', ')}`, timeout: 20_000 },
    )
    .toBe(subjects.length);
  return found;
}

/** The registration code of the newest registration e-mail to `to` after `seen` of them. */
async function registrationCode(to: string, seen: number): Promise<string> {
  let code = '';
  await expect
    .poll(
      async () => {
        const regs = (await mailsTo(to)).filter((m) => /registration code|registratiecode|code d'enregistrement/i.test(m.subject));
        if (regs.length <= seen) return '';
        code = /^\s*(\d{6})\s*$/m.exec(regs.at(-1)!.text)?.[1] ?? '';
        return code;
      },
      { message: `a registration code e-mailed to ${to}`, timeout: 20_000 },
    )
    .toMatch(/^\d{6}$/);
  return code;
}

// ---- the logon ----

const promptTitle = 'The digital key “Security code via token” is being phased out';
const noKey = 'You do not have this digital key (security code via token) or the key may have expired.';

/** Opens the chooser (in English), checks the side note, chooses the token: the pop-up. */
async function openPrompt(page: Page): Promise<void> {
  await page.goto(`${base}/login?level=substantial&return=%2Fkeys&lang=en`);
  await expect(page.locator('.more-info .closed-note')).toHaveText(
    'Note! You cannot activate a new token anymore. Citizens with an active token can continue to use it in order to log into online services.',
  );
  await expect(page.locator('.more-info')).toContainText('Would you like to activate another key?');
  await expectAccessible(page, 'chooser with the side note');
  await page.locator('button[name=kind][value=tokencard]').click();
  await expect(page).toHaveURL(/\/login\/prompt$/);
  await expect(page.getByRole('dialog', { name: promptTitle })).toBeVisible();
  await expect(page.locator('#prompt-intro')).toContainText('From 31 January 2024');
  await expect(page.locator('#close-hint')).toContainText('until 30 January 2024 at the latest');
}

async function password(page: Page, who: DemoCitizen): Promise<void> {
  const form = page.locator('form[action="/login/password"]');
  await form.locator('input[name=username]').fill(who.username);
  await form.locator('input[name=password]').fill(who.password);
  await form.locator('button[type=submit]').click();
}

async function cardStep(page: Page, who: DemoCitizen): Promise<void> {
  const form = page.locator('form[action="/login/code"]');
  const m = /Enter the security code number (\d{1,2}) of your card/.exec(await form.innerText());
  expect(m, 'the card position').not.toBeNull();
  await form.locator('input[name=code]').fill(cardCode(who, Number(m![1])));
  await form.locator('button[type=submit]').click();
}

function wizard(page: Page) {
  return page.locator('form.wizard');
}

async function next(page: Page): Promise<void> {
  await wizard(page).locator('button[name=action][value=next]').click();
}

/** "Activate a new digital key now", the logon with the token, and the wizard's steps 1–2. */
async function migrateTo(page: Page, who: DemoCitizen, kind: 'emailcode' | 'totp'): Promise<void> {
  await openPrompt(page);
  await expectAccessible(page, 'the pop-up');
  await page.getByRole('button', { name: 'Activate a new digital key now' }).click();
  await expect(page).toHaveURL(/\/login\/password$/);
  await expect(page.locator('.more-info .closed-note')).toBeVisible();
  await password(page, who);
  await cardStep(page, who);
  // Straight into step 1 of the activation wizard.
  await expect(page).toHaveURL(/\/keys\/activate$/);
  await expect(page.locator('h1')).toHaveText('Confirm e-mail address');
  await expect(page.locator('#email')).toHaveValue(who.email);
  await expectAccessible(page, 'wizard step 1 after the migration logon');
  await next(page);
  await expect(page.locator('h1')).toHaveText('Select your digital key');
  await expect(page.locator('input[name=kind][value=tokencard]')).toHaveCount(0);
  await page.locator(`input[name=kind][value=${kind}]`).check();
  await next(page);
}

/** After the migration: End session, and the token then gets the SPEC §3 message. */
async function tokenIsGone(page: Page, who: DemoCitizen): Promise<void> {
  await page.locator('button[name=action][value=end]').click();
  await expect(page).toHaveURL(/\/login$/);
  await openPrompt(page);
  await page.getByRole('button', { name: 'Close' }).click();
  await password(page, who);
  await expect(page.locator('main')).toContainText(noKey);
  await expectAccessible(page, 'the token after the migration');
}

test('activate a new digital key now: an e-mail key replaces the token', async ({ page }) => {
  test.setTimeout(120_000);
  const who = citizen('anna');
  await migrateTo(page, who, 'emailcode');
  await expect(page.locator('h1')).toHaveText('Activate your digital key');
  const code = await registrationCode(who.email, 0);
  await wizard(page).locator('#code').fill(code);
  await next(page);
  await expect(page.locator('h1')).toHaveText('Confirmation');
  await expect(page.locator('main')).toContainText('You have successfully created a new digital key.');
  // The two e-mails of the seed: the token deactivated, the new key activated.
  const [deactivated, activated] = await waitForMails(
    who.email,
    /Your digital key “Security code via token” has been deactivated/,
    /Your digital key “Security code by e-mail” has been activated/,
  );
  expect(deactivated.text).toContain('You replaced it with a new digital key.');
  expect(activated.text.replace(/\s+/g, ' ')).toContain('It replaces your digital key “Security code via token”, which has been deactivated.');
  await tokenIsGone(page, who);
});

test('activate a new digital key now: an app key replaces the token', async ({ page }) => {
  test.setTimeout(120_000);
  const who = citizen('bram');
  await migrateTo(page, who, 'totp');
  await expect(wizard(page)).toContainText('Install the mobile authenticator app');
  await next(page);
  const secret = (await page.locator('#secret').innerText()).replace(/\s+/g, '');
  await wizard(page).locator('#code').fill(totpCode(secret, totpStep(serverNow())));
  await next(page);
  await expect(page.locator('h1')).toHaveText('Confirmation');
  // bram reads Dutch: his e-mails are in his language.
  await waitForMails(who.email, /Uw digitale sleutel ‘Beveiligingscode via token’ is gedeactiveerd/,
    /Uw digitale sleutel ‘Beveiligingscode via mobiele app’ is geactiveerd/);
  await tokenIsGone(page, who);
});

test('I want to log in with another digital key: back to the chooser, without our script', async ({ page }) => {
  citizen('chloe'); // starts with only a token card
  // Without the script the pop-up is a plain page: the dialog is open, not modal, and works.
  await page.route(/\/static\/[^?]*\.js/, (route) => route.abort());
  await openPrompt(page);
  expect(await page.locator('dialog').evaluate((d) => d.matches(':modal'))).toBe(false);
  await expectAccessible(page, 'the pop-up as a plain page');
  await page.getByRole('button', { name: 'I want to log in with another digital key' }).click();
  await expect(page).toHaveURL(/\/login\?level=substantial&return=%2Fkeys$/);
  await expect(page.locator('button[name=kind][value=tokencard]')).toBeVisible();
  await expect(page.locator('main')).toContainText('Choose the digital key you want to log on with, for example “Security code by e-mail”');
  await expectAccessible(page, 'the chooser after another key');
  // The page itself: no pop-up any more, and the other substantial kinds are there to choose.
  await expect(page.locator('dialog#phaseout-prompt')).toHaveCount(0);
  for (const kind of ['emailcode', 'totp']) {
    await expect(page.locator(`button[name=kind][value=${kind}]`)).toBeVisible();
  }
});

test('close (×): logging on with the token goes on, for now; Esc is the same', async ({ page }) => {
  const who = citizen('token');
  await openPrompt(page);
  // The dialog is modal: focus starts on the first way and stays inside; Esc closes it.
  const dialog = page.locator('dialog#phaseout-prompt');
  expect(await dialog.evaluate((d) => d.matches(':modal'))).toBe(true);
  await expect(page.locator('#choice-activate')).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.locator('#choice-other_key')).toBeFocused();
  // Tab past the last button wraps to the first (×), Shift+Tab past it back to the last.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Close' })).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await expect(page.locator('#choice-other_key')).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab');
  await expect(page.getByRole('button', { name: 'Close' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(page).toHaveURL(/\/login\/password$/);
  await password(page, who);
  await cardStep(page, who);
  await expect(page).toHaveURL(/\/keys$/);
  await expect(page.locator('tr[data-kind=tokencard][data-status=active]')).toBeVisible();
  // And the × button itself.
  await page.locator('form[action="/logout"] button').click();
  await openPrompt(page);
  await page.getByRole('button', { name: 'Close' }).click();
  await expect(page).toHaveURL(/\/login\/password$/);
});

test('from 31 January 2024 00:00 Brussels time the token is not offered', async ({ page }) => {
  // 30 January 2024 23:59:30 Brussels: still the prompt.
  setClock('2024-01-30T22:59:30Z');
  await page.goto(`${base}/login?level=substantial&lang=en`);
  await expect(page.locator('button[name=kind][value=tokencard]')).toBeVisible();
  setClock('2024-01-30T23:00:00Z');
  await page.goto(`${base}/login?level=substantial&lang=en`);
  await expect(page.locator('button[name=kind][value=emailcode]')).toBeVisible();
  await expect(page.locator('button[name=kind][value=tokencard]')).toHaveCount(0);
  await expectAccessible(page, 'chooser after the cut-off');
  // The citizen who closed the pop-up: the key reads as expired in My digital keys.
  const who = citizen('token');
  await page.goto(`${base}/login?return=%2Fkeys&lang=en`);
  await page.locator('button[name=kind][value=password]').click();
  await password(page, who);
  await expect(page).toHaveURL(/\/keys$/);
  await expect(page.locator('tr[data-kind=tokencard][data-status=expired]')).toBeVisible();
});

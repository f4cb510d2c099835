import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { expectAccessible } from './axe';
import { cardCode, parseDemoOutput, type DemoCitizen } from './demo';
import { e2eDir, serverBinary } from './server';

// The operator's view of a phase-out (SPEC §5, issue 9): a server of its own (`serve --demo`
// after `admin phaseout set tokencard`, activation closed, switched off in 2099), where the
// operator role is granted and revoked with the admin command, as an operator would. The demo
// citizen `demo` (every key) becomes the operator; `token`, `anna`, `bram` and `chloe` have
// only a paper card: the citizens at risk. axe-core runs on every operator page.
test.describe.configure({ mode: 'serial' });

let base = '';
let dataDir = '';
let server: ChildProcess | undefined;
let citizens = new Map<string, DemoCitizen>();

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

/** Runs `sleutelbos admin --data-dir <ours> args…` and returns its output. */
function admin(...args: string[]): string {
  return execFileSync(serverBinary, ['admin', '--data-dir', dataDir, ...args], { cwd: dataDir, env: serverEnv(), encoding: 'utf8' });
}

test.beforeAll(async () => {
  test.setTimeout(90_000);
  if (!fs.existsSync(serverBinary)) throw new Error(`${serverBinary} is missing; build it with scripts/e2e.sh`);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sleutelbos-operator-'));
  expect(admin('phaseout', 'set', 'tokencard', '--activation-closed-from', '2020-01-01', '--disabled-from', '2099-01-31', '--confirm'))
    .toContain('phase-out policy of tokencard set');

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const logFile = path.join(e2eDir, '.bin', 'operator-server.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = fs.openSync(logFile, 'w');
  server = spawn(serverBinary, ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir],
    { cwd: dataDir, env: serverEnv(), stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || server.exitCode !== null) {
      throw new Error(`the operator test's server did not start:\n${fs.readFileSync(logFile, 'utf8').slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  citizens = parseDemoOutput(fs.readFileSync(logFile, 'utf8'));
  expect(citizens.get('demo')?.cardCodes.length).toBe(24);
});

test.afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Logs who on at level substantial with their paper card, returning to ret. */
async function logonWithCard(page: Page, who: DemoCitizen, ret: string): Promise<void> {
  await page.goto(`${base}/login?level=substantial&lang=en&return=${encodeURIComponent(ret)}`);
  await page.locator('button[name=kind][value=tokencard]').click();
  const form = page.locator('form[action="/login/password"]');
  await form.locator('input[name=username]').fill(who.username);
  await form.locator('input[name=password]').fill(who.password);
  await form.locator('button[type=submit]').click();
  const code = page.locator('form[action="/login/code"]');
  await expect(code.locator('input[name=code]')).toBeVisible();
  const m = /number (\d{1,2}) of your card/.exec(await code.innerText());
  expect(m, 'the code page asks for a card position').not.toBeNull();
  await code.locator('input[name=code]').fill(cardCode(who, Number(m![1])));
  await code.locator('button[type=submit]').click();
  await expect(page).toHaveURL(new RegExp(`${ret.replace(/[/?]/g, '\\$&')}$`));
}

test('a citizen without the operator role is refused, in their language', async ({ page }) => {
  test.setTimeout(90_000);
  await logonWithCard(page, citizens.get('token')!, '/keys');
  const res = await page.goto(`${base}/operator?lang=nl`);
  expect(res?.status()).toBe(403);
  await expect(page.locator('main')).toContainText('uw account heeft de beheerdersrol niet');
  await expectAccessible(page, 'operator refused (nl)');
});

test('the operator sees the campaign, downloads the list at risk and sends reminders', async ({ page }) => {
  // Eight pages go through axe, on a machine that may be busy.
  test.setTimeout(240_000);
  expect(admin('users', 'grant-operator', 'demo')).toContain('demo now has the operator role');
  await logonWithCard(page, citizens.get('demo')!, '/operator');
  await expect(page.locator('h1')).toHaveText('Operator');
  await expectAccessible(page, 'operator index');

  await page.locator('a[href="/operator/campaigns/tokencard"]').click();
  await expect(page.locator('h1')).toHaveText('Phase-out campaign: Security code via token');
  await expect(page.locator('#active-total')).toHaveText('9 citizens have an active key of this kind.');
  await expect(page.locator('#at-risk')).toContainText('8 citizens have an active key of this kind and no other active key');
  await expect(page.locator('[data-phase]')).toHaveText('Phase now: Activation closed.');
  await expectAccessible(page, 'campaign (en)');
  for (const [lang, title] of [['nl', 'Uitfaseringscampagne'], ['fr', 'Campagne de retrait'], ['de', 'Auslaufkampagne']]) {
    await page.goto(`${base}/operator/campaigns/tokencard?lang=${lang}`);
    await expect(page.locator('h1')).toContainText(title);
    await expectAccessible(page, `campaign (${lang})`);
  }
  await page.goto(`${base}/operator/campaigns/tokencard?lang=en`);

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('a[href="/operator/campaigns/tokencard/at-risk.csv"]').click(),
  ]);
  expect(download.suggestedFilename()).toBe('at-risk-tokencard.csv');
  const csv = fs.readFileSync((await download.path())!, 'utf8').trim().split('\n');
  expect(csv[0]).toBe('username,name,email,language,last_used');
  expect(csv.slice(1).map((l) => l.split(',')[0]).sort()).toEqual(['anna', 'bram', 'chloe', 'dora', 'emile', 'frank', 'helga', 'token']);

  await page.locator('form[action="/operator/campaigns/tokencard/remind"] button[type=submit]').click();
  await expect(page.locator('.notice')).toContainText('The reminders are in the outbox');
  await expect(page.locator('#round')).toContainText('Round 1: started on');
  await expect(page.locator('#round')).toContainText('by demo; 8 reminders so far.');
  await expectAccessible(page, 'campaign after a round');

  // The e-mails wait in the development mailbox: one per citizen at risk (the demo's citizens
  // with only a token card, those of issue 12 included), none for the operator.
  const mailbox = await (await page.request.get(`${base}/dev/mailbox`)).text();
  for (const who of ['token', 'anna', 'bram', 'chloe', 'dora', 'emile', 'frank', 'helga']) {
    expect(mailbox, `a reminder to ${who}`).toContain(`${who}@example.org`);
  }
  expect(mailbox).toContain('Your digital key “Security code via token” stops working on 31 January 2099'); // anna's, in English
  expect(mailbox).not.toContain('demo@example.org');

  // Sent again: the finished round is not repeated, and the form says why at its checkbox.
  await page.locator('form[action="/operator/campaigns/tokencard/remind"] button[type=submit]').click();
  await expect(page.locator('.error-summary')).toContainText('Reminder round 1 has finished already, after 8 reminders');
  await expect(page.locator('#new_round')).toHaveAttribute('aria-invalid', 'true');
  await expectAccessible(page, 'campaign, a finished round refused');
  await page.locator('#new_round').check();
  await page.locator('form[action="/operator/campaigns/tokencard/remind"] button[type=submit]').click();
  await expect(page.locator('#round')).toContainText('Round 2: started on');

  // A revocation acts at once, on this very session.
  expect(admin('users', 'revoke-operator', 'demo')).toContain('demo no longer has the operator role');
  const res = await page.goto(`${base}/operator/campaigns/tokencard`);
  expect(res?.status()).toBe(403);
});

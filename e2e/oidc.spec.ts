import { execFileSync } from 'node:child_process';
import { expect, test, type Page } from '@playwright/test';
import * as client from 'openid-client';
import { expectAccessible } from './axe';
import { cardCode, demoCitizen } from './demo';
import { envDataDir, serverBinary } from './server';

// Online services logging on through OpenID Connect (SPEC §6), in a real browser:
// - a second relying party, Node's openid-client v6, running in this test process, performs
//   discovery, the authorization code flow with PKCE, userinfo and the end of the session against
//   the running server, while the browser carries the citizen through the logon;
// - the demo online service of `serve --demo` shows the whole round trip, with a step-up.
//
// Both log on the demo citizen with a password and a token card only: TOTP steps and e-mail codes
// are rationed per citizen, and keys.spec.ts uses them in another worker.
test.describe.configure({ mode: 'default' });

const FAS400 = 'urn:be:fedict:iam:fas:Level400';
const EIDAS_LOW = 'http://eidas.europa.eu/LoA/low';
const EIDAS_SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const TOKEN_PROMPT = /Enter the security code number (\d{1,2}) of your card/;

// The relying party lives on another origin than the server (localhost instead of 127.0.0.1, the
// same port), as online services do: leaving the server's pages after a form must work under its
// CSP (form-action 'self'). The browser's requests to it are answered by the test (page.route).
const RP_PATH = '/e2e-rp';
const rpOrigin = (base: string) => base.replace('//127.0.0.1:', '//localhost:');

/** Registers a confidential client with the server's admin command; returns its id and secret. */
function registerClient(rp: string): { id: string; secret: string } {
  const dataDir = process.env[envDataDir];
  if (!dataDir) {
    throw new Error(`${envDataDir} is not set: these tests register an online service with 'sleutelbos admin' on the server's data directory (global setup sets it when it starts the server)`);
  }
  const id = `e2e-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const out = execFileSync(serverBinary, [
    'admin', '--data-dir', dataDir, 'clients', 'add', '--id', id, '--name', 'E2E online service',
    '--redirect-uri', `${rp}${RP_PATH}/callback`, '--post-logout-redirect-uri', `${rp}${RP_PATH}/signed-out`,
  ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const m = /client secret: (\S+)/.exec(out);
  if (!m) throw new Error(`admin clients add printed no secret:\n${out}`);
  return { id, secret: m[1] };
}

/** Answers the browser's requests to the relying party's addresses with a plain page. */
async function serveRP(page: Page): Promise<void> {
  await page.route(`**${RP_PATH}/**`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!DOCTYPE html><html lang="en"><title>RP</title><main>RP</main></html>' }),
  );
}

/** Chooses kind on the chooser and submits the demo citizen's username and password. */
async function choose(page: Page, kind: string): Promise<void> {
  const who = demoCitizen('demo');
  await page.locator(`button[name=kind][value=${kind}]`).click();
  const form = page.locator('form[action="/login/password"]');
  await form.locator('input[name=username]').fill(who.username);
  await form.locator('input[name=password]').fill(who.password);
  await form.locator('button[type=submit]').click();
}

/** Answers the token card's code step. */
async function answerCard(page: Page): Promise<void> {
  const form = page.locator('form[action="/login/code"]');
  await expect(form).toContainText(TOKEN_PROMPT);
  const n = Number(TOKEN_PROMPT.exec(await form.innerText())![1]);
  await form.locator('input[name=code]').fill(cardCode(demoCitizen('demo'), n));
  await form.locator('button[type=submit]').click();
}

test('openid-client: discovery, code flow with PKCE at substantial, userinfo, end of session', async ({ page, baseURL }) => {
  const base = baseURL!;
  expect(base, 'the server under test listens on 127.0.0.1').toContain('//127.0.0.1:');
  const rpBase = rpOrigin(base);
  const rp = registerClient(rpBase);
  const config = await client.discovery(new URL(base), rp.id, rp.secret, undefined, {
    execute: [client.allowInsecureRequests], // the test server speaks http on 127.0.0.1
  });
  const meta = config.serverMetadata();
  expect(meta.acr_values_supported).toContain(FAS400);
  expect(meta.code_challenge_methods_supported).toEqual(['S256']);

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const redirect = `${rpBase}${RP_PATH}/callback`;
  const authURL = client.buildAuthorizationUrl(config, {
    redirect_uri: redirect,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    acr_values: FAS400,
    ui_locales: 'en',
  });
  await serveRP(page);
  await page.goto(authURL.href);

  // Only keys that reach substantial are offered.
  await expect(page.locator('button[name=kind][value=tokencard]')).toBeVisible();
  await expect(page.locator('button[name=kind][value=password]')).toHaveCount(0);
  await choose(page, 'tokencard');
  await answerCard(page);
  // After the form, the browser is sent on to the online service (not blocked by form-action).
  await page.waitForURL((u) => u.hostname === 'localhost' && u.pathname === `${RP_PATH}/callback`);

  const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims()!;
  expect(claims.acr).toBe(FAS400);
  expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  expect(typeof claims.auth_time).toBe('number');
  expect(claims.sid).toBeTruthy();
  expect(claims.name).toBe('Demo Citizen');
  expect(claims.locale).toBe('en');
  expect(claims.prefLanguage).toBe('en');

  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  expect(info.sub).toBe(claims.sub);
  expect(info.email).toBe('demo@example.org');

  // With the ID token as hint, the session ends at once and the browser goes back.
  await page.goto(client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token!,
    post_logout_redirect_uri: `${rpBase}${RP_PATH}/signed-out`,
    state: 'bye',
  }).href);
  await page.waitForURL((u) => u.hostname === 'localhost' && u.pathname === `${RP_PATH}/signed-out`);
  expect(new URL(page.url()).searchParams.get('state')).toBe('bye');
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);

  // Log on again (password, level low) for an end of session the online service does not prove
  // (no id_token_hint): the citizen is asked, and confirming leaves the site after a form.
  await page.goto(client.buildAuthorizationUrl(config, {
    redirect_uri: redirect,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  }).href);
  await choose(page, 'password');
  await page.waitForURL((u) => u.hostname === 'localhost' && u.pathname === `${RP_PATH}/callback`);
  await page.goto(client.buildEndSessionUrl(config, { post_logout_redirect_uri: `${rpBase}${RP_PATH}/signed-out`, state: 'asked' }).href);
  const confirm = page.locator('form[action="/oidc/logout"] button[type=submit]');
  await expect(confirm).toBeVisible();
  await expect(page.locator('main')).toContainText('E2E online service asks to end your session');
  await expectAccessible(page, 'logout confirmation');
  await confirm.click();
  await page.waitForURL((u) => u.hostname === 'localhost' && u.pathname === `${RP_PATH}/signed-out`);
  expect(new URL(page.url()).searchParams.get('state')).toBe('asked');
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
});

test('demo online service: log on, see the claims, step up, log out', async ({ page }) => {
  await page.goto('/demo-service/?lang=en');
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expectAccessible(page, 'demo service, logged off');
  await page.getByRole('link', { name: 'Log on', exact: true }).click();

  // The key chooser of Sleutelbos, at level low.
  await expect(page.locator('button[name=kind][value=password]')).toBeVisible();
  await choose(page, 'password');
  await expect(page).toHaveURL(/\/demo-service\/$/);
  const main = page.locator('main');
  await expect(main).toContainText('You are logged on at the demo online service, Demo Citizen.');
  await expect(main).toContainText(EIDAS_LOW);
  await expectAccessible(page, 'demo service, logged on');

  // Step up: a stronger key for the same citizen.
  await page.getByRole('link', { name: 'Log on at a higher level' }).click();
  await expect(page.locator('button[name=kind][value=password]')).toHaveCount(0);
  await choose(page, 'tokencard');
  await answerCard(page);
  await expect(page).toHaveURL(/\/demo-service\/$/);
  await expect(main).toContainText(`Level of assurance reached (acr): ${EIDAS_SUBSTANTIAL}`);
  await expect(page.getByRole('link', { name: 'Log on at a higher level' })).toHaveCount(0);

  // Log out: at the service and at Sleutelbos.
  await page.getByRole('link', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/demo-service\/$/);
  await expect(page.getByRole('link', { name: 'Log on', exact: true })).toBeVisible();
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
});

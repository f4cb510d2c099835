// The demo citizens of `sleutelbos serve --demo` and their per-run secrets, read from what the
// server printed on stdout (global setup writes it to .bin/server.log and exports the path as
// SLEUTELBOS_E2E_DEMO_OUTPUT), plus an RFC 6238 code generator for their authenticator app.
//
// The block parsed here (internal/demo.Print):
//
//   username demo   password demo-password-1   Demo Citizen <demo@example.org>, language en, keys: password, tokencard, emailcode, totp
//     token card DEMO-DEMO:
//        1:582869  2:436682  3:084819  4:593787  5:069126  6:862805
//        …
//       19:135881 20:274291 21:961431 22:120241 23:228132 24:784344
//     authenticator app secret (base32): 3UFB 3PQ7 AESA RAGW AOGV DFYE ZEBO 4VVF
//     authenticator app URI: otpauth://totp/Sleutelbos:demo?…&secret=3UFB3PQ7AESARAGWAOGVDFYEZEBO4VVF
//     authenticator app QR code (scan it with the app):
//       ████…   (the QR code of the URI in half blocks; ignored here)
//   E-mailed codes appear in the development mailbox: http://127.0.0.1:8080/dev/mailbox
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import { envDemoOutput } from './server';

export interface DemoCitizen {
  username: string;
  password: string;
  name: string;
  email: string;
  language: string;
  kinds: string[];
  /** Token card serial, or '' without a card. */
  cardSerial: string;
  /** cardCodes[n - 1] is code number n of the card (24 codes); empty without a card. */
  cardCodes: string[];
  /** Base32 TOTP secret without spaces, or '' without an authenticator app key. */
  totpSecret: string;
}

const citizenRE = /^\s*username\s+(\S+)\s+password\s+(\S+)\s+(.+?)\s+<([^>]+)>, language (\w+), keys: (.+?)\s*$/;
const cardRE = /^\s*token card (\S+):\s*$/;
const cardCodeRE = /(\d{1,2}):(\d{6})\b/g;
const totpRE = /^\s*authenticator app secret \(base32\):\s*([A-Z2-7= ]+?)\s*$/;
const totpURIRE = /^\s*authenticator app URI:\s*(otpauth:\/\/\S+)\s*$/;

let cache: { file: string; mtimeMs: number; citizens: Map<string, DemoCitizen> } | undefined;

/** Every demo citizen printed by the server under test, by username. */
export function demoCitizens(): Map<string, DemoCitizen> {
  const file = process.env[envDemoOutput];
  if (!file) {
    throw new Error(
      `${envDemoOutput} is not set: it names the file holding the stdout of 'sleutelbos serve --demo' ` +
        '(global setup sets it when it starts the server; with SLEUTELBOS_E2E_URL set it yourself)',
    );
  }
  const mtimeMs = fs.statSync(file).mtimeMs;
  if (cache && cache.file === file && cache.mtimeMs === mtimeMs) return cache.citizens;
  const citizens = parseDemoOutput(fs.readFileSync(file, 'utf8'));
  if (citizens.size === 0) throw new Error(`no demo citizens found in ${file} (was the server started with --demo?)`);
  cache = { file, mtimeMs, citizens };
  return citizens;
}

/** The demo citizen with this username; fails when the server did not print it. */
export function demoCitizen(username: string): DemoCitizen {
  const c = demoCitizens().get(username);
  if (!c) throw new Error(`demo citizen '${username}' not found in ${process.env[envDemoOutput]}`);
  return c;
}

/** Parses the demo credentials block of the server's stdout (other lines are ignored). */
export function parseDemoOutput(text: string): Map<string, DemoCitizen> {
  const citizens = new Map<string, DemoCitizen>();
  let current: DemoCitizen | undefined;
  let inCard = false;
  for (const line of text.split('\n')) {
    let m = citizenRE.exec(line);
    if (m) {
      current = {
        username: m[1],
        password: m[2],
        name: m[3],
        email: m[4],
        language: m[5],
        kinds: m[6].split(',').map((k) => k.trim()).filter(Boolean),
        cardSerial: '',
        cardCodes: [],
        totpSecret: '',
      };
      citizens.set(current.username, current);
      inCard = false;
      continue;
    }
    if (!current) continue;
    if ((m = cardRE.exec(line))) {
      current.cardSerial = m[1];
      inCard = true;
      continue;
    }
    if ((m = totpRE.exec(line))) {
      current.totpSecret = m[1].replace(/[\s=]/g, '');
      inCard = false;
      continue;
    }
    if ((m = totpURIRE.exec(line))) {
      // The URI an authenticator app scans must hold the same secret as the base32 text.
      const secret = new URL(m[1]).searchParams.get('secret');
      if (secret !== current.totpSecret) {
        throw new Error(`'${current.username}': the otpauth URI's secret ${secret} differs from the printed ${current.totpSecret}`);
      }
      inCard = false;
      continue;
    }
    if (inCard && /^\s+\d{1,2}:\d{6}/.test(line)) {
      for (const [, n, code] of line.matchAll(cardCodeRE)) current.cardCodes[Number(n) - 1] = code;
      continue;
    }
    inCard = false;
    if (!/^\s/.test(line)) current = undefined; // the block ended
  }
  for (const c of citizens.values()) {
    if (c.cardSerial && (c.cardCodes.length !== 24 || c.cardCodes.some((x) => x === undefined))) {
      throw new Error(`token card ${c.cardSerial} of '${c.username}': expected 24 numbered codes, parsed ${c.cardCodes.filter(Boolean).length}`);
    }
  }
  return citizens;
}

/** Code number n (1-based) of the citizen's token card. */
export function cardCode(c: DemoCitizen, n: number): string {
  const code = c.cardCodes[n - 1];
  if (!code) throw new Error(`'${c.username}' has no token card code number ${n}`);
  return code;
}

// ---- RFC 6238 (TOTP): HMAC-SHA1, 30-second steps, 6 digits ----

export const totpStepSeconds = 30;

/** RFC 4648 base32 (spaces, padding and case ignored). */
export function base32Decode(s: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = s.replace(/[\s=]/g, '').toUpperCase();
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`invalid base32 character '${ch}'`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The time step (RFC 6238 T) of a moment, in milliseconds since the epoch. */
export function totpStep(atMs: number = Date.now()): number {
  return Math.floor(atMs / 1000 / totpStepSeconds);
}

/** The 6-digit code of the base32 secret for time step `step` (RFC 4226 HOTP with counter = step). */
export function totpCode(secretBase32: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const bin = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(bin % 1_000_000).padStart(6, '0');
}

// The server never accepts a time step twice (SPEC §2), so remember the last step this worker
// used per secret and never hand it out again.
const lastStepUsed = new Map<string, number>();

/**
 * A TOTP code for a time step this worker has not used before for this secret: the current step,
 * or after waiting for the next one when the current step was already used. Call it just before
 * typing the code.
 */
export async function freshTotpCode(secretBase32: string): Promise<string> {
  for (;;) {
    const now = Date.now();
    const step = totpStep(now);
    const last = lastStepUsed.get(secretBase32);
    // Leave a margin at the end of a step so the code is still current (or at most one step old,
    // which the server accepts) when it arrives.
    const msLeft = (step + 1) * totpStepSeconds * 1000 - now;
    if ((last === undefined || step > last) && msLeft > 2_000) {
      lastStepUsed.set(secretBase32, step);
      return totpCode(secretBase32, step);
    }
    await new Promise((r) => setTimeout(r, msLeft + 50));
  }
}

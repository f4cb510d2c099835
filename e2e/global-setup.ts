import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FullConfig } from '@playwright/test';
import { envBaseURL, envDataDir, envDemoOutput, envPid, serverBinary, serverLog } from './server';

const readyTimeoutMs = 60_000;

// Starts `sleutelbos serve --demo` on a free port of 127.0.0.1 with a fresh data dir, waits until
// GET /readyz answers 200, and exports the base URL for the workers. With SLEUTELBOS_E2E_URL set it
// uses that running server instead (and only waits for it to be ready).
export default async function globalSetup(_config: FullConfig): Promise<void> {
  const external = process.env.SLEUTELBOS_E2E_URL;
  if (external) {
    const base = external.replace(/\/+$/, '');
    await waitReady(base, () => undefined);
    process.env[envBaseURL] = base;
    console.log(`e2e: using running server ${base}`);
    return;
  }

  if (!fs.existsSync(serverBinary)) {
    throw new Error(`e2e: ${serverBinary} is missing; build it with scripts/e2e.sh (go build -o e2e/.bin/sleutelbos ./cmd/sleutelbos)`);
  }
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const base = `http://${listen}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sleutelbos-e2e-'));
  fs.mkdirSync(path.dirname(serverLog), { recursive: true });
  const log = fs.openSync(serverLog, 'w');

  const child = spawn(serverBinary, ['serve', '--demo', '--listen', listen, '--metrics-listen', '127.0.0.1:0', '--data-dir', dataDir], {
    cwd: dataDir,
    env: serverEnv(),
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  let exited: string | undefined;
  child.on('exit', (code, signal) => {
    exited = `exited with ${signal ?? `code ${code}`}`;
  });
  child.on('error', (err) => {
    exited = `could not start: ${err.message}`;
  });

  // Should the runner exit without global teardown, take the server down with it.
  process.on('exit', () => {
    if (exited === undefined) child.kill('SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  process.env[envPid] = String(child.pid);
  process.env[envDataDir] = dataDir;
  process.env[envBaseURL] = base;
  process.env[envDemoOutput] = serverLog;

  try {
    await waitReady(base, () => exited);
  } catch (err) {
    if (exited === undefined) child.kill('SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\n--- ${serverLog} ---\n${tail(serverLog, 40)}`);
  }
  console.log(`e2e: server ${base} (pid ${child.pid}, data ${dataDir}, log ${serverLog})`);
}

async function waitReady(base: string, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const why = exited();
    if (why) throw new Error(`e2e: server ${why} before ${base}/readyz answered 200`);
    try {
      const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`e2e: ${base}/readyz did not answer 200 within ${readyTimeoutMs / 1000}s (last: ${last})`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

// The server gets our environment minus the test harness's own SLEUTELBOS_* variables.
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^SLEUTELBOS_(E2E_|TEST_|TESTDB_|REQUIRE_POSTGRES$)/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

function tail(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

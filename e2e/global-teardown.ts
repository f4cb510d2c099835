import fs from 'node:fs';
import { envDataDir, envPid } from './server';

// Stops the server global-setup.ts started (SIGTERM, then SIGKILL after 10 s) and removes its data dir.
export default async function globalTeardown(): Promise<void> {
  const pid = Number(process.env[envPid] ?? 0);
  const dataDir = process.env[envDataDir];
  if (pid > 0 && alive(pid)) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Where the server under test lives, shared by global-setup.ts and global-teardown.ts.
import path from 'node:path';

export const e2eDir = __dirname;
export const serverBinary = process.env.SLEUTELBOS_E2E_BINARY ?? path.join(e2eDir, '.bin', 'sleutelbos');
export const serverLog = path.join(e2eDir, '.bin', 'server.log');

// Set by global setup when it started a server (read by global teardown in the same process).
export const envPid = 'SLEUTELBOS_E2E_SERVER_PID';
export const envDataDir = 'SLEUTELBOS_E2E_DATA_DIR';
export const envBaseURL = 'SLEUTELBOS_E2E_BASE_URL';

// Where the server under test lives, shared by global-setup.ts and global-teardown.ts.
import path from 'node:path';

export const e2eDir = __dirname;
export const serverBinary = process.env.SLEUTELBOS_E2E_BINARY ?? path.join(e2eDir, '.bin', 'sleutelbos');
export const serverLog = path.join(e2eDir, '.bin', 'server.log');

// Set by global setup when it started a server (read by global teardown in the same process).
export const envPid = 'SLEUTELBOS_E2E_SERVER_PID';
export const envDataDir = 'SLEUTELBOS_E2E_DATA_DIR';
export const envBaseURL = 'SLEUTELBOS_E2E_BASE_URL';

// The file holding the stdout of `serve --demo` (its demo credentials: token card codes, TOTP
// secrets), read by demo.ts in the workers. Global setup points it at serverLog when it starts the
// server; with SLEUTELBOS_E2E_URL, set it to the running server's stdout yourself.
export const envDemoOutput = 'SLEUTELBOS_E2E_DEMO_OUTPUT';

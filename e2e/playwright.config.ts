import { defineConfig } from '@playwright/test';

// Browser tests run on Debian's Chromium (/usr/bin/chromium); Playwright's own browser download is
// not used. global-setup.ts starts `.bin/sleutelbos serve --demo` on a free port (or uses
// SLEUTELBOS_E2E_URL) and exports its address as SLEUTELBOS_E2E_BASE_URL, which the workers —
// started after global setup, with its environment — read below as baseURL.
export default defineConfig({
  testDir: '.',
  testMatch: '**/*.spec.ts',
  outputDir: './test-results',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 2,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  globalSetup: './global-setup.ts',
  globalTeardown: './global-teardown.ts',
  use: {
    baseURL: process.env.SLEUTELBOS_E2E_BASE_URL,
    browserName: 'chromium',
    headless: true,
    locale: 'en-GB',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.SLEUTELBOS_E2E_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        '--no-first-run',
      ],
    },
  },
  projects: [{ name: 'chromium' }],
});

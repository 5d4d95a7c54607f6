import { defineConfig } from '@playwright/test';

// The tests drive a server that is already running (scripts/test.sh starts one);
// BASE_URL says where, e.g. http://127.0.0.1:3000.
const baseURL = process.env.BASE_URL;
if (!baseURL) {
  throw new Error('BASE_URL must point at a running oncewallet server');
}

export default defineConfig({
  testDir: './tests',
  forbidOnly: !!process.env.CI,
  retries: 0,
  // Two cores in CI, and one server shared by every test.
  workers: 1,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL,
    browserName: 'chromium',
    headless: true,
    trace: 'retain-on-failure',
    launchOptions: {
      // Debian's Chromium: Playwright's own browser downloads are not reachable here.
      executablePath: '/usr/bin/chromium',
      // No sandbox as root; the rest stop Chromium's calls home, which a machine
      // without internet access refuses (and which would break the no-egress test).
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
});

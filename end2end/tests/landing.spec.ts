import { expect, test, type Page } from '@playwright/test';
import { signInAsAdmin } from './console';
import { watchConsole } from './support';

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the sign-in page is rendered on the server and works as a plain form', async ({ page }) => {
    const response = await page.goto('/login');

    expect(response?.status()).toBe(200);
    await expect(page).toHaveTitle('Sign in · oncewallet');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
    await expect(page.getByRole('link', { name: 'API documentation' })).toHaveAttribute('href', '/api-docs');
    await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'false');
  });
});

test('the sign-in page hydrates without errors', async ({ page }) => {
  const watched = watchConsole(page);
  await page.goto('/login');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  expect(watched.errors()).toEqual([]);
});

test('the bundle is content-hashed, compressed and kept for a year', async ({ page }) => {
  const bundle: { path: string; status: number; encoding?: string; cache?: string }[] = [];
  page.on('response', async (response) => {
    const path = new URL(response.url()).pathname;
    if (path.startsWith('/pkg/')) {
      const headers = await response.allHeaders();
      bundle.push({
        path,
        status: response.status(),
        encoding: headers['content-encoding'],
        cache: headers['cache-control'],
      });
    }
  });
  await page.goto('/login');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');

  const names = bundle.map((file) => file.path).sort();
  expect(names).toHaveLength(3);
  const stem = names[0].match(/^\/pkg\/(oncewallet-[0-9a-f]{16})\.css$/)?.[1];
  expect(stem, names.join(' ')).toBeTruthy();
  expect(names).toEqual([`/pkg/${stem}.css`, `/pkg/${stem}.js`, `/pkg/${stem}.wasm`]);
  for (const file of bundle) {
    expect(file.status, file.path).toBe(200);
    expect(file.encoding, file.path).toBe('br');
    expect(file.cache, file.path).toBe('public, max-age=31536000, immutable');
  }
});

/**
 * Bytes that crossed the network (compressed bodies and headers) while `visit` ran, as
 * Chromium counts them: a file served from the browser's cache counts nothing.
 */
async function bytesTransferred(page: Page, visit: () => Promise<void>): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  let bytes = 0;
  cdp.on('Network.loadingFinished', (event) => {
    bytes += event.encodedDataLength;
  });
  await visit();
  await cdp.detach();
  return bytes;
}

test('a first visit to the overview transfers under 1 MB, a second under 50 KB', async ({ page }, testInfo) => {
  await signInAsAdmin(page);
  const visit = async () => {
    await page.goto('/');
    await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  };
  // The sign-in above loaded the bundle: start the first visit from an empty cache.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.clearBrowserCache');
  await cdp.detach();
  const first = await bytesTransferred(page, visit);
  const second = await bytesTransferred(page, visit);
  const figures = { first_visit_bytes: first, second_visit_bytes: second };
  console.log(`overview transfer: ${JSON.stringify(figures)}`);
  await testInfo.attach('transfer.json', { body: JSON.stringify(figures), contentType: 'application/json' });
  expect(first).toBeLessThan(1_000_000);
  expect(second).toBeLessThan(50_000);
});

test('the footer links lead to the API docs and the health check', async ({ page }) => {
  await page.goto('/login');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');

  // The client-side router must leave these to the browser: axum serves them.
  await page.getByRole('link', { name: 'API documentation' }).click();
  await expect(page).toHaveURL(/\/api-docs$/);
  await expect(page.locator('#swagger-ui')).toBeAttached();

  await page.goto('/login');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  const health = page.waitForResponse((r) => new URL(r.url()).pathname === '/healthz');
  await page.getByRole('link', { name: 'Health' }).click();
  expect((await health).status()).toBe(200);
});

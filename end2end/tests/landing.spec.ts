import { expect, test } from '@playwright/test';
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

test('the stylesheet and the wasm bundle are served', async ({ page }) => {
  const bundle: string[] = [];
  page.on('response', (response) => {
    if (new URL(response.url()).pathname.startsWith('/pkg/')) {
      bundle.push(`${response.status()} ${new URL(response.url()).pathname}`);
    }
  });
  await page.goto('/login');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');

  expect(bundle.sort()).toEqual([
    '200 /pkg/oncewallet.css',
    '200 /pkg/oncewallet.js',
    '200 /pkg/oncewallet.wasm',
  ]);
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

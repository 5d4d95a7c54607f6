import { expect, test } from '@playwright/test';
import { watchConsole } from './support';

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the landing page is rendered on the server', async ({ page }) => {
    const response = await page.goto('/');

    expect(response?.status()).toBe(200);
    await expect(page).toHaveTitle('oncewallet');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('oncewallet');
    await expect(page.getByRole('link', { name: 'API documentation' })).toHaveAttribute('href', '/api-docs');
    await expect(page.getByRole('link', { name: 'Health check' })).toHaveAttribute('href', '/healthz');
    await expect(page.getByTestId('count')).toHaveText('0');
    await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'false');
  });
});

test('the landing page hydrates and the counter counts clicks', async ({ page }) => {
  const watched = watchConsole(page);
  await page.goto('/');

  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  const counter = page.getByTestId('counter');
  await counter.click();
  await expect(page.getByTestId('count')).toHaveText('1');
  await counter.click();
  await counter.click();
  await expect(page.getByTestId('count')).toHaveText('3');

  expect(watched.errors()).toEqual([]);
});

test('the stylesheet and the wasm bundle are served', async ({ page }) => {
  const bundle: string[] = [];
  page.on('response', (response) => {
    if (new URL(response.url()).pathname.startsWith('/pkg/')) {
      bundle.push(`${response.status()} ${new URL(response.url()).pathname}`);
    }
  });
  await page.goto('/');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');

  expect(bundle.sort()).toEqual([
    '200 /pkg/oncewallet.css',
    '200 /pkg/oncewallet.js',
    '200 /pkg/oncewallet.wasm',
  ]);
});

test('the links lead to the API docs and the health check', async ({ page }) => {
  await page.goto('/');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');

  // The client-side router must leave these to the browser: axum serves them.
  await page.getByRole('link', { name: 'API documentation' }).click();
  await expect(page).toHaveURL(/\/api-docs$/);
  await expect(page.locator('#swagger-ui')).toBeAttached();

  await page.goto('/');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
  const health = page.waitForResponse((r) => new URL(r.url()).pathname === '/healthz');
  await page.getByRole('link', { name: 'Health check' }).click();
  expect((await health).status()).toBe(200);
});

import { expect, test } from '@playwright/test';
import { watchConsole } from './support';

test('Swagger UI renders the API description from vendored assets only', async ({ page, baseURL }) => {
  const origin = new URL(baseURL!).origin;
  const requested: string[] = [];
  page.on('request', (request) => requested.push(request.url()));
  const watched = watchConsole(page);

  await page.goto('/api-docs');

  // The spec's title and at least one operation prove the bundle ran and fetched the spec.
  await expect(page.locator('.swagger-ui .info .title')).toBeVisible();
  await expect(page.locator('.swagger-ui .opblock').first()).toBeVisible();

  const paths = requested.map((url) => new URL(url).pathname);
  expect(paths).toContain('/api-docs/assets/5.35.0/swagger-ui-bundle.js');
  expect(paths).toContain('/api-docs/assets/5.35.0/swagger-ui.css');
  expect(paths).toContain('/api-docs/openapi.json');
  // data: URLs (Swagger UI's inline icons) never touch the network.
  const leaving = requested.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin);
  expect(leaving).toEqual([]);
  expect(watched.errors()).toEqual([]);
});

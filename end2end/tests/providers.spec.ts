// The providers page: add a provider (its first key's secret shown once), see a key's
// last use after a signed request, add a second key, retire the first, and the last key
// cannot be retired.
import { createHash, createHmac } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';
import { hydrated, screenshot, signInAsAdmin } from './console';
import { watchConsole } from './support';
import { uniqueId } from './wallet';

/** A signed status lookup with `keyId`/`secret`: its HTTP status. */
async function signedLookup(keyId: string, secret: string): Promise<number> {
  const path = `/wallet/v1/transactions/${uniqueId('nothing')}`;
  const timestamp = String(Date.now());
  const canonical = `v1\nGET\n${path}\n${timestamp}\n${createHash('sha256').update('').digest('hex')}`;
  const response = await fetch(`${process.env.BASE_URL}${path}`, {
    headers: {
      'x-wallet-key-id': keyId,
      'x-wallet-timestamp': timestamp,
      'x-wallet-signature': 'v1=' + createHmac('sha256', secret).update(canonical).digest('hex'),
    },
  });
  return response.status;
}

async function newSecret(page: Page): Promise<[string, string]> {
  const notice = page.getByTestId('new-secret');
  await expect(notice).toBeVisible();
  const keyId = ((await notice.getByTestId('new-key-id').textContent()) ?? '').trim();
  const secret = ((await notice.getByTestId('new-key-secret').textContent()) ?? '').trim();
  expect(secret).toMatch(/^[0-9a-f]{64}$/);
  return [keyId, secret];
}

test('an operator adds a provider and a key, sees the key used, and retires the old one', async ({ page }) => {
  const watched = watchConsole(page);
  const providerId = uniqueId('prov').toLowerCase();
  await signInAsAdmin(page, '/providers');
  await hydrated(page);
  const form = page.getByTestId('add-provider');
  await form.getByLabel('Provider id').fill(providerId);
  await form.getByLabel('Name').fill('Studio Nine');
  await form.getByRole('button', { name: 'Add provider' }).click();
  const [firstKey, firstSecret] = await newSecret(page);
  const row = page.getByTestId('providers').locator(`tr[data-provider="${providerId}"]`);
  await expect(row).toContainText('Studio Nine');
  await expect(row.locator(`li[data-key="${firstKey}"]`)).toContainText('never');

  // The provider signs a request with it: the page shows the key's last use.
  expect(await signedLookup(firstKey, firstSecret)).toBe(200);
  await page.reload();
  await hydrated(page);
  await expect(row.locator(`li[data-key="${firstKey}"]`)).not.toContainText('never');

  // Rotation: a second key, then the first retired; it stops working at once.
  await row.getByRole('button', { name: 'Add key' }).click();
  const [secondKey, secondSecret] = await newSecret(page);
  expect(secondKey).not.toBe(firstKey);
  await expect(row.locator('li[data-key]')).toHaveCount(2);
  await screenshot(page, 'providers');
  await row.locator(`li[data-key="${firstKey}"]`).getByRole('button', { name: 'Retire' }).click();
  await expect(row.locator('li[data-key]')).toHaveCount(1);
  expect(await signedLookup(firstKey, firstSecret)).toBe(401);
  expect(await signedLookup(secondKey, secondSecret)).toBe(200);

  // The last key stays.
  await row.locator(`li[data-key="${secondKey}"]`).getByRole('button', { name: 'Retire' }).click();
  await expect(page.getByRole('alert')).toContainText('last key');
  await expect(row.locator('li[data-key]')).toHaveCount(1);
  expect(watched.errors().filter((e) => !/status of 400 .*retire_key/.test(e))).toEqual([]);

  await page.goto(`/audit?subject=${providerId}`);
  await expect(page.getByTestId('audit-table')).toContainText('provider.key_retired');
});

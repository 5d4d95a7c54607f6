// Four eyes: a refund above the approval threshold (the test server sets EUR 50.00) waits,
// is refused to the operator who asked, and is approved by someone else; two approvals at
// the same moment move the money once.
import { expect, test, type Browser, type Page } from '@playwright/test';
import { hydrated, screenshot, signIn, signInAsAdmin } from './console';
import { watchConsole } from './support';
import { fundedPlayer, uniqueId } from './wallet';

/** A server function call from the signed-in page, as its forms make it. */
async function call(page: Page, fn: string, form: Record<string, string> = {}) {
  const origin = new URL(page.url()).origin;
  const response = await page.request.post(`/api/${fn}`, { form, headers: { origin } });
  expect(response.status(), `${fn}: ${await response.text()}`).toBe(200);
  return response.json();
}

/** A new operator, signed in in a browser of their own. */
async function operatorIn(browser: Browser, admin: Page): Promise<Page> {
  const username = uniqueId('op').toLowerCase();
  const password = `${username}-password`;
  await call(admin, 'create_user', { username, password, role: 'operator' });
  const page = await (await browser.newContext()).newPage();
  await signIn(page, username, password);
  return page;
}

test('a refund above the threshold waits, is refused to its requester, and two approvals move money once', async ({ page, browser }) => {
  const watched = watchConsole(page);
  await signInAsAdmin(page, '/approvals');
  await hydrated(page);
  const alice = await operatorIn(browser, page);
  const bob = await operatorIn(browser, page);

  const player = await fundedPlayer(500_00);
  const bet = player.bet(uniqueId('round'), 120_00);
  expect((await player.provider.post('/wallet/v1/bet', bet)).status).toBe(200);
  // The test server treats a bet as orphaned after 1 s (WALLET_ORPHAN_AFTER_SECS).
  await alice.waitForTimeout(1_500);
  await call(alice, 'run_reconciliation_now');

  // Alice asks: nothing moves, the request waits.
  await alice.goto('/pending');
  await hydrated(alice);
  const row = alice.locator('tr', { has: alice.getByRole('link', { name: bet.transaction_id }) });
  await row.getByLabel('refund reason').fill('the game server lost the round');
  await row.getByRole('checkbox').check();
  await row.getByRole('button', { name: 'Refund' }).click();
  await expect(alice.getByRole('status')).toContainText("waits for a second operator's approval");
  await alice.goto(`/players/${player.id}`);
  await expect(alice.getByTestId('balance')).toHaveText('380.00 EUR');

  // Her own approval is refused.
  await alice.goto('/approvals');
  await hydrated(alice);
  const waiting = (p: Page) => p.getByTestId('approvals-open').locator('tr', { hasText: bet.transaction_id });
  await expect(waiting(alice)).toContainText('120.00 EUR');
  await expect(waiting(alice)).toContainText('the game server lost the round');
  await waiting(alice).getByRole('button', { name: 'Approve' }).click();
  await expect(alice.getByRole('alert')).toContainText('someone else must approve');
  await screenshot(alice, 'approvals-own-request');

  // Bob and the admin approve at the same moment.
  await bob.goto('/approvals');
  await hydrated(bob);
  await page.reload();
  await hydrated(page);
  await Promise.all([
    bob.getByTestId('approvals-open').locator('tr', { hasText: bet.transaction_id }).getByRole('button', { name: 'Approve' }).click(),
    waiting(page).getByRole('button', { name: 'Approve' }).click(),
  ]);
  const refunded = async (p: Page) => (await p.getByTestId('approval-outcome').count()) > 0;
  await expect(async () => {
    const outcomes = [await refunded(bob), await refunded(page)];
    const refusals = [await bob.getByRole('alert').count(), await page.getByRole('alert').count()];
    expect(outcomes.filter(Boolean).length + refusals.reduce((a, b) => a + b, 0)).toBe(2);
    expect(outcomes.filter(Boolean).length).toBeGreaterThanOrEqual(1);
  }).toPass();
  await page.reload();
  await hydrated(page);
  const decided = page.getByTestId('approvals-decided').locator('tr', { hasText: bet.transaction_id });
  await expect(decided).toContainText('APPROVED');
  await expect(decided).toContainText('is refunded');
  await expect(page.getByTestId('approvals-open').locator('tr', { hasText: bet.transaction_id })).toHaveCount(0);
  await screenshot(page, 'approvals-decided');

  // The money moved once.
  await page.goto(`/players/${player.id}`);
  await expect(page.getByTestId('balance')).toHaveText('500.00 EUR');
  await page.goto(`/audit?subject=${bet.transaction_id}`);
  await expect(page.getByTestId('audit-table').locator('tbody tr')).toHaveCount(1);
  // The admin's approval may have lost the race (409, shown on the page): nothing else.
  expect(watched.errors().filter((e) => !/status of 409 .*approve_request/.test(e))).toEqual([]);
});

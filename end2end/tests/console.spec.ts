import { expect, test, type Page } from '@playwright/test';
import { hydrated, screenshot, signIn, signInAsAdmin } from './console';
import { watchConsole } from './support';
import { fundedPlayer, pamTransaction, uniqueId } from './wallet';

// One server for the whole file; the users made here are reused by later tests.
test.describe.configure({ mode: 'serial' });

const password = 'browser-test-password-1';
const supportUser = uniqueId('support').toLowerCase();
const operatorUser = uniqueId('operator').toLowerCase();

async function createUser(page: Page, username: string, role: string) {
  const form = page.getByTestId('create-user');
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(password);
  await form.getByLabel('Role').selectOption(role);
  await form.getByRole('button', { name: 'Create' }).click();
  await expect(page.locator(`tr[data-user="${username}"]`)).toBeVisible();
}

test('an anonymous visitor is sent to the sign-in page and a wrong password is refused', async ({ page }) => {
  await page.goto('/pending');
  await expect(page).toHaveURL(/\/login\?next=%2Fpending/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('do not match');
  await screenshot(page, 'login');
});

test('the admin creates a support user and an operator on the users page', async ({ page }) => {
  const watched = watchConsole(page);
  await signInAsAdmin(page, '/users');
  await hydrated(page);
  await createUser(page, supportUser, 'support');
  await createUser(page, operatorUser, 'operator');
  await screenshot(page, 'users');
  expect(watched.errors()).toEqual([]);
});

test('the trace page of a replayed bet shows every attempt, escaped', async ({ page }) => {
  const player = await fundedPlayer();
  const round = uniqueId('round');
  const bet = { ...player.bet(round, 250), metadata: { note: '<script>window.__pwned = 1</script>' } };
  for (let i = 0; i < 3; i++) {
    const answer = await player.provider.post('/wallet/v1/bet', bet);
    expect(answer.status).toBe(200);
    expect(answer.body.replayed).toBe(i > 0);
  }
  await signIn(page, supportUser, password, `/tx/${bet.transaction_id}`);
  await hydrated(page);
  await expect(page.getByRole('heading', { name: /Attempts \(3\)/ })).toBeVisible({ timeout: 15_000 });
  const outcomes = page.getByTestId('attempt').locator('td:nth-child(3)');
  await expect(outcomes).toHaveText(['FIRST', 'REPLAY', 'REPLAY']);
  await expect(page.getByTestId('ledger')).toContainText('-2.50 EUR');
  await expect(page.getByTestId('chain')).toContainText('hash chain verifies');
  // The provider's metadata is shown as text, never run.
  await page.getByText('First request', { exact: true }).click();
  await expect(page.locator('pre', { hasText: '<script>window.__pwned = 1</script>' }).first()).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  await screenshot(page, 'trace');
});

test('a withdraw through the PAM shows on its trace page with the PAM request and answer', async ({ page }) => {
  const player = await fundedPlayer();
  const id = uniqueId('pam');
  const round = uniqueId('round');
  for (let i = 0; i < 2; i++) {
    const answer = await pamTransaction(player, 'WITHDRAW', id, round, '2.500000');
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe('OK');
  }
  await signIn(page, supportUser, password, `/tx/${id}`);
  await hydrated(page);
  await expect(page.getByRole('heading', { name: /Attempts \(2\)/ })).toBeVisible({ timeout: 15_000 });
  await expect(page.getByTestId('attempt').locator('td:nth-child(3)')).toHaveText(['FIRST', 'REPLAY']);
  await expect(page.getByTestId('protocol').first()).toContainText('PAM (Valkyrie)');
  await expect(page.getByTestId('ledger')).toContainText('-2.50 EUR');
  // The studio's request and the PAM's answer, as they travelled.
  await expect(page.locator('pre', { hasText: '"transactionType": "WITHDRAW"' }).first()).toBeAttached();
  await expect(page.locator('pre', { hasText: '"transactionResult"' }).first()).toBeAttached();
  await expect(page.getByText('Stored answer (the studio\'s PAM answers are in the attempts)')).toBeVisible();
  await screenshot(page, 'trace-pam');
});

test('the overview counts duplicate requests and the money they would have moved', async ({ page }) => {
  const player = await fundedPlayer();
  const bet = player.bet(uniqueId('round'), 1_000);
  await player.provider.post('/wallet/v1/bet', bet);
  await player.provider.post('/wallet/v1/bet', bet);
  await signIn(page, supportUser, password, `/?provider=${player.provider.id}`);
  await hydrated(page);
  await expect(page.getByTestId('duplicates')).toContainText('1 (50.0 %)', { timeout: 15_000 });
  await expect(page.getByTestId('prevented')).toContainText('10.00 EUR');
  await expect(page.getByRole('img', { name: 'Requests per minute' })).toBeVisible();
  await screenshot(page, 'overview');
});

test('the live trace shows a new attempt without a reload, and pauses', async ({ page }) => {
  const player = await fundedPlayer();
  await signIn(page, supportUser, password, `/live?provider=${player.provider.id}`);
  await hydrated(page);
  await expect(page.getByTestId('live-status')).toContainText('live');
  const bet = player.bet(uniqueId('round'), 100);
  await player.provider.post('/wallet/v1/bet', bet);
  const row = page.getByTestId('live-table').getByRole('link', { name: bet.transaction_id });
  await expect(row).toBeVisible({ timeout: 15_000 });
  await page.getByTestId('pause').click();
  await expect(page.getByTestId('live-status')).toHaveText('paused');
  const second = player.bet(uniqueId('round'), 100);
  await player.provider.post('/wallet/v1/bet', second);
  await page.waitForTimeout(2_500);
  await expect(page.getByRole('link', { name: second.transaction_id })).toHaveCount(0);
  await page.getByTestId('pause').click();
  await expect(page.getByRole('link', { name: second.transaction_id })).toBeVisible({ timeout: 15_000 });
  await screenshot(page, 'live');
});

test('search finds a player and exports the list as CSV', async ({ page }) => {
  const player = await fundedPlayer();
  for (let i = 0; i < 3; i++) await player.provider.post('/wallet/v1/bet', player.bet(uniqueId('round'), 100));
  await signIn(page, supportUser, password, '/search');
  await hydrated(page);
  await page.getByLabel('search').fill(player.id);
  await page.getByRole('button', { name: 'Search' }).click();
  // Three bets and the deposit that funded them.
  await expect(page.locator('table.grid tbody tr')).toHaveCount(4);
  await screenshot(page, 'search');
  const download = page.waitForEvent('download');
  await page.getByTestId('export').click();
  const file = await download;
  const text = await (await file.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString());
  const lines = text.trim().split('\n');
  expect(lines[0]).toContain('transaction_id');
  expect(lines).toHaveLength(5);
});

test('an orphan debit is found by a run, then refunded once by an operator', async ({ page }) => {
  const player = await fundedPlayer(50_00);
  const bet = player.bet(uniqueId('round'), 7_00);
  expect((await player.provider.post('/wallet/v1/bet', bet)).status).toBe(200);
  // The test server treats a bet as orphaned after 1 s (WALLET_ORPHAN_AFTER_SECS).
  await page.waitForTimeout(1_500);
  await signIn(page, operatorUser, password, '/reconciliation');
  await hydrated(page);
  await page.getByTestId('run-now').click();
  await expect(page.getByRole('status')).toContainText('finished', { timeout: 20_000 });
  await screenshot(page, 'reconciliation');

  await page.goto('/pending');
  await hydrated(page);
  const row = page.locator('tr', { has: page.getByRole('link', { name: bet.transaction_id }) });
  await expect(row).toBeVisible();
  await screenshot(page, 'pending');
  await row.getByLabel('refund reason').fill('game server lost the round');
  await row.getByRole('checkbox').check();
  await row.getByRole('button', { name: 'Refund' }).click();
  await expect(page.getByRole('status')).toContainText('is refunded');

  await page.goto(`/players?q=${player.id}`);
  await expect(page.getByTestId('players')).toContainText('50.00 EUR');
  await screenshot(page, 'players');
  await page.getByRole('link', { name: player.id }).click();
  await expect(page.getByTestId('balance')).toHaveText('50.00 EUR');
  await screenshot(page, 'player');
  await page.goto(`/audit?subject=${bet.transaction_id}`);
  await expect(page.getByTestId('audit-table')).toContainText('game server lost the round');
  await screenshot(page, 'audit');
});

test('a support user cannot refund, block or manage users: the server refuses', async ({ page }) => {
  await signIn(page, supportUser, password, '/');
  await expect(page.getByRole('link', { name: 'Users' })).toHaveCount(0);
  const origin = new URL(page.url()).origin;
  const post = (fn: string, form: Record<string, string>) =>
    page.request.post(`/api/${fn}`, { form, headers: { origin }, failOnStatusCode: false });
  expect((await post('refund_orphan', { finding_id: '1', reason: 'x', confirmed: 'yes' })).status()).toBe(403);
  expect((await post('set_player_blocked', { player_id: 'p', blocked: 'true', reason: 'x' })).status()).toBe(403);
  expect((await post('list_users', {})).status()).toBe(403);
  await page.goto('/users');
  // The users list and the sessions list each say so.
  await expect(page.getByRole('alert').first()).toContainText('may not');
});

test('a forged cross-site POST is refused even with a valid session', async ({ page }) => {
  await signInAsAdmin(page);
  const response = await page.request.post('/api/set_player_blocked', {
    form: { player_id: 'anyone', blocked: 'true', reason: 'forged' },
    headers: { origin: 'http://evil.example' },
    failOnStatusCode: false,
  });
  expect(response.status()).toBe(403);
});

test('signing out ends the session', async ({ page }) => {
  await signInAsAdmin(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
});

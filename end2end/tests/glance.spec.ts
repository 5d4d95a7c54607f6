// The console at a glance: page titles, the zero-filled overview chart, the UTC / local
// time switch, the `/` shortcut, the CSV exports of findings, pending rollbacks and the
// audit log, and every page at 390 px wide without horizontal page scroll.
import { expect, test, type Download, type Page } from '@playwright/test';
import { hydrated, screenshot, signInAsAdmin } from './console';
import { watchConsole } from './support';
import { fundedPlayer, money, uniqueId, type Player } from './wallet';

test.describe.configure({ mode: 'serial' });

/** RFC 4180 records: quoted cells may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(cell);
      cell = '';
    } else if (c === '\n') {
      record.push(cell);
      records.push(record);
      record = [];
      cell = '';
    } else if (c !== '\r') cell += c;
  }
  return records;
}

/** A downloaded CSV as objects keyed by the header's names. */
async function csvRows(download: Download): Promise<{ header: string[]; rows: Record<string, string>[] }> {
  const chunks = await (await download.createReadStream()).toArray();
  const [header, ...records] = parseCsv(Buffer.concat(chunks).toString());
  return { header, rows: records.map((r) => Object.fromEntries(header.map((name, i) => [name, r[i]]))) };
}

async function downloadFrom(page: Page, testId: string) {
  const download = page.waitForEvent('download');
  await page.getByTestId(testId).click();
  return csvRows(await download);
}

/** A server function call from the signed-in page, as its forms make it. */
async function call(page: Page, fn: string, form: Record<string, string> = {}) {
  const origin = new URL(page.url()).origin;
  const response = await page.request.post(`/api/${fn}`, { form, headers: { origin } });
  expect(response.status(), `${fn}: ${await response.text()}`).toBe(200);
  return response.json();
}

/** An orphan bet: the test server treats a bet as orphaned after 1 s. */
async function orphanBet(player: Player, minor: number) {
  const bet = player.bet(uniqueId('round'), minor);
  expect((await player.provider.post('/wallet/v1/bet', bet)).status).toBe(200);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  return bet;
}

/** A statement of the player's provider: `known` reported with another amount, and a
 *  transaction the wallet never saw. */
async function statementWithDiscrepancies(player: Player, known: string, reportedMinor: number) {
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
  const line = (id: string, minor: number) => ({
    transaction_id: id, op: 'BET', player_id: player.id, round_id: null, amount: money(minor), state: 'COMMITTED',
  });
  const ghost = uniqueId('ghost');
  const answer = await player.provider.post('/wallet/v1/reconciliation/reports', {
    report_id: uniqueId('report'),
    period_start: iso(now - 3_600_000),
    period_end: iso(now + 3_600_000),
    transactions: [line(known, reportedMinor), line(ghost, 500)],
  });
  expect(answer.status).toBe(200);
  return ghost;
}

test('every page has a title that names what it shows', async ({ page, browser }) => {
  const anonymous = await browser.newPage();
  await anonymous.goto('/login');
  await expect(anonymous).toHaveTitle('Sign in · oncewallet');
  await anonymous.close();

  const player = await fundedPlayer();
  const bet = player.bet(uniqueId('round'), 100);
  await player.provider.post('/wallet/v1/bet', bet);
  await signInAsAdmin(page);
  await expect(page).toHaveTitle('Overview · oncewallet');
  const titles: [string, string][] = [
    ['/live', 'Live trace'],
    ['/search', 'Search'],
    [`/search?q=${player.id}`, `Search ${player.id}`],
    [`/tx/${bet.transaction_id}`, `Trace ${bet.transaction_id}`],
    ['/players', 'Players'],
    [`/players/${player.id}`, `Player ${player.id}`],
    ['/pending', 'Pending rollbacks'],
    ['/reconciliation', 'Reconciliation'],
    ['/audit', 'Audit log'],
    ['/users', 'Users'],
    ['/providers', 'Providers'],
    ['/approvals', 'Approvals'],
  ];
  for (const [path, name] of titles) {
    await page.goto(path);
    await expect(page).toHaveTitle(`${name} · oncewallet`);
  }
  // Client-side navigation updates it too.
  await hydrated(page);
  await page.getByRole('link', { name: 'Overview' }).click();
  await expect(page).toHaveTitle('Overview · oncewallet');
});

test('the overview draws one bar per minute of the window, zeros included, with labelled ticks', async ({ page }) => {
  const player = await fundedPlayer();
  await player.provider.post('/wallet/v1/bet', player.bet(uniqueId('round'), 100));
  await signInAsAdmin(page, `/?window=15m&provider=${player.provider.id}`);
  await hydrated(page);
  const chart = page.locator('figure.chart', { has: page.getByRole('img', { name: 'Requests per minute' }) });
  const bars = chart.locator('g.bar');
  await expect(bars).toHaveCount(15);
  const titles = await bars.locator('title').allTextContents();
  // This provider sent one request, within the last minute or two: the other minutes
  // are there, as zeros.
  expect(titles.filter((t) => /· 0 requests:/.test(t)).length).toBe(14);
  expect(titles.filter((t) => /· 1 request: 1 first/.test(t)).length).toBe(1);
  expect(titles[0]).toMatch(/^\d\d:\d\d UTC · /);
  const minutes = titles.map((t) => t.slice(0, 5));
  expect(new Set(minutes).size).toBe(15);
  const ticks = await chart.getByTestId('chart-ticks').locator('span').allTextContents();
  expect(ticks.length).toBeGreaterThanOrEqual(2);
  for (const tick of ticks) expect(tick).toMatch(/^\d\d:\d\d$/);
  expect(ticks.every((tick) => minutes.includes(tick))).toBe(true);
  await screenshot(page, 'overview-chart');

  await page.goto(`/?window=1h&provider=${player.provider.id}`);
  await expect(page.locator('figure.chart').first().locator('g.bar')).toHaveCount(60);
  // A day is 1,440 minutes too, drawn as one path per colour, with round-hour ticks.
  await page.goto(`/?window=24h&provider=${player.provider.id}`);
  await hydrated(page);
  const day = page.locator('figure.chart', { has: page.getByRole('img', { name: 'Requests per minute' }) });
  const daySvg = day.getByRole('img');
  await expect(daySvg).toHaveAttribute('data-bars', '1440');
  await expect(day.locator('g.bar')).toHaveCount(0);
  const dayTicks = await day.getByTestId('chart-ticks').locator('span').allTextContents();
  expect(dayTicks.length).toBeGreaterThanOrEqual(3);
  for (const tick of dayTicks) expect(tick).toMatch(/^\d\d:00$/);
  // The provider's one request is one bar of the "first" colour, in one of the last minutes.
  const firstPath = (await day.locator('path.s-first').getAttribute('d')) ?? '';
  const starts = [...firstPath.matchAll(/M([\d.]+) /g)].map((m) => Number(m[1]));
  expect(starts.length).toBe(1);
  const index = Math.round(starts[0] / (720 / 1440));
  expect(index).toBeGreaterThanOrEqual(1436);
  // Pointing at the start of the day reads out a silent minute; pointing at the bar reads
  // out its request: a minute is under half a pixel wide here, so the pointer shows the
  // tallest bar under its pixel. Retried, since the chart may be redrawn once its data loads.
  const readout = day.getByTestId('chart-readout');
  const box = (await daySvg.boundingBox())!;
  const y = box.height / 2;
  await expect(async () => {
    await daySvg.hover({ position: { x: 2, y } });
    await expect(readout).toHaveText(/^\d\d:\d\d UTC · 0 requests:/, { timeout: 500 });
  }).toPass();
  const barX = Math.min(box.width - 0.5, ((index + 0.5) / 1440) * box.width);
  await daySvg.hover({ position: { x: barX, y } });
  await expect(readout).toHaveText(/^\d\d:\d\d UTC · 1 request: 1 first/);
  await screenshot(page, 'overview-day-chart');
});

test.describe('in a browser east of UTC', () => {
  test.use({ timezoneId: 'Asia/Kolkata' });

  test('times show in UTC, switch to local time, and the choice is remembered', async ({ page }) => {
    const player = await fundedPlayer();
    const bet = player.bet(uniqueId('round'), 100);
    await player.provider.post('/wallet/v1/bet', bet);
    await signInAsAdmin(page, `/tx/${bet.transaction_id}`);
    await hydrated(page);
    const created = page.locator('dl.facts time').first();
    await expect(created).toBeVisible();
    const at = (await created.getAttribute('datetime'))!;
    const utc = at.slice(0, 19).replace('T', ' ');
    // India is UTC+05:30, all year.
    const local = new Date(Date.parse(at) + 5.5 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
    await expect(created).toHaveText(utc);
    const zone = page.getByTestId('time-zone');
    await expect(zone).toHaveText('Times: UTC');

    await zone.click();
    await expect(zone).toHaveText('Times: local (UTC+05:30)');
    await expect(created).toHaveText(local);
    await expect(page.getByRole('columnheader', { name: 'Received (local)' })).toBeVisible();

    await page.reload();
    await hydrated(page);
    await expect(page.getByTestId('time-zone')).toHaveAttribute('aria-pressed', 'true');
    await expect(page.locator('dl.facts time').first()).toHaveText(local);

    await page.getByTestId('time-zone').click();
    await expect(page.locator('dl.facts time').first()).toHaveText(utc);
    await page.reload();
    await hydrated(page);
    await expect(page.locator('dl.facts time').first()).toHaveText(utc);
  });
});

test('the / key focuses the search box from any page, but not while typing', async ({ page }) => {
  const player = await fundedPlayer();
  await signInAsAdmin(page, '/pending');
  await hydrated(page);
  const search = page.locator('#quick-search');
  await expect(search).not.toBeFocused();
  await page.keyboard.press('/');
  await expect(search).toBeFocused();
  await expect(search).toHaveValue('');
  await page.keyboard.type(player.id);
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(new RegExp(`/search\\?q=${player.id}`));
  await expect(page).toHaveTitle(`Search ${player.id} · oncewallet`);

  await page.goto('/audit');
  await hydrated(page);
  const who = page.getByLabel('Who');
  await who.click();
  await page.keyboard.type('a/b');
  await expect(who).toHaveValue('a/b');
  await expect(who).toBeFocused();
  await page.locator('h1').click();
  await page.keyboard.press('/');
  await expect(page.locator('#quick-search')).toBeFocused();
});

test('findings show both sides and export as CSV with amounts in decimal and minor units', async ({ page }) => {
  const player = await fundedPlayer();
  const bet = player.bet(uniqueId('round'), 3_00);
  await player.provider.post('/wallet/v1/bet', bet);
  const ghost = await statementWithDiscrepancies(player, bet.transaction_id, 12_50);
  await signInAsAdmin(page, '/reconciliation?kind=AMOUNT_MISMATCH');
  await hydrated(page);

  const finding = page.locator('tr', { has: page.getByRole('link', { name: `${player.provider.id}/${bet.transaction_id}` }) });
  const amount = finding.locator('table.compare tr[data-field="amount"]');
  await expect(amount).toHaveClass(/differs/);
  await expect(amount.locator('td').nth(0)).toHaveText('12.50 EUR');
  await expect(amount.locator('td').nth(2)).toHaveText('3.00 EUR');
  await expect(finding.locator('table.compare tr[data-field="state"]')).not.toHaveClass(/differs/);
  await screenshot(page, 'finding-side-by-side');

  const { header, rows } = await downloadFrom(page, 'export-findings');
  expect(header.slice(0, 3)).toEqual(['finding_id', 'kind', 'severity']);
  for (const row of rows) expect(row.kind).toBe('AMOUNT_MISMATCH');
  const mine = rows.find((row) => row.subject_id === `${player.provider.id}/${bet.transaction_id}`)!;
  expect(mine).toBeDefined();
  expect([mine.reported_amount, mine.reported_amount_minor, mine.reported_currency]).toEqual(['12.50', '1250', 'EUR']);
  expect([mine.wallet_amount, mine.wallet_amount_minor, mine.wallet_currency]).toEqual(['3.00', '300', 'EUR']);

  await page.goto('/reconciliation?kind=MISSING_IN_WALLET');
  await hydrated(page);
  const missing = await downloadFrom(page, 'export-findings');
  const row = missing.rows.find((r) => r.subject_id === `${player.provider.id}/${ghost}`)!;
  expect([row.reported_amount, row.reported_amount_minor, row.wallet_amount]).toEqual(['5.00', '500', '']);
});

test('pending rollbacks and the audit log export as CSV, the refund with its amount', async ({ page }) => {
  const player = await fundedPlayer();
  const bet = await orphanBet(player, 7_00);
  await signInAsAdmin(page, '/pending');
  await hydrated(page);
  await call(page, 'run_reconciliation_now');
  await page.reload();
  await hydrated(page);

  const pending = await downloadFrom(page, 'export-pending');
  expect(pending.header).toContain('amount_minor');
  const orphan = pending.rows.find((row) => row.transaction_id === bet.transaction_id)!;
  expect(orphan).toBeDefined();
  expect([orphan.kind, orphan.player_id]).toEqual(['PENDING_ROLLBACK', player.id]);
  expect([orphan.amount, orphan.amount_minor, orphan.currency]).toEqual(['7.00', '700', 'EUR']);

  await call(page, 'refund_orphan', { finding_id: orphan.finding_id, reason: 'lost, see ticket 9', confirmed: 'yes' });
  await page.goto(`/audit?subject=${bet.transaction_id}`);
  await hydrated(page);
  await expect(page.getByTestId('audit-table')).toContainText('lost, see ticket 9');
  const audit = await downloadFrom(page, 'export-audit');
  expect(audit.rows).toHaveLength(1);
  const [refund] = audit.rows;
  expect([refund.action, refund.actor, refund.reason]).toEqual(['REFUND_BET', 'admin', 'lost, see ticket 9']);
  expect([refund.amount, refund.amount_minor, refund.currency]).toEqual(['7.00', '700', 'EUR']);
});

test.describe('on a 390 px wide phone', () => {
  test.use({ viewport: { width: 390, height: 844 } });

  async function noHorizontalScroll(page: Page, name: string) {
    await hydrated(page);
    await expect(page.locator('.loading')).toHaveCount(0);
    const { scrollWidth, clientWidth } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
    }));
    expect(scrollWidth, `${name} is ${scrollWidth - clientWidth} px wider than the screen`).toBeLessThanOrEqual(clientWidth);
    await screenshot(page, `narrow-${name}`);
  }

  test('no page is wider than the screen', async ({ page, browser }) => {
    const watched = watchConsole(page);
    const login = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await login.goto('/login');
    await noHorizontalScroll(login, 'login');
    await login.close();

    // Something on every page: a trace, an orphan, findings of a statement.
    const player = await fundedPlayer();
    const bet = await orphanBet(player, 2_00);
    await statementWithDiscrepancies(player, bet.transaction_id, 2_50);
    await signInAsAdmin(page);
    await call(page, 'run_reconciliation_now');
    const pages: [string, string][] = [
      ['overview', '/'],
      ['live', '/live'],
      ['search', `/search?q=${player.id}`],
      ['trace', `/tx/${bet.transaction_id}`],
      ['players', '/players'],
      ['player', `/players/${player.id}`],
      ['pending', '/pending'],
      ['reconciliation', '/reconciliation'],
      ['audit', '/audit'],
      ['users', '/users'],
      ['providers', '/providers'],
      ['approvals', '/approvals'],
      ['account', '/account'],
    ];
    for (const [name, path] of pages) {
      await page.goto(path);
      await noHorizontalScroll(page, name);
    }
    await page.goto('/reconciliation');
    await expect(page.getByTestId('findings')).toBeVisible();
    await expect(page.getByTestId('comparison').first()).toBeVisible();
    expect(watched.errors()).toEqual([]);
  });
});

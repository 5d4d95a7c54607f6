// The Webhooks page (admins): add a subscription pointing at a receiver this test runs,
// see a movement delivered and counted, see an event the receiver refused die (the
// test server retries for 3 s, WALLET_WEBHOOK_DEAD_AFTER_SECS) and redeliver it.
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test } from '@playwright/test';
import { hydrated, screenshot, signInAsAdmin } from './console';
import { watchConsole } from './support';
import { fundedPlayer, operatorToken, uniqueId } from './wallet';

/** A receiver on a free port: verifies each delivery and keeps the ones it took. */
function receiver(secret: string) {
  const taken: { eventId: string; playerId: string; verified: boolean }[] = [];
  let refusing = false;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const header = String(request.headers['oncewallet-signature'] ?? '');
      const fields = Object.fromEntries(header.split(',').map((part) => part.split('=', 2)));
      const expected = createHmac('sha256', secret).update(`${fields.t}.`).update(body).digest('hex');
      if (refusing) {
        response.writeHead(503).end();
        return;
      }
      const event = JSON.parse(body.toString());
      taken.push({
        eventId: String(request.headers['oncewallet-event-id']),
        playerId: event.data?.player_id,
        verified: expected === fields.v1,
      });
      response.writeHead(200).end();
    });
  });
  return {
    taken,
    refuse: (value: boolean) => {
      refusing = value;
    },
    start: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`)),
      ),
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

test('an admin adds a subscription, sees deliveries counted, and redelivers a dead event', async ({ page }) => {
  test.setTimeout(90_000);
  const watched = watchConsole(page);
  const secret = randomUUID() + randomUUID();
  const hook = receiver(secret);
  const url = await hook.start();
  const webhookId = uniqueId('crm');
  try {
    await signInAsAdmin(page, '/webhooks');
    await hydrated(page);
    const form = page.getByTestId('add-webhook');
    await form.getByLabel('Webhook id').fill(webhookId);
    await form.getByLabel('URL').fill(url);
    await form.getByLabel('Secret').fill(secret);
    await form.getByLabel('Types').fill('money.moved');
    await form.getByRole('button', { name: 'Save subscription' }).click();
    const row = page.getByTestId('webhooks').locator(`tr[data-webhook="${webhookId}"]`);
    await expect(row).toContainText('money.moved');
    await expect(row).toContainText('ACTIVE');

    // A deposit is a money movement: the receiver gets it, signed, and the page counts it.
    const first = await fundedPlayer(25_00);
    await expect.poll(() => hook.taken.filter((t) => t.playerId === first.id).length, { timeout: 20_000 }).toBe(1);
    expect(hook.taken.every((t) => t.verified)).toBe(true);
    await expect(row.getByTestId('delivered')).not.toHaveText('0', { timeout: 20_000 });

    // The receiver refuses: the next movement dies after the retry period and is listed.
    hook.refuse(true);
    const second = await fundedPlayer(30_00);
    const dead = page.locator(`tr[data-dead-for="${webhookId}"] li`, { hasText: second.id });
    await expect(dead).toBeVisible({ timeout: 30_000 });
    await expect(row.getByTestId('dead')).not.toHaveText('0');
    await screenshot(page, 'webhooks');

    // Back up: redeliver it from the page.
    hook.refuse(false);
    await dead.getByRole('button', { name: 'Redeliver' }).click();
    await expect.poll(() => hook.taken.filter((t) => t.playerId === second.id).length, { timeout: 20_000 }).toBe(1);
    await expect(dead).toHaveCount(0, { timeout: 20_000 });
    expect(watched.errors()).toEqual([]);

    await page.goto(`/audit?subject=${webhookId}`);
    await expect(page.getByTestId('audit-table')).toContainText('webhook.redelivered');
  } finally {
    // Later tests' movements must not pile up as dead events for a receiver that is gone.
    await fetch(`${process.env.BASE_URL}/operator/v1/webhooks/${webhookId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${operatorToken}` },
    });
    await hook.stop();
  }
});

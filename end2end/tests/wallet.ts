// A small provider and operator client for the browser tests: the data each page shows is
// made through the real signed wallet API first, as a game provider would make it.
import { createHash, createHmac, randomUUID } from 'node:crypto';

const baseURL = process.env.BASE_URL!;
export const operatorToken = process.env.OPERATOR_TOKEN ?? 'end2end-operator-token';
export const adminPassword = process.env.ADMIN_PASSWORD ?? 'end2end-admin-password';

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

export function money(minor: number, currency = 'EUR') {
  return { value: String(minor), currency, scale: 2 };
}

async function operator(method: string, path: string, body?: unknown) {
  const response = await fetch(`${baseURL}${path}`, {
    method,
    headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json().catch(() => ({}));
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

export class Provider {
  readonly id = uniqueId('prov');
  readonly keyId = uniqueId('key');
  readonly secret = randomUUID() + randomUUID();
  readonly gameId = uniqueId('game');

  async register(): Promise<this> {
    await operator('PUT', `/operator/v1/providers/${this.id}`, {
      name: `Provider ${this.id}`,
      keys: [{ key_id: this.keyId, secret: this.secret }],
    });
    return this;
  }

  /** A signed POST; `requestId` lets a test send the same transaction again as a retry. */
  async post(path: string, body: unknown, options: { requestId?: string; badSignature?: boolean } = {}) {
    const raw = JSON.stringify(body);
    const timestamp = String(Date.now());
    const bodyHash = createHash('sha256').update(raw).digest('hex');
    const canonical = `v1\nPOST\n${path}\n${timestamp}\n${bodyHash}`;
    let signature = 'v1=' + createHmac('sha256', this.secret).update(canonical).digest('hex');
    if (options.badSignature) signature = 'v1=' + '0'.repeat(64);
    const response = await fetch(`${baseURL}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-wallet-key-id': this.keyId,
        'x-wallet-timestamp': timestamp,
        'x-wallet-signature': signature,
        'x-request-id': options.requestId ?? uniqueId('req'),
      },
      body: raw,
    });
    return { status: response.status, body: await response.json() };
  }
}

export class Player {
  readonly id = uniqueId('player');
  sessionToken = '';

  constructor(readonly provider: Provider) {}

  async create(depositMinor: number, metadataNote?: string): Promise<this> {
    await operator('PUT', `/operator/v1/players/${this.id}`, { currency: 'EUR' });
    await operator('POST', `/operator/v1/players/${this.id}/adjustments`, {
      adjustment_id: uniqueId('adj'),
      direction: 'CREDIT',
      amount: money(depositMinor),
      reason: metadataNote ?? 'browser test deposit',
    });
    const session = await operator('POST', '/operator/v1/sessions', {
      player_id: this.id,
      provider_id: this.provider.id,
      game_id: this.provider.gameId,
    });
    this.sessionToken = session.session_token;
    return this;
  }

  bet(roundId: string, minor: number, transactionId = uniqueId('bet')) {
    return {
      transaction_id: transactionId,
      player_id: this.id,
      round_id: roundId,
      game_id: this.provider.gameId,
      session_token: this.sessionToken,
      amount: money(minor),
    };
  }
}

export const pamApiKey = process.env.PAM_API_KEY ?? 'end2end-pam-key';

/**
 * A PAM transaction as the Valkyrie aggregator sends it (docs/PAM.md): the studio named by
 * its provider's name, the player's session token, amounts with six decimals.
 */
export async function pamTransaction(player: Player, type: string, id: string, roundId: string, cash: string) {
  const body =
    `{"currency":"EUR","provider":"Provider ${player.provider.id}","transactionType":"${type}",` +
    `"cashAmount":${cash},"bonusAmount":0.000000,"promoAmount":0.000000,` +
    `"transactionDateTime":"2026-12-07T10:00:00Z","providerTransactionId":"${id}",` +
    `"providerGameId":"${player.provider.gameId}","providerRoundId":"${roundId}"}`;
  const query = new URLSearchParams({ provider: `Provider ${player.provider.id}` });
  const response = await fetch(`${baseURL}/pam/valkyrie/players/${player.id}/transactions?${query}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${pamApiKey}`,
      'content-type': 'application/json',
      'x-player-token': player.sessionToken,
      'x-correlation-id': uniqueId('corr'),
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    },
    body,
  });
  return { status: response.status, body: await response.json() };
}

/** A provider with one funded player, ready to bet. */
export async function fundedPlayer(depositMinor = 100_00): Promise<Player> {
  const provider = await new Provider().register();
  return new Player(provider).create(depositMinor);
}

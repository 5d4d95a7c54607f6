// A minimal game-provider client for the oncewallet wallet API, Node.js 18+ with no
// packages. It signs each request (docs/API.md, "Signing"), checks the signature of each
// answer, places a bet, sends the same bet again as a retry after a (simulated) timeout,
// and asks the status lookup what became of the transaction:
//
//   WALLET_URL=http://127.0.0.1:3000 KEY_ID=... SECRET=... PLAYER_ID=... \
//   SESSION_TOKEN=... GAME_ID=... CURRENCY=EUR SCALE=2 node provider_client.mjs
//
// It exits 0 when the wallet counted the bet once, 1 otherwise.
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const sign = (secret, canonical) => 'v1=' + createHmac('sha256', secret).update(canonical).digest('hex');

class Wallet {
  constructor(url, keyId, secret) {
    this.url = url.replace(/\/$/, '');
    this.keyId = keyId;
    this.secret = secret;
  }

  /** One signed request; the answer's status and JSON body, its signature checked. */
  async call(method, path, payload) {
    const body = payload === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(payload));
    const timestamp = String(Date.now());
    const response = await fetch(this.url + path, {
      method,
      headers: {
        'content-type': 'application/json',
        'x-wallet-key-id': this.keyId,
        'x-wallet-timestamp': timestamp,
        'x-wallet-signature': sign(this.secret, `v1\n${method}\n${path}\n${timestamp}\n${sha256(body)}`),
        'x-request-id': `example-${randomUUID()}`,
      },
      body: payload === undefined ? undefined : body,
    });
    const raw = Buffer.from(await response.arrayBuffer());
    const canonical = `v1-response\n${response.status}\n${response.headers.get('x-wallet-timestamp')}\n${sha256(raw)}`;
    const expected = Buffer.from(sign(this.secret, canonical));
    const given = Buffer.from(response.headers.get('x-wallet-signature') ?? '');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new Error(`${method} ${path}: the answer's signature is wrong`);
    }
    return [response.status, JSON.parse(raw.toString('utf8'))];
  }
}

const env = process.env;
const wallet = new Wallet(env.WALLET_URL, env.KEY_ID, env.SECRET);
const bet = {
  transaction_id: `js-bet-${randomUUID()}`,
  player_id: env.PLAYER_ID,
  round_id: `js-round-${randomUUID()}`,
  game_id: env.GAME_ID,
  session_token: env.SESSION_TOKEN,
  amount: { value: '100', currency: env.CURRENCY, scale: Number(env.SCALE) },
};
const [status, first] = await wallet.call('POST', '/wallet/v1/bet', bet);
console.log(`bet: ${status} ${first.status} replayed=${first.replayed}`);
// Suppose that answer was lost: send the very same bet again. It counts once.
const [retryStatus, again] = await wallet.call('POST', '/wallet/v1/bet', bet);
console.log(`retry: ${retryStatus} ${again.status} replayed=${again.replayed}`);
// After a timeout, the status lookup says what became of the transaction.
const [lookupStatus, lookup] = await wallet.call('GET', `/wallet/v1/transactions/${bet.transaction_id}`);
console.log(`lookup: ${lookupStatus} state=${lookup.lookup.state}`);
const once =
  first.status === 'OK' &&
  again.replayed === true &&
  JSON.stringify(again.transaction) === JSON.stringify(first.transaction) &&
  lookup.lookup.state === 'COMMITTED';
console.log(once ? 'counted once' : 'NOT counted once');
process.exit(once ? 0 : 1);

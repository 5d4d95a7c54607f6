// The second factor in the browser: set up on the account page with a QR code drawn by
// the server, then signing in asks for a code; a recovery code works once; wrong codes
// are refused and then throttled.
import { createHmac } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';
import { hydrated, screenshot, signInAsAdmin } from './console';
import { watchConsole } from './support';
import { uniqueId } from './wallet';

function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of text.replace(/=+$/, '')) {
    value = (value << 5) | alphabet.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 (SHA-1, 6 digits, 30 s) for the step `offset` steps from now. */
function totp(secret: string, offset = 0): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + offset));
  const hash = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const at = hash[hash.length - 1] & 15;
  const number = (((hash[at] & 127) << 24) | (hash[at + 1] << 16) | (hash[at + 2] << 8) | hash[at + 3]) % 1_000_000;
  return String(number).padStart(6, '0');
}

async function passwordStep(page: Page, username: string, password: string) {
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/step=code/);
}

async function codeStep(page: Page, code: string) {
  await page.getByLabel('Code from your authenticator app').fill(code);
  await page.getByRole('button', { name: 'Confirm' }).click();
}

async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
}

test('an operator sets up a second factor, then signs in with a code or a recovery code', async ({ page, browser }) => {
  const username = uniqueId('totp').toLowerCase();
  const password = `${username}-password`;
  await signInAsAdmin(page, '/users');
  const origin = new URL(page.url()).origin;
  const created = await page.request.post('/api/create_user', {
    form: { username, password, role: 'operator' },
    headers: { origin },
  });
  expect(created.status()).toBe(200);

  const user = await (await browser.newContext()).newPage();
  const watched = watchConsole(user);
  await user.goto('/login?next=/account');
  await user.getByLabel('Username').fill(username);
  await user.getByLabel('Password').fill(password);
  await user.getByRole('button', { name: 'Sign in' }).click();
  await expect(user).toHaveURL(/\/account$/);
  await hydrated(user);
  await user.getByRole('button', { name: 'Set up' }).click();
  const setup = user.getByTestId('mfa-setup');
  await expect(setup.locator('.qr svg')).toBeVisible();
  const secret = ((await user.getByTestId('mfa-secret').textContent()) ?? '').trim();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  await screenshot(user, 'mfa-setup');
  await user.getByTestId('mfa-confirm').getByLabel('First code from the app').fill('000000');
  await user.getByRole('button', { name: 'Turn on' }).click();
  await expect(user.getByRole('alert')).toContainText('not right');
  await user.getByTestId('mfa-confirm').getByLabel('First code from the app').fill(totp(secret));
  await user.getByRole('button', { name: 'Turn on' }).click();
  const codes = user.getByTestId('recovery-codes').locator('li');
  await expect(codes).toHaveCount(10);
  const recovery = ((await codes.nth(0).textContent()) ?? '').trim();
  expect(recovery).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
  await screenshot(user, 'mfa-recovery-codes');
  await user.reload();
  await expect(user.getByTestId('mfa-on')).toContainText('10 recovery codes left');
  // The one wrong code above is a 400 the page shows; nothing else went wrong.
  expect(watched.errors().filter((e) => !/status of 400 .*confirm_mfa_setup/.test(e))).toEqual([]);
  await signOut(user);

  // The password alone is not enough; a wrong code is refused; the next code signs in.
  await passwordStep(user, username, password);
  await codeStep(user, '123456');
  await expect(user.getByRole('alert')).toContainText('not right');
  await codeStep(user, totp(secret, 1));
  await expect(user.getByTestId('whoami')).toHaveText(username);
  await user.goto('/pending');
  await expect(user.getByTestId('code-box')).toBeVisible();
  await signOut(user);

  // A recovery code signs in once.
  await passwordStep(user, username, password);
  await codeStep(user, recovery);
  await expect(user.getByTestId('whoami')).toHaveText(username);
  await user.goto('/account');
  await expect(user.getByTestId('mfa-on')).toContainText('9 recovery codes left');
  await signOut(user);

  // Guessing is throttled: after five wrong codes even a good one is refused for now.
  await passwordStep(user, username, password);
  for (const guess of ['111111', '222222', '333333', '444444', '555555']) await codeStep(user, guess);
  await codeStep(user, recovery);
  await expect(user.getByRole('alert')).toContainText('Too many failed sign-ins');
  await expect(user.getByTestId('whoami')).toHaveCount(0);
});

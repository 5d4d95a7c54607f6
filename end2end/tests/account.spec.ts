// Passwords in the console: an admin resets a user's password (shown once), the user must
// choose their own before anything else, and anyone changes their own on /account.
import { expect, test, type Page } from '@playwright/test';
import { hydrated, screenshot, signIn, signInAsAdmin } from './console';
import { watchConsole } from './support';
import { uniqueId } from './wallet';

test.describe.configure({ mode: 'serial' });

const username = uniqueId('pw').toLowerCase();
const firstPassword = 'first-password-of-pw-user';

async function changePassword(page: Page, current: string, next: string, repeat = next) {
  const form = page.getByTestId('change-password');
  await form.getByLabel('Current password').fill(current);
  await form.getByLabel('New password', { exact: true }).fill(next);
  await form.getByLabel('New password again').fill(repeat);
  await form.getByRole('button', { name: 'Change password' }).click();
}

test('an admin resets a password, and the user must choose a new one at the next sign-in', async ({ page, browser }) => {
  const watched = watchConsole(page);
  await signInAsAdmin(page, '/users');
  await hydrated(page);
  const form = page.getByTestId('create-user');
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(firstPassword);
  await form.getByLabel('Role').selectOption('operator');
  await form.getByRole('button', { name: 'Create' }).click();
  const row = page.locator(`tr[data-user="${username}"]`);
  await expect(row).toBeVisible();

  await row.getByRole('button', { name: 'Reset password' }).click();
  const notice = page.getByTestId('reset-password');
  await expect(notice).toContainText('shown once');
  const generated = (await notice.locator('code').textContent())?.trim() ?? '';
  expect(generated).toHaveLength(20);
  await expect(row).toContainText('MUST CHANGE PASSWORD');
  await screenshot(page, 'users-reset');
  expect(watched.errors()).toEqual([]);

  // The user, in their own browser: the old password no longer works, the new one leads
  // only to the account page.
  const context = await browser.newContext();
  const user = await context.newPage();
  await user.goto('/login');
  await user.getByLabel('Username').fill(username);
  await user.getByLabel('Password').fill(firstPassword);
  await user.getByRole('button', { name: 'Sign in' }).click();
  await expect(user.getByRole('alert')).toContainText('do not match');
  await signIn(user, username, generated);
  await expect(user).toHaveURL(/\/account$/);
  await hydrated(user);
  await expect(user.getByTestId('must-change')).toBeVisible();
  await expect(user).toHaveTitle('Your account · oncewallet');
  await user.goto('/pending');
  await expect(user).toHaveURL(/\/account$/);

  // A mistake is explained and changes nothing.
  await hydrated(user);
  await changePassword(user, generated, 'chosen-by-the-user-1', 'chosen-by-the-user-2');
  await expect(user.getByRole('alert')).toContainText('differ');

  await changePassword(user, generated, 'chosen-by-the-user-1');
  await expect(user).toHaveURL(/\/login\?changed=1$/);
  await expect(user.getByRole('status')).toContainText('Password changed');
  await signIn(user, username, 'chosen-by-the-user-1');
  await expect(user).toHaveURL(/\/$/);
  await user.goto('/pending');
  await expect(user).toHaveURL(/\/pending$/);
  await context.close();
});

test('a signed-in user changes their own password from the account link', async ({ page }) => {
  await signIn(page, username, 'chosen-by-the-user-1');
  await hydrated(page);
  await page.getByTestId('whoami').click();
  await expect(page).toHaveURL(/\/account$/);
  await hydrated(page);
  await expect(page.getByTestId('must-change')).toHaveCount(0);
  await changePassword(page, 'not-my-password-at-all', 'chosen-by-the-user-3');
  await expect(page.getByRole('alert')).toContainText('current password');
  await changePassword(page, 'chosen-by-the-user-1', 'chosen-by-the-user-3');
  await expect(page).toHaveURL(/\/login\?changed=1$/);
  await signIn(page, username, 'chosen-by-the-user-3');
  await screenshot(page, 'account');
});

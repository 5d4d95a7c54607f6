// Who is signed in: an admin sees another browser's session on the users page and ends
// it, and that browser is signed out at its next request.
import { expect, test } from '@playwright/test';
import { hydrated, screenshot, signIn, signInAsAdmin } from './console';
import { watchConsole } from './support';
import { uniqueId } from './wallet';

test('an admin ends another browser\'s session from the users page', async ({ page, browser }) => {
  const watched = watchConsole(page);
  const username = uniqueId('sess').toLowerCase();
  const password = 'password-of-a-session-user';
  await signInAsAdmin(page, '/users');
  await hydrated(page);
  const form = page.getByTestId('create-user');
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(password);
  await form.getByLabel('Role').selectOption('support');
  await form.getByRole('button', { name: 'Create' }).click();
  await expect(page.getByTestId('users').locator(`tr[data-user="${username}"]`)).toBeVisible();

  // The user signs in in their own browser.
  const context = await browser.newContext();
  const user = await context.newPage();
  await signIn(user, username, password, '/pending');
  await expect(user).toHaveURL(/\/pending$/);

  await page.reload();
  await hydrated(page);
  const sessions = page.getByTestId('sessions');
  const row = sessions.locator(`tr[data-user="${username}"]`);
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('support');
  await expect(row).toContainText('127.0.0.1');
  await expect(sessions.locator('tr[data-user="admin"]').first()).toBeVisible();
  await screenshot(page, 'users-sessions');

  await row.getByRole('button', { name: 'End session' }).click();
  await expect(row).toHaveCount(0);
  await user.goto('/pending');
  await expect(user).toHaveURL(/\/login/);
  // The admin's own session carries on.
  await page.goto('/users');
  await expect(page.getByTestId('whoami')).toHaveText('admin');
  expect(watched.errors()).toEqual([]);
  await context.close();
});

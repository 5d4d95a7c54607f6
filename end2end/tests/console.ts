// Signing in from the browser tests, and a screenshot of each page as an artifact.
import { expect, type Page } from '@playwright/test';
import { adminPassword } from './wallet';

export async function signIn(page: Page, username: string, password: string, next = '/') {
  await page.goto(`/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('whoami')).toHaveText(username);
}

export const signInAsAdmin = (page: Page, next = '/') => signIn(page, 'admin', adminPassword, next);

export async function hydrated(page: Page) {
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'true');
}

export async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/screenshots/${name}.png`, fullPage: true });
}

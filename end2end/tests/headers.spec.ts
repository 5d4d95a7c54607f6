// The console's security headers as a browser meets them: no page can be framed by
// another site, and every page hydrates under its Content Security Policy without a
// single violation (the hydration script runs by its nonce, nothing inline otherwise).
import { expect, test } from '@playwright/test';
import { hydrated, signInAsAdmin } from './console';

test('the console refuses to render inside a frame on another origin', async ({ page, baseURL }) => {
  const framed = page.waitForResponse((r) => new URL(r.url()).pathname === '/login');
  // about:blank, the origin of page.setContent, is not the console's origin.
  await page.setContent(`<iframe id="console" src="${baseURL}/login"></iframe>`);
  const response = await framed;
  expect(response.status()).toBe(200);
  expect(response.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(response.headers()['x-frame-options']).toBe('DENY');
  await page.waitForTimeout(500);
  await expect(page.frameLocator('#console').getByRole('heading', { name: 'Sign in' })).toHaveCount(0);
});

test('every page hydrates under its policy without a violation', async ({ page }) => {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { cspViolations: string[] }).cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (event) => {
      seen.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  await signInAsAdmin(page);
  for (const path of ['/', '/live', '/search?q=nothing', '/pending', '/reconciliation', '/players', '/audit', '/users', '/account', '/tx/nothing']) {
    const response = await page.goto(path);
    expect(response?.headers()['content-security-policy'], path).toMatch(/script-src 'self' 'nonce-[^']+' 'wasm-unsafe-eval'/);
    expect(response?.headers()['content-security-policy'], path).not.toContain('unsafe-inline\' \'wasm');
    await hydrated(page);
    const violations = await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);
    expect(violations, path).toEqual([]);
  }
});

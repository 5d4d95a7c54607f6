import type { Page } from '@playwright/test';

/** Collects console errors and uncaught exceptions (a failed hydration shows up here). */
export function watchConsole(page: Page): { errors: () => string[] } {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${message.text()} at ${message.location().url}`);
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return { errors: () => [...errors] };
}

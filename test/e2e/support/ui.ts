import { randomInt } from 'node:crypto';
import type { Locator, Page } from 'playwright-core';
import { expect } from 'vitest';

/**
 * Small helpers for driving the front ends. playwright-core has no web-first assertions, so
 * visible results are awaited with locator.waitFor and vitest's expect.poll (retried until the
 * screen shows the value or the timeout ends): never fixed sleeps.
 */

const TIMEOUT = 15_000;

/** The element's visible text, trimmed, once it is visible. */
export async function textOf(locator: Locator): Promise<string> {
  await locator.waitFor({ state: 'visible' });
  return ((await locator.innerText()) ?? '').trim();
}

/** Waits until the element shows exactly `expected` (whitespace collapsed). */
export async function expectText(locator: Locator, expected: string | RegExp): Promise<void> {
  await locator.first().waitFor({ state: 'visible' });
  const read = async () => ((await locator.first().innerText()) ?? '').replace(/\s+/g, ' ').trim();
  if (typeof expected === 'string') await expect.poll(read, { timeout: TIMEOUT }).toBe(expected);
  else await expect.poll(read, { timeout: TIMEOUT }).toMatch(expected);
}

/** Waits until the element's text contains `part`. */
export async function expectContains(locator: Locator, part: string): Promise<void> {
  await locator.first().waitFor({ state: 'visible' });
  await expect.poll(async () => ((await locator.first().innerText()) ?? '').replace(/\s+/g, ' '), { timeout: TIMEOUT }).toContain(part);
}

/** Waits until an attribute has the value. */
export async function expectAttr(locator: Locator, name: string, value: string): Promise<void> {
  await expect.poll(async () => locator.first().getAttribute(name), { timeout: TIMEOUT }).toBe(value);
}

/** Waits for the path (without origin or query) to match, and returns the match. */
export async function waitForPath(page: Page, pattern: RegExp): Promise<RegExpExecArray> {
  await page.waitForURL((url) => pattern.test(url.pathname), { timeout: TIMEOUT });
  return pattern.exec(new URL(page.url()).pathname)!;
}

/** Signs in to the console at /admin/login and waits for the shell (the signed-in user's name). */
export async function consoleSignIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto('/admin/login');
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await expectText(page.getByTestId('user-name'), username);
}

/** Opens a console screen from its menu entry, as a person would. */
export async function openMenu(page: Page, key: string): Promise<void> {
  await page.getByTestId(`menu-${key}`).click();
}

/** A mainland mobile number nobody else in this database has (random is enough in a fresh database). */
export function mobileNumber(): string {
  return `139${String(randomInt(0, 100_000_000)).padStart(8, '0')}`;
}

/** A well-formed resident ID number (GB 11643 check digit), born 1990-03-07 in Beijing Dongcheng. */
export function residentId(): string {
  const body = `11010119900307${String(randomInt(0, 1000)).padStart(3, '0')}`;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((s, d, i) => s + Number(d) * weights[i]!, 0);
  return body + '10X98765432'[sum % 11]!;
}

/** How the console and the portal show a card number to people: 6 + stars + 4 (as the audit log stores it). */
export function maskedCardNo(cardNo: string): string {
  return `${cardNo.slice(0, 6)}${'*'.repeat(cardNo.length - 10)}${cardNo.slice(-4)}`;
}

/** Fails with every uncaught page error and console error a screen had, named by who saw it. */
export function expectNoPageErrors(pages: Record<string, { errors: string[] }>): void {
  const seen = Object.entries(pages).flatMap(([who, p]) => p.errors.map((e) => `${who}: ${e}`));
  expect(seen).toEqual([]);
}

/**
 * Chooses an option of an antd Select by its visible text, with the keyboard: focus the select,
 * open it with ArrowDown, move until the active option is the one wanted, Enter. Keys go to the
 * focused input, so unlike mouse clicks they are not lost while a dropdown animates on a loaded
 * machine (CI lost such clicks in three browser files). Waits for options still loading. Done when
 * the select shows the choice, or is gone (a choice that navigates, like a station picker).
 */
export async function chooseOption(page: Page, testId: string, option: string): Promise<void> {
  const select = page.getByTestId(testId);
  const input = select.locator('input[role="combobox"]').first();
  const shown = page.locator(`[data-testid="${testId}"] .ant-select-content`, { hasText: option }).first();
  const settled = () =>
    Promise.any([select.waitFor({ state: 'detached', timeout: 5_000 }), shown.waitFor({ timeout: 5_000 })]).then(
      () => true,
      () => false,
    );
  const quick = { timeout: 5_000 };
  for (let attempt = 0; attempt < 3; attempt++) {
    // A disabled select (waiting for another field) enables itself: wait for that first.
    await expect.poll(() => input.isEnabled(), { timeout: TIMEOUT }).toBe(true);
    await input.focus();
    if ((await input.getAttribute('aria-expanded')) !== 'true') await input.press('ArrowDown');
    const opened = await expect.poll(() => input.getAttribute('aria-expanded'), quick).toBe('true').then(
      () => true,
      () => false,
    );
    if (!opened) continue;
    // The dropdown of this select, found through the list its input controls.
    const listId = await input.getAttribute('aria-controls');
    const dropdown = page.locator('.ant-select-dropdown', { has: page.locator(`[id="${listId}"]`) }).first();
    if (!(await dropdown.locator('.ant-select-item-option', { hasText: option }).first().waitFor({ timeout: TIMEOUT }).then(() => true, () => false))) {
      await input.press('Escape');
      continue;
    }
    // Walk the options (the list wraps round, so a bounded walk sees every one).
    for (let step = 0; step < 300; step++) {
      const active = ((await dropdown.locator('.ant-select-item-option-active').first().textContent({ timeout: 1_000 }).catch(() => null)) ?? '').trim();
      if (active.includes(option)) {
        await input.press('Enter');
        break;
      }
      await input.press('ArrowDown');
    }
    if (await settled()) return;
    if (await select.count()) await input.press('Escape').catch(() => undefined);
  }
  throw new Error(`could not choose "${option}" in ${testId}`);
}

/**
 * Clicks a button that sends one request, and makes sure the request went: on a loaded machine a
 * click on a dialog still opening can be lost. Waits for the request's answer; clicks again (up to
 * twice more) only when none was sent and the button is still there. Returns the answer.
 */
export async function clickForRequest(page: Page, button: Locator, method: string, urlPart: string): Promise<import('playwright-core').Response> {
  const matches = (r: import('playwright-core').Response) => r.request().method() === method && r.url().includes(urlPart);
  for (let attempt = 0; attempt < 3; attempt++) {
    const answer = page.waitForResponse(matches, { timeout: attempt === 0 ? 10_000 : 20_000 }).catch(() => null);
    await button.click({ timeout: TIMEOUT }).catch(() => undefined);
    const response = await answer;
    if (response) return response;
    if (!(await button.isVisible().catch(() => false))) break;
  }
  throw new Error(`no ${method} ${urlPart} was sent; the dialog shows: ${await page.locator('.ant-modal').first().innerText().catch(() => '(no dialog)')}`);
}

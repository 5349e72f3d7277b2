import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createStaff, totpCode } from '../src/staff/index.js';
import { STAFF_PASSWORD, startTestServer, type TestServer } from './support/server.js';
import { failureShots, launchBrowser, openPage, type TrackedPage } from './e2e/support/browser.js';
import { expectText, openMenu, textOf } from './e2e/support/ui.js';

/**
 * The console's TOTP flows in a browser: an administrator without a second factor is shown the
 * enrolment on the sign-in screen (key grouped by four, otpauth link, recovery codes once), and
 * the next sign-in asks for the code. A factor reset from the staff page shows a one-time enrolment
 * code, which the member must then give to enrol again.
 */
describe('console sign-in with TOTP', () => {
  let server: TestServer;
  let browser: Browser;
  let tracked: TrackedPage | undefined;

  beforeAll(async () => {
    browser = await launchBrowser();
    process.env.FUELCARD_ADMIN_TOTP = 'required';
    server = await startTestServer();
    // The fixture's administrator sessions are enrolment-only here: create the account as the system.
    for (const username of ['console.admin', 'console.admin2']) {
      await createStaff(server.db.db, { staffId: null, name: 'test', role: 'system', ip: null, requestId: null }, { username, password: STAFF_PASSWORD, role: 'admin' });
    }
  });
  afterAll(async () => {
    delete process.env.FUELCARD_ADMIN_TOTP;
    await browser?.close();
    await server?.close();
  });

  it('enrols on first sign-in, signs in with a code, and resets another administrator’s factor with an enrolment code', async () => {
    tracked = await openPage(browser, { baseURL: server.baseUrl });
    onTestFailed(async () => {
      console.error('pictures:', await failureShots({ console: tracked! }));
    });
    const { page } = tracked;
    const password = async () => {
      await page.goto('/admin/login');
      await page.getByTestId('login-username').fill('console.admin');
      await page.getByTestId('login-password').fill(STAFF_PASSWORD);
      await page.getByTestId('login-submit').click();
    };

    await password();
    await page.getByTestId('login-enrolment').waitFor();
    await page.getByTestId('totp-start').click();
    const shown = await textOf(page.getByTestId('totp-secret'));
    expect(shown).toMatch(/^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
    const secret = shown.replace(/\s/g, '');
    expect(await textOf(page.getByTestId('totp-uri'))).toContain(`secret=${secret}`);
    await page.getByTestId('totp-code').fill(totpCode(secret, Date.now()));
    await page.getByTestId('totp-confirm').click();
    const codes = (await textOf(page.getByTestId('totp-recovery-codes'))).match(/[a-z2-9]{5}-[a-z2-9]{5}/g) ?? [];
    expect(codes).toHaveLength(10);
    await page.getByTestId('totp-done').click();
    await expectText(page.getByTestId('user-name'), 'console.admin');

    // Sign out (a fresh context), and back in: the code is asked for after the password.
    await tracked.context.close();
    tracked = await openPage(browser, { baseURL: server.baseUrl });
    const p2 = tracked.page;
    await p2.goto('/admin/login');
    await p2.getByTestId('login-username').fill('console.admin');
    await p2.getByTestId('login-password').fill(STAFF_PASSWORD);
    await p2.getByTestId('login-submit').click();
    await p2.getByTestId('login-totp-code').fill('000000');
    await p2.getByTestId('login-totp-submit').click();
    await p2.getByTestId('login-error').waitFor();
    // The next step's code: the one just confirmed at enrolment may not be used again.
    await p2.getByTestId('login-totp-code').fill(totpCode(secret, Date.now() + 30_000));
    await p2.getByTestId('login-totp-submit').click();
    await expectText(p2.getByTestId('user-name'), 'console.admin');
    expect(tracked.errors).toEqual([]);

    // A second factor reset by another administrator: the enrolment code is shown once, in groups,
    // and the member cannot enrol without it.
    await openMenu(p2, 'staff');
    const row = p2.locator('[data-testid="staff-row"][data-username="console.admin2"]');
    await row.getByTestId('staff-totp-reset').click();
    await p2.getByTestId('staff-totp-reset-confirm').click();
    const grouped = await textOf(p2.getByTestId('staff-enrolment-code'));
    expect(grouped).toMatch(/^[A-Z2-7]{4}(\s+[A-Z2-7]{4}){5}$/);
    const enrolmentCode = grouped.split(/\s+/).join('-');
    await p2.getByTestId('staff-enrolment-code-done').click();
    await p2.getByTestId('staff-enrolment-code').waitFor({ state: 'detached' });
    await expect(p2.locator('[data-testid="staff-row"][data-username="console.admin"]').getByTestId('staff-totp-reset').count()).resolves.toBe(0);

    await tracked.context.close();
    tracked = await openPage(browser, { baseURL: server.baseUrl });
    const p3 = tracked.page;
    await p3.goto('/admin/login');
    await p3.getByTestId('login-username').fill('console.admin2');
    await p3.getByTestId('login-password').fill(STAFF_PASSWORD);
    await p3.getByTestId('login-submit').click();
    await p3.getByTestId('login-enrolment').waitFor();
    await p3.getByTestId('totp-start').click();
    await p3.getByTestId('totp-enrolment-code').fill('AAAA-BBBB-CCCC-DDDD-EEEE-FFFF');
    await p3.getByTestId('totp-proof-submit').click();
    await p3.getByTestId('totp-error').waitFor();
    await p3.getByTestId('totp-enrolment-code').fill(enrolmentCode.toLowerCase());
    await p3.getByTestId('totp-proof-submit').click();
    const secret2 = (await textOf(p3.getByTestId('totp-secret'))).replace(/\s/g, '');
    // A new key while one is pending takes the password as well.
    await p3.getByTestId('totp-restart').click();
    await p3.getByTestId('totp-password').fill(STAFF_PASSWORD);
    await p3.getByTestId('totp-proof-submit').click();
    await expect.poll(async () => (await textOf(p3.getByTestId('totp-secret'))).replace(/\s/g, '')).not.toBe(secret2);
    const secret3 = (await textOf(p3.getByTestId('totp-secret'))).replace(/\s/g, '');
    await p3.getByTestId('totp-code').fill(totpCode(secret3, Date.now()));
    await p3.getByTestId('totp-confirm').click();
    await p3.getByTestId('totp-done').click();
    await expectText(p3.getByTestId('user-name'), 'console.admin2');
    expect(tracked.errors).toEqual([]);
  }, 150_000);
});

import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { newCard, newStation, sell, type Terminal } from '../support/fuel.js';
import { ADMIN_PASSWORD, STAFF_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { failureShots, launchBrowser, openPage, PHONE, shot, type TrackedPage } from './support/browser.js';
import { consoleSignIn, expectAttr, expectContains, expectNoPageErrors, expectText, openMenu, waitForPath } from './support/ui.js';

/**
 * Roles and languages in the browser. A role's missing rights are hidden (no menu entry, no
 * button) and refused (a deep link shows the 403 screen; the server answers 403 to the same
 * session's token). Each front end switches to English and the choice survives a reload.
 */
function picturesOnFailure(pages: Record<string, TrackedPage>): void {
  onTestFailed(async () => {
    console.error('pictures of the open pages:', await failureShots(pages));
  });
}

describe('roles and languages in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let stationId: number;
  let terminal: Terminal;

  beforeAll(async () => {
    // The browser first: if it cannot start, no server is left running behind the failure.
    browser = await launchBrowser();
    server = await startTestServer();
    // A station with a terminal, nozzles and prices, and a card with a sale: something for each screen to show.
    ({ stationId, terminal } = await newStation(server, 'E2EROLES'));
    expect((await server.api('PUT', `/api/v1/stations/${stationId}/nozzles`, { body: { items: [{ nozzle: 1, grade: '92#' }, { nozzle: 2, grade: '0#' }] } })).status).toBe(200);
    for (const [grade, unitPrice] of [['92#', 745], ['0#', 712]] as const) {
      expect((await server.api('POST', '/api/v1/prices', { body: { grade, unitPrice } })).status).toBe(201);
    }
    const cardNo = await newCard(server, { funds: 30_000 });
    const sale = await sell(server, terminal, { cardNo, pin: '123456', grade: '92#', nozzle: 1, unitPrice: 745, volumeMl: 20_000, amount: 14_900 });
    expect(sale.body.status, JSON.stringify(sale.body)).toBe('approved');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('finance sees no staff screen and no station editing; a deep link to staff shows 403 and the server refuses the call', async () => {
    const finance = await openPage(browser, { baseURL: server.baseUrl });
    picturesOnFailure({ finance });
    const page = finance.page;
    await consoleSignIn(page, 't_finance', STAFF_PASSWORD);
    await expectText(page.getByTestId('user-role'), '财务');

    // Hidden: the menu has what finance may read, and nothing of staff administration.
    await page.getByTestId('menu-stations').waitFor();
    await page.getByTestId('menu-sales').waitFor();
    await page.getByTestId('menu-recharges').waitFor();
    expect(await page.getByTestId('menu-staff').count()).toBe(0);

    // Stations are readable, not editable: no new station, no terminal registration or toggling, no nozzle editing.
    await openMenu(page, 'stations');
    await page.locator(`[data-testid="stations-row"][data-station-id="${stationId}"] [data-testid="stations-open"]`).click();
    await waitForPath(page, new RegExp(`^/admin/stations/${stationId}$`));
    await page.locator(`[data-testid="terminal-row"][data-terminal-id="${terminal.terminalId}"]`).waitFor();
    await page.locator('[data-testid="nozzle-row"][data-nozzle="1"]').waitFor();
    for (const testId of ['terminal-register-submit', 'terminal-toggle', 'nozzles-edit', 'station-create']) {
      expect(await page.getByTestId(testId).count(), testId).toBe(0);
    }
    await openMenu(page, 'stations');
    await page.locator('[data-testid="stations-row"]').first().waitFor();
    expect(await page.getByTestId('station-create').count()).toBe(0);

    // Refused on screen: the deep link opens the 403 page, not the staff list.
    await page.goto('/admin/staff');
    await expectContains(page.getByTestId('page-403'), '无权访问');
    expect(await page.locator('[data-testid="staff-row"]').count()).toBe(0);
    await shot(page, 'console-forbidden');

    // Refused by the server: the same browser session's token gets 403 FORBIDDEN for staff and terminal registration.
    const answers = await page.evaluate(async (id) => {
      const token = sessionStorage.getItem('fuelcard.admin.token');
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const staff = await fetch('/api/v1/staff', { headers });
      const register = await fetch(`/api/v1/stations/${id}/terminals`, { method: 'POST', headers, body: '{}' });
      const me = await fetch('/api/v1/auth/me', { headers });
      return { staff: { status: staff.status, body: await staff.json() }, register: { status: register.status, body: await register.json() }, me: me.status };
    }, stationId);
    expect(answers.me).toBe(200); // the token itself is good
    expect(answers.staff.status).toBe(403);
    expect(answers.staff.body.error.code).toBe('FORBIDDEN');
    expect(answers.register.status).toBe(403);
    expect(answers.register.body.error.code).toBe('FORBIDDEN');
    expect((await server.api('GET', '/api/v1/staff', { role: 'finance' })).status).toBe(403);

    expectNoPageErrors({ finance });
    await finance.context.close();
  });

  it('the console switches to English and keeps it across a reload', async () => {
    const admin = await openPage(browser, { baseURL: server.baseUrl });
    picturesOnFailure({ admin });
    const page = admin.page;
    await consoleSignIn(page, 'admin', ADMIN_PASSWORD);
    await page.getByTestId('dashboard').waitFor();
    await expectText(page.getByTestId('menu-dashboard'), '仪表盘');

    await page.getByTestId('lang-switch').click();
    const english = async () => {
      await expectText(page.getByTestId('menu-dashboard'), 'Dashboard');
      await expectText(page.getByTestId('menu-customers'), 'Customers');
      await expectText(page.getByTestId('menu-staff'), 'Staff & roles');
      await expectText(page.getByTestId('logout'), 'Sign out');
      await expectText(page.getByTestId('user-role'), 'Administrator');
      await expectText(page.getByTestId('lang-switch'), '中文');
      await expectContains(page.getByTestId('dashboard'), 'Dashboard');
      await expectText(page.getByTestId('dash-sales-count'), '1 sales · 20.00 L');
      await expectContains(page.getByTestId('dashboard'), '¥149.00');
      expect(await page.locator('html').getAttribute('lang')).toBe('en');
    };
    await english();

    await page.reload();
    await english();
    await shot(page, 'console-english');

    // And back: the switch works both ways.
    await page.getByTestId('lang-switch').click();
    await expectText(page.getByTestId('menu-dashboard'), '仪表盘');
    expectNoPageErrors({ admin });
    await admin.context.close();
  });

  it('the portal and the POS switch to English and keep it across a reload', async () => {
    const portal = await openPage(browser, { baseURL: server.baseUrl, ...PHONE });
    picturesOnFailure({ portal });
    const pp = portal.page;
    await pp.goto('/portal/login');
    await expectText(pp.locator('.pt-authtitle'), '会员登录');
    await pp.getByTestId('lang-toggle').click();
    await expectText(pp.locator('.pt-authtitle'), 'Sign in');
    await expectText(pp.getByTestId('first-time-link'), /first|forgot/i);
    await pp.reload();
    await expectText(pp.locator('.pt-authtitle'), 'Sign in');
    await expectText(pp.getByTestId('login-submit'), 'Sign in');
    await expectAttr(pp.locator('html'), 'lang', 'en');
    await shot(pp, 'portal-english');

    const pos = await openPage(browser, { baseURL: server.baseUrl, viewport: { width: 1280, height: 800 } });
    picturesOnFailure({ pos });
    const sp = pos.page;
    await sp.goto('/pos/');
    await waitForPath(sp, /^\/pos\/pair$/);
    await sp.getByTestId('pos-lang').click();
    await expectText(sp.locator('h1.pos-h1'), 'Pair this terminal');
    await sp.getByTestId('pos-pair-terminal-id').fill(terminal.terminalId);
    await sp.getByTestId('pos-pair-secret').fill(terminal.secret);
    await sp.getByTestId('pos-pair-submit').click();
    await sp.getByTestId('pos-start-selling').click();
    await expectContains(sp.getByTestId('nozzle-1'), 'Nozzle 1');
    await sp.reload();
    await expectContains(sp.getByTestId('nozzle-1'), 'Nozzle 1');
    await expectContains(sp.getByTestId('nozzle-2'), 'Diesel 0');
    await expectText(sp.getByTestId('pos-sell'), /^Charge/);
    await expectAttr(sp.locator('html'), 'lang', 'en');
    await sp.getByTestId('nozzle-1').click();
    await expectContains(sp.getByTestId('pos-selected-nozzle'), '¥7.45/L');
    await shot(sp, 'pos-english');

    expectNoPageErrors({ portal, pos });
    await portal.context.close();
    await pos.context.close();
  });
});

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { balanceOf, expectLedgerOk, newCard, newStation, PIN, type Terminal } from '../support/fuel.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { failureShots, launchBrowser, openPage, PHONE, shot, type TrackedPage } from './support/browser.js';
import { expectAttr, expectContains, expectNoPageErrors, expectText, waitForPath } from './support/ui.js';

/**
 * The station POS of issue 4 in the browser, against the real server: an online sale voided from
 * the shift list, a pre-authorisation completed for less than the hold, sales approved offline
 * while every API call is cut (one refused over the floor), uploaded as a batch when the network
 * is back, the shift closed with the device's journal balancing the platform's, and the portal's
 * finder listing the station with its price.
 */

const PRICE_92 = 745;
const FUNDS = 100_000; // ¥1,000.00

describe('forecourt POS in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let terminal: Terminal;
  let stationName: string;
  let cardNo: string;
  let pos: TrackedPage;
  let pp: Page;
  /** What the card should hold, followed through each step. */
  let expected = FUNDS;
  const opened: Record<string, TrackedPage> = {};

  beforeAll(async () => {
    browser = await launchBrowser();
    server = await startTestServer();
    const code = `PW${Date.now() % 1_000_000}`;
    const st = await newStation(server, code);
    terminal = st.terminal;
    stationName = `测试油站 ${code}`;
    const nz = await server.api('PUT', `/api/v1/stations/${st.stationId}/nozzles`, { body: { items: [{ nozzle: 1, grade: '92#' }, { nozzle: 2, grade: '95#' }] } });
    expect(nz.status, JSON.stringify(nz.body)).toBe(200);
    for (const [grade, unitPrice] of [['92#', PRICE_92], ['95#', 793]] as const) {
      const p = await server.api('POST', '/api/v1/prices', { body: { grade, unitPrice } });
      expect(p.status, JSON.stringify(p.body)).toBe(201);
    }
    cardNo = await newCard(server, { funds: FUNDS });
    pos = opened.pos = await openPage(browser, { baseURL: server.baseUrl, viewport: { width: 1366, height: 900 } });
    pp = pos.page;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const hasRoute = (method: string, url: string) => server.routes.some((r) => r.method === method && r.url === url);

  async function sellOnPos(litres: string) {
    await pp.getByTestId('nozzle-1').click();
    await pp.getByTestId('pos-card').fill(cardNo);
    await pp.getByTestId('pos-pin').fill(PIN);
    await pp.getByTestId('pos-litres').fill(litres);
    await pp.getByTestId('pos-sell').click();
    await pp.getByTestId('pos-review').waitFor();
  }

  it('pairs, sells online and voids the sale from the shift list', async () => {
    onTestFailed(async () => console.error('pictures:', await failureShots(opened)));
    await pp.goto('/pos/pair');
    await pp.getByTestId('pos-pair-terminal-id').fill(terminal.terminalId);
    await pp.getByTestId('pos-pair-secret').fill(terminal.secret);
    await pp.getByTestId('pos-pair-submit').click();
    await expectText(pp.getByTestId('pos-paired-terminal'), terminal.terminalId);
    await pp.getByTestId('pos-start-selling').click();

    await sellOnPos('30');
    await pp.getByTestId('pos-confirm').click();
    await pp.getByTestId('pos-approved').waitFor();
    expected -= 22350;
    expect(await balanceOf(server, cardNo)).toBe(expected);

    await pp.getByTestId('nav-shift').click();
    await waitForPath(pp, /^\/pos\/shift$/);
    // The offline parameters were downloaded while online (needed later).
    await expectContains(pp.getByTestId('pos-offline-params'), '¥200.00');
    const row = pp.locator('[data-testid="pos-shift-row"][data-status="approved"]');
    await expectContains(row, '¥223.50');
    await row.getByTestId('pos-void').click();
    await pp.locator('.ant-popconfirm').getByRole('button', { name: '撤销' }).click();
    await pp.locator('[data-testid="pos-shift-row"][data-status="voided"]').waitFor();
    expected += 22350;
    expect(await balanceOf(server, cardNo)).toBe(expected);
    await expect.poll(() => pp.getByTestId('pos-declare-voided-count').inputValue()).toBe('1');
    await shot(pp, 'pos-shift-void');
  });

  it('pre-authorises a hold and completes it for less', async (ctx) => {
    onTestFailed(async () => console.error('pictures:', await failureShots(opened)));
    if (!hasRoute('POST', '/api/v1/pos/authorisations')) ctx.skip();
    await pp.getByTestId('nav-pump').click();
    await waitForPath(pp, /^\/pos\/pump$/);
    await pp.getByTestId('pos-auth-form').waitFor();
    await pp.getByTestId('pump-nozzle-1').click();
    await pp.getByTestId('pos-auth-card').fill(cardNo);
    await pp.getByTestId('pos-auth-pin').fill(PIN);
    await pp.getByTestId('pos-auth-amount').fill('300');
    await pp.getByTestId('pos-auth-submit').click();
    await pp.getByTestId('pos-auth-approved').waitFor();
    await expectText(pp.getByTestId('pos-auth-held-amount'), '¥300.00');
    await pp.getByTestId('pos-auth-next').click();
    const held = pp.locator('[data-testid="pos-auth-row"][data-nozzle="1"]');
    await expectContains(held.getByTestId('pos-auth-held'), '¥300.00');
    await shot(pp, 'pos-preauth-open');

    await held.getByTestId('pos-auth-complete').click();
    await pp.getByTestId('pos-completion-qty').fill('20');
    await expectContains(pp.getByTestId('pos-completion-summary'), '¥149.00');
    await pp.getByTestId('pos-completion-submit').click();
    await pp.getByTestId('pos-completion-approved').waitFor();
    await expectText(pp.getByTestId('pos-completion-amount'), '¥149.00');
    await expectText(pp.getByTestId('pos-completion-released'), '¥151.00');
    expected -= 14900;
    expect(await balanceOf(server, cardNo)).toBe(expected);
    await shot(pp, 'pos-completion');
    await pp.getByTestId('pos-completion-done').click();
    await expect.poll(() => pp.locator('[data-testid="pos-auth-row"]').count()).toBe(0);
  });

  it('sells offline by the downloaded rules while the API is cut, then uploads the batch when it is back', async () => {
    onTestFailed(async () => console.error('pictures:', await failureShots(opened)));
    await pp.getByRole('link', { name: '加油' }).first().click();
    await waitForPath(pp, /^\/pos\/?$/);
    // The first sale's receipt is still up (the sale in progress outlives the other screens).
    await pp.getByTestId('pos-new-sale').click();
    await pp.getByTestId('pos-sale-form').waitFor();

    // The network goes: every API call of the page fails as a dropped connection would.
    await pp.route('**/api/v1/**', (route) => route.abort('internetdisconnected'));
    await sellOnPos('10');
    await pp.getByTestId('pos-confirm').click();
    await pp.getByTestId('pos-failed').waitFor();
    await expectAttr(pp.getByTestId('pos-failed'), 'data-uncertain', 'true');
    await pp.getByTestId('pos-offline-approve').click();
    await pp.getByTestId('pos-offline-approved').waitFor();
    await expectContains(pp.getByTestId('pos-approved'), '¥74.50');
    await expectAttr(pp.getByTestId('pos-offline-banner'), 'data-pending', '1');
    await shot(pp, 'pos-offline-approved');

    // Now known to be offline: the review says so and charges offline at once; over the per-sale floor is refused.
    await pp.getByTestId('pos-new-sale').click();
    await sellOnPos('30');
    await pp.getByTestId('pos-review-offline').waitFor();
    await pp.getByTestId('pos-confirm').click();
    await pp.getByTestId('pos-decline').waitFor();
    await expectText(pp.getByTestId('pos-decline-code'), 'OFFLINE_OVER_FLOOR_SALE');
    await expectContains(pp.getByTestId('pos-decline-reason'), '脱机单笔限额');
    await pp.getByTestId('pos-new-sale').click();
    await sellOnPos('5');
    await pp.getByTestId('pos-confirm').click();
    await pp.getByTestId('pos-offline-approved').waitFor();
    await expectAttr(pp.getByTestId('pos-offline-banner'), 'data-pending', '2');
    await shot(pp, 'pos-offline-banner');
    // Nothing reached the platform.
    expect(await balanceOf(server, cardNo)).toBe(expected);

    // The network is back: the probe notices, the owed reversal and the batch go up, and the sales post.
    await pp.unroute('**/api/v1/**');
    await pp.getByTestId('pos-upload-result').waitFor({ timeout: 30_000 });
    await expectContains(pp.getByTestId('pos-upload-result'), '入账 2 笔');
    expected -= 7450 + 3725;
    expect(await balanceOf(server, cardNo)).toBe(expected);
    const batches = await server.api('GET', `/api/v1/offline-batches?terminalId=${terminal.terminalId}`);
    expect(batches.status, JSON.stringify(batches.body)).toBe(200);
    expect(batches.body.items).toHaveLength(1);
    expect(batches.body.items[0].summary).toMatchObject({ posted: 2, rejected: 0 });
    await shot(pp, 'pos-offline-uploaded');
  });

  it('closes the shift with the journal’s totals, which agree with the platform', async () => {
    onTestFailed(async () => console.error('pictures:', await failureShots(opened)));
    await pp.getByTestId('nav-shift').click();
    await waitForPath(pp, /^\/pos\/shift$/);
    await expect.poll(() => pp.locator('[data-testid="pos-offline-row"][data-status="posted"]').count()).toBe(2);
    await expect(pp.getByTestId('pos-declare-offline-count').inputValue()).resolves.toBe('2');
    await expect(pp.getByTestId('pos-declare-offline-amount').inputValue()).resolves.toBe('111.75');
    await expect(pp.getByTestId('pos-declare-voided-amount').inputValue()).resolves.toBe('223.50');
    await pp.getByTestId('pos-close-cashier').fill('张收银');
    await shot(pp, 'pos-shift-close');
    await pp.getByTestId('pos-close-submit').click();
    await pp.getByTestId('pos-close-confirm').click();
    await pp.getByTestId('pos-close-result').waitFor();
    await expectAttr(pp.getByTestId('pos-close-result'), 'data-balanced', 'true');
    await expectAttr(pp.getByTestId('pos-diff-offline'), 'data-agrees', 'true');
    await expectAttr(pp.getByTestId('pos-diff-voided'), 'data-agrees', 'true');
    await shot(pp, 'pos-shift-closed');
    await expectLedgerOk(server);
  });

  it('lists the station with its price in the portal finder, without signing in', async () => {
    onTestFailed(async () => console.error('pictures:', await failureShots(opened)));
    const phone = (opened.portal = await openPage(browser, { baseURL: server.baseUrl, ...PHONE }));
    const hp = phone.page;
    await hp.goto('/portal/login');
    await hp.getByTestId('finder-link').click();
    await waitForPath(hp, /^\/portal\/find$/);
    await hp.getByTestId('finder-lat').fill('31.2310');
    await hp.getByTestId('finder-lng').fill('121.4750');
    await hp.getByTestId('finder-go').click();
    await expectAttr(hp.getByTestId('finder-where'), 'data-source', 'typed');
    const item = hp.locator('[data-testid="finder-station"]').filter({ hasText: stationName });
    await item.waitFor();
    await expectText(item.locator('[data-testid="finder-grade-price"][data-grade="92#"] .pt-finder-price'), '¥7.45/L');
    await expectAttr(item.getByTestId('finder-open'), 'data-open', 'true');
    expect(await item.getByTestId('finder-station-distance').innerText()).toMatch(/^\d+ m$/);
    await hp.locator('[data-testid="finder-plot-station"]').first().waitFor();
    await shot(hp, 'portal-finder');
    expectNoPageErrors({ portal: phone });
  });
});

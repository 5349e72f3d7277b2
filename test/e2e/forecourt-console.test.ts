import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { expectLedgerOk, newCard, newStation, PIN, saleBody, sell, type Terminal } from '../support/fuel.js';
import { ADMIN_PASSWORD, startTestServer, terminalPost, type TestServer } from '../support/server.js';
import { failureShots, launchBrowser, openPage, shot, type TrackedPage } from './support/browser.js';
import { chooseOption, clickForRequest, consoleSignIn, expectAttr, expectContains, expectNoPageErrors, expectText, openMenu, waitForPath } from './support/ui.js';

/**
 * The forecourt screens of the console, clicked through in Chinese against the real server: a
 * station's region, hours and services; a scheduled price change and its cancel; store goods; a
 * tank, a delivery and a dip reading with the stock it gives and the low-stock alert resolved;
 * an open pump authorisation; and the day's settlement statement after real terminal sales.
 * Steps whose API is not on the server are skipped (and named so) rather than faked.
 */

const TODAY = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());

/** Picks an option of an antd Select by its visible text. */
// Each step drives several dialogs through a real server: a loaded machine needs more than the default minute.
describe('forecourt screens of the console', { timeout: 180_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let admin: TrackedPage;
  let page: Page;
  let stationId: number;
  let terminal: Terminal;
  let cardNo: string;
  const opened: Record<string, TrackedPage> = {};
  const has = (method: string, url: string) => server.routes.some((r) => r.method === method && r.url === url);

  beforeAll(async () => {
    browser = await launchBrowser();
    server = await startTestServer();
    const st = await newStation(server);
    stationId = st.stationId;
    terminal = st.terminal;
    const patch = await server.api('PATCH', `/api/v1/stations/${stationId}`, { body: { province: '上海市', city: '上海市', district: '黄浦区' } });
    expect(patch.status, JSON.stringify(patch.body)).toBe(200);
    const nozzles = await server.api('PUT', `/api/v1/stations/${stationId}/nozzles`, { body: { items: [{ nozzle: 3, grade: '92#' }, { nozzle: 4, grade: '95#' }] } });
    expect(nozzles.status, JSON.stringify(nozzles.body)).toBe(200);
    for (const [grade, unitPrice] of [['92#', 800], ['95#', 850]] as const) {
      const p = await server.api('POST', '/api/v1/prices', { body: { grade, unitPrice } });
      expect(p.status, JSON.stringify(p.body)).toBe(201);
    }
    cardNo = await newCard(server, { funds: 200_000 });
    admin = opened.admin = await openPage(browser, { baseURL: server.baseUrl });
    page = admin.page;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  // A fresh page for each step: a dialog a failed step left open must not block the next one.
  beforeEach(async () => {
    await page?.goto('/admin/');
  });

  const onFail = () =>
    onTestFailed(async () => {
      console.error('pictures of the open pages:', await failureShots(opened));
    });

  it('edits a station: district, opening hours by weekday, services', async () => {
    onFail();
    await consoleSignIn(page, 'admin', ADMIN_PASSWORD);
    await openMenu(page, 'stations');
    await page.getByTestId('network-filter-province').fill('上海市');
    await page.getByTestId('network-search').click();
    const row = page.locator(`[data-testid="stations-row"][data-station-id="${stationId}"]`);
    await expectContains(row, '黄浦区');
    await shot(page, 'console-forecourt-stations');
    await row.getByTestId('stations-open').click();
    await waitForPath(page, new RegExp(`^/admin/stations/${stationId}$`));

    await page.getByTestId('station-edit').click();
    await page.getByTestId('station-edit-district').fill('浦东新区');
    await page.getByTestId('station-edit-always').click();
    await page.getByTestId('hours-open').first().fill('06:30');
    await page.getByTestId('hours-close').first().fill('23:00');
    await page.getByTestId('hours-fill-week').click();
    await expect.poll(() => page.getByTestId('hours-open').count()).toBe(7);
    await page.getByTestId('station-edit-services').getByText('洗车').click();
    await page.getByTestId('station-edit-services').getByText('便利店').click();
    await page.getByTestId('station-edit-submit').click();
    await expectText(page.getByTestId('station-region'), '上海市 浦东新区');
    await expectContains(page.getByTestId('station-hours'), '周一 06:30–23:00');
    await expectContains(page.getByTestId('station-hours'), '周日 06:30–23:00');
    await expectContains(page.getByTestId('station-services'), '洗车');
    await expectContains(page.getByTestId('station-services'), '便利店');
    await shot(page, 'console-forecourt-station');

    const saved = await server.api('GET', `/api/v1/stations/${stationId}`);
    expect(saved.body.district).toBe('浦东新区');
    expect(saved.body.openingHours.always).toBe(false);
    expect(saved.body.openingHours.weekly).toHaveLength(7);
    expect([...saved.body.services].sort()).toEqual(['car_wash', 'store']);
  });

  it('schedules a price change for the next midnight, then cancels it', async () => {
    onFail();
    await openMenu(page, 'prices');
    await chooseOption(page, 'fc-price-grade', '92#');
    await page.getByTestId('fc-price-unit').fill('8.15');
    await page.getByTestId('fc-price-submit').click();
    await page.getByTestId('fc-price-confirm').click();
    const next = page.locator('[data-testid="price-next-row"][data-grade="92#"][data-scope="national"]');
    await expectContains(next, '¥8.15/L');
    // The default is the coming 00:00 in China.
    await expectContains(next, '00:00:00');
    await shot(page, 'console-forecourt-prices');

    const before = await server.api('GET', '/api/v1/prices');
    expect(before.body.next.some((p: any) => p.grade === '92#' && p.unitPrice === 815)).toBe(true);

    await next.getByTestId('price-cancel').click();
    const cancelled = await clickForRequest(page, page.getByTestId('price-cancel-confirm'), 'DELETE', '/api/v1/prices/');
    expect(cancelled.status(), await cancelled.text()).toBe(200);
    // The dialog closes when the server has answered; then the list reloads.
    await page.getByTestId('price-cancel-confirm').waitFor({ state: 'detached', timeout: 30_000 });
    await next.waitFor({ state: 'detached', timeout: 30_000 });
    const after = await server.api('GET', '/api/v1/prices');
    expect(after.body.next.some((p: any) => p.grade === '92#' && p.unitPrice === 815)).toBe(false);
    // The price in force is untouched.
    expect(after.body.items.find((p: any) => p.grade === '92#' && p.stationId === null && !p.province).unitPrice).toBe(800);
  });

  it('creates a goods category and an item', async (ctx) => {
    if (!has('POST', '/api/v1/goods') || !has('POST', '/api/v1/goods-categories')) return ctx.skip();
    onFail();
    await openMenu(page, 'goods');
    await page.getByTestId('goods-tab-categories').click();
    await page.getByTestId('category-form-code').fill('DRINK');
    await page.getByTestId('category-form-name-zh').fill('饮料');
    await page.getByTestId('category-form-name-en').fill('Drinks');
    await page.getByTestId('category-form-submit').click();
    await page.locator('[data-testid="category-row"][data-code="DRINK"]').waitFor();

    await page.getByTestId('goods-tab-goods').click();
    await page.getByTestId('goods-new').click();
    await page.getByTestId('goods-form-sku').fill('WATER-550');
    await chooseOption(page, 'goods-form-category', '饮料');
    await page.getByTestId('goods-form-name-zh').fill('矿泉水 550ml');
    await page.getByTestId('goods-form-name-en').fill('Mineral water 550 ml');
    await page.getByTestId('goods-form-price').fill('2.50');
    await page.getByTestId('goods-form-submit').click();
    const row = page.locator('[data-testid="goods-row"][data-sku="WATER-550"]');
    await expectContains(row, '¥2.50');
    await shot(page, 'console-forecourt-goods');
    const goods = await server.api('GET', '/api/v1/goods?q=WATER');
    expect(goods.body.items.find((g: any) => g.sku === 'WATER-550')?.unitPrice).toBe(250);
  });

  it('sets up a tank, records a delivery and a dip reading, shows the stock, and resolves the low-stock alert', async () => {
    onFail();
    await page.goto(`/admin/stock/${stationId}`);
    await page.getByTestId('tanks-edit').click();
    await page.getByTestId('tanks-form-add').click();
    await chooseOption(page, 'tanks-form-grade', '92#');
    await page.getByTestId('tanks-form-capacity').fill('30000');
    await page.getByTestId('tanks-form-low').fill('5000');
    await page.getByTestId('tanks-form-submit').click();
    const tank = page.locator('[data-testid="tank-row"][data-tank="1"]');
    await tank.waitFor();

    await page.getByTestId('reading-new').click();
    await page.getByTestId('reading-form-volume').fill('4000');
    await page.getByTestId('reading-form-temperature').fill('18.5');
    await page.getByTestId('reading-form-submit').click();
    await expectAttr(tank, 'data-low', 'true');
    await expectAttr(tank, 'data-book-ml', '4000000');

    await page.getByTestId('delivery-new').click();
    await page.getByTestId('delivery-form-volume').fill('12000');
    await page.getByTestId('delivery-form-reference').fill('DN-2026-001');
    await page.getByTestId('delivery-form-submit').click();
    await page.locator('[data-testid="delivery-row"][data-reference="DN-2026-001"]').waitFor();

    // A dip after the delivery: the tank is full enough again; the low-stock alert stays open until someone resolves it.
    const dip = await server.api('POST', `/api/v1/stations/${stationId}/tank-readings`, { body: { readings: [{ tank: 1, volumeMl: 16_000_000, readAt: new Date().toISOString() }] } });
    expect(dip.status, JSON.stringify(dip.body)).toBe(200);
    await page.reload();
    await expectAttr(tank, 'data-low', 'false');
    await expectContains(tank.getByTestId('book-stock'), '16000.00 L');
    const alert = page.locator('[data-testid="alert-row"][data-kind="low_stock"][data-status="open"]');
    await alert.waitFor();
    await shot(page, 'console-forecourt-stock');

    await alert.getByTestId('alert-resolve').click();
    const note = page.getByTestId('alert-resolve-note');
    await note.fill('已到货补油，液位恢复');
    // On a loaded machine a click can land while the modal is still opening and be lost: the test waits for the
    // resolve request itself, clicks again only if none was sent, and names what the modal shows if it never is.
    const isResolve = (r: { url(): string; request(): { method(): string } }) => r.url().includes('/resolve') && r.request().method() === 'POST';
    let answer = page.waitForResponse(isResolve, { timeout: 10_000 }).catch(() => null);
    await page.getByTestId('alert-resolve-submit').click();
    let response = await answer;
    if (!response) {
      if ((await note.inputValue().catch(() => '')) === '') await note.fill('已到货补油，液位恢复');
      answer = page.waitForResponse(isResolve, { timeout: 20_000 }).catch(() => null);
      await page.getByTestId('alert-resolve-submit').click();
      response = await answer;
    }
    if (!response) throw new Error(`the resolve request was never sent; the modal shows: ${await page.locator('.ant-modal').innerText().catch(() => '(no modal)')}`);
    expect(response.status(), await response.text()).toBe(200);
    // The list's refresh can race the modal closing on a loaded machine: one reload if the row is still there.
    if ((await alert.count()) > 0) {
      await alert.waitFor({ state: 'detached', timeout: 3_000 }).catch(() => page.reload());
    }
    await alert.waitFor({ state: 'detached' });
    const alerts = await server.api('GET', `/api/v1/stock-alerts?stationId=${stationId}&status=resolved`);
    expect(alerts.body.items[0]).toMatchObject({ kind: 'low_stock', resolvedBy: 'admin', resolutionNote: '已到货补油，液位恢复' });

    await openMenu(page, 'stock');
    await expectAttr(page.locator(`[data-testid="stock-row"][data-station-id="${stationId}"][data-tank="1"]`), 'data-low', 'false');
  });

  it('shows an open pump authorisation', async (ctx) => {
    if (!has('POST', '/api/v1/pos/authorisations') || !has('GET', '/api/v1/authorisations')) return ctx.skip();
    onFail();
    const ref = randomUUID();
    const auth = await terminalPost(server, terminal, '/api/v1/pos/authorisations', { cardNo, pin: PIN, nozzle: 4, mode: 'preauth', amount: 30_000 }, { idempotencyKey: ref });
    expect(auth.status, JSON.stringify(auth.body)).toBe(200);
    expect(auth.body.status).toBe('approved');
    await openMenu(page, 'authorisations');
    const row = page.locator('[data-testid="auth-row"][data-status="held"][data-nozzle="4"]');
    await expectContains(row, '¥300.00');
    await shot(page, 'console-forecourt-authorisations');
    // Released again (the customer drove off), so the ledger has nothing pending at the end.
    const rev = await terminalPost(server, terminal, '/api/v1/pos/reversals', { originalRef: ref, reason: 'customer_cancel' });
    expect(rev.status, JSON.stringify(rev.body)).toBe(200);
  });

  it('shows the settlement statement of the station for the day after real terminal sales', async (ctx) => {
    onFail();
    const amounts = [24_000, 16_000];
    for (const amount of amounts) {
      const r = await sell(server, terminal, saleBody(cardNo, amount), { idempotencyKey: randomUUID() });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.status).toBe('approved');
    }
    if (!has('GET', '/api/v1/stations/:id/settlements/:day')) return ctx.skip();
    await openMenu(page, 'settlements');
    await chooseOption(page, 'settlements-station', '测试油站');
    await waitForPath(page, new RegExp(`^/admin/settlements/${stationId}/${TODAY}$`));
    await page.getByTestId('statement').waitFor();
    const api = await server.api('GET', `/api/v1/stations/${stationId}/settlements/${TODAY}`);
    expect(api.status, JSON.stringify(api.body)).toBe(200);
    expect(api.body.gross).toBeGreaterThanOrEqual(40_000);
    await expectText(page.getByTestId('statement-gross'), `¥${(api.body.gross / 100).toLocaleString('en-US', { minimumFractionDigits: 2 })}`);
    await expectText(page.getByTestId('statement-owed'), `¥${(api.body.owedToStation / 100).toLocaleString('en-US', { minimumFractionDigits: 2 })}`);
    const online92 = page.locator('[data-testid="statement-line"][data-flow="online"][data-grade="92#"]');
    await expectContains(online92, '¥400.00');
    await shot(page, 'console-forecourt-settlement');
  });

  it('lists the shift the sales opened', async (ctx) => {
    if (!has('GET', '/api/v1/shifts')) return ctx.skip();
    onFail();
    await openMenu(page, 'shifts');
    await page.locator('[data-testid="shift-row"]').first().waitFor();
    await page.getByTestId('shift-open').first().click();
    await waitForPath(page, /^\/admin\/shifts\/\d+$/);
    await page.locator('[data-testid="shift-kind-row"][data-kind="online"]').waitFor();
    await expectContains(page.locator('[data-testid="shift-kind-row"][data-kind="online"]'), '¥400.00');
  });

  it('leaves the ledger consistent and the pages without errors', async () => {
    await expectLedgerOk(server);
    expectNoPageErrors(opened);
  });
});

import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { expectLedgerOk, newCard, sell } from '../support/fuel.js';
import { ADMIN_PASSWORD, STAFF_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { failureShots, launchBrowser, openPage, PHONE, shot, type TrackedPage } from './support/browser.js';
import {
  consoleSignIn,
  expectAttr,
  expectContains,
  expectNoPageErrors,
  expectText,
  maskedCardNo,
  mobileNumber,
  openMenu,
  residentId,
  textOf,
  waitForPath,
} from './support/ui.js';

/**
 * The journey of issue 3, by clicking in the three front ends, in Chinese: the admin registers a
 * terminal, a cashier opens a customer and a card and takes ¥500 in cash, the POS sells fuel on
 * the card, the cardholder signs in on a phone, sees the sale and reports the card lost, the POS
 * is declined, and the auditor finds it all in the audit log (三员分立: never the admin it audits). Each person is a separate browser
 * context (own storage, as on a separate device).
 */

const PIN = '246810';
const PRICE_92 = 745; // fen per litre
const SALE_LITRES = 30;

describe('the journey in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  const opened: Record<string, TrackedPage> = {};

  beforeAll(async () => {
    // The browser first: if it cannot start, no server is left running behind the failure.
    browser = await launchBrowser();
    server = await startTestServer();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('admin registers a terminal, a cashier issues and recharges a card, the POS sells, the cardholder reports it lost, the POS is declined, the auditor audits', async () => {
    const baseURL = server.baseUrl;
    onTestFailed(async () => {
      console.error('pictures of the open pages:', await failureShots(opened));
    });

    // a. What the journey does not click: a station with nozzles and national prices.
    const station = await server.api('POST', '/api/v1/stations', {
      body: { code: 'E2E01', name: '测试油站 浦东世纪大道站', address: '上海市浦东新区世纪大道 100 号', lat: 31.23, lng: 121.47 },
    });
    expect(station.status, JSON.stringify(station.body)).toBe(201);
    const stationId = station.body.id as number;
    const nozzles = await server.api('PUT', `/api/v1/stations/${stationId}/nozzles`, {
      body: { items: [{ nozzle: 1, grade: '92#' }, { nozzle: 2, grade: '95#' }, { nozzle: 3, grade: '0#' }] },
    });
    expect(nozzles.status, JSON.stringify(nozzles.body)).toBe(200);
    for (const [grade, unitPrice] of [['92#', PRICE_92], ['95#', 793], ['0#', 712]] as const) {
      const p = await server.api('POST', '/api/v1/prices', { body: { grade, unitPrice } });
      expect(p.status, JSON.stringify(p.body)).toBe(201);
    }

    // b. The admin, in the console, registers a terminal for the station and reads its secret once.
    const admin = (opened.admin = await openPage(browser, { baseURL }));
    await admin.page.goto('/');
    await admin.page.locator('#to-admin').waitFor();
    await shot(admin.page, 'landing');
    await admin.page.locator('#to-admin').click();
    await waitForPath(admin.page, /^\/admin\/login$/);
    await admin.page.getByTestId('login-username').fill('admin');
    await admin.page.getByTestId('login-password').fill(ADMIN_PASSWORD);
    await shot(admin.page, 'console-login');
    await admin.page.getByTestId('login-submit').click();
    await admin.page.getByTestId('dashboard').waitFor();
    await expectText(admin.page.getByTestId('user-name'), 'admin');

    await openMenu(admin.page, 'stations');
    await admin.page.locator(`[data-testid="stations-row"][data-station-id="${stationId}"] [data-testid="stations-open"]`).click();
    await waitForPath(admin.page, new RegExp(`^/admin/stations/${stationId}$`));
    await admin.page.getByTestId('terminal-register-submit').click();
    const secretModal = admin.page.getByTestId('terminal-secret-modal');
    await secretModal.waitFor();
    const terminalId = await textOf(admin.page.getByTestId('terminal-secret-id'));
    const secret = await textOf(admin.page.getByTestId('terminal-secret'));
    expect(terminalId).toMatch(/^T\d{8}$/);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    await shot(admin.page, 'console-terminal-secret');
    await admin.page.getByTestId('terminal-secret-close').click();
    await secretModal.waitFor({ state: 'hidden' });
    await expectAttr(admin.page.locator(`[data-testid="terminal-row"][data-terminal-id="${terminalId}"]`), 'data-status', 'active');
    await shot(admin.page, 'console-station');

    // c. A cashier signs in, opens a customer with real-name data, issues a personal card and takes ¥500.00 in cash.
    const cashier = (opened.cashier = await openPage(browser, { baseURL }));
    const cp = cashier.page;
    await consoleSignIn(cp, 't_station_staff', STAFF_PASSWORD);
    await openMenu(cp, 'customers');
    await cp.getByTestId('customer-new').click();
    const phone = mobileNumber();
    const holderName = '王小明';
    await cp.getByTestId('customer-name-input').fill(holderName);
    await cp.getByTestId('customer-phone-input').fill(phone);
    await cp.getByTestId('customer-idnumber-input').fill(residentId());
    await cp.getByTestId('customer-create-submit').click();
    const customerId = Number((await waitForPath(cp, /^\/admin\/customers\/(\d+)$/))[1]);
    await cp.getByTestId('customer-detail').waitFor();
    // A forecourt cashier sees personal data masked, even of the customer they just entered.
    await cp.getByTestId('customer-masked').waitFor();
    await expectText(cp.getByTestId('customer-name'), /^王\*+$/);

    await cp.getByTestId('customer-issue-card').click();
    await waitForPath(cp, /^\/admin\/cards\/new$/);
    await cp.getByTestId('card-issue-holder').waitFor();
    await cp.getByTestId('card-issue-pin').fill(PIN);
    await cp.getByTestId('card-issue-pin2').fill(PIN);
    await shot(cp, 'console-card-issue');
    await cp.getByTestId('card-issue-submit').click();
    const cardNo = (await waitForPath(cp, /^\/admin\/cards\/(\d{19})$/))[1]!;
    await cp.getByTestId('card-issued-banner').waitFor();
    await expectAttr(cp.getByTestId('card-status'), 'data-status', 'active');
    await expectContains(cp.getByTestId('card-balance'), '¥0.00');

    await cp.getByTestId('card-recharge').click();
    await waitForPath(cp, /^\/admin\/recharge$/);
    await cp.getByTestId('recharge-amount').fill('500');
    await cp.getByTestId('recharge-submit').click();
    await cp.getByTestId('recharge-confirmation').waitFor();
    await expectText(cp.getByTestId('recharge-confirm-amount'), '¥500.00');
    await cp.getByTestId('recharge-confirm').click();
    await cp.getByTestId('receipt').waitFor();
    const receiptNo = await textOf(cp.getByTestId('receipt-no'));
    expect(receiptNo).not.toBe('');
    await expectText(cp.getByTestId('receipt-amount'), '¥500.00');
    await expectText(cp.getByTestId('receipt-balance'), '¥500.00');
    await expectText(cp.getByTestId('receipt-staff'), 't_station_staff');
    await shot(cp, 'console-recharge-receipt');

    await cp.getByRole('link', { name: '查看卡片' }).click();
    await waitForPath(cp, new RegExp(`^/admin/cards/${cardNo}$`));
    await expectContains(cp.getByTestId('card-balance'), '¥500.00');
    await expectContains(cp.getByTestId('card-available'), '¥500.00');
    await shot(cp, 'console-card-detail');
    await cp.getByTestId('card-holder').click();
    await waitForPath(cp, new RegExp(`^/admin/customers/${customerId}$`));
    await cp.locator(`[data-testid="customer-cards"] a[href="/admin/cards/${cardNo}"]`).waitFor();
    await shot(cp, 'console-customer-detail');
    await openMenu(cp, 'customers');
    await cp.getByTestId(`customer-link-${customerId}`).waitFor();
    await shot(cp, 'console-customers');

    // d. The POS, another device: paired with the terminal id and secret, sells 30 L of 92# on the card.
    const pos = (opened.pos = await openPage(browser, { baseURL, viewport: { width: 1280, height: 800 } }));
    const pp = pos.page;
    await pp.goto('/pos/');
    await waitForPath(pp, /^\/pos\/pair$/);
    await pp.getByTestId('pos-pair-terminal-id').fill(terminalId);
    await pp.getByTestId('pos-pair-secret').fill(secret);
    await shot(pp, 'pos-pairing');
    await pp.getByTestId('pos-pair-submit').click();
    await expectText(pp.getByTestId('pos-paired-terminal'), terminalId);
    await expectContains(pp.getByTestId('pos-paired-station'), '测试油站 浦东世纪大道站');
    await pp.getByTestId('pos-start-selling').click();

    const sellOnPos = async (litres: string) => {
      await pp.getByTestId('nozzle-1').click();
      await expectContains(pp.getByTestId('pos-selected-nozzle'), '¥7.45/L');
      await pp.getByTestId('pos-card').fill(cardNo);
      await pp.getByTestId('pos-pin').fill(PIN);
      await pp.getByTestId('pos-litres').fill(litres);
    };
    await sellOnPos(String(SALE_LITRES));
    await expectContains(pp.getByTestId('pos-summary'), '¥223.50');
    await shot(pp, 'pos-sale-form');
    await pp.getByTestId('pos-sell').click();
    await expectText(pp.getByTestId('pos-review-amount'), '¥223.50');
    await pp.getByTestId('pos-confirm').click();
    await pp.getByTestId('pos-approved').waitFor();
    await expectContains(pp.getByTestId('pos-approved'), '交易成功');
    const receipt = pp.getByTestId('pos-receipt');
    await expectText(receipt.locator('dd[data-field="amount"]'), '¥223.50');
    await expectText(receipt.locator('dd[data-field="balance"]'), '¥276.50');
    expect(await textOf(receipt.locator('dd[data-field="approval"]'))).not.toBe('—');
    await shot(pp, 'pos-receipt');

    // e. The cardholder on a phone: first sign-in with a code from the dev outbox, the card, the sale, 挂失.
    const holder = (opened.portal = await openPage(browser, { baseURL, ...PHONE }));
    const hp = holder.page;
    await hp.goto('/portal/');
    await waitForPath(hp, /^\/portal\/login$/);
    await hp.getByTestId('login-submit').waitFor();
    await shot(hp, 'portal-login');
    await hp.getByTestId('first-time-link').click();
    await waitForPath(hp, /^\/portal\/reset$/);
    await hp.getByTestId('reset-phone').fill(phone);
    await hp.getByTestId('code-request').click();
    await hp.getByTestId('code-sent').waitFor();
    const [outbox] = await Promise.all([holder.context.waitForEvent('page'), hp.getByTestId('dev-outbox-link').click()]);
    await outbox.waitForLoadState();
    const message = await textOf(outbox.locator('tr', { hasText: phone }).first().locator('td.text'));
    const code = /验证码是 (\d{6})/.exec(message)?.[1];
    expect(code, message).toMatch(/^\d{6}$/);
    await outbox.close();
    await hp.getByTestId('code-input').fill(code!);
    await hp.getByTestId('new-password').fill('holder-pass-2026');
    await hp.getByTestId('new-password-confirm').fill('holder-pass-2026');
    await hp.getByTestId('password-submit').click();
    await waitForPath(hp, /^\/portal\/cards$/);
    const tile = hp.locator(`[data-testid="portal-card"][data-card-no="${cardNo}"]`);
    await expectText(tile.getByTestId('card-balance'), '276.50');
    await expectText(tile.getByTestId('card-available'), '¥276.50');
    await expectAttr(tile, 'data-status', 'active');
    await shot(hp, 'portal-cards');
    await tile.getByTestId('card-open').click();
    await waitForPath(hp, new RegExp(`^/portal/cards/${cardNo}$`));
    const saleLine = hp.locator('[data-testid="statement-row"][data-type="sale"]');
    await expect.poll(() => saleLine.count()).toBe(1);
    await expectText(saleLine.getByTestId('statement-amount'), '-¥223.50');
    await expectContains(saleLine, '92#');
    await expectText(hp.locator('[data-testid="statement-row"][data-type="recharge"]').getByTestId('statement-amount'), '+¥500.00');
    await shot(hp, 'portal-statement');
    await hp.getByTestId('action-loss').click();
    await waitForPath(hp, new RegExp(`^/portal/cards/${cardNo}/loss$`));
    await hp.getByTestId('report-loss').click();
    await hp.getByTestId('report-loss-confirm').waitFor();
    await shot(hp, 'portal-report-loss');
    await hp.getByTestId('report-loss-confirm').click();
    await waitForPath(hp, new RegExp(`^/portal/cards/${cardNo}$`));
    await hp.getByTestId('lost-notice').waitFor();
    await expectAttr(hp.locator('[data-testid="portal-card"]'), 'data-status', 'lost');

    // f. The POS tries again on the lost card and is declined with the reason in plain Chinese.
    await pp.getByTestId('pos-new-sale').click();
    await pp.getByTestId('pos-sale-form').waitFor();
    await sellOnPos('10');
    await pp.getByTestId('pos-sell').click();
    await pp.getByTestId('pos-confirm').click();
    await pp.getByTestId('pos-decline').waitFor();
    await expectContains(pp.getByTestId('pos-decline-reason'), '挂失');
    await expectText(pp.getByTestId('pos-decline-code'), 'CARD_LOST');
    await shot(pp, 'pos-decline');

    // g. The auditor (审计管理员), not the admin, finds the loss report (by the cardholder), the
    // recharge and the issue in the audit log.
    const auditor = (opened.auditor = await openPage(browser, { baseURL }));
    const aup = auditor.page;
    await consoleSignIn(aup, 't_auditor', STAFF_PASSWORD);
    await openMenu(aup, 'audit');
    await aup.getByTestId('audit-filter-target-id').fill(maskedCardNo(cardNo));
    await aup.getByTestId('audit-search').click();
    const auditRow = (action: string) => aup.locator(`[data-testid="audit-row"][data-action="${action}"][data-target-id="${maskedCardNo(cardNo)}"]`);
    await expectContains(auditRow('card.report-loss'), `customer:${customerId}`);
    await expectContains(auditRow('recharge.counter'), 't_station_staff');
    await expectContains(auditRow('card.issue'), 't_station_staff');
    await auditRow('card.report-loss').locator('.ant-table-row-expand-icon').click();
    await expectContains(aup.getByTestId('audit-details'), 'lost');
    await shot(aup, 'console-audit');

    const ap = admin.page;
    await openMenu(ap, 'cards');
    await ap.getByTestId('card-find-input').fill(cardNo);
    await ap.getByTestId('card-find-submit').click();
    await waitForPath(ap, new RegExp(`^/admin/cards/${cardNo}$`));
    await expectAttr(ap.getByTestId('card-status'), 'data-status', 'lost');
    await expectContains(ap.getByTestId('card-status'), '挂失');
    await expectContains(ap.getByTestId('card-balance'), '¥276.50');

    // The rest of the day's business, by API from the same terminal, so the reports have more to show:
    // another card (¥800.00) with two sales, a wrong PIN and a sale beyond its balance.
    const terminal = { terminalId, secret, stationId };
    const other = await newCard(server, { funds: 80_000 });
    const more = [
      { nozzle: 1, grade: '92#', unitPrice: PRICE_92, volumeMl: 40_000, pin: '123456' }, // ¥298.00
      { nozzle: 2, grade: '95#', unitPrice: 793, volumeMl: 35_000, pin: '123456' }, // ¥277.55
      { nozzle: 1, grade: '92#', unitPrice: PRICE_92, volumeMl: 10_000, pin: '000000' }, // PIN_WRONG
      { nozzle: 1, grade: '92#', unitPrice: PRICE_92, volumeMl: 50_000, pin: '123456' }, // INSUFFICIENT_FUNDS
    ];
    const outcomes: string[] = [];
    for (const m of more) {
      const r = await sell(server, terminal, { cardNo: other, ...m, amount: (m.volumeMl * m.unitPrice) / 1000 });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      outcomes.push(r.body.declineCode ?? r.body.status);
    }
    expect(outcomes).toEqual(['approved', 'approved', 'PIN_WRONG', 'INSUFFICIENT_FUNDS']);

    await openMenu(ap, 'sales');
    await expect.poll(() => ap.locator('[data-testid="sales-row"]').count()).toBe(6);
    await expect.poll(() => ap.locator('[data-testid="sales-row"][data-status="approved"]').count()).toBe(3);
    await expectContains(ap.locator('[data-testid="sales-table"]'), 'CARD_LOST');
    await shot(ap, 'console-sales');

    await openMenu(ap, 'dashboard');
    const dashboard = ap.getByTestId('dashboard');
    await expectContains(dashboard, '¥799.05'); // 223.50 + 298.00 + 277.55
    await expectText(ap.getByTestId('dash-sales-count'), '3 笔 · 105.00 L');
    await expectContains(dashboard, '¥1,300.00'); // recharges: 500 + 800
    for (const code of ['CARD_LOST', 'PIN_WRONG', 'INSUFFICIENT_FUNDS']) await expectContains(dashboard, code);
    await shot(ap, 'console-dashboard');

    await openMenu(ap, 'staff');
    await ap.locator('[data-testid="staff-row"][data-username="t_station_staff"]').waitFor();
    await shot(ap, 'console-staff');

    await openMenu(ap, 'ledger');
    await ap.getByTestId('ledger-verify-button').click();
    const verdict = ap.getByTestId('ledger-verify-result');
    await expectAttr(verdict, 'data-ok', 'true');
    await expectContains(verdict, '账务一致，未发现问题');
    await shot(ap, 'console-ledger');

    expectNoPageErrors(opened);
    await expectLedgerOk(server);
  }, 120_000);
});

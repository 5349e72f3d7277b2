import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { cardOp, expectLedgerVerified } from '../support/cards-factory.js';
import { newCard } from '../support/fuel.js';
import { STAFF_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { failureShots, launchBrowser, openPage, shot, type TrackedPage } from './support/browser.js';
import { consoleSignIn, expectAttr, expectContains, expectNoPageErrors, expectText, openMenu, textOf, waitForPath } from './support/ui.js';

/**
 * The payments screens of the console, clicked through in Chinese by a finance user against the
 * real server and its sandbox providers: a WeChat order paid through the sandbox found in 充值订单
 * with its trail, part of it refunded and the refund found in 退款管理; then the counter's bank
 * transfer order and the incoming transfer entered in 银行入账 with its payer code, matched and credited.
 */
/** Polls with a deadline (expect.poll is for tests, not for beforeAll). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('payments screens of the console', { timeout: 180_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let finance: TrackedPage;
  let page: Page;
  let cardNo: string;
  let paidOrderNo: string;
  const opened: Record<string, TrackedPage> = {};

  beforeAll(async () => {
    browser = await launchBrowser();
    server = await startTestServer();
    cardNo = await newCard(server, { funds: 10_000 });
    // A portal-like WeChat Native order for ¥200, paid by the sandbox payer with its signed notification.
    const created = await server.api('POST', '/api/v1/recharge-orders', { body: { cardNo, amount: 20_000, channel: 'wechat', method: 'native', origin: 'api' }, idempotencyKey: crypto.randomUUID() });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    paidOrderNo = created.body.orderNo;
    const sandbox = server.deps.payments.sandboxes.wechat;
    if (!sandbox) throw new Error('the WeChat sandbox is not running');
    await sandbox.pay(paidOrderNo);
    await until(async () => (await server.api('GET', `/api/v1/recharge-orders/${paidOrderNo}`)).body.status === 'credited', 'the paid order to be credited');
    finance = opened.finance = await openPage(browser, { baseURL: server.baseUrl });
    page = finance.page;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  afterEach(async () => {
    await expectLedgerVerified(server);
  });

  /** Signs in as finance the first time (and again if a failed step lost the session). */
  async function signedIn(): Promise<void> {
    await page.goto('/admin/');
    await Promise.any([page.getByTestId('user-name').waitFor(), page.getByTestId('login-username').waitFor()]);
    if (await page.getByTestId('login-username').isVisible()) await consoleSignIn(page, 't_finance', STAFF_PASSWORD);
  }

  const onFail = () =>
    onTestFailed(async () => {
      console.error('pictures of the open pages:', await failureShots(opened));
    });

  it('finds the order in 充值订单, shows its trail, and refunds part of it', async () => {
    onFail();
    await signedIn();
    await openMenu(page, 'payment-orders');
    await page.getByTestId('orders-filter-order').fill(paidOrderNo);
    await page.getByTestId('orders-search').click();
    const row = page.locator(`[data-testid="order-row"][data-order-no="${paidOrderNo}"]`);
    await expectAttr(row, 'data-status', 'credited');
    await expectContains(row, '¥200.00');
    await expectContains(row, '微信支付');
    await shot(page, 'console-payment-orders');
    await row.getByTestId('order-open').click();
    await waitForPath(page, new RegExp(`^/admin/payment-orders/${paidOrderNo}$`));

    const detail = page.getByTestId('order-detail');
    await expectAttr(detail, 'data-status', 'credited');
    await page.locator('[data-testid="order-events-row"][data-to="credited"]').waitFor();
    await expectContains(page.getByTestId('order-notifications'), '已处理');
    await shot(page, 'console-payment-order');

    await page.getByTestId('order-refund').click();
    await page.getByTestId('refund-amount').fill('50.00');
    await page.getByTestId('refund-reason').fill('客户要求部分退款');
    await page.getByTestId('refund-submit').click();
    const refundRow = page.locator('[data-testid="order-refunds-row"]');
    await expect.poll(() => refundRow.count(), { timeout: 15_000 }).toBe(1);
    await expectContains(refundRow, '¥50.00');
    const refundNo = (await refundRow.getAttribute('data-refund-no'))!;
    expect(refundNo).toMatch(/^F\d{19}$/);

    // The sandbox accepts the refund and confirms it shortly after: the ledger moves then.
    await expect.poll(async () => (await server.api('GET', `/api/v1/refunds/${refundNo}`)).body.status, { timeout: 15_000 }).toBe('succeeded');
    const order = await server.api('GET', `/api/v1/recharge-orders/${paidOrderNo}`);
    expect(order.body.refundedAmount).toBe(5_000);

    await openMenu(page, 'payment-refunds');
    const listed = page.locator(`[data-testid="refund-row"][data-refund-no="${refundNo}"]`);
    await expectAttr(listed, 'data-order-no', paidOrderNo);
    await expectAttr(listed, 'data-status', 'succeeded');
    await expectText(listed.getByTestId('refund-amount-cell'), '¥50.00');
    await shot(page, 'console-payment-refunds');
    await listed.getByTestId('refund-open').click();
    await waitForPath(page, new RegExp(`^/admin/payment-refunds/${refundNo}$`));
    await page.locator('[data-testid="refund-events-row"][data-to="succeeded"]').waitFor();
    expectNoPageErrors({ finance });
  });

  it('creates a bank transfer order at the counter, and 银行入账 matches the incoming transfer by its payer code', async () => {
    onFail();
    const before = (await server.api('GET', `/api/v1/cards/${cardNo}`)).body.balance as number;
    await signedIn();
    await openMenu(page, 'payment-orders');
    await page.getByTestId('order-new-transfer').click();
    await page.getByTestId('transfer-order-card').fill(cardNo);
    await page.getByTestId('transfer-order-amount').fill('300');
    await page.getByTestId('transfer-order-submit').click();
    const [, orderNo] = await waitForPath(page, /^\/admin\/payment-orders\/(P\d{19})$/);
    await page.getByTestId('transfer-instructions').waitFor();
    const payerCode = await textOf(page.getByTestId('transfer-payer-code'));
    expect(payerCode).toMatch(/^FC[0-9A-HJKMNP-TV-Z]{8}$/);
    expect((await textOf(page.getByTestId('transfer-account-no'))).replace(/\s/g, '')).toMatch(/^\d{6,}$/);
    await shot(page, 'console-payment-transfer-order');

    await openMenu(page, 'bank-transfers');
    await page.getByTestId('bank-enter').click();
    const bankTxnId = `BK${Date.now()}`;
    await page.getByTestId('bank-enter-txn').fill(bankTxnId);
    await page.getByTestId('bank-enter-amount').fill('300.00');
    await page.getByTestId('bank-enter-payer').fill('张三');
    await page.getByTestId('bank-enter-account').fill('6222020200112233445');
    await page.getByTestId('bank-enter-memo').fill(`充值 ${payerCode.toLowerCase()}`);
    await page.getByTestId('bank-enter-submit').click();
    const row = page.locator(`[data-testid="bank-row"][data-bank-txn="${bankTxnId}"]`);
    await expectAttr(row, 'data-status', 'matched');
    await expectText(row.getByTestId('bank-order'), orderNo!);
    await expectContains(row, '已匹配');
    await shot(page, 'console-bank-transfers');

    const order = await server.api('GET', `/api/v1/recharge-orders/${orderNo}`);
    expect(order.body).toMatchObject({ status: 'credited', channel: 'bank_transfer', channelTxnId: bankTxnId });
    expect((await server.api('GET', `/api/v1/cards/${cardNo}`)).body.balance).toBe(before + 30_000);

    // The order's trail says where the money came from.
    await row.getByTestId('bank-order').click();
    await waitForPath(page, new RegExp(`^/admin/payment-orders/${orderNo}$`));
    await page.locator('[data-testid="order-events-row"][data-to="credited"][data-source="bank_match"]').waitFor();
    expectNoPageErrors({ finance });
  });

  it('pays a closed card\'s balance back by its original channel from 退款管理 · 销户退资', async () => {
    onFail();
    // A card whose only money came by WeChat Pay (¥80), closed with 原路退回: the balance waits in refunds payable.
    const closing = await newCard(server);
    const created = await server.api('POST', '/api/v1/recharge-orders', { body: { cardNo: closing, amount: 8_000, channel: 'wechat', method: 'native', origin: 'api' }, idempotencyKey: crypto.randomUUID() });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await server.deps.payments.sandboxes.wechat!.pay(created.body.orderNo);
    await expect.poll(async () => (await server.api('GET', `/api/v1/recharge-orders/${created.body.orderNo}`)).body.status, { timeout: 15_000 }).toBe('credited');
    const closed = await cardOp(server, closing, 'close', { refundMethod: 'original_channel' });
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    const listed = await server.api('GET', '/api/v1/card-refunds?status=payable');
    const mine = listed.body.items.find((r: { cardNo: string; amount: number }) => r.amount === 8_000 && r.cardNo.endsWith(closing.slice(-4)));
    expect(mine, JSON.stringify(listed.body)).toBeDefined();

    await signedIn();
    await openMenu(page, 'payment-refunds');
    await page.getByTestId('refunds-tab-card-close').click();
    const row = page.locator(`[data-testid="card-refund-row"][data-id="${mine.id}"]`);
    await expectAttr(row, 'data-status', 'payable');
    await expectContains(row, '原路退回');
    await row.getByTestId('card-refund-payout').click();
    // The part goes back through WeChat Pay; the sandbox confirms it shortly after and the card refund is paid.
    await expect.poll(async () => (await server.api('GET', `/api/v1/card-refunds/${mine.id}`)).body.status, { timeout: 15_000 }).toBe('paid');
    await page.reload();
    await page.getByTestId('refunds-tab-card-close').click();
    await expectAttr(row, 'data-status', 'paid');
    await expect.poll(() => row.getByTestId('card-refund-payout').count()).toBe(0);
    await shot(page, 'console-card-refunds');
    expectNoPageErrors({ finance });
  });
});

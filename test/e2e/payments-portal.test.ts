import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { customerWithPhone, PORTAL_PASSWORD, signIn } from '../../src/portal/portal.fixtures.js';
import { expectLedgerVerified } from '../support/cards-factory.js';
import { newCard } from '../support/fuel.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { failureShots, launchBrowser, openPage, PHONE, shot, type TrackedPage } from './support/browser.js';
import { expectAttr, expectContains, expectNoPageErrors, expectText, textOf, waitForPath } from './support/ui.js';

/**
 * The cardholder tops up from a phone against the running server and its sandbox providers: a
 * WeChat Pay Native order paid on the sandbox's payer page (the real signed notification credits
 * the card, the portal's poll sees it), and a bank transfer order whose payer code and account
 * the portal shows, credited when finance enters the incoming transfer with that code.
 */
describe('portal top-up', { timeout: 180_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  const opened: Record<string, TrackedPage> = {};
  let phone: string;
  let cardNo: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    server = await startTestServer();
    const customer = await customerWithPhone(server);
    phone = customer.phone;
    cardNo = await newCard(server, { customerId: customer.id, funds: 10_000 });
    await signIn(server, phone);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  afterEach(async () => {
    await expectLedgerVerified(server);
  });

  const onFail = () =>
    onTestFailed(async () => {
      console.error('pictures of the open pages:', await failureShots(opened));
    });

  async function holderSignedIn(): Promise<TrackedPage> {
    const holder = await openPage(browser, { baseURL: server.baseUrl, ...PHONE });
    const hp = holder.page;
    await hp.goto('/portal/login');
    await hp.getByTestId('login-phone').fill(phone);
    await hp.getByTestId('login-password').fill(PORTAL_PASSWORD);
    await hp.getByTestId('login-submit').click();
    await waitForPath(hp, /^\/portal\/cards$/);
    await hp.locator(`[data-testid="portal-card"][data-card-no="${cardNo}"]`).waitFor();
    return holder;
  }

  it('pays 50 元 by WeChat Pay on the sandbox page and sees 充值成功 with the new balance', async () => {
    onFail();
    const holder = (opened.wechat = await holderSignedIn());
    const hp = holder.page;
    await expectText(hp.locator(`[data-testid="portal-card"][data-card-no="${cardNo}"]`).getByTestId('card-balance'), '100.00');

    await hp.getByTestId('tab-topup').click();
    await waitForPath(hp, /^\/portal\/topup$/);
    await expectAttr(hp.getByTestId('topup-current-card'), 'data-card-no', cardNo);
    await hp.getByTestId('topup-preset-5000').click();
    await expect.poll(() => hp.getByTestId('topup-amount').inputValue()).toBe('50');
    await hp.getByTestId('topup-channel-wechat').click();
    await expectAttr(hp.getByTestId('topup-channel-wechat'), 'aria-checked', 'true');
    await shot(hp, 'portal-topup');
    await hp.getByTestId('topup-submit').click();

    const [, orderNo] = await waitForPath(hp, /^\/portal\/topups\/(P\d{19})$/);
    await expectText(hp.getByTestId('topup-pay-amount'), '¥50.00');
    const qr = hp.getByTestId('topup-qr');
    await qr.waitFor();
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    const link = hp.getByTestId('topup-sandbox-link');
    await expectContains(link, '打开沙箱支付页');
    expect(await link.getAttribute('href')).toMatch(/\/sandbox\/wechat\/pay\//);
    await shot(hp, 'portal-topup-pay');

    // The payer's phone: the sandbox page in its own tab, as WeChat would show the cashier.
    const [payer] = await Promise.all([holder.context.waitForEvent('page'), link.click()]);
    await payer.waitForLoadState();
    await expectContains(payer.locator('body'), '50.00');
    await payer.getByRole('button', { name: '确认支付' }).click();
    await expectContains(payer.locator('body'), '支付成功');
    await payer.close();

    // Back in the portal: the poll sees the credited order and reads the card again.
    await hp.bringToFront();
    await expectText(hp.getByTestId('topup-success'), '充值成功');
    await expectText(hp.getByTestId('topup-new-balance'), '¥150.00');
    await expectAttr(hp.getByTestId('topup-order'), 'data-status', 'credited');
    await shot(hp, 'portal-topup-done');

    const order = await server.api('GET', `/api/v1/recharge-orders/${orderNo}`);
    expect(order.status, JSON.stringify(order.body)).toBe(200);
    expect(order.body).toMatchObject({ status: 'credited', amount: 5_000, channel: 'wechat', origin: 'portal' });
    expect(order.body.notifications.some((n: { outcome: string }) => n.outcome === 'applied')).toBe(true);

    // 我的充值 lists it.
    await hp.goto('/portal/topups');
    await expectAttr(hp.locator(`[data-testid="topups-row"][data-order-no="${orderNo}"]`), 'data-status', 'credited');
    expectNoPageErrors({ holder });
  });

  it('shows the payer code and our account for a bank transfer, and 充值成功 once the transfer is matched', async () => {
    onFail();
    const holder = (opened.bank = await holderSignedIn());
    const hp = holder.page;
    const before = (await server.api('GET', `/api/v1/cards/${cardNo}`)).body.balance as number;

    await hp.goto(`/portal/cards/${cardNo}/topup`);
    await hp.getByTestId('topup-preset-10000').click();
    await hp.getByTestId('topup-channel-bank_transfer').click();
    await hp.getByTestId('topup-submit').click();
    const [, orderNo] = await waitForPath(hp, /^\/portal\/topups\/(P\d{19})$/);

    await hp.getByTestId('topup-transfer').waitFor();
    const payerCode = await textOf(hp.getByTestId('topup-payer-code'));
    expect(payerCode).toMatch(/^FC[0-9A-HJKMNP-TV-Z]{8}$/);
    expect((await textOf(hp.getByTestId('topup-account-no'))).replace(/\s/g, '')).toMatch(/^\d{6,}$/);
    expect(await textOf(hp.getByTestId('topup-account-name'))).not.toBe('');
    await expectText(hp.getByTestId('topup-transfer-amount'), '100.00');
    await shot(hp, 'portal-topup-transfer');

    // Finance enters the incoming transfer with the code in its memo: matched, credited, and the portal's poll sees it.
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
    const entered = await server.api('POST', '/api/v1/bank-transfers', {
      role: 'finance',
      body: { bankTxnId: `B${Date.now()}`, valueDate: today, amount: 10_000, payerName: '王小明', memo: `加油卡充值 ${payerCode}` },
    });
    expect(entered.status, JSON.stringify(entered.body)).toBe(201);
    expect(entered.body).toMatchObject({ status: 'matched', orderNo });

    await expectText(hp.getByTestId('topup-success'), '充值成功');
    await expectText(hp.getByTestId('topup-new-balance'), `¥${((before + 10_000) / 100).toFixed(2)}`);
    expectNoPageErrors({ holder });
  });
});

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ADMIN_PASSWORD, STAFF_PASSWORD, startTestServer, type TestServer } from '../support/server.js';
import { createLogger } from '../../src/platform/index.js';
import { ceremony } from '../../src/pos-gateway/host/db-host.test-support.js';
import { dbHost, exchange } from '../../src/pos-gateway/host/message-log.test-support.js';
import { PosMessageLog } from '../../src/pos-gateway/host/message-log.js';
import { startPosGateway, type PosGateway } from '../../src/pos-gateway/gateway.js';
import { connectIsoClient, type IsoClient } from '../../src/pos-gateway/transport/index.js';
import { keyCheckValue, unwrapKeyChecked } from '../../src/pos-gateway/crypto/index.js';
import { expectError, issueCard, newStation } from '../support/cards-factory.js';
import { businessHandlers } from '../../src/pos-gateway/host/business.js';
import { encryptPinBlock } from '../../src/pos-gateway/crypto/index.js';
import { sql } from 'kysely';
import { failureShots, launchBrowser, openPage, shot, type TrackedPage } from './support/browser.js';
import { chooseOption, consoleSignIn, expectAttr, expectContains, expectNoPageErrors, expectText, openMenu, waitForPath } from './support/ui.js';

/**
 * 终端主机 in the console, in Chinese, against the real server: a terminal signed on over a real
 * TCP connection shows 在线 / 已签到 with its counts; another, logged through the session layer
 * and the message log, shows its masked log with action codes in words, and an error filter.
 * Station staff do not get the screen. An admin runs the key ceremony from the screen (operators
 * do not see it): the answer is shown once, and its check values are the keys the host now holds.
 */

let PAN = '';

describe('terminal host screens of the console', { timeout: 180_000 }, () => {
  let server: TestServer;
  let gw: PosGateway;
  let conn: IsoClient;
  let browser: Browser;
  let admin: TrackedPage;
  let page: Page;
  let logged: { terminalId: string; iso: string };
  let online: { terminalId: string; iso: string };
  const opened: Record<string, TrackedPage> = {};

  beforeAll(async () => {
    browser = await launchBrowser();
    server = await startTestServer();
    gw = await startPosGateway({ db: server.deps.db, config: server.config, logger: server.deps.logger }, { port: 0, host: '127.0.0.1' });
    // The session layer with the real sale handlers, so the log shows a real approval.
    const ctx = { ...(await dbHost(server)), handlers: businessHandlers({ db: server.deps.db, config: server.config, logger: server.deps.logger }) };
    const log = new PosMessageLog(server.deps.db, createLogger('silent'));
    const a = await ceremony(server);
    logged = { terminalId: a.terminalId, iso: a.sim.id };
    expect(a.sim.acceptKeys((await exchange(ctx, log, a.sim.build('1804', [[24, '801']], { at: new Date() }))).response!).macOk).toBe(true);
    expect((await exchange(ctx, log, a.sim.build('1820', [[24, '831']], { at: new Date() }))).outcome).toBe('OK');
    const stationId = (await sql<{ station_id: string }>`select station_id::text from terminals where id = ${a.terminalId}`.execute(server.deps.db)).rows[0]!.station_id;
    expect((await server.api('PUT', `/api/v1/stations/${stationId}/nozzles`, { role: 'operator', body: { items: [{ nozzle: 1, grade: '92#' }] } })).status).toBe(200);
    PAN = (await issueCard(server, { funds: 50_000 })).cardNo;
    const pin = encryptPinBlock(0, 'tdes', a.sim.tpk, Buffer.from([1, 2, 3, 4, 5, 6]), PAN);
    const card = a.sim.build(
      '1100',
      [[2, PAN], [3, '000000'], [4, '000000010000'], [24, '101'], [26, '5542'], [48, { kind: 'de48', pumpNozzle: '0101', pinMethod: '01' }], [49, '156'], [52, pin]],
      { at: new Date() },
    );
    expect((await exchange(ctx, log, card)).actionCode).toBe('000');
    expect((await exchange(ctx, log, a.sim.build('1820', [[24, '831']], { at: new Date(), key: Buffer.alloc(16, 5) }))).outcome).toBe('MAC_INVALID');
    await log.close();

    const b = await ceremony(server, 'aes', 'aes-cmac');
    online = { terminalId: b.terminalId, iso: b.sim.id };
    conn = await connectIsoClient({ host: '127.0.0.1', port: gw.port, framing: 'binary2' });
    conn.send(b.sim.build('1804', [[24, '801']], { at: new Date() }));
    expect(b.sim.acceptKeys(await conn.next(5000)).macOk).toBe(true);

    admin = opened.admin = await openPage(browser, { baseURL: server.baseUrl });
    page = admin.page;
  });

  afterAll(async () => {
    conn?.close();
    await browser?.close();
    await gw?.stop();
    await server?.close();
  });

  const onFail = () =>
    onTestFailed(async () => {
      console.error('pictures of the open pages:', await failureShots(opened));
    });

  it('lists the terminals with online and sign-on tags, rates and errors', async () => {
    onFail();
    await consoleSignIn(page, 'admin', ADMIN_PASSWORD);
    await openMenu(page, 'terminal-host');
    await waitForPath(page, /^\/admin\/terminal-host$/);
    await expectContains(page.getByTestId('th-running'), '主机运行中');

    const on = page.locator(`[data-testid="th-terminal-row"][data-terminal-id="${online.terminalId}"]`);
    await expectText(on.getByTestId('th-connected'), '在线');
    await expectText(on.getByTestId('th-signed-on'), '已签到');

    const row = page.locator(`[data-testid="th-terminal-row"][data-terminal-id="${logged.terminalId}"]`);
    await expectText(row.getByTestId('th-connected'), '离线');
    await expectText(row.getByTestId('th-signed-on'), '已签到');
    await expectText(row.getByTestId('th-messages-1h'), '4');
    await expectText(row.getByTestId('th-errors-1h'), '1');
    await expectText(row.getByTestId('th-rate'), '0.8');
    await shot(page, 'console-terminal-host');
  });

  it("opens a terminal's masked message log, expands a message, filters errors", async () => {
    onFail();
    const row = page.locator(`[data-testid="th-terminal-row"][data-terminal-id="${logged.terminalId}"]`);
    await row.getByTestId('th-open').click();
    await waitForPath(page, new RegExp(`^/admin/terminal-host/${logged.terminalId}$`));
    await expectContains(page.locator('h3'), logged.iso);
    const rows = page.getByTestId('th-message-row');
    await expect.poll(() => rows.count()).toBe(4);
    await expectAttr(rows.first(), 'data-outcome', 'MAC_INVALID');
    await expectContains(rows.first().getByTestId('th-action'), 'MAC 错误');
    await expectText(rows.first().getByTestId('th-outcome'), 'MAC 校验失败');

    const card = page.locator('[data-testid="th-message-row"][data-mti="1100"]');
    await expectContains(card.getByTestId('th-mti'), '1100 → 1110');
    await expectContains(card.getByTestId('th-action'), '批准');
    await card.locator('.ant-table-row-expand-icon').click();
    const pan = page.locator('[data-testid="th-request-field"][data-field="2"]');
    await expectContains(pan, `${PAN.slice(0, 6)}${'*'.repeat(PAN.length - 10)}${PAN.slice(-4)}`);
    await expectContains(page.locator('[data-testid="th-request-field"][data-field="52"]'), '[8 bytes]');
    expect(await page.content()).not.toContain(PAN);
    await shot(page, 'console-terminal-host-log');

    await page.getByTestId('th-filter-errors').click();
    await expect.poll(() => rows.count()).toBe(1);
    await expectAttr(rows.first(), 'data-outcome', 'MAC_INVALID');
    expectNoPageErrors(opened);
  });

  it('an admin runs the key ceremony from the screen: warned first, the answer once, its check values the host’s keys', async () => {
    onFail();
    const { stationId, terminal } = await newStation(server);
    const code = (await server.api('GET', `/api/v1/stations/${stationId}`)).body.code as string;
    await page.goto('/admin/terminal-host');
    await page.getByTestId('th-ceremony-open').click();
    await chooseOption(page, 'th-ceremony-station', code);
    await chooseOption(page, 'th-ceremony-terminal', terminal.terminalId);
    await chooseOption(page, 'th-ceremony-algorithm', 'AES');
    // The MAC follows the key algorithm, the PIN block format is derived from it.
    await expectContains(page.getByTestId('th-ceremony-mac'), 'aes-cmac');
    await expectContains(page.getByTestId('th-ceremony-pin-format'), '格式 4');
    await page.getByTestId('th-ceremony-mac').click();
    const macs = page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option');
    await expect.poll(() => macs.allTextContents()).toEqual(['aes-cmac']);
    await page.keyboard.press('Escape');
    await page.getByTestId('th-ceremony-next').click();
    await expectContains(page.getByTestId('th-ceremony-warning'), '将替换该终端的全部密钥');
    // Nothing is keyed before the confirmation.
    expect((await sql`select 1 from pos_terminals where terminal_id = ${terminal.terminalId}`.execute(server.deps.db)).rows).toEqual([]);
    await page.getByTestId('th-ceremony-confirm').click();

    const result = page.getByTestId('th-ceremony-result');
    await expectAttr(result, 'data-terminal-id', terminal.terminalId);
    await expectContains(page.getByTestId('th-ceremony-once'), '仅显示这一次');
    const iso = (await result.getAttribute('data-iso-terminal-id'))!;
    const components = await page.getByTestId('th-ceremony-component').locator('.ant-typography').allTextContents();
    const parts = components.map((c) => Buffer.from(c.trim(), 'hex'));
    expect(parts).toHaveLength(2);
    const componentKcvs = await page.getByTestId('th-ceremony-component-kcv').allTextContents();
    expect(componentKcvs).toEqual(parts.map((c) => keyCheckValue('aes', c).toString('hex').toUpperCase()));
    const tmk = Buffer.from(parts[0]!.map((b, i) => b ^ parts[1]![i]!));
    const tmkKcv = (await page.getByTestId('th-ceremony-tmk-kcv').textContent())!.trim();
    expect(tmkKcv).toBe(keyCheckValue('aes', tmk).toString('hex').toUpperCase());
    const takKcv = (await page.getByTestId('th-ceremony-tak-kcv').textContent())!.trim();
    const takEnc = (await page.getByTestId('th-ceremony-tak').textContent())!.trim();
    // The MAC key under the TMK the components make unwraps to the check value shown (unwrapKeyChecked throws otherwise).
    unwrapKeyChecked('aes', tmk, 'aes', Buffer.from(takEnc, 'hex'), Buffer.from(takKcv, 'hex'), 'ecb');
    const audited = await sql<{ details: { tmkKcv: string; takKcv: string } }>`select details from audit_log
      where action = 'pos.key_ceremony' and target_id = ${terminal.terminalId}`.execute(server.deps.db);
    expect(audited.rows.map((r) => r.details)).toEqual([expect.objectContaining({ tmkKcv, takKcv, algorithm: 'aes', macAlgorithm: 'aes-cmac', pinFormat: 4 })]);
    const sim = (await page.getByTestId('th-ceremony-sim').textContent())!;
    expect(sim).toContain(`--terminal ${iso} --tmk-env FUELCARD_SIM_TMK --tak ${takEnc}:${takKcv} --algorithm aes`);
    expect(sim).toMatch(/ signon$/);
    await shot(page, 'console-terminal-host-ceremony');

    // Closing asks first; then the answer is gone and the terminal is listed, not signed on.
    await page.getByTestId('th-ceremony-close').click();
    // The confirm's zoom-in can keep its button "unstable" for long on a loaded machine: once it is
    // there, its click handler is what matters.
    const closeOk = page.getByTestId('th-ceremony-close-ok');
    await closeOk.waitFor();
    for (let attempt = 0; ; attempt++) {
      if ((await closeOk.count()) > 0) await closeOk.first().dispatchEvent('click');
      const gone = await result.waitFor({ state: 'detached', timeout: 5_000 }).then(
        () => true,
        () => false,
      );
      if (gone) break;
      if (attempt === 3) throw new Error(`the ceremony's answer did not close; the page shows: ${await page.locator('.ant-modal').allInnerTexts()}`);
      // The confirm may have closed without closing the answer (a click lost in its animation): ask again.
      if ((await closeOk.count()) === 0) await page.getByTestId('th-ceremony-close').click();
    }
    const row = page.locator(`[data-testid="th-terminal-row"][data-terminal-id="${terminal.terminalId}"]`);
    await expectAttr(row, 'data-iso-terminal-id', iso);
    await expectText(row.getByTestId('th-signed-on'), '未签到');
    expect(await page.content()).not.toContain(components[0]!.trim());
    expectNoPageErrors(opened);

    // The route is a thin wrapper of keyCeremony: the answer is never cached, bad choices are typed errors.
    const again = await server.api('POST', `/api/v1/terminals/${terminal.terminalId}/iso-keys`, { body: { algorithm: 'tdes', macAlgorithm: 'retail-tdes-pad2', pinFormat: 0 } });
    expect(again.status).toBe(200);
    expect(again.body.rotated).toBe(true);
    expect(again.headers.get('cache-control')).toBe('no-store');
    const wrong = await server.api('POST', `/api/v1/terminals/${terminal.terminalId}/iso-keys`, { body: { algorithm: 'aes', macAlgorithm: 'retail-tdes-pad2', pinFormat: 4 } });
    expectError(wrong, 400, 'VALIDATION_FAILED');
  });

  it('operators see the screen but not the key ceremony', async () => {
    onFail();
    const op = (opened.operator = await openPage(browser, { baseURL: server.baseUrl }));
    await consoleSignIn(op.page, 't_operator', STAFF_PASSWORD);
    await op.page.goto('/admin/terminal-host');
    await op.page.getByTestId('th-terminal-row').first().waitFor();
    expect(await op.page.getByTestId('th-ceremony-open').count()).toBe(0);
  });

  it('station staff have no terminal host screen', async () => {
    onFail();
    const staff = (opened.staff = await openPage(browser, { baseURL: server.baseUrl }));
    await consoleSignIn(staff.page, 't_station_staff', STAFF_PASSWORD);
    await staff.page.goto('/admin/terminal-host');
    await staff.page.getByTestId('page-403').waitFor();
    expect(await staff.page.getByTestId('menu-terminal-host').count()).toBe(0);
    expect(await staff.page.getByTestId('th-terminal-row').count()).toBe(0);
  });
});

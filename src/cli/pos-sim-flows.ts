import { newTerminalRef } from './terminal-client.js';
import { answerLine, fuelAt, litres, ms, refusal, yuan, type Sim } from './pos-sim-core.js';

/**
 * The online flows a forecourt terminal runs, each told as a short story: what the customer
 * does, what the terminal sends, what the platform answers. Each returns whether it ended as
 * the flow should (a decline where an approval was expected is not a crash, but not ok either).
 */

export interface StoreItem {
  sku: string;
  quantity: number;
}

export interface SaleAnswer {
  saleId: string;
  status: string;
  approvalCode?: string;
  declineCode?: string;
  actionCode: string;
  message?: string;
  amount: number;
  balance: number | null;
}

const SALES = '/api/v1/pos/sales';
const AUTHS = '/api/v1/pos/authorisations';

/** One online sale; journalled when approved. */
export async function sellOnce(sim: Sim, amount: number, opts: { items?: StoreItem[]; ref?: string; step?: string } = {}): Promise<SaleAnswer & { ref: string }> {
  const fuel = await sim.fuelFor(amount);
  const ref = opts.ref ?? newTerminalRef();
  const items = opts.items ?? [];
  const goods = await sim.goodsTotal(items);
  const body = { cardNo: sim.opts.cardNo, pin: sim.opts.pin, ...fuel, amount: fuel.amount + goods, ...(items.length ? { items } : {}) };
  sim.say(`→ 加油 / fuel: 油枪 nozzle ${fuel.nozzle} ${fuel.grade} ${yuan(fuel.unitPrice)}/L × ${litres(fuel.volumeMl)} = ${yuan(fuel.amount)}${items.length ? ` + 商品 goods ${items.map((i) => `${i.sku}×${i.quantity}`).join(', ')} ${yuan(goods)}` : ''}`);
  const r = await sim.must('POST', SALES, body, ref);
  const a = r.body as SaleAnswer;
  sim.say(`  ${answerLine(a)}  (${ms(r.ms)})`);
  if (a.status === 'approved') sim.journal.append({ type: 'sale', flow: 'online', saleId: a.saleId, ref, amount: a.amount, goodsAmount: a.amount - fuel.amount });
  sim.record({ step: opts.step ?? 'sale', ok: a.status === 'approved', ref, ...a, latencyMs: Math.round(r.ms) });
  return { ...a, ref };
}

export async function saleScenario(sim: Sim, o: { amount?: number; items?: StoreItem[] }): Promise<void> {
  sim.heading('联机交易', 'online sale');
  await sellOnce(sim, o.amount ?? 20_000, { items: o.items });
}

interface AuthorisationAnswer {
  authorisationId: string;
  status: string;
  approvalCode?: string;
  declineCode?: string;
  actionCode: string;
  message?: string;
  mode: string;
  nozzle: number;
  grade: string;
  requestedAmount: number;
  heldAmount: number;
  expiresAt: string;
  balance: number | null;
}

/**
 * Authorise a pump, deliver, complete. `deliver` is what the pump measured; the completion
 * posts it and the platform releases the rest of the hold.
 */
async function authoriseAndComplete(sim: Sim, mode: 'preauth' | 'prepay', amount: number | undefined, deliver: (held: number) => number): Promise<void> {
  const nozzle = await sim.nozzle();
  const ref = newTerminalRef();
  const body = { cardNo: sim.opts.cardNo, pin: sim.opts.pin, nozzle: nozzle.nozzle, mode, ...(amount !== undefined ? { amount } : {}) };
  sim.say(
    mode === 'preauth'
      ? `→ 插卡预授权 / pre-authorise: 油枪 nozzle ${nozzle.nozzle} (${nozzle.grade})${amount !== undefined ? `, 申请 requested ${yuan(amount)}` : '，默认金额 / the default amount'}`
      : `→ 预付定额 / prepay: 油枪 nozzle ${nozzle.nozzle} (${nozzle.grade}) 定额 preset ${yuan(amount)}`,
  );
  const r = await sim.must('POST', AUTHS, body, ref);
  const a = r.body as AuthorisationAnswer;
  if (a.status !== 'approved') {
    sim.say(`  ${answerLine(a)}  (${ms(r.ms)})`);
    sim.record({ step: mode, ok: false, ref, ...a });
    return;
  }
  const before = (a.balance ?? 0) + a.heldAmount;
  sim.say(`  ✓ 已冻结 / held ${yuan(a.heldAmount)} (申请 requested ${yuan(a.requestedAmount)})  授权码 approval ${a.approvalCode}  有效至 expires ${a.expiresAt}  (${ms(r.ms)})`);
  sim.say(`    可用余额 / spendable: ${yuan(before)} → ${yuan(a.balance)}；油枪已解锁 / the nozzle is unlocked`);
  sim.record({ step: mode, ok: true, ref, ...a, latencyMs: Math.round(r.ms) });

  const fuel = fuelAt(nozzle, Math.min(deliver(a.heldAmount), a.heldAmount));
  sim.say(`→ 挂枪结算 / completion: 实际加油 delivered ${litres(fuel.volumeMl)} = ${yuan(fuel.amount)}`);
  const c = await sim.must('POST', `${AUTHS}/${a.authorisationId}/completion`, { volumeMl: fuel.volumeMl, unitPrice: fuel.unitPrice, amount: fuel.amount }, newTerminalRef());
  const s = c.body as { saleId: string; status: string; amount: number; balance: number | null; approvalCode?: string };
  const released = a.heldAmount - fuel.amount;
  if (s.status === 'approved') sim.journal.append({ type: 'sale', flow: 'completion', saleId: s.saleId, ref, amount: s.amount, goodsAmount: 0 });
  sim.say(`  ${answerLine(s)}  (${ms(c.ms)})`);
  sim.say(`    扣款 posted ${yuan(s.amount)}，释放 released ${yuan(released)}；可用余额 / spendable ${yuan(a.balance)} → ${yuan(s.balance)}`);
  const balanceOk = s.balance === null || a.balance === null || s.balance === a.balance + released;
  sim.record({ step: 'completion', ok: s.status === 'approved' && balanceOk, authorisationId: a.authorisationId, saleId: s.saleId, posted: s.amount, released, balance: s.balance, latencyMs: Math.round(c.ms) });
}

export async function preauthScenario(sim: Sim, o: { amount?: number; deliver?: number }): Promise<void> {
  sim.heading('预授权加油（插卡即授权）', 'pre-authorise, then complete for less');
  // Unless told, the tank takes about 60 % of the hold: the rest is released.
  await authoriseAndComplete(sim, 'preauth', o.amount, (held) => o.deliver ?? Math.floor(held * 0.6));
}

export async function prepayScenario(sim: Sim, o: { amount?: number; deliver?: number }): Promise<void> {
  sim.heading('预付定额加油（先付后加）', 'prepay a fixed amount');
  // The pump stops at the preset unless told it stopped earlier (the tank was full).
  await authoriseAndComplete(sim, 'prepay', o.amount ?? 20_000, (held) => o.deliver ?? held);
}

export async function postpayScenario(sim: Sim, o: { amount?: number; items?: StoreItem[] }): Promise<void> {
  sim.heading('先加后付（室内结账）', 'indoor post-pay');
  const nozzle = await sim.nozzle();
  const fuel = fuelAt(nozzle, o.amount ?? 15_000);
  sim.say(`→ 加油机上报 / the pump reports a fill: 油枪 nozzle ${fuel.nozzle} ${fuel.grade} ${litres(fuel.volumeMl)} = ${yuan(fuel.amount)}`);
  const p = await sim.must('POST', '/api/v1/pos/pump-sales', { nozzle: fuel.nozzle, volumeMl: fuel.volumeMl, unitPrice: fuel.unitPrice, amount: fuel.amount }, newTerminalRef());
  const pumpSaleId = String(p.body.pumpSaleId);
  sim.say(`  ✓ 待付款 / unpaid: ${pumpSaleId}`);
  const unpaid = await sim.must('GET', '/api/v1/pos/pump-sales?status=unpaid');
  const listed = (unpaid.body.items as Array<{ pumpSaleId: string }>).some((x) => x.pumpSaleId === pumpSaleId);
  sim.say(`  收银台待付款 / unpaid at the counter: ${unpaid.body.items.length} 笔${listed ? '（含本笔 / including this one）' : ''}`);
  sim.record({ step: 'pump-sale', ok: listed, pumpSaleId, amount: fuel.amount });

  const items = o.items ?? (await firstGoods(sim));
  const ref = newTerminalRef();
  sim.say(`→ 顾客到收银台刷卡 / the customer pays at the counter by card${items.length ? ` + 商品 goods ${items.map((i) => `${i.sku}×${i.quantity}`).join(', ')}` : ''}`);
  const goods = await sim.goodsTotal(items);
  const r = await sim.must('POST', SALES, { cardNo: sim.opts.cardNo, pin: sim.opts.pin, pumpSaleId, amount: fuel.amount + goods, ...(items.length ? { items } : {}) }, ref);
  const a = r.body as SaleAnswer;
  sim.say(`  ${answerLine(a)}  金额 amount ${yuan(a.amount)} (油 fuel ${yuan(fuel.amount)} + 商品 goods ${yuan(a.amount - fuel.amount)})  (${ms(r.ms)})`);
  if (a.status === 'approved') sim.journal.append({ type: 'sale', flow: 'postpay', saleId: a.saleId, ref, amount: a.amount, goodsAmount: a.amount - fuel.amount });
  sim.record({ step: 'postpay', ok: a.status === 'approved', ref, pumpSaleId, ...a, goodsAmount: a.amount - fuel.amount, latencyMs: Math.round(r.ms) });
}

/** One unit of the first active store item, when the station sells any. */
async function firstGoods(sim: Sim): Promise<StoreItem[]> {
  const first = [...(await sim.catalogue()).values()][0];
  return first ? [{ sku: first.sku, quantity: 1 }] : [];
}

interface ReversalAnswer {
  reversalId: string;
  originalRef: string;
  target: string;
  saleId?: string;
  authorisationId?: string;
  amount: number;
  status: string;
  actionCode: string;
}

async function reverse(sim: Sim, originalRef: string, reason: string): Promise<ReversalAnswer & { latencyMs: number }> {
  const r = await sim.must('POST', '/api/v1/pos/reversals', { originalRef, reason }, newTerminalRef());
  const a = r.body as ReversalAnswer;
  sim.journal.append({ type: 'reversal', originalRef, target: a.target, ...(a.saleId ? { saleId: a.saleId } : {}), amount: a.amount });
  sim.say(`  ↩ 冲正 / reversal ${a.status}: 对象 target ${a.target}，退回 returned ${yuan(a.amount)}  (action ${a.actionCode}, ${ms(r.ms)})`);
  return { ...a, latencyMs: Math.round(r.ms) };
}

export async function reversalScenario(sim: Sim, o: { amount?: number }): Promise<void> {
  const amount = o.amount ?? 5_000;
  sim.heading('冲正：应答超时，冲正先于原交易到达', 'reversal: the answer timed out, the reversal arrives before the original');
  const ref = newTerminalRef();
  sim.say(`  终端发出交易 ${ref} 后未收到应答 → 发送冲正 / no answer to sale ${ref} → the terminal sends a reversal`);
  const first = await reverse(sim, ref, 'timeout');
  sim.record({ step: 'reversal-first', ok: first.target === 'none', ...first });
  sim.say('  原交易迟到 / the original arrives late:');
  const late = await sellOnce(sim, amount, { ref, step: 'late-original' });
  // The late original must be refused: the terminal already told the customer it failed.
  sim.steps[sim.steps.length - 1]!.ok = late.status === 'declined' && late.declineCode === 'ALREADY_REVERSED';

  sim.heading('冲正：顾客取消已批准的交易', 'reversal of an approved sale (customer cancels)');
  const sale = await sellOnce(sim, amount, { step: 'sale' });
  if (sale.status !== 'approved') return;
  const back = await reverse(sim, sale.ref, 'customer_cancel');
  sim.record({ step: 'reversal', ok: back.status === 'reversed' && back.amount === sale.amount, ...back });
  sim.say('  再次冲正（幂等）/ the same reversal again (idempotent):');
  const again = await reverse(sim, sale.ref, 'customer_cancel');
  sim.record({ step: 'reversal-again', ok: again.reversalId === back.reversalId && again.amount === back.amount, ...again });

  sim.heading('冲正：解除灰锁（撤销未完成的预授权）', 'reversal of an open pre-authorisation (the grey lock is released)');
  const nozzle = await sim.nozzle();
  const ref2 = newTerminalRef();
  const auth = await sim.client.post(AUTHS, { cardNo: sim.opts.cardNo, pin: sim.opts.pin, nozzle: nozzle.nozzle, mode: 'preauth', amount }, ref2);
  if (auth.error?.code === 'ROUTE_NOT_FOUND') {
    sim.say('  — 跳过：服务器没有预授权接口 / skipped: the server has no pump authorisations');
    return;
  }
  if (auth.error) throw refusal('POST', AUTHS, auth);
  const a = auth.body as AuthorisationAnswer;
  sim.say(`→ 预授权 / pre-authorise ${yuan(amount)}: ${answerLine(a)}`);
  if (a.status !== 'approved') {
    sim.record({ step: 'preauth', ok: false, ...a });
    return;
  }
  sim.say('  油枪故障，未加油 / the pump failed before delivering:');
  const released = await reverse(sim, ref2, 'pump_failure');
  sim.record({ step: 'reversal-hold', ok: released.target === 'authorisation' && released.amount === a.heldAmount, ...released });
}

export async function voidScenario(sim: Sim, o: { amount?: number; cashier?: string }): Promise<void> {
  sim.heading('撤销：收银员在本班内撤销交易', 'void: the cashier cancels a sale within the shift');
  const sale = await sellOnce(sim, o.amount ?? 5_000);
  if (sale.status !== 'approved') return;
  const r = await sim.must('POST', `${SALES}/${sale.saleId}/void`, { cashier: o.cashier ?? 'pos-sim', reason: '顾客要求撤销 / customer asked' }, newTerminalRef());
  const v = r.body as { saleId: string; status: string; amount: number; reversalId: string };
  sim.journal.append({ type: 'void', saleId: v.saleId, amount: v.amount });
  sim.say(`  ↩ 撤销 / ${v.status}: 退回 returned ${yuan(v.amount)}  (${ms(r.ms)})`);
  sim.record({ step: 'void', ok: v.status === 'voided' && v.amount === sale.amount, ...v, latencyMs: Math.round(r.ms) });
}

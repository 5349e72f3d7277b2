import { deflateSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../../../platform/index.js';
import {
  buildFlowFile,
  buildStatementZip,
  decodeFileContent,
  encodeFileContent,
  flowFileName,
  flowRecord,
  FLOW_LINE_BYTES,
  parseUnionPayStatement,
  type FlowRecord,
} from './statement.js';

const MER_ID = '777290058110048';
const at = (s: string) => new Date(`${s}+08:00`);

function records(): FlowRecord[] {
  return [
    flowRecord({ txnType: '01', merId: MER_ID, queryId: '782606151030450000001', orderId: 'P2026061500000000001', txnAmt: 10000, feeFen: 60, traceNo: '000001', traceTime: at('2026-06-15T10:30:45') }),
    flowRecord({ txnType: '01', merId: MER_ID, queryId: '782606151130450000002', orderId: 'P2026061500000000002', txnAmt: 5050, feeFen: 30, traceNo: '000002', traceTime: at('2026-06-15T11:30:45') }),
    flowRecord({
      txnType: '04',
      merId: MER_ID,
      queryId: '782606151230450000003',
      orderId: 'F2026061500000000001',
      txnAmt: 2500,
      feeFen: 15,
      traceNo: '000003',
      traceTime: at('2026-06-15T12:30:45'),
      origQryId: '782606151030450000001',
      origOrderId: 'P2026061500000000001',
      origTxnTime: at('2026-06-15T10:30:00'),
    }),
  ];
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isAppError(err)) return err.code;
    throw err;
  }
  return 'OK';
}

describe('UnionPay reconciliation file', () => {
  it('writes fixed-width lines of the documented widths and reads them back against the TRL line', () => {
    const zip = buildStatementZip({ merId: MER_ID, settleDate: '2026-06-15', records: records() });
    const parsed = parseUnionPayStatement({ fileName: 'x.zip', content: zip });
    expect(parsed.billDate).toBe('2026-06-15');
    expect(parsed.summary).toEqual({ lineCount: 3, paymentCount: 2, paymentTotal: 15050, refundCount: 1, refundTotal: 2500, feeTotalMfen: (60 + 30 - 15) * 1000 });
    expect(parsed.lines[0]).toMatchObject({ lineNo: 1, kind: 'payment', channelTxnId: '782606151030450000001', orderNo: 'P2026061500000000001', amount: 10000, feeMfen: 60_000, status: 'SUCCESS' });
    expect(parsed.lines[0]!.occurredAt?.toISOString()).toBe(at('2026-06-15T10:30:45').toISOString());
    expect(parsed.lines[2]).toMatchObject({ kind: 'refund', refundNo: 'F2026061500000000001', channelRefundId: '782606151230450000003', channelTxnId: '782606151030450000001', orderNo: 'P2026061500000000001', amount: 2500, feeMfen: -15_000 });
    const flow = buildFlowFile({ merId: MER_ID, settleDate: '2026-06-15', records: records() }).toString('latin1').split('\r\n');
    expect(flow[0]!.length).toBe(FLOW_LINE_BYTES);
    expect(FLOW_LINE_BYTES).toBe(607);
    expect(flow[0]!.slice(0, 3)).toBe('S22');
    expect(flow[2]!.slice(0, 3)).toBe('S30');
    expect(flowFileName(MER_ID, '2026-06-15')).toBe(`INN26061588ZM_${MER_ID}`);
  });

  it('carries the zip as base64 of zlib-deflated bytes, and also reads raw deflate', () => {
    const zip = buildStatementZip({ merId: MER_ID, settleDate: '2026-06-15', records: records() });
    expect(decodeFileContent(encodeFileContent(zip)).equals(zip)).toBe(true);
    expect(decodeFileContent(Buffer.from(deflateSync(new Uint8Array(zip))).toString('base64')).equals(zip)).toBe(true);
  });

  it('reads the 流水 file uploaded on its own, not zipped', () => {
    const flow = buildFlowFile({ merId: MER_ID, settleDate: '2026-06-15', records: records() });
    expect(parseUnionPayStatement({ fileName: flowFileName(MER_ID, '2026-06-15'), content: flow }).summary.lineCount).toBe(3);
  });

  it('refuses a file whose lines do not add up to its TRL line', () => {
    const flow = buildFlowFile({ merId: MER_ID, settleDate: '2026-06-15', records: records() }).toString('latin1');
    const tampered = flow.replace('000000010000', '000000010001');
    expect(tampered).not.toBe(flow);
    expect(codeOf(() => parseUnionPayStatement({ fileName: 'f', content: Buffer.from(tampered, 'latin1') }))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
    const lines = flow.split('\r\n');
    const dropped = [lines[0], lines[2], lines[3], ''].join('\r\n');
    expect(codeOf(() => parseUnionPayStatement({ fileName: 'f', content: Buffer.from(dropped, 'latin1') }))).toBe('PAYMENT_STATEMENT_TOTALS_MISMATCH');
  });

  it('refuses malformed files', () => {
    const flow = buildFlowFile({ merId: MER_ID, settleDate: '2026-06-15', records: records() }).toString('latin1');
    const lines = flow.split('\r\n');
    const parse = (text: string) => codeOf(() => parseUnionPayStatement({ fileName: 'f', content: Buffer.from(text, 'latin1') }));
    expect(parse(lines.slice(0, 3).join('\r\n'))).toBe('PAYMENT_STATEMENT_MALFORMED');
    expect(parse([lines[0]!.slice(0, 200), ...lines.slice(1)].join('\r\n'))).toBe('PAYMENT_STATEMENT_MALFORMED');
    const otherType = lines[0]!.split('');
    const txnTypeAt = lines[0]!.indexOf(' 01 01 000201 ');
    otherType.splice(txnTypeAt + 1, 2, '7', '1');
    expect(parse([otherType.join(''), ...lines.slice(1)].join('\r\n'))).toBe('PAYMENT_STATEMENT_MALFORMED');
    expect(parse([...lines.slice(0, 3), lines[3]!.replace('TRL 20260615', 'TRL 20261315')].join('\r\n'))).toBe('PAYMENT_STATEMENT_MALFORMED');
    expect(codeOf(() => parseUnionPayStatement({ fileName: 'f.zip', content: Buffer.from(zipSync({ 'readme.txt': new Uint8Array([1]) })) }))).toBe('PAYMENT_STATEMENT_MALFORMED');
    const wrongDay = Buffer.from(zipSync({ [flowFileName(MER_ID, '2026-06-16')]: new Uint8Array(Buffer.from(flow, 'latin1')) }));
    expect(codeOf(() => parseUnionPayStatement({ fileName: 'f.zip', content: wrongDay }))).toBe('PAYMENT_STATEMENT_MALFORMED');
  });

  it('accepts an empty day (only the TRL line)', () => {
    const parsed = parseUnionPayStatement({ fileName: 'f', content: buildStatementZip({ merId: MER_ID, settleDate: '2026-06-15', records: [] }) });
    expect(parsed.lines).toEqual([]);
    expect(parsed.summary.lineCount).toBe(0);
  });
});

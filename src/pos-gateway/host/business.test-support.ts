/**
 * TEST SUPPORT ONLY: a forecourt terminal installed for ISO 8583 through the staff API's key
 * ceremony, signed on over a real TCP socket, and builders for its sale messages (PIN blocks under
 * the TPK it received, DE 56 naming an original, DE 63 product lines).
 */
import { expect } from 'vitest';
import type { TestServer } from '../../../test/support/server.js';
import { newStation, type Terminal } from '../../../test/support/fuel.js';
import { ok, PIN } from '../../../test/support/cards-factory.js';
import { encryptPinBlock, unwrapKeyChecked } from '../crypto/index.js';
import { formatAmount, formatOriginalData, type De63Value, type FieldValue, type IsoMessage } from '../iso8583/index.js';
import { connectIsoClient, type IsoClient } from '../transport/index.js';
import { SimTerminal } from './session.test-support.js';

export interface Forecourt {
  readonly stationId: number;
  readonly terminal: Terminal;
}

/** A station with nozzles 1 (92#), 2 (95#), 3 (92#), 4 (0#) and its terminal. */
async function newForecourt(server: TestServer): Promise<Forecourt> {
  const st = await newStation(server);
  const nozzles = [
    { nozzle: 1, grade: '92#' },
    { nozzle: 2, grade: '95#' },
    { nozzle: 3, grade: '92#' },
    { nozzle: 4, grade: '0#' },
  ];
  ok(await server.api('PUT', `/api/v1/stations/${st.stationId}/nozzles`, { role: 'operator', body: { items: nozzles } }), 200, 'nozzles');
  return { stationId: st.stationId, terminal: st.terminal };
}

export interface IsoForecourt {
  readonly forecourt: Forecourt;
  readonly sim: SimTerminal;
  readonly conn: IsoClient;
  readonly terminalId: string;
  /** Sends one message and reads its answer (MAC checked). */
  send(mti: string, fields: ReadonlyArray<readonly [number, FieldValue]>, opts?: { stan?: string; local?: string; raw?: (b: Buffer) => void }): Promise<Answer>;
  /** Sends these exact bytes again and returns the answer's bytes. */
  resend(bytes: Buffer): Promise<Buffer>;
}

export interface Answer {
  readonly msg: IsoMessage;
  readonly bytes: Buffer;
  readonly request: Buffer;
  readonly stan: string;
  readonly local: string;
  field(n: number): FieldValue | undefined;
}

/** DE 12 in the station's zone (Asia/Shanghai in tests), unique per message within the run. */
export function localTime(at = new Date(), zone = 'Asia/Shanghai'): string {
  const p = new Intl.DateTimeFormat('en-GB', { timeZone: zone, year: '2-digit', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const v = (t: string) => p.find((x) => x.type === t)!.value;
  return `${v('year')}${v('month')}${v('day')}${v('hour')}${v('minute')}${v('second')}`;
}

export async function isoForecourt(server: TestServer, port: number, opts: { pinFormat?: 0 } = {}): Promise<IsoForecourt> {
  void opts;
  const forecourt = await newForecourt(server);
  const terminalId = forecourt.terminal.terminalId;
  const body = ok(await server.api('POST', `/api/v1/terminals/${terminalId}/iso-keys`, { body: { algorithm: 'tdes', macAlgorithm: 'retail-tdes-pad2', pinFormat: 0 } }), 200, 'key ceremony');
  const c = body.tmk.components.map((x: { hex: string }) => Buffer.from(x.hex, 'hex')) as [Buffer, Buffer];
  const tmk = Buffer.from(c[0].map((b, i) => b ^ c[1][i]!));
  const tak = unwrapKeyChecked('tdes', tmk, 'tdes', Buffer.from(body.initialMacKey.encryptedUnderTmk, 'hex'), Buffer.from(body.initialMacKey.kcv, 'hex'), 'ecb');
  const sim = new SimTerminal(body.isoTerminalId, { alg: 'tdes', mac: 'retail-tdes-pad2' }, tmk, tak, Buffer.alloc(16));
  const conn = await connectIsoClient({ host: '127.0.0.1', port, framing: 'binary2' });
  conn.send(sim.build('1804', [[24, '801']], { at: new Date(), local: nextLocal() }));
  const signOn = await conn.next(10_000);
  expect(sim.acceptKeys(signOn).macOk).toBe(true);

  const send: IsoForecourt['send'] = async (mti, fields, o = {}) => {
    const stan = o.stan ?? sim.nextStan();
    const local = o.local ?? nextLocal();
    const request = sim.build(mti, fields, { at: new Date(), stan, local });
    o.raw?.(request);
    conn.send(request);
    const bytes = await conn.next(15_000);
    const r = sim.read(bytes);
    expect(r.macOk, `answer to ${mti} is MACed`).toBe(true);
    return { msg: r.msg, bytes, request, stan, local, field: (n) => r.msg.fields.get(n) };
  };
  const resend = async (bytes: Buffer): Promise<Buffer> => {
    conn.send(bytes);
    return conn.next(15_000);
  };
  return { forecourt, sim, conn, terminalId, send, resend };
}

function nextLocal(): string {
  return localTime(new Date());
}

/** DE 52: format 0 PIN block under the terminal's TPK. */
export function pinBlock(sim: SimTerminal, pan: string, pin = PIN, key: Buffer = sim.tpk): Buffer {
  return encryptPinBlock(0, 'tdes', key, Buffer.from([...pin].map((d) => Number(d))), pan);
}

export function fuelLine(productCode: string, volumeMl: number, unitPrice: number, amount: number): De63Value {
  return {
    kind: 'de63',
    serviceLevel: 'S',
    lines: [{ productCode, unit: 'L', quantity: { scale: 3, value: volumeMl }, unitPrice: { scale: 0, value: unitPrice }, amount, taxCode: '', additionalCode: '' }],
  };
}

export function original(mti: string, a: { stan: string; local: string }): string {
  return formatOriginalData({ mti, stan: a.stan, localDateTime: a.local, acquirerId: '' });
}

export const amountField = (fen: number): string => formatAmount(fen);

/** 48 with the pump/nozzle (PPNN) and a batch/sequence. */
export function de48(nozzle: number, seq: number, extra: Record<string, unknown> = {}): FieldValue {
  return { kind: 'de48', batchSequence: `0001${String(seq).padStart(6, '0')}`, pumpNozzle: `01${String(nozzle).padStart(2, '0')}`, ...extra } as FieldValue;
}

/**
 * `fuelcard pos-sim --iso8583` in process against the terminal host as `npm start` runs it: the key
 * ceremony through the staff API, then the simulator keyed from exactly what the installer got.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { newStation, ok } from '../../test/support/cards-factory.js';
import { startPosGateway, type PosGateway } from '../pos-gateway/index.js';
import { runPosSim, type PosSimIo } from './pos-sim.js';

let server: TestServer;
let gw: PosGateway;
beforeAll(async () => {
  server = await startTestServer();
  gw = await startPosGateway({ db: server.deps.db, config: server.config, logger: server.deps.logger }, { port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await gw?.stop();
  await server?.close();
});

function captureIo(env: Record<string, string> = {}): PosSimIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    env,
    readStdin: () => Promise.resolve(''),
  };
  return io;
}

interface Ceremony {
  isoTerminalId: string;
  tmk: { components: Array<{ hex: string }> };
  initialMacKey: { encryptedUnderTmk: string; kcv: string };
}

async function ceremony(algorithm: string, macAlgorithm: string): Promise<Ceremony> {
  const { terminal } = await newStation(server);
  return ok(
    await server.api('POST', `/api/v1/terminals/${terminal.terminalId}/iso-keys`, { body: { algorithm, macAlgorithm, pinFormat: algorithm === 'tdes' ? 0 : 4 } }),
    200,
    'key ceremony',
  ) as Ceremony;
}

const base = (c: Ceremony): string[] => ['--iso8583', '--host', '127.0.0.1', '--port', String(gw.port), '--terminal', c.isoTerminalId];

describe('pos-sim --iso8583 signon', () => {
  it('tdes, binary2, TMK as the two components: sign on, echo, key change, echo, sign off', async () => {
    const c = await ceremony('tdes', 'retail-tdes-pad2');
    const io = captureIo();
    const code = await runPosSim(
      [...base(c), '--tmk', `${c.tmk.components[0]!.hex}+${c.tmk.components[1]!.hex}`, '--tak', `${c.initialMacKey.encryptedUnderTmk}:${c.initialMacKey.kcv}`, 'signon'],
      io,
    );
    expect(io.err).toBe('');
    expect(code).toBe(0);
    expect(io.out).toMatch(/签到 signed on：800 {2}TAK v2 /);
    expect(io.out).toMatch(/换密钥 keys changed：800 {2}TAK v3 /);
    expect(io.out.match(/1830 800/g)).toHaveLength(2);
    expect(io.out).toContain('签退 signed off：800');
  });

  it('sm4, ascii4, TMK from the environment, XORed beforehand', async () => {
    const c = await ceremony('sm4', 'sm4-cmac');
    const [a, b] = c.tmk.components.map((p) => Buffer.from(p.hex, 'hex')) as [Buffer, Buffer];
    const tmk = Buffer.from(a.map((x, i) => x ^ b[i]!)).toString('hex');
    const io = captureIo({ ISO_TMK: tmk });
    const code = await runPosSim([...base(c), '--tmk-env', 'ISO_TMK', '--tak', c.initialMacKey.encryptedUnderTmk, '--algorithm', 'sm4', '--framing', 'ascii4'], io);
    expect(io.err).toBe('');
    expect(code).toBe(0);
    expect(io.out).toContain('sm4/sm4-cmac');
  });

  it('a wrong TMK without the KCV: the host answers 916 and the run exits 1', async () => {
    const c = await ceremony('tdes', 'retail-tdes-pad2');
    const io = captureIo();
    const code = await runPosSim([...base(c), '--tmk', c.tmk.components[0]!.hex, '--tak', c.initialMacKey.encryptedUnderTmk], io);
    expect(code).toBe(1);
    expect(io.err).toMatch(/\[ISO_HOST_DECLINED\] .*应答码 916.*action 916 MAC incorrect/);
    expect(io.out).toContain('未达预期');
  });

  it('a wrong TMK with the KCV: refused before anything is sent', async () => {
    const c = await ceremony('tdes', 'retail-tdes-pad2');
    const io = captureIo();
    const code = await runPosSim([...base(c), '--tmk', c.tmk.components[1]!.hex, '--tak', `${c.initialMacKey.encryptedUnderTmk}:${c.initialMacKey.kcv}`], io);
    expect(code).toBe(1);
    expect(io.err).toContain('[ISO_KCV_MISMATCH]');
    expect(io.out).not.toContain('签到 signed on');
  });

  it('bad arguments exit 2 before connecting', async () => {
    const io = captureIo();
    expect(await runPosSim(['--iso8583', '--host', '127.0.0.1', '--terminal', 'T00000001', '--tmk', '00', '--tak', '00'], io)).toBe(2);
    expect(io.err).toContain('[CLI_USAGE]');
    const io2 = captureIo();
    expect(await runPosSim(['--iso8583', '--host', '127.0.0.1', '--terminal', '00000001', '--tmk', '00', '--tak', '00', '--mac-algorithm', 'aes-cmac'], io2)).toBe(2);
    expect(io2.err).toContain('aes-cmac');
  });
});

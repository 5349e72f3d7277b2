/** TEST SUPPORT ONLY: the key ceremony through the staff API, and the terminal side built from what the installer receives. */
import type { TestServer } from '../../../test/support/server.js';
import { newStation, ok } from '../../../test/support/cards-factory.js';
import { unwrapKeyChecked, type KeyAlgorithm, type MacAlgorithm } from '../crypto/index.js';
import { SimTerminal } from './session.test-support.js';

/** Runs the ceremony through HTTP and builds the terminal side from what the installer receives. */
export async function ceremony(s: TestServer, alg: KeyAlgorithm = 'tdes', mac: MacAlgorithm = 'retail-tdes-pad2'): Promise<{ sim: SimTerminal; terminalId: string; body: any }> {
  const { terminal } = await newStation(s);
  const body = ok(
    await s.api('POST', `/api/v1/terminals/${terminal.terminalId}/iso-keys`, { body: { algorithm: alg, macAlgorithm: mac, pinFormat: alg === 'tdes' ? 0 : 4 } }),
    200,
    'key ceremony',
  );
  const c = body.tmk.components.map((p: { hex: string }) => Buffer.from(p.hex, 'hex')) as [Buffer, Buffer];
  const tmk = Buffer.from(c[0].map((b, i) => b ^ c[1][i]!));
  const tak = unwrapKeyChecked(alg, tmk, alg, Buffer.from(body.initialMacKey.encryptedUnderTmk, 'hex'), Buffer.from(body.initialMacKey.kcv, 'hex'), 'ecb');
  return { sim: new SimTerminal(body.isoTerminalId, { alg, mac }, tmk, tak, Buffer.alloc(16)), terminalId: terminal.terminalId, body };
}


import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Config, Db, KeyUsageReport, SealedStore } from '../platform/index.js';
import {
  audit,
  blindIndexKeysOf,
  fieldCipherFor,
  isAppError,
  keyFingerprint,
  keyUsage,
  localKms,
  readKeyFileJson,
  reencryptFields,
  retireKey,
  writeSecretFile,
} from '../platform/index.js';
import { posCrypto } from '../pos-gateway/index.js';
import { cliActor } from './actor.js';
import { intOption, parseArgs, stringOption, usage } from './args.js';

export const KEYS_HELP = `  keys status [--json]            每列各密钥编号下的密文数量、盲索引密钥、终端密钥库封装密钥
                                  values per key id for every encrypted column, blind-index keys, POS key store seals
  keys reencrypt [--batch 200]    把不在当前密钥/算法下的值重新加密（可中断、可重跑），重算盲索引，重新封装终端密钥
                                  rewrite values not under the current key/algorithm (resumable), recompute blind
                                  indexes, re-seal the POS key store under the current data key
  keys add <id> [--blind-index] [--standby] [--secret-file <path> | --print-secret]
                                  生成新密钥：file / local-kms 写入密钥文件；默认成为当前密钥，--standby 放在末尾只读。
                                  env 方式须用 --secret-file（新建 0600 文件）或 --print-secret（输出到标准输出）取得新密钥
                                  generate a key: into the key file (file / local-kms), current unless --standby (last,
                                  read only). env: the new key goes once to --secret-file (a new 0600 file) or, with
                                  --print-secret, to stdout; otherwise only ids and fingerprints are printed
  keys promote <id> [--blind-index]
                                  把备用密钥设为当前密钥（移到首位）/ make a standby key current (move it first)
  keys retire <id> [--blind-index]
                                  停用旧密钥：仍有数据使用时拒绝；file / local-kms 从密钥文件中删除
                                  retire a key: refused while any value uses it; removed from the key file (file / local-kms)
`;

export interface KeysCliIo {
  out(text: string): void;
  err(text: string): void;
}

type WithDb = <T>(fn: (db: Db) => Promise<T>) => Promise<T>;

function stores(config: Config): SealedStore[] {
  return [posCrypto.posKeysSealedStore(config.dataKeys)];
}

export function formatKeyUsage(r: KeyUsageReport): string {
  const lines = [`当前 / current: data key ${r.current.keyId} (${r.current.algorithm}), blind index ${r.current.blindIndex ?? '-'}`];
  const current = `${r.current.algorithm}/${r.current.keyId}`;
  for (const c of r.columns) {
    const parts = Object.entries(c.byKey).map(([k, n]) => `${k}=${n}${k === current ? '' : ' *'}`);
    lines.push(`  ${`${c.table}.${c.column}`.padEnd(32)} ${parts.join('  ') || '(empty)'}`);
  }
  for (const b of r.blindIndexes) {
    const parts = Object.entries(b.byKey).map(([k, n]) => `${k}=${n}${k === r.current.blindIndex ? '' : ' *'}`);
    lines.push(`  ${`${b.table} blind indexes`.padEnd(32)} ${parts.join('  ') || '(empty)'}`);
  }
  for (const s of r.stores) {
    const parts = Object.entries(s.byKey).map(([k, n]) => `${k}=${n}${k === r.current.keyId ? '' : ' *'}`);
    lines.push(`  ${s.name.padEnd(32)} ${parts.join('  ') || '(empty)'}`);
  }
  lines.push('  (* = 待重新加密 / still to re-encrypt: fuelcard keys reencrypt)');
  return lines.join('\n') + '\n';
}

const describeKeys = (keys: ReadonlyArray<{ id: string; key: Buffer }>): string => keys.map((k) => `${k.id} (${keyFingerprint(k.key)})`).join(', ');

/** Where the env provider's new key goes: never into a terminal or log unless the operator asks for it. */
interface SecretOut {
  file?: string;
  print: boolean;
}

/**
 * Writes a new key to a file the CLI creates (exclusive, mode 0600: never over an existing file
 * or through a symbolic link), for the operator to move into the secret store and then delete.
 */
function writeNewSecretFile(file: string, content: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw usage(`无法新建 ${file}（${code}）：--secret-file 须为尚不存在的文件`, `cannot create ${file} (${code}): --secret-file must name a file that does not exist yet`);
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

/** Adds a freshly generated key to the key file (first = current, or last with standby). */
function addKey(config: Config, id: string, blind: boolean, standby: boolean, secret: SecretOut, io: KeysCliIo): void {
  const field = blind ? 'blindIndexKeys' : 'dataKeys';
  if (!/^[A-Za-z0-9_-]{1,16}$/.test(id)) throw usage('密钥编号为 1–16 位字母、数字、_ 或 -', 'a key id is 1–16 letters, digits, _ or -');
  if (config.keyProvider === 'env') {
    const name = blind ? 'FUELCARD_BLIND_INDEX_KEYS' : 'FUELCARD_DATA_KEYS';
    const current = blind ? config.blindIndexKeys : config.dataKeys;
    if (current.some((k) => k.id === id)) throw usage(`密钥编号 ${id} 已存在`, `key id ${id} already exists`);
    // Refused before a key is made: a key generated and then not delivered is one the operator never sees.
    if (secret.file === undefined && !secret.print) {
      throw usage(
        `env 方式需要 --secret-file <路径>（新建 0600 文件）或 --print-secret（输出到标准输出）来取得新密钥`,
        `with the env provider the new key must go somewhere: --secret-file <path> (a new 0600 file) or --print-secret (stdout)`,
      );
    }
    const clear = randomBytes(32);
    const entry = `${id}:${clear.toString('base64')}`;
    const fp = keyFingerprint(clear);
    clear.fill(0);
    const order = standby ? [...current.map((k) => k.id), id] : [id, ...current.map((k) => k.id)];
    if (secret.file !== undefined) writeNewSecretFile(secret.file, entry + '\n');
    io.out(
      `# 环境变量方式：新密钥 ${id}（指纹 ${fp}）${secret.file !== undefined ? `已写入 ${secret.file}（0600）` : '见下行'}。请把它加入 ${name}，顺序为 ${order.join(', ')}，然后重启${secret.file !== undefined ? '，并删除该文件' : ''}\n` +
        `# env provider: new key ${id} (fingerprint ${fp}) ${secret.file !== undefined ? `written to ${secret.file} (mode 0600)` : 'on the next line'}. ` +
        `Add it to ${name} in the order ${order.join(', ')} and restart${secret.file !== undefined ? '; then delete the file' : ''}\n` +
        `# ${name} now: ${describeKeys(current)}\n`,
    );
    if (secret.file === undefined) io.out(`${entry}\n`);
    return;
  }
  if (secret.file !== undefined || secret.print) {
    throw usage('--secret-file / --print-secret 只用于 env 方式：新密钥直接写入密钥文件', '--secret-file / --print-secret are for the env provider only: the new key goes into the key file');
  }
  const file = config.keyFile!;
  const json = readKeyFileJson(file);
  const list = Array.isArray(json[field]) ? (json[field] as Array<{ id: string }>) : [];
  if (list.some((e) => e.id === id)) throw usage(`密钥编号 ${id} 已存在`, `key id ${id} already exists`);
  const clear = randomBytes(32);
  const fp = keyFingerprint(clear);
  const entry =
    config.keyProvider === 'local-kms'
      ? { id, wrapped: localKms(config.kmsMasterKeyFile!).wrapKeySync(blind ? 'blind-index' : 'data', id, clear) }
      : { id, key: clear.toString('base64') };
  clear.fill(0);
  json[field] = standby ? [...list, entry] : [entry, ...list];
  writeSecretFile(file, JSON.stringify(json, null, 2) + '\n');
  io.out(
    `已写入 ${file}：${field} ${id}（指纹 ${fp}）${standby ? '（备用，只读）' : '（当前）'}，重启后生效 / written to ${file}: ${field} ${id} (fingerprint ${fp})${standby ? ' (standby, read only)' : ' (current)'}; restart to use it\n`,
  );
}

/** Moves a key to the front (current) of its list. */
function promoteKey(config: Config, id: string, blind: boolean, io: KeysCliIo): void {
  const field = blind ? 'blindIndexKeys' : 'dataKeys';
  if (config.keyProvider === 'env') {
    const name = blind ? 'FUELCARD_BLIND_INDEX_KEYS' : 'FUELCARD_DATA_KEYS';
    const list = blind ? config.blindIndexKeys : config.dataKeys;
    if (!list.some((k) => k.id === id)) throw usage(`未配置密钥 ${id}`, `no key ${id} is configured`);
    const ordered = [...list.filter((k) => k.id === id), ...list.filter((k) => k.id !== id)];
    // The operator already holds every key: only the order changes, so no key is printed.
    io.out(
      `# 请把 ${name} 中的条目改为下面的顺序并重启 / reorder the entries of ${name} as below and restart\n` +
        `${name} order: ${describeKeys(ordered)}\n`,
    );
    return;
  }
  const json = readKeyFileJson(config.keyFile!);
  const list = Array.isArray(json[field]) ? (json[field] as Array<{ id: string }>) : [];
  if (!list.some((e) => e.id === id)) throw usage(`密钥文件中没有 ${id}`, `the key file has no ${field} ${id}`);
  json[field] = [...list.filter((e) => e.id === id), ...list.filter((e) => e.id !== id)];
  writeSecretFile(config.keyFile!, JSON.stringify(json, null, 2) + '\n');
  io.out(`${id} 已设为当前密钥，重启后生效 / ${id} is now first in ${config.keyFile}; restart to use it\n`);
}

function removeFromKeyFile(config: Config, id: string, blind: boolean): boolean {
  if (config.keyProvider === 'env' || config.keyFile === null) return false;
  const field = blind ? 'blindIndexKeys' : 'dataKeys';
  const json = readKeyFileJson(config.keyFile);
  const list = Array.isArray(json[field]) ? (json[field] as Array<{ id: string }>) : [];
  json[field] = list.filter((e) => e.id !== id);
  writeSecretFile(config.keyFile, JSON.stringify(json, null, 2) + '\n');
  return true;
}

/** `fuelcard keys …`. The caller opens (and migrates) the database and owns the exit code. */
export async function runKeysCommand(config: Config, argv: readonly string[], withDb: WithDb, io: KeysCliIo, signal?: AbortSignal): Promise<number> {
  const parsed = parseArgs(argv, {
    json: { value: false },
    batch: { value: true },
    'blind-index': { value: false },
    standby: { value: false },
    'secret-file': { value: true },
    'print-secret': { value: false },
  });
  const [sub, ...rest] = parsed.positionals;
  const cipher = fieldCipherFor(config);
  const blindIndex = blindIndexKeysOf(config);
  const blind = parsed.options.has('blind-index');
  switch (sub) {
    case 'status': {
      if (rest.length > 0) throw usage(`keys status 不接受参数 "${rest[0]}"`, `keys status takes no argument "${rest[0]}"`);
      const r = await withDb((db) => keyUsage(db, cipher, { blindIndex, stores: stores(config) }));
      io.out(parsed.options.has('json') ? JSON.stringify(r, null, 2) + '\n' : formatKeyUsage(r));
      return 0;
    }
    case 'reencrypt': {
      if (rest.length > 0) throw usage(`keys reencrypt 不接受参数 "${rest[0]}"`, `keys reencrypt takes no argument "${rest[0]}"`);
      const batch = intOption(parsed, 'batch', 1, 10_000) ?? 200;
      const p = await withDb(async (db) => {
        const out = await reencryptFields(db, cipher, {
          batch,
          blindIndex,
          stores: stores(config),
          ...(signal ? { signal } : {}),
          onProgress: (x) => io.err(`\r${Object.entries(x.rewritten).map(([t, n]) => `${t} ${n}`).join(', ')}   `),
        });
        await audit(db, cliActor('keys reencrypt'), { action: 'keys.reencrypt', targetType: 'keys', targetId: cipher.currentKeyId, details: { ...out } });
        return out;
      });
      io.err('\n');
      io.out(`重新加密${p.complete ? '完成' : '已中断（可重跑继续）'} / re-encryption ${p.complete ? 'complete' : 'interrupted (run again to resume)'}: ${JSON.stringify(p.rewritten)}, changed meanwhile ${p.conflicts}, unreadable ${p.unreadable}\n`);
      return p.complete && p.conflicts === 0 && p.unreadable === 0 ? 0 : 1;
    }
    case 'add': {
      const [id, ...more] = rest;
      if (id === undefined || more.length > 0) {
        throw usage('用法：keys add <编号> [--blind-index] [--standby] [--secret-file <路径> | --print-secret]', 'usage: keys add <id> [--blind-index] [--standby] [--secret-file <path> | --print-secret]');
      }
      const secretFile = stringOption(parsed, 'secret-file');
      if (secretFile !== undefined && parsed.options.has('print-secret')) throw usage('--secret-file 与 --print-secret 只能选一个', 'choose one of --secret-file and --print-secret');
      addKey(config, id, blind, parsed.options.has('standby'), { ...(secretFile !== undefined ? { file: secretFile } : {}), print: parsed.options.has('print-secret') }, io);
      return 0;
    }
    case 'promote': {
      const [id, ...more] = rest;
      if (id === undefined || more.length > 0) throw usage('用法：keys promote <编号> [--blind-index]', 'usage: keys promote <id> [--blind-index]');
      promoteKey(config, id, blind, io);
      return 0;
    }
    case 'retire': {
      const [id, ...more] = rest;
      if (id === undefined || more.length > 0) throw usage('用法：keys retire <编号> [--blind-index]', 'usage: keys retire <id> [--blind-index]');
      try {
        await withDb(async (db) => {
          await retireKey(db, cipher, { kind: blind ? 'blind_index' : 'data', keyId: id, by: 'cli', blindIndex, stores: stores(config) });
          await audit(db, cliActor('keys retire'), { action: 'keys.retire', targetType: 'keys', targetId: id, details: { kind: blind ? 'blind_index' : 'data' } });
        });
      } catch (err) {
        if (isAppError(err)) {
          io.err(`fuelcard: [${err.code}] ${err.message}${err.details ? ` ${JSON.stringify(err.details)}` : ''}\n`);
          return 1;
        }
        throw err;
      }
      if (removeFromKeyFile(config, id, blind)) io.out(`已停用并从 ${config.keyFile} 删除 ${id} / retired ${id} and removed it from ${config.keyFile}\n`);
      else io.out(`已停用 ${id}；请从 ${blind ? 'FUELCARD_BLIND_INDEX_KEYS' : 'FUELCARD_DATA_KEYS'} 中删除它并重启 / retired ${id}: remove it from ${blind ? 'FUELCARD_BLIND_INDEX_KEYS' : 'FUELCARD_DATA_KEYS'} and restart\n`);
      return 0;
    }
    default:
      throw usage(
        sub === undefined ? 'keys 需要子命令：status、reencrypt、add、promote、retire' : `keys 没有子命令 "${sub}"`,
        sub === undefined ? 'keys needs a subcommand: status, reencrypt, add, promote, retire' : `keys has no subcommand "${sub}"`,
      );
  }
}

import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Actor } from '../platform/index.js';

/**
 * Who the audit log names for a CLI command: the system role, the command and the OS user
 * who ran it (the only "who" a shell has), and one request id per invocation so every row
 * written by one run can be found together.
 */
export function cliActor(command: string): Actor {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // Containers may run under a uid with no passwd entry; the command name still identifies the source.
  }
  return { staffId: null, name: `cli:${command}@${user}`, role: 'system', ip: null, requestId: randomUUID() };
}

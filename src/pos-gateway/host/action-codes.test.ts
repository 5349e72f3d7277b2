import { describe, expect, it } from 'vitest';
import { AppError, platformError } from '../../platform/index.js';
import { ledgerError } from '../../ledger/index.js';
import { CARD_DECLINES, cardsError } from '../../cards/index.js';
import { promotionsError, stationsError, stockError, whitelistError } from '../../stations/index.js';
import { OFFLINE_REJECTS, offlineError, reversalsError, SALE_DECLINES, salesError } from '../../sales/index.js';
import { ACTION_CODE_MEANINGS, ACTION_CODES, actionCodeFor, actionCodeForError, isApproval, isKnownActionCode } from './action-codes.js';

// The sources the table must be derived from (the same as scripts/generate.ts, terminal-facing part).
const ERROR_TABLES = [platformError, ledgerError, cardsError, stationsError, whitelistError, stockError, promotionsError, salesError, reversalsError, offlineError];
const DECLINES = { ...CARD_DECLINES, ...SALE_DECLINES, ...OFFLINE_REJECTS };

describe('action code table', () => {
  it('maps every platform error and decline code a terminal can meet, to the iso its catalogue entry carries', () => {
    let n = 0;
    for (const f of ERROR_TABLES) {
      for (const [code, spec] of Object.entries(f.table)) {
        expect(ACTION_CODES.get(code)?.iso, code).toBe(spec.iso);
        expect(ACTION_CODES.get(code)?.module, code).toBe(f.module);
        n++;
      }
    }
    for (const [code, spec] of Object.entries(DECLINES)) {
      expect(ACTION_CODES.get(code)?.iso, code).toBe(spec.iso);
      n++;
    }
    expect(ACTION_CODES.size).toBe(n);
  });

  it('every action code is a 3-digit ISO 8583:1993 code the host knows', () => {
    for (const [code, e] of ACTION_CODES) {
      expect(e.iso, code).toMatch(/^[0-9]{3}$/);
      expect(isKnownActionCode(e.iso), `${code} → ${e.iso}`).toBe(true);
    }
  });

  it('no decline or error is an approval (0xx)', () => {
    for (const [code, e] of ACTION_CODES) expect(isApproval(e.iso), code).toBe(false);
  });

  it('decline codes keep their ISO meaning (spot checks against pos.md §1.2)', () => {
    expect(actionCodeFor('INSUFFICIENT_FUNDS')).toBe('116');
    expect(ACTION_CODE_MEANINGS['116']).toBe('not sufficient funds');
    expect(actionCodeFor('PIN_WRONG')).toBe('117');
    expect(actionCodeFor('PIN_TRIES_EXCEEDED')).toBe('106');
    expect(actionCodeFor('CARD_LOST')).toBe('208');
    expect(actionCodeFor('ALREADY_REVERSED')).toBe('913');
    expect(actionCodeFor('VALIDATION_FAILED')).toBe('904');
    expect(actionCodeFor('OFFLINE_CARD_UNKNOWN')).toBe('111');
  });

  it('an unknown or missing code is a host fault (909), never an approval', () => {
    expect(actionCodeFor('NO_SUCH_CODE')).toBe('909');
    expect(actionCodeFor(undefined)).toBe('909');
    expect(actionCodeFor(null)).toBe('909');
  });

  it('maps thrown errors: AppError by its code, anything else 909', () => {
    expect(actionCodeForError(salesError('COMPLETION_EXCEEDS_HOLD'))).toEqual({ code: 'COMPLETION_EXCEEDS_HOLD', iso: '110' });
    expect(actionCodeForError(platformError('RATE_LIMITED'))).toEqual({ code: 'RATE_LIMITED', iso: '912' });
    expect(actionCodeForError(new Error('boom'))).toEqual({ code: 'INTERNAL', iso: '909' });
    expect(actionCodeForError('x')).toEqual({ code: 'INTERNAL', iso: '909' });
    // A module not in the table: its spec's iso, if a known one; else 909.
    expect(actionCodeForError(new AppError('LATER_CODE', { status: 409, iso: '119', zh: '', en: '' }))).toEqual({ code: 'LATER_CODE', iso: '119' });
    expect(actionCodeForError(new AppError('LATER_CODE', { status: 409, iso: '7', zh: '', en: '' }))).toEqual({ code: 'LATER_CODE', iso: '909' });
  });
});

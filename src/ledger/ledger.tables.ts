import type { Generated } from 'kysely';

export interface LedgerAccountTable {
  id: Generated<number>;
  kind: AccountKind;
  currency: Generated<Currency>;
  name: string;
  system_key: string | null;
  flags: Generated<number>;
  debits_pending: Generated<number>;
  debits_posted: Generated<number>;
  credits_pending: Generated<number>;
  credits_posted: Generated<number>;
  arrears: Generated<number>;
  status: Generated<'open' | 'closed'>;
  created_at: Generated<Date>;
  closed_at: Date | null;
}

export interface LedgerTransferTable {
  id: string;
  kind: TransferKind;
  debit_account_id: number;
  credit_account_id: number;
  amount: number;
  currency: string;
  code: string;
  pending_id: string | null;
  expires_at: Date | null;
  forced: boolean;
  debit_balance_after: number | null;
  credit_balance_after: number | null;
  metadata: unknown;
  created_at: Date;
}

export interface LedgerPendingTable {
  id: string;
  amount: number;
  state: 'pending' | 'posted' | 'voided' | 'expired';
  expires_at: Date | null;
  resolved_at: Date | null;
}

export interface LedgerTransferFailureTable {
  id: string;
  code: string;
  request_hash: string;
  created_at: Generated<Date>;
}

export interface LedgerArrearsAlertTable {
  id: Generated<number>;
  account_id: number;
  transfer_id: string;
  shortfall: number;
  reason: string;
  created_at: Generated<Date>;
  resolved_at: Date | null;
}

export type AccountKind =
  | 'customer'
  | 'reserve'
  | 'channel_clearing'
  | 'station_settlement'
  | 'points_liability'
  | 'refunds_payable'
  | 'write_off'
  | 'suspense';
export type Currency = 'CNY' | 'POINTS';
export type TransferKind = 'posted' | 'pending' | 'post_pending' | 'void_pending' | 'expire_pending';

declare module '../platform/db.js' {
  interface Database {
    ledger_accounts: LedgerAccountTable;
    ledger_transfers: LedgerTransferTable;
    ledger_pending: LedgerPendingTable;
    ledger_transfer_failures: LedgerTransferFailureTable;
    ledger_arrears_alerts: LedgerArrearsAlertTable;
  }
}

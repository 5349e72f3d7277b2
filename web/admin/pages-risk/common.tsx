import type { CSSProperties } from 'react';
import { Alert, Select, Tag, Tooltip } from 'antd';
import { ApiError, errorText } from '../../shared/api';
import { useLang, useT } from '../../shared/i18n';
import { useLoad } from '../../shared/ui';
import { yuan } from '../../shared/money';
import { useSession } from '../session';
import { rk } from './i18n';
import { OUTCOMES, type JsonSchema, type ParamVersion, type ParamsSet, type RuleDef } from './types';

/** A word of the dictionary by prefix, or the raw value when it has none (a newer server's value shows as itself). */
export function useWord() {
  const t = useT(rk);
  return (prefix: string, v: string | null | undefined) => (v === null || v === undefined || v === '' ? '—' : rk[`${prefix}_${v}`] ? t(`${prefix}_${v}`) : v);
}

const OUTCOME_COLORS: Record<string, string> = { approve: 'green', approve_flag: 'gold', step_up: 'orange', delay: 'purple', decline: 'red', freeze: 'magenta' };

export function OutcomeTag({ outcome, testId = 'outcome' }: { outcome: string; testId?: string }) {
  const w = useWord();
  return (
    <Tag color={OUTCOME_COLORS[outcome] ?? 'default'} data-testid={testId} data-outcome={outcome}>
      {w('outcome', outcome)}
    </Tag>
  );
}

export function OutcomeSelect({ value, onChange, testId, allowClear = true, style, exclude = [] }: { value?: string; onChange?: (v: string | undefined) => void; testId: string; allowClear?: boolean; style?: CSSProperties; exclude?: string[] }) {
  const t = useT(rk);
  const w = useWord();
  return (
    <Select
      value={value}
      onChange={(v) => onChange?.(v ?? undefined)}
      allowClear={allowClear}
      placeholder={t('anyOutcome')}
      options={OUTCOMES.filter((o) => !exclude.includes(o)).map((o) => ({ value: o, label: w('outcome', o) }))}
      style={{ minWidth: 160, ...style }}
      data-testid={testId}
      aria-label={t('outcome')}
    />
  );
}

const STATUS_COLORS: Record<string, string> = { draft: 'default', pending_approval: 'processing', published: 'green', retired: 'default', rejected: 'red' };

export function VersionStatusTag({ status }: { status: string }) {
  const w = useWord();
  return (
    <Tag color={STATUS_COLORS[status] ?? 'default'} data-testid="version-status" data-status={status}>
      {w('status', status)}
    </Tag>
  );
}

/** "全局 default", "卡类 · 记名卡", "企业 · 主卡 #123". */
export function useScopeText() {
  const w = useWord();
  const t = useT(rk);
  return (scope: string, key: string) => {
    if (scope === 'programme') return w('scope', scope);
    if (scope === 'segment') return `${w('scope', scope)} · ${w('segment', key)}`;
    if (scope === 'enterprise') return `${w('scope', scope)} · ${t('masterCardId')} ${key}`;
    return `${scope} · ${key}`;
  };
}

/** The rule's name in the chosen language, with its id in a tooltip. */
export function useRuleName(rules: RuleDef[] | undefined) {
  const { lang } = useLang();
  return (id: string) => {
    const r = rules?.find((x) => x.id === id);
    return r ? (lang === 'en' ? r.en : r.zh) : id;
  };
}

export function RuleName({ id, rules }: { id: string; rules: RuleDef[] | undefined }) {
  const name = useRuleName(rules);
  return (
    <Tooltip title={id}>
      <span data-testid="rule-name" data-rule={id}>
        {name(id)}
      </span>
    </Tooltip>
  );
}

export function useRules() {
  const { api } = useSession();
  return useLoad(() => api.request<{ items: RuleDef[] }>('GET', '/api/v1/risk/rules').then((r) => r.items), [api]);
}

/** Amount fields are fen on the wire; people read and type yuan. */
export function isFenField(field: string): boolean {
  return /Amount$/.test(field) || field === 'minRecharged';
}

/** One parameter's value as people read it (fen as yuan, null as 不限, booleans as words). */
export function useParamText() {
  const t = useT(rk);
  const w = useWord();
  return (field: string, v: unknown): string => {
    if (v === null) return t('nullable');
    if (v === undefined) return '—';
    if (typeof v === 'boolean') return v ? t('yes') : t('no');
    if (field === 'outcome') return w('outcome', String(v));
    if (typeof v === 'number' && isFenField(field)) return yuan(v);
    return String(v);
  };
}

/** The editable fields of a rule, from its schema: everything but the three common switches, in order. */
export function ruleFields(rule: RuleDef): string[] {
  return Object.keys(rule.schema.properties ?? rule.defaults).filter((k) => k !== 'enabled' && k !== 'shadow' && k !== 'outcome');
}

/** The number part of a field's schema (a nullable limit is anyOf [number, null]). */
export function numberSchema(s: JsonSchema | undefined): { schema: JsonSchema | undefined; nullable: boolean } {
  if (!s) return { schema: undefined, nullable: false };
  if (s.anyOf) {
    const num = s.anyOf.find((x) => x.type === 'integer' || x.type === 'number');
    return { schema: num, nullable: s.anyOf.some((x) => x.type === 'null') };
  }
  return { schema: s, nullable: false };
}

/** Server errors with their stable code beside the message: the code is what support searches for. */
export function ErrorAlert({ error, testId = 'risk-error', style }: { error: unknown; testId?: string; style?: CSSProperties }) {
  const { lang } = useLang();
  const t = useT(rk);
  if (error === undefined || error === null) return null;
  const code = error instanceof ApiError ? error.code : undefined;
  return (
    <Alert
      type="error"
      showIcon
      role="alert"
      style={{ marginBottom: 12, ...style }}
      data-testid={testId}
      data-code={code}
      title={errorText(error, lang)}
      description={code ? `${t('errorCode')}: ${code}` : undefined}
    />
  );
}

export function StaffName({ id }: { id: number | null | undefined }) {
  const t = useT(rk);
  const { user } = useSession();
  if (id === null || id === undefined) return <>—</>;
  return (
    <span>
      {t('staffNo', { id })}
      {user?.id === id ? t('you') : ''}
    </span>
  );
}

/** Which parameters a version or a scope would replace: the scope's published version, or the built-in defaults. */
export function defaultsOf(rules: RuleDef[]): ParamsSet {
  return Object.fromEntries(rules.map((r) => [r.id, r.defaults]));
}

export function useVersion(id: number | null | undefined) {
  const { api } = useSession();
  return useLoad(() => (id ? api.request<ParamVersion>('GET', `/api/v1/risk/parameter-versions/${id}`) : Promise.resolve(null)), [api, id]);
}

/** A station id with its code and name when the registry is readable. */
export function stationText(stations: { id: number; code: string; name: string }[] | undefined, id: number | null | undefined): string {
  if (id === null || id === undefined) return '—';
  const s = stations?.find((x) => x.id === id);
  return s ? `${s.code} ${s.name}` : `#${id}`;
}

export const pct = (x: number) => `${(x * 100).toFixed(x > 0 && x < 0.001 ? 3 : 1)}%`;

import { useCallback, useEffect, useMemo, type HTMLAttributes } from 'react';
import { Button, Col, Descriptions, Drawer, Form, Input, Select, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { dateTime, digitsOnly } from '../../shared/format';
import { useLang, useT, type Lang } from '../../shared/i18n';
import { litres, unitPrice, yuan } from '../../shared/money';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { EmptyText, ListError, MoreFooter, PageHeader, fromDay, gradeName, mono, rangeQuery, toDay, useCursorList, useGrades, useStations, useUrlFilters, type Grade, type Page } from './common';
import { DateRangeItems, FilterCard, useFilterRules } from './filters';
import { DECLINE_CODES, dict } from './i18n';
import { CardNo, useReturnFocus } from '../ui';

export interface SaleItem {
  saleId: string;
  cardNo: string;
  stationId: number;
  stationName?: string;
  terminalId: string;
  nozzle: number;
  grade: string;
  volumeMl: number;
  unitPrice: number;
  amount: number;
  status: 'approved' | 'declined' | string;
  approvalCode: string | null;
  declineCode: string | null;
  balanceAfter: number | null;
  businessDay: string;
  createdAt: string;
}

interface SaleDetail extends SaleItem {
  transfers: { transferId: string; accountId: number; amount: number }[];
}

const KEYS = ['from', 'to', 'stationId', 'terminalId', 'cardNo', 'status', 'declineCode', 'grade'] as const;

export function declineText(code: string, lang: Lang): string {
  const d = DECLINE_CODES[code];
  return d ? (lang === 'en' ? d.en : d.zh) : code;
}

function salesQuery(f: Record<string, string>) {
  return {
    ...rangeQuery(f),
    stationId: f.stationId && /^\d+$/.test(f.stationId) ? f.stationId : undefined,
    terminalId: f.terminalId,
    cardNo: f.cardNo,
    status: f.status,
    declineCode: f.declineCode,
    grade: f.grade,
  };
}

export function StatusTag({ status }: { status: string }) {
  const t = useT(dict);
  if (status === 'approved') return <Tag color="green">{t('approved')}</Tag>;
  if (status === 'declined') return <Tag color="red">{t('declined')}</Tag>;
  return <Tag>{status}</Tag>;
}

export function SaleCode({ sale }: { sale: Pick<SaleItem, 'approvalCode' | 'declineCode'> }) {
  const { lang } = useLang();
  if (sale.approvalCode) return <span style={mono}>{sale.approvalCode}</span>;
  if (sale.declineCode)
    return (
      <span style={{ display: 'inline-block', minWidth: 120, maxWidth: 220, lineHeight: 1.3 }}>
        <span style={{ color: '#cf1322' }}>{declineText(sale.declineCode, lang)}</span>
        <br />
        <span style={{ ...mono, fontSize: 11, color: '#888' }}>{sale.declineCode}</span>
      </span>
    );
  return <>—</>;
}

/** A grade by its name alone (the code is in the name and on hover), to keep the list narrow. */
function gradeShort(grades: Grade[] | undefined, code: string, lang: string): string {
  const g = grades?.find((x) => x.code === code);
  return g ? (lang === 'en' ? g.nameEn : g.nameZh) : code;
}

export function SalesPage() {
  const t = useT(dict);
  const { lang } = useLang();
  const { api, can } = useSession();
  const [form] = Form.useForm();
  const rules = useFilterRules();
  const { filters, key, apply, params, setParams } = useUrlFilters(KEYS);
  const stations = useStations();
  const grades = useGrades();
  const openSale = params.get('sale');

  const list = useCursorList<SaleItem>((cursor) => api.request<Page<SaleItem>>('GET', '/api/v1/sales', { query: { ...salesQuery(filters), limit: 50, cursor } }), key);

  useEffect(() => {
    form.setFieldsValue({
      from: toDay(filters.from),
      to: toDay(filters.to),
      stationId: filters.stationId && /^\d+$/.test(filters.stationId) ? Number(filters.stationId) : undefined,
      terminalId: filters.terminalId,
      cardNo: filters.cardNo,
      status: filters.status,
      declineCode: filters.declineCode,
      grade: filters.grade,
    });
  }, [key]);

  const onSearch = (v: any) => {
    const next: Record<string, string | undefined> = {
      from: fromDay(v.from),
      to: fromDay(v.to),
      stationId: v.stationId ? String(v.stationId) : undefined,
      terminalId: v.terminalId?.trim().toUpperCase() || undefined,
      cardNo: digitsOnly(v.cardNo ?? '') || undefined,
      status: v.status,
      declineCode: v.status === 'approved' ? undefined : v.declineCode,
      grade: v.grade,
    };
    const clean = Object.fromEntries(Object.entries(next).filter(([, x]) => x));
    if (JSON.stringify(clean) === key) list.reload();
    else apply(next);
  };

  const focus = useReturnFocus();
  const showSale = useCallback(
    (id: string | null) => {
      // Back to the row's button when the drawer closes, so the keyboard carries on down the list.
      if (id) focus.remember();
      setParams((prev) => {
        const p = new URLSearchParams(prev);
        if (id) p.set('sale', id);
        else p.delete('sale');
        return p;
      });
      if (!id) focus.restore();
    },
    [setParams, focus],
  );

  const mayDetail = can('GET', '/api/v1/sales/:saleId');
  const stationName = useCallback((s: SaleItem) => s.stationName ?? stations.data?.find((x) => x.id === s.stationId)?.name ?? `#${s.stationId}`, [stations.data]);

  const columns: ColumnsType<SaleItem> = useMemo(
    () => [
      {
        title: t('time'),
        dataIndex: 'createdAt',
        render: (v: string, s) =>
          // The time opens the sale's details: a real button, so it is reachable by keyboard.
          mayDetail ? (
            <Button type="link" size="small" style={{ padding: 0, whiteSpace: 'nowrap' }} onClick={() => showSale(s.saleId)} data-testid="sales-detail" aria-label={`${t('detail')} ${dateTime(v)}`}>
              {dateTime(v)}
            </Button>
          ) : (
            <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span>
          ),
      },
      // Status second, with the approval code or the decline reason under it, so what happened stays
      // in view on a 1280-pixel screen; where it happened is one column (station, terminal · nozzle).
      {
        title: t('status'),
        dataIndex: 'status',
        render: (v: string, s) => (
          <span style={{ display: 'inline-flex', flexDirection: 'column', alignItems: 'flex-start', gap: 2, lineHeight: 1.3 }}>
            <StatusTag status={v} />
            {s.declineCode ? (
              <span style={{ maxWidth: 150 }}>
                <span style={{ color: '#cf1322', fontSize: 12 }}>{declineText(s.declineCode, lang)}</span>{' '}
                <code className="fc-code">{s.declineCode}</code>
              </span>
            ) : (
              s.approvalCode && (
                <span className="fc-code" title={t('approvalCode')}>
                  {s.approvalCode}
                </span>
              )
            )}
          </span>
        ),
      },
      { title: t('cardNo'), dataIndex: 'cardNo', render: (v: string) => <CardNo cardNo={v} /> },
      {
        title: t('stationTerminal'),
        key: 'station',
        render: (_: unknown, s) => (
          <span style={{ display: 'inline-block', minWidth: 112, maxWidth: 190, lineHeight: 1.3 }}>
            {stationName(s)}
            <br />
            <span style={{ fontSize: 12, color: '#888', whiteSpace: 'nowrap' }}>
              <span className="fc-num">{s.terminalId}</span> · {t('nozzleN', { n: s.nozzle })}
            </span>
          </span>
        ),
      },
      { title: t('grade'), dataIndex: 'grade', render: (v: string) => <span style={{ whiteSpace: 'nowrap' }} title={v}>{gradeShort(grades.data, v, lang)}</span> },
      { title: t('volume'), dataIndex: 'volumeMl', align: 'right', render: (v: number) => <span className="fc-num">{litres(v)}</span> },
      { title: t('unitPrice'), dataIndex: 'unitPrice', align: 'right', render: (v: number) => <span className="fc-num">{unitPrice(v)}</span> },
      {
        title: t('amount'),
        dataIndex: 'amount',
        align: 'right',
        // A declined sale moved no money: its amount is what was asked for, shown quietly.
        render: (v: number, s) =>
          s.status === 'declined' ? (
            <Typography.Text type="secondary" className="fc-num" title={t('notCharged')}>
              {yuan(v)}
            </Typography.Text>
          ) : (
            <strong className="fc-num">{yuan(v)}</strong>
          ),
      },
    ],
    [t, lang, grades.data, stationName, mayDetail, showSale],
  );

  const statusValue = Form.useWatch('status', form);
  const rowFor = list.items.find((s) => s.saleId === openSale);

  return (
    <div>
      <PageHeader title={t('salesTitle')} />
      <FilterCard
        form={form}
        prefix="sales"
        onSearch={onSearch}
        onReset={() => apply({})}
        exportUrl="/api/v1/sales/export"
        exportQuery={() => salesQuery(filters)}
        exportName="sales.xlsx"
      >
        <DateRangeItems form={form} prefix="sales" />
        <Col xs={24} sm={12} md={8} lg={6}>
          <Form.Item name="stationId" label={t('station')}>
            <Select
              allowClear
              showSearch={{ optionFilterProp: 'label' }}
              placeholder={t('anyStation')}
              loading={stations.loading}
              options={(stations.data ?? []).map((s) => ({ value: s.id, label: `${s.code} ${s.name}` }))}
              data-testid="sales-filter-station"
            />
          </Form.Item>
        </Col>
        <Col xs={24} sm={12} md={8} lg={6}>
          <Form.Item name="terminalId" label={t('terminal')} rules={[rules.terminalId]}>
            <Input allowClear placeholder={t('terminalPlaceholder')} data-testid="sales-filter-terminal" autoComplete="off" />
          </Form.Item>
        </Col>
        <Col xs={24} sm={12} md={8} lg={6}>
          <Form.Item name="cardNo" label={t('cardNo')} rules={[rules.cardNo]}>
            <Input allowClear placeholder={t('cardNoPlaceholder')} inputMode="numeric" data-testid="sales-filter-card" autoComplete="off" />
          </Form.Item>
        </Col>
        <Col xs={24} sm={12} md={8} lg={6}>
          <Form.Item name="status" label={t('status')}>
            <Select
              allowClear
              placeholder={t('anyStatus')}
              options={[
                { value: 'approved', label: t('approved') },
                { value: 'declined', label: t('declined') },
              ]}
              data-testid="sales-filter-status"
            />
          </Form.Item>
        </Col>
        <Col xs={24} sm={12} md={8} lg={6}>
          <Form.Item name="declineCode" label={t('declineCode')}>
            <Select
              allowClear
              showSearch={{ optionFilterProp: 'label' }}
              disabled={statusValue === 'approved'}
              placeholder={t('anyDecline')}
              options={Object.keys(DECLINE_CODES).map((c) => ({ value: c, label: `${declineText(c, lang)} (${c})` }))}
              popupMatchSelectWidth={false}
              data-testid="sales-filter-decline"
            />
          </Form.Item>
        </Col>
        <Col xs={24} sm={12} md={8} lg={6}>
          <Form.Item name="grade" label={t('grade')}>
            <Select
              allowClear
              placeholder={t('anyGrade')}
              loading={grades.loading}
              options={(grades.data ?? []).map((g: Grade) => ({ value: g.code, label: gradeName(grades.data, g.code, lang) }))}
              data-testid="sales-filter-grade"
            />
          </Form.Item>
        </Col>
      </FilterCard>

      <ListError error={list.error} onRetry={list.reload} />
      <Table<SaleItem>
        rowKey="saleId"
        size="small"
        columns={columns}
        dataSource={list.items}
        loading={list.loading}
        pagination={false}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: list.loading ? ' ' : <EmptyText /> }}
        onRow={(s) => ({ 'data-testid': 'sales-row', 'data-sale-id': s.saleId, 'data-status': s.status }) as HTMLAttributes<HTMLElement>}
        data-testid="sales-table"
      />
      <MoreFooter list={list} testId="sales" />

      <SaleDrawer saleId={mayDetail ? openSale : null} row={rowFor} stationName={rowFor ? stationName(rowFor) : undefined} onClose={() => showSale(null)} grades={grades.data} />
    </div>
  );
}

function SaleDrawer({ saleId, row, stationName, onClose, grades }: { saleId: string | null; row?: SaleItem; stationName?: string; onClose: () => void; grades?: Grade[] }) {
  const t = useT(dict);
  const { lang } = useLang();
  const { api } = useSession();
  const stations = useStations();
  const detail = useLoad(() => (saleId ? api.request<SaleDetail>('GET', `/api/v1/sales/${encodeURIComponent(saleId)}`) : Promise.resolve(undefined)), [saleId, api]);

  return (
    <Drawer open={!!saleId} onClose={onClose} title={t('saleDetail')} size={560} destroyOnHidden>
      <div data-testid="sale-detail">
        <LoadState value={detail}>
          {(s) => {
            if (!s) return null;
            const name = stationName ?? row?.stationName ?? stations.data?.find((x) => x.id === s.stationId)?.name ?? `#${s.stationId}`;
            return (
              <>
                <Descriptions
                  column={1}
                  size="small"
                  bordered
                  items={[
                    { key: 'id', label: t('saleId'), children: <Typography.Text copyable style={mono}>{s.saleId}</Typography.Text> },
                    { key: 'time', label: t('time'), children: dateTime(s.createdAt) },
                    { key: 'day', label: t('businessDay'), children: s.businessDay },
                    { key: 'status', label: t('status'), children: <StatusTag status={s.status} /> },
                    { key: 'code', label: s.declineCode ? t('declineCode') : t('approvalCode'), children: <SaleCode sale={s} /> },
                    { key: 'card', label: t('cardNo'), children: <CardNo cardNo={s.cardNo} /> },
                    { key: 'station', label: t('station'), children: name },
                    { key: 'terminal', label: t('terminal'), children: <span style={mono}>{s.terminalId}</span> },
                    { key: 'nozzle', label: t('nozzle'), children: s.nozzle },
                    { key: 'grade', label: t('grade'), children: gradeName(grades, s.grade, lang) },
                    { key: 'volume', label: t('volume'), children: litres(s.volumeMl) },
                    { key: 'price', label: t('unitPrice'), children: unitPrice(s.unitPrice) },
                    { key: 'amount', label: t('amount'), children: <strong>{yuan(s.amount)}</strong> },
                    { key: 'balance', label: t('balanceAfter'), children: yuan(s.balanceAfter) },
                  ]}
                />
                <Typography.Title level={5} style={{ marginTop: 20 }}>
                  {t('transfers')}
                </Typography.Title>
                {s.transfers.length === 0 ? (
                  <Typography.Text type="secondary">{t('noTransfers')}</Typography.Text>
                ) : (
                  <Table
                    size="small"
                    rowKey="transferId"
                    pagination={false}
                    dataSource={s.transfers}
                    columns={[
                      { title: t('transferId'), dataIndex: 'transferId', render: (v: string) => <span style={{ ...mono, fontSize: 12 }}>{v}</span> },
                      { title: t('accountId'), dataIndex: 'accountId' },
                      { title: t('amount'), dataIndex: 'amount', align: 'right', render: (v: number) => yuan(v) },
                    ]}
                  />
                )}
              </>
            );
          }}
        </LoadState>
      </div>
    </Drawer>
  );
}

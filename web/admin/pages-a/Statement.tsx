import { useCallback, useEffect, useRef, useState } from 'react';
import { Alert, Button, Checkbox, Select, Space, Table, Tag, Tooltip } from 'antd';
import { errorText } from '../../shared/api';
import { useLang } from '../../shared/i18n';
import { dateTime } from '../../shared/format';
import { litres, unitPrice, yuan } from '../../shared/money';
import { useSession } from '../session';
import { CHANNEL_NAMES, DECLINE_NAMES, label } from '../i18n';
import { useA } from './common';
import { useStations } from '../pages-b/common';
import type { Page, StatementItem } from './types';

const PAGE = 20;
type TypeFilter = 'all' | 'sale' | 'recharge' | 'refund' | 'reversal';

/**
 * The card's statement, newest first, paged by the server's cursor ("load more" appends the next
 * page; changing a filter starts again from the newest).
 */
export function StatementPanel({ cardNo, refreshKey }: { cardNo: string; refreshKey: unknown }) {
  const { api } = useSession();
  const t = useA();
  const { lang } = useLang();
  const [type, setType] = useState<TypeFilter>('all');
  const [declined, setDeclined] = useState(false);
  const [items, setItems] = useState<StatementItem[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(undefined);
  const seq = useRef(0);
  const stations = useStations();

  const load = useCallback(
    async (from: string | null) => {
      const mine = ++seq.current;
      setLoading(true);
      setError(undefined);
      try {
        const page = await api.request<Page<StatementItem>>('GET', `/api/v1/cards/${cardNo}/statement`, {
          query: { limit: PAGE, cursor: from ?? undefined, type: type === 'all' ? undefined : type, includeDeclined: declined || undefined },
        });
        if (mine !== seq.current) return;
        setItems((prev) => (from ? [...prev, ...page.items] : page.items));
        setCursor(page.nextCursor);
      } catch (err) {
        if (mine === seq.current) setError(err);
      } finally {
        if (mine === seq.current) setLoading(false);
      }
    },
    [api, cardNo, type, declined],
  );

  useEffect(() => {
    setItems([]);
    setCursor(null);
    void load(null);
  }, [load, refreshKey]);

  const via = (r: StatementItem) => (r.channel ? (r.type === 'refund' ? t(`refund_${r.channel}`) : label(CHANNEL_NAMES, r.channel, lang)) : '');

  return (
    <div data-testid="card-statement">
      <Space wrap style={{ marginBottom: 12 }}>
        <Select<TypeFilter>
          value={type}
          onChange={setType}
          style={{ width: 160 }}
          aria-label={t('stmtType')}
          options={(['all', 'sale', 'recharge', 'refund', 'reversal'] as TypeFilter[]).map((v) => ({ value: v, label: t(`stmt_${v}`) }))}
          data-testid="statement-type"
        />
        <Checkbox checked={declined} onChange={(e) => setDeclined(e.target.checked)} data-testid="statement-declined">
          {t('includeDeclined')}
        </Checkbox>
      </Space>
      {error !== undefined && (
        <Alert
          type="error"
          showIcon
          title={errorText(error, lang)}
          style={{ marginBottom: 12 }}
          action={
            <Button size="small" onClick={() => void load(items.length ? cursor : null)}>
              {t('retry')}
            </Button>
          }
        />
      )}
      <Table<StatementItem>
        rowKey={(r) => `${r.type}:${r.id}`}
        size="small"
        dataSource={items}
        loading={loading && items.length === 0}
        pagination={false}
        scroll={{ x: 1000 }}
        locale={{ emptyText: loading ? t('loading') : t('noStatement') }}
        columns={[
          { title: t('time'), dataIndex: 'at', render: (v: string) => <span className="fc-num">{dateTime(v)}</span> },
          { title: t('stmtType'), dataIndex: 'type', render: (v: string, r) => <Tag style={{ whiteSpace: 'nowrap' }} color={v === 'recharge' || v === 'reversal' ? 'green' : v === 'refund' ? 'orange' : 'blue'}>{t(`stmt_${v}`)}{r.channel ? ` · ${via(r)}` : ''}</Tag> },
          {
            title: t('amount'),
            dataIndex: 'amount',
            align: 'right',
            render: (v: number, r) =>
              r.status === 'declined' ? (
                '—'
              ) : (
              <span className="fc-num" style={{ color: v > 0 ? '#237804' : undefined }}>
                {v > 0 ? '+' : ''}
                {yuan(v)}
              </span>
              ),
          },
          {
            title: t('status'),
            dataIndex: 'status',
            render: (s: string, r) =>
              s === 'declined' ? (
                <Tooltip title={r.declineCode}>
                  <Tag color="red">{label(DECLINE_NAMES, r.declineCode, lang)}</Tag>
                </Tooltip>
              ) : (
                <Tag color="green">{t(`stmtStatus_${s}`)}</Tag>
              ),
          },
          { title: t('grade'), dataIndex: 'grade', render: (v: string | null) => v ?? '—' },
          { title: t('volume'), dataIndex: 'volumeMl', align: 'right', render: (v: number | null) => litres(v) },
          { title: t('unitPrice'), dataIndex: 'unitPrice', align: 'right', render: (v: number | null) => unitPrice(v) },
          { title: t('balanceAfter'), dataIndex: 'balanceAfter', align: 'right', render: (v: number | null) => <span className="fc-num">{yuan(v)}</span> },
          {
            title: t('reference'),
            key: 'ref',
            render: (_: unknown, r) => (
              <span className="fc-num" style={{ fontSize: 12 }}>
                {r.receiptNo ?? r.approvalCode ?? '—'}
                {r.cardNo.slice(-4) !== cardNo.slice(-4) ? ` · ${t('earlierCard', { last4: r.cardNo.slice(-4) })}` : ''}
              </span>
            ),
          },
          {
            title: t('where'),
            key: 'where',
            render: (_: unknown, r) =>
              r.terminalId ? (
                <span style={{ whiteSpace: 'nowrap' }}>
                  {stations.data?.find((x) => x.id === r.stationId)?.name ?? (r.stationId ? `#${r.stationId}` : '')} · <span className="fc-num">{r.terminalId}</span>
                </span>
              ) : (
                '—'
              ),
          },
        ]}
      />
      <div style={{ textAlign: 'center', marginTop: 12 }}>
        {cursor ? (
          <Button onClick={() => void load(cursor)} loading={loading && items.length > 0} data-testid="statement-more">
            {t('more')}
          </Button>
        ) : (
          items.length > 0 && <span style={{ color: '#999', fontSize: 13 }}>{t('statementEnd', { n: items.length })}</span>
        )}
      </div>
    </div>
  );
}

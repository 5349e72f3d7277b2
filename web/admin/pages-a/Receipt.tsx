import { Link, useLocation, useNavigate, useParams } from 'react-router-dom';
import { Button, Card, Divider, Space, Typography } from 'antd';
import { PlusOutlined, PrinterOutlined } from '@ant-design/icons';
import { useLang } from '../../shared/i18n';
import { LoadState, useLoad } from '../../shared/ui';
import { dateTime } from '../../shared/format';
import { yuan } from '../../shared/money';
import { useSession } from '../session';
import { CHANNEL_NAMES, label } from '../i18n';
import { PageTitle, maskCardNo, useA } from './common';
import type { ReceiptState } from './Recharge';
import type { Page, Station } from './types';
import { LocalResult } from '../ui';

interface ReceiptData {
  receiptNo: string;
  cardNo: string;
  amount: number;
  channel: string;
  reference: string | null;
  balanceAfter: number;
  createdAt: string;
  staff: string | null;
  holderName: string | null;
  /** Opened again from the list or a link rather than right after the recharge. */
  reprint: boolean;
}

interface RechargeRow {
  receiptNo: string;
  cardNo: string;
  amount: number;
  channel: string;
  reference: string | null;
  staffUsername: string | null;
  balanceAfter: number;
  createdAt: string;
}

/**
 * 充值凭证: the printable receipt of a counter recharge. Right after the recharge it shows the
 * answer it was handed; opened again (reload, link) it finds the recharge by its receipt number.
 */
export function Receipt() {
  const { cardNo = '', receiptNo = '' } = useParams();
  const { api, user, can } = useSession();
  const t = useA();
  const navigate = useNavigate();
  const handed = (useLocation().state as ReceiptState | null) ?? null;

  const data = useLoad<ReceiptData | null>(async () => {
    if (handed && handed.recharge.receiptNo === receiptNo) {
      const r = handed.recharge;
      return { receiptNo: r.receiptNo, cardNo: r.cardNo, amount: r.amount, channel: r.channel, reference: r.reference, balanceAfter: r.balance, createdAt: r.createdAt, staff: user?.username ?? null, holderName: handed.holderName, reprint: false };
    }
    // Receipts of recent recharges are in the newest pages of the card's recharge list.
    if (!can('GET', '/api/v1/recharges')) return null;
    let cursor: string | undefined;
    for (let i = 0; i < 5; i++) {
      const page = await api.request<Page<RechargeRow>>('GET', '/api/v1/recharges', { query: { cardNo, limit: 200, cursor } });
      const hit = page.items.find((x) => x.receiptNo === receiptNo);
      if (hit) return { receiptNo: hit.receiptNo, cardNo, amount: hit.amount, channel: hit.channel, reference: hit.reference, balanceAfter: hit.balanceAfter, createdAt: hit.createdAt, staff: hit.staffUsername, holderName: null, reprint: true };
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    return null;
  }, [api, cardNo, receiptNo]);

  const canStation = can('GET', '/api/v1/stations/:id');
  const station = useLoad(
    () => (user?.stationId && canStation ? api.request<Station>('GET', `/api/v1/stations/${user.stationId}`) : Promise.resolve(null)),
    [api, user?.stationId, canStation],
  );

  return (
    <div>
      <div className="fc-no-print">
        <PageTitle
          title={t('receiptTitle')}
          extra={
            <>
              <Button type="primary" icon={<PrinterOutlined />} onClick={() => window.print()} disabled={!data.data} data-testid="receipt-print">
                {t('print')}
              </Button>
              <Button icon={<PlusOutlined />} onClick={() => navigate('/recharge')} data-testid="receipt-new">
                {t('newRecharge')}
              </Button>
              {can('GET', '/api/v1/cards/:cardNo') && <Link to={`/cards/${cardNo}`}>{t('viewCard')}</Link>}
            </>
          }
        />
      </div>
      <LoadState value={data}>
        {(r) =>
          r ? (
            <ReceiptSlip
              r={r}
              // The counter is the signed-in user's: right for their own recharges, unknown for someone else's.
              stationName={r.staff !== null && r.staff !== user?.username ? undefined : station.data ? station.data.name : user?.stationId ? `#${user.stationId}` : null}
            />
          ) : (
            <LocalResult status="404" title={t('receiptNotFound')} subTitle={t('receiptNotFoundText', { receiptNo })} />
          )
        }
      </LoadState>
    </div>
  );
}

function ReceiptSlip({ r, stationName }: { r: ReceiptData; stationName: string | null | undefined }) {
  const t = useA();
  const { lang } = useLang();
  const line = (k: string, v: React.ReactNode, testId?: string) => (
    <div style={{ display: 'flex', justifyContent: 'space-between', gap: 16, padding: '4px 0' }}>
      <span style={{ color: '#666' }}>{t(k)}</span>
      <span className="fc-num" style={{ textAlign: 'right' }} data-testid={testId}>
        {v}
      </span>
    </div>
  );
  return (
    <Card className="fc-receipt" style={{ maxWidth: 420, margin: '0 auto', fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace' }} data-testid="receipt">
      <div style={{ textAlign: 'center' }}>
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t('receiptHeading')}
        </Typography.Title>
        <Typography.Text type="secondary">{t('receiptSubheading')}</Typography.Text>
        {r.reprint && (
          <div>
            <Typography.Text strong data-testid="receipt-reprint">
              {t('receiptReprint')}
            </Typography.Text>
          </div>
        )}
      </div>
      <Divider dashed style={{ margin: '12px 0' }} />
      {line('receiptNo', r.receiptNo, 'receipt-no')}
      {line('time', dateTime(r.createdAt))}
      {line('cardNo', maskCardNo(r.cardNo), 'receipt-card')}
      {r.holderName && line('holder', r.holderName)}
      {line('channel', label(CHANNEL_NAMES, r.channel, lang))}
      {r.reference && line('bankReference', r.reference)}
      <Divider dashed style={{ margin: '12px 0' }} />
      <div style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'baseline' }}>
        <span>{t('rechargeAmount')}</span>
        <strong style={{ fontSize: 22 }} className="fc-num" data-testid="receipt-amount">
          {yuan(r.amount)}
        </strong>
      </div>
      {line('balanceAfter', yuan(r.balanceAfter), 'receipt-balance')}
      <Divider dashed style={{ margin: '12px 0' }} />
      {line('staff', r.staff ?? '—', 'receipt-staff')}
      {stationName !== undefined && line('station', stationName ?? t('headOffice'), 'receipt-station')}
      <Divider dashed style={{ margin: '12px 0' }} />
      <Space orientation="vertical" size={2} style={{ width: '100%', textAlign: 'center', color: '#888', fontSize: 12 }}>
        <span>{t('receiptKeep')}</span>
        <span style={{ marginTop: 16 }}>{t('customerSignature')} ____________________</span>
      </Space>
    </Card>
  );
}

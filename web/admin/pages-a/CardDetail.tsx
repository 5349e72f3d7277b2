import { useEffect, useState } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router-dom';
import { Alert, Button, Card, Col, Descriptions, Row, Statistic, Table, Tabs, Tag, Tooltip } from 'antd';
import { ReloadOutlined, WalletOutlined } from '@ant-design/icons';
import { ApiError } from '../../shared/api';
import { useLang } from '../../shared/i18n';
import { LoadState, useLoad } from '../../shared/ui';
import { dateTime, groupCardNo, luhnValid } from '../../shared/format';
import { yuan } from '../../shared/money';
import { useSession } from '../session';
import { CARD_STATUS_NAMES, label } from '../i18n';
import { CardActions } from './CardActions';
import { CardLimitsPanel } from './CardLimits';
import { StatementPanel } from './Statement';
import { SubCardsPanel } from './SubCards';
import { capable } from './cardRules';
import { CardLink, KindTag, Money, PageTitle, StatusTag, useA } from './common';
import { rememberCard } from './Cards';
import type { Card as CardT, Customer } from './types';
import { LocalResult } from '../ui';

/** 卡片详情: state, balances, accounts, lifecycle actions, limits, sub cards and statement. */
export function CardDetail() {
  const { cardNo = '' } = useParams();
  const { api } = useSession();
  const t = useA();
  const navigate = useNavigate();
  const valid = /^\d{19}$/.test(cardNo) && luhnValid(cardNo);
  const card = useLoad(() => (valid ? api.request<CardT>('GET', `/api/v1/cards/${cardNo}`) : Promise.resolve(null)), [api, cardNo]);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    if (card.data) rememberCard(cardNo);
  }, [card.data, cardNo]);

  if (!valid || (card.error instanceof ApiError && card.error.code === 'CARD_NOT_FOUND')) {
    return (
      <div data-testid="card-not-found">
        <LocalResult status="404" title={t('cardNotFoundTitle')} subTitle={valid ? t('cardNotFoundText', { cardNo: groupCardNo(cardNo) }) : t('cardNoLuhn')} extra={<Button type="primary" onClick={() => navigate('/cards')}>{t('findAnotherCard')}</Button>} />
      </div>
    );
  }

  const changed = () => {
    card.reload();
    setVersion((v) => v + 1);
  };

  return (
    <div data-testid="card-detail">
      <LoadState value={card}>{(c) => (c ? <CardView key={cardNo} card={{ ...c, cardNo }} shownNo={c.cardNo} onChanged={changed} version={version} reloading={card.loading} /> : null)}</LoadState>
    </div>
  );
}

/**
 * `card.cardNo` is the number from the address, used for every call; `shownNo` is the number as
 * the server shows it to this role (masked for some).
 */
function CardView({ card, shownNo, onChanged, version, reloading }: { card: CardT; shownNo: string; onChanged: () => void; version: number; reloading: boolean }) {
  const { api, can } = useSession();
  const t = useA();
  const { lang } = useLang();
  const navigate = useNavigate();
  const location = useLocation();
  // Shown once, right after issuing: not again on a reload or after the next change.
  const [issued] = useState(() => (location.state as { issued?: boolean } | null)?.issued === true);
  useEffect(() => {
    if (issued) navigate(location.pathname, { replace: true, state: null });
  }, []);
  const canHolder = can('GET', '/api/v1/customers/:id');
  const holder = useLoad(
    () => (card.customerId && canHolder ? api.request<Customer>('GET', `/api/v1/customers/${card.customerId}`) : Promise.resolve(null)),
    [api, card.customerId, canHolder],
  );
  const notYetUsable = card.usableFrom !== null && new Date(card.usableFrom).getTime() > Date.now();
  const canRecharge = can('POST', '/api/v1/cards/:cardNo/recharges');
  const rechargeOk = capable('recharge', card.status);

  const tabs = [
    ...(can('GET', '/api/v1/cards/:cardNo/statement') ? [{ key: 'statement', label: t('tabStatement'), children: <StatementPanel cardNo={card.cardNo} refreshKey={version} /> }] : []),
    ...(card.kind === 'master' && can('GET', '/api/v1/cards/:cardNo/sub-cards')
      ? [{ key: 'subs', label: t('tabSubCards'), children: <SubCardsPanel master={card} onChanged={onChanged} /> }]
      : []),
    { key: 'limits', label: t('tabLimits'), children: <CardLimitsPanel card={card} onChanged={onChanged} /> },
  ];

  return (
    <>
      <PageTitle
        title={
          <span>
            {t('cardTitle')} <span className="fc-num" data-testid="card-no">{shownNo.includes('*') ? shownNo : groupCardNo(shownNo)}</span>
          </span>
        }
        sub={
          <span>
            <StatusTag status={card.status} /> <KindTag kind={card.kind} />
            {card.pinLocked && <Tag color="red">{t('pinLocked')}</Tag>}
          </span>
        }
        extra={
          <>
            <Button icon={<ReloadOutlined />} onClick={onChanged} loading={reloading} aria-label={t('refresh')}>
              {t('refresh')}
            </Button>
            {canRecharge && (
              <Tooltip title={rechargeOk ? undefined : t('rechargeNotAllowedInState', { status: label(CARD_STATUS_NAMES, card.status, lang) })}>
                <Button type="primary" icon={<WalletOutlined />} disabled={!rechargeOk} onClick={() => navigate(`/recharge?cardNo=${card.cardNo}`)} data-testid="card-recharge">
                  {t('rechargeThisCard')}
                </Button>
              </Tooltip>
            )}
          </>
        }
      />
      {issued && version === 0 && <Alert type="success" showIcon closable title={t('cardIssuedBanner')} style={{ marginBottom: 16 }} data-testid="card-issued-banner" />}
      {card.replacedByCardNo && (
        <Alert
          type="info"
          showIcon
          style={{ marginBottom: 16 }}
          title={
            <span>
              {t('replacedBy')} <CardLink cardNo={card.replacedByCardNo} />
            </span>
          }
        />
      )}
      {notYetUsable && <Alert type="warning" showIcon style={{ marginBottom: 16 }} title={t('usableFromBanner', { at: dateTime(card.usableFrom) })} />}
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={14}>
          <Card title={t('cardOverview')} style={{ height: '100%' }}>
            <Descriptions
              column={{ xs: 1, sm: 2 }}
              size="small"
              items={[
                {
                  key: 'holder',
                  label: t('holder'),
                  children: card.customerId ? (
                    canHolder ? (
                      <Link to={`/customers/${card.customerId}`} data-testid="card-holder">
                        {holder.data ? t('nameAndPhone', { name: holder.data.name, phone: holder.data.phone }) : `#${card.customerId}`}
                      </Link>
                    ) : (
                      <span data-testid="card-holder">#{card.customerId}</span>
                    )
                  ) : (
                    t('noHolder')
                  ),
                },
                ...(card.masterCardNo
                  ? [{ key: 'master', label: t('masterCardNo'), children: <CardLink cardNo={card.masterCardNo} /> }]
                  : []),
                ...(card.kind === 'sub' ? [{ key: 'shared', label: t('sharedBalance'), children: card.sharedBalance ? t('yes') : t('no') }] : []),
                ...(card.replacesCardNo
                  ? [{ key: 'replaces', label: t('replaces'), children: <CardLink cardNo={card.replacesCardNo} /> }]
                  : []),
                { key: 'created', label: t('issuedAt'), children: dateTime(card.createdAt) },
                { key: 'pin', label: t('pinState'), children: card.pinLocked ? <Tag color="red">{t('pinLocked')}</Tag> : t('pinOk') },
                ...(card.lostAt ? [{ key: 'lost', label: t('lostAt'), children: dateTime(card.lostAt) }] : []),
                ...(card.usableFrom ? [{ key: 'usable', label: t('usableFrom'), children: dateTime(card.usableFrom) }] : []),
                ...(card.closedAt ? [{ key: 'closed', label: t('closedAt'), children: dateTime(card.closedAt) }] : []),
              ]}
            />
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          <Card title={card.kind === 'master' ? t('reserveBalances') : t('balances')} style={{ height: '100%' }}>
            <Row gutter={16}>
              <Col span={12}>
                <Statistic title={t('balance')} value={yuan(card.balance)} data-testid="card-balance" />
              </Col>
              <Col span={12}>
                <Statistic title={t('available')} value={yuan(card.available)} data-testid="card-available" />
              </Col>
            </Row>
            <Table
              size="small"
              rowKey="accountId"
              style={{ marginTop: 12 }}
              pagination={false}
              dataSource={[...card.accounts].sort((a, b) => a.priority - b.priority)}
              locale={{ emptyText: t('noAccounts') }}
              columns={[
                { title: t('priority'), dataIndex: 'priority', width: 60 },
                { title: t('account'), dataIndex: 'accountId', render: (id: number, a) => `#${id} ${t(`accountKind_${a.kind}`)}${a.own ? '' : ` · ${t('linked')}`}` },
                { title: t('balance'), dataIndex: 'balance', align: 'right', render: (v: number) => <Money fen={v} /> },
                { title: t('available'), dataIndex: 'available', align: 'right', render: (v: number) => <Money fen={v} /> },
              ]}
            />
          </Card>
        </Col>
      </Row>
      <CardActions card={card} onChanged={onChanged} />
      <Card style={{ marginTop: 16 }}>
        <Tabs items={tabs} defaultActiveKey={tabs[0]?.key} />
      </Card>
    </>
  );
}

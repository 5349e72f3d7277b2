import { Link, useNavigate, useParams } from 'react-router-dom';
import { Alert, App as AntApp, Button, Empty } from 'antd';
import { BellOutlined, KeyOutlined, ReloadOutlined, RightOutlined, StopOutlined } from '@ant-design/icons';
import { useEffect, useRef, type ReactNode } from 'react';
import { useT } from '../shared/i18n';
import { LoadState, type Loadable } from '../shared/ui';
import { dateTime } from '../shared/format';
import { ALERTABLE, blockedReason, CardFace, PIN_CHANGEABLE, REPORTABLE, useCards, type PortalCard } from './common';
import { T } from './i18n';
import { Page } from './layout';
import { Statement } from './Statement';

/** 我的卡: every card of the signed-in cardholder. */
export function CardsPage() {
  const t = useT(T);
  const navigate = useNavigate();
  const cards = useCards();
  const { message } = AntApp.useApp();
  // Say so when a refresh the person asked for has finished; the first load needs no toast.
  const asked = useRef(false);
  useEffect(() => {
    if (!cards.loading && asked.current) {
      asked.current = false;
      if (cards.error === undefined) message.success(t('refreshed'));
    }
  }, [cards.loading, cards.error, message, t]);
  return (
    <Page title={t('myCards')} tab="cards">
      <div className="pt-sectionhead">
        <span>{cards.data ? t('cardCount', { n: cards.data.length }) : '\u00a0'}</span>
        <Button icon={<ReloadOutlined />} onClick={() => {
            asked.current = true;
            cards.reload();
          }} loading={cards.loading && cards.data !== undefined} data-testid="cards-refresh" shape="round">
          {t('refresh')}
        </Button>
      </div>
      <LoadState value={cards}>
        {(items) =>
          items.length === 0 ? (
            <Empty className="pt-empty" description={t('noCards')} data-testid="cards-empty" />
          ) : (
            <div className="pt-cardlist">
              {items.map((c) => (
                <CardFace
                  key={c.cardNo}
                  card={c}
                  onOpen={() => navigate(`/cards/${c.cardNo}`)}
                  footer={
                    <Link className="pt-cardtile__foot" to={`/cards/${c.cardNo}`} data-testid="card-open">
                      <span>{t('manage')}</span>
                      <RightOutlined />
                    </Link>
                  }
                />
              ))}
            </div>
          )
        }
      </LoadState>
    </Page>
  );
}

/** One card of the cardholder's, or null when it is not theirs (or does not exist: the same to them). */
export function useCard(cardNo: string | undefined): Loadable<PortalCard | null> {
  const cards = useCards();
  return { ...cards, data: cards.data === undefined ? undefined : (cards.data.find((c) => c.cardNo === cardNo) ?? null) };
}

/** Loading / error / not-found around one card. */
export function CardState({ card, children }: { card: Loadable<PortalCard | null>; children: (c: PortalCard) => ReactNode }) {
  const t = useT(T);
  const navigate = useNavigate();
  return (
    <LoadState value={card}>
      {(c) =>
        c === null ? (
          <Empty className="pt-empty" description={t('cardNotFound')} data-testid="card-not-found">
            <Button type="primary" size="large" onClick={() => navigate('/cards', { replace: true })}>
              {t('backToCards')}
            </Button>
          </Empty>
        ) : (
          children(c)
        )
      }
    </LoadState>
  );
}

function Action({ to, enabled, icon, label, testid, danger }: { to: string; enabled: boolean; icon: ReactNode; label: string; testid: string; danger?: boolean }) {
  const t = useT(T);
  const body = (
    <>
      <span className={`pt-action__icon${danger ? ' is-danger' : ''}`} aria-hidden>
        {icon}
      </span>
      <span className="pt-action__label">{label}</span>
    </>
  );
  if (!enabled)
    return (
      <span className="pt-action is-disabled" aria-disabled="true" title={t('notAllowedNow')} data-testid={testid}>
        {body}
      </span>
    );
  return (
    <Link className="pt-action" to={to} data-testid={testid}>
      {body}
    </Link>
  );
}

/**
 * What the cardholder should know about the card's state before using it: why it cannot buy
 * fuel, or how a sub card's balance works. One notice, the most important.
 */
function CardNotice({ card }: { card: PortalCard }) {
  const t = useT(T);
  const reason = blockedReason(card);
  if (reason === 'lost') return <Alert className="pt-alert" type="error" showIcon title={t('lostNotice')} data-testid="lost-notice" />;
  const notice: Record<string, [string, 'warning' | 'info']> = {
    frozen: [t('frozenNotice'), 'warning'],
    closed: [t('closedNotice'), 'info'],
    replaced: [t('replacedNotice'), 'info'],
    pending: [t('pendingNotice'), 'warning'],
    not_yet: [t('notYetNotice', { time: dateTime(card.usableFrom) }), 'warning'],
    master: [t('masterNotice'), 'info'],
  };
  const shown: [string, 'warning' | 'info'] | undefined =
    reason !== null ? notice[reason] : card.kind === 'sub' ? [card.sharedBalance ? t('subSharedNotice') : t('subOwnNotice'), 'info'] : undefined;
  if (!shown) return null;
  return <Alert className="pt-alert" type={shown[1]} showIcon title={shown[0]} data-testid="card-notice" data-reason={reason ?? (card.sharedBalance ? 'sub_shared' : 'sub_own')} />;
}

/** 卡详情: the card, its services and its statement. */
export function CardDetailPage() {
  const t = useT(T);
  const { cardNo = '' } = useParams();
  const card = useCard(cardNo);
  return (
    <Page title={t('cardDetail')} back="/cards">
      <CardState card={card}>
        {(c) => (
          <>
            <CardFace card={c} />
            <CardNotice card={c} />
            <nav className="pt-actions" aria-label={t('cardDetail')}>
              <Action to={`/cards/${c.cardNo}/pin`} enabled={PIN_CHANGEABLE.has(c.status)} icon={<KeyOutlined />} label={t('actionPin')} testid="action-pin" />
              <Action to={`/cards/${c.cardNo}/alert`} enabled={ALERTABLE.has(c.status)} icon={<BellOutlined />} label={t('actionAlert')} testid="action-alert" />
              <Action
                to={`/cards/${c.cardNo}/loss`}
                enabled={REPORTABLE.has(c.status)}
                icon={<StopOutlined />}
                label={t('actionLoss')}
                testid="action-loss"
                danger
              />
            </nav>
            <h2 className="pt-h2">{t('statement')}</h2>
            <div className="pt-panel pt-panel--flush">
              <Statement cardNo={c.cardNo} />
            </div>
          </>
        )}
      </CardState>
    </Page>
  );
}

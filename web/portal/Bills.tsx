import { useSearchParams } from 'react-router-dom';
import { Empty } from 'antd';
import { useT } from '../shared/i18n';
import { LoadState } from '../shared/ui';
import { kindLabel, StatusBadge, useCards, type PortalCard } from './common';
import { T } from './i18n';
import { Page } from './layout';
import { Statement } from './Statement';

/** The card whose statement opens first: the one asked for, else the first usable one. */
function pick(cards: PortalCard[], wanted: string | null): PortalCard | undefined {
  return cards.find((c) => c.cardNo === wanted) ?? cards.find((c) => c.status === 'active') ?? cards[0];
}

/** 账单 tab: pick one of the cards, read its statement. */
export function BillsPage() {
  const t = useT(T);
  const cards = useCards();
  const [params, setParams] = useSearchParams();
  return (
    <Page title={t('tabBills')} tab="bills">
      <LoadState value={cards}>
        {(items) => {
          if (items.length === 0) return <Empty className="pt-empty" description={t('noCards')} data-testid="cards-empty" />;
          const current = pick(items, params.get('card'))!;
          return (
            <>
              {items.length > 1 && (
                <div className="pt-cardpick" role="group" aria-label={t('chooseCard')}>
                  {items.map((c) => {
                    const on = c.cardNo === current.cardNo;
                    return (
                      <button
                        key={c.cardNo}
                        type="button"
                        className={`pt-cardpick__item${on ? ' is-on' : ''}`}
                        aria-pressed={on}
                        data-testid="bills-card"
                        data-card-no={c.cardNo}
                        onClick={() => {
                          // Filters stay; only the card changes.
                          const next = new URLSearchParams(params);
                          next.set('card', c.cardNo);
                          setParams(next, { replace: true });
                        }}
                      >
                        <span className="pt-cardpick__kind">{kindLabel(t, c.kind)}</span>
                        <span className="pt-cardpick__no">•••• {c.cardNo.slice(-4)}</span>
                        {c.status !== 'active' && <StatusBadge status={c.status} testid="bills-card-status" />}
                      </button>
                    );
                  })}
                </div>
              )}
              <div className="pt-panel pt-panel--flush">
                <Statement key={current.cardNo} cardNo={current.cardNo} />
              </div>
            </>
          );
        }}
      </LoadState>
    </Page>
  );
}

import { useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { App as AntApp, Button, Segmented } from 'antd';
import { CreditCardOutlined, FileTextOutlined, GlobalOutlined, RightOutlined, UserOutlined } from '@ant-design/icons';
import { useLang, useT, type Lang } from '../shared/i18n';
import { LoadState, useLoad } from '../shared/ui';
import { useCards } from './common';
import { T } from './i18n';
import { Page } from './layout';
import { useSession, type Customer } from './session';

/** 我的: who is signed in (masked, as the server sends it), the language, sign out. */
export function MePage() {
  const t = useT(T);
  const { lang, setLang } = useLang();
  const { api, signOut } = useSession();
  const { message } = AntApp.useApp();
  const navigate = useNavigate();
  const me = useLoad(() => api.request<Customer>('GET', '/api/v1/portal/me'), [api]);
  const cards = useCards();
  const [leaving, setLeaving] = useState(false);

  return (
    <Page title={t('meTitle')} tab="me" bare>
      <div className="pt-mehead">
        <div className="pt-mehead__avatar" aria-hidden>
          <UserOutlined />
        </div>
        <div className="pt-mehead__who">
          <LoadState value={me}>
            {(c) => (
              <>
                <div className="pt-mehead__name" data-testid="me-name">
                  {c.name}
                </div>
                <div className="pt-mehead__phone" data-testid="me-phone">
                  {c.phone}
                </div>
              </>
            )}
          </LoadState>
        </div>
      </div>
      <div className="pt-pad">
        <div className="pt-cells">
          <Link className="pt-cell pt-cell--link" to="/cards" replace data-testid="me-cards">
            <span className="pt-cell__icon" aria-hidden>
              <CreditCardOutlined />
            </span>
            <span className="pt-cell__label">{t('myCards')}</span>
            <span className="pt-cell__value">{cards.data ? t('cardCount', { n: cards.data.length }) : ''}</span>
            <RightOutlined className="pt-cell__arrow" />
          </Link>
          <Link className="pt-cell pt-cell--link" to="/bills" replace data-testid="me-bills">
            <span className="pt-cell__icon" aria-hidden>
              <FileTextOutlined />
            </span>
            <span className="pt-cell__label">{t('statement')}</span>
            <RightOutlined className="pt-cell__arrow" />
          </Link>
          <div className="pt-cell">
            <span className="pt-cell__icon" aria-hidden>
              <GlobalOutlined />
            </span>
            <span className="pt-cell__label" id="lang-label">
              {t('language')}
            </span>
            <Segmented<Lang>
              aria-labelledby="lang-label"
              value={lang}
              onChange={(v) => setLang(v)}
              options={[
                { value: 'zh-CN', label: <span data-testid="lang-zh">{t('langZh')}</span> },
                { value: 'en', label: <span data-testid="lang-en">{t('langEn')}</span> },
              ]}
            />
          </div>
        </div>
        <Button
          block
          size="large"
          danger
          className="pt-btn-main pt-signout"
          loading={leaving}
          data-testid="logout"
          onClick={async () => {
            setLeaving(true);
            await signOut();
            message.success(t('signedOut'));
            navigate('/login', { replace: true });
          }}
        >
          {t('signOut')}
        </Button>
        <p className="pt-footnote">{t('version')}</p>
      </div>
    </Page>
  );
}

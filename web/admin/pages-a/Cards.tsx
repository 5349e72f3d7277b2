import { useNavigate } from 'react-router-dom';
import { Button, Card, Empty, Form, Input, List } from 'antd';
import { PlusOutlined, SearchOutlined } from '@ant-design/icons';
import { digitsOnly } from '../../shared/format';
import { useSession } from '../session';
import { PageTitle, cardNoRules, useA } from './common';
import { CardNo } from '../ui';

const RECENT_KEY = 'fuelcard.admin.recentCards';
const RECENT_MAX = 8;

/** Card numbers opened in this browser tab, newest first: the counter often comes back to one. */
export function recentCards(): string[] {
  try {
    const v = JSON.parse(sessionStorage.getItem(RECENT_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string' && /^\d{19}$/.test(x)) : [];
  } catch {
    return [];
  }
}

export function rememberCard(cardNo: string): void {
  try {
    const next = [cardNo, ...recentCards().filter((c) => c !== cardNo)].slice(0, RECENT_MAX);
    sessionStorage.setItem(RECENT_KEY, JSON.stringify(next));
  } catch {
    // Not remembered.
  }
}

/** 卡片: find a card by its number (there is no list of all cards), or issue one. */
export function Cards() {
  const { can } = useSession();
  const t = useA();
  const navigate = useNavigate();
  const recent = recentCards();

  return (
    <div data-testid="cards">
      <PageTitle
        title={t('cardsTitle')}
        extra={
          can('POST', '/api/v1/cards') && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/cards/new')} data-testid="card-issue">
              {t('cardIssue')}
            </Button>
          )
        }
      />
      <Card style={{ marginBottom: 16 }}>
        <Form layout="inline" onFinish={(v: { cardNo: string }) => navigate(`/cards/${digitsOnly(v.cardNo)}`)} style={{ rowGap: 8 }}>
          <Form.Item name="cardNo" label={t('cardNo')} rules={cardNoRules(t)} style={{ minWidth: 360 }}>
            <Input inputMode="numeric" autoComplete="off" maxLength={30} placeholder={t('cardNoPlaceholder')} autoFocus data-testid="card-find-input" />
          </Form.Item>
          <Form.Item>
            <Button type="primary" htmlType="submit" icon={<SearchOutlined />} data-testid="card-find-submit">
              {t('search')}
            </Button>
          </Form.Item>
        </Form>
        <div style={{ marginTop: 8, color: '#888', fontSize: 13 }}>{t('cardFindHint')}</div>
      </Card>
      <Card title={t('recentCards')}>
        {recent.length === 0 ? (
          <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('recentCardsEmpty')} />
        ) : (
          <List
            dataSource={recent}
            renderItem={(no) => (
              <List.Item>
                <CardNo cardNo={no} />
              </List.Item>
            )}
          />
        )}
      </Card>
    </div>
  );
}

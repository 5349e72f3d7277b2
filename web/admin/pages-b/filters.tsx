import { useState, type ReactNode } from 'react';
import { Button, Card, Col, DatePicker, Form, Row, Space, message } from 'antd';
import type { FormInstance, FormRule } from 'antd';
import { DownloadOutlined, SearchOutlined } from '@ant-design/icons';
import { errorText } from '../../shared/api';
import { digitsOnly, luhnValid } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { useSession } from '../session';
import { dict } from './i18n';

/** Rules shared by the list filters. */
export function useFilterRules() {
  const t = useT(dict);
  const cardNo: FormRule = {
    validator: (_r, v: string | undefined) => {
      const d = digitsOnly(v ?? '');
      if (!v || !v.trim()) return Promise.resolve();
      return d.length === 19 && luhnValid(d) ? Promise.resolve() : Promise.reject(new Error(t('cardNoInvalid')));
    },
  };
  const terminalId: FormRule = {
    validator: (_r, v: string | undefined) => (!v || /^T\d{8}$/i.test(v.trim()) ? Promise.resolve() : Promise.reject(new Error(t('terminalInvalid')))),
  };
  const dateOrder = (form: FormInstance): FormRule => ({
    validator: (_r, to) => {
      const from = form.getFieldValue('from');
      return !from || !to || !to.isBefore(from, 'day') ? Promise.resolve() : Promise.reject(new Error(t('dateOrder')));
    },
  });
  return { cardNo, terminalId, dateOrder };
}

/** From / to day pickers (days in Shanghai), with data-testid `${prefix}-filter-from` / `-to`. */
export function DateRangeItems({ form, prefix }: { form: FormInstance; prefix: string }) {
  const t = useT(dict);
  const rules = useFilterRules();
  return (
    <>
      <Col xs={24} sm={12} md={8} lg={6}>
        <Form.Item name="from" label={t('dateFrom')}>
          <DatePicker style={{ width: '100%' }} data-testid={`${prefix}-filter-from`} placeholder={t('dateFrom')} />
        </Form.Item>
      </Col>
      <Col xs={24} sm={12} md={8} lg={6}>
        <Form.Item name="to" label={t('dateTo')} dependencies={['from']} rules={[rules.dateOrder(form)]}>
          <DatePicker style={{ width: '100%' }} data-testid={`${prefix}-filter-to`} placeholder={t('dateTo')} />
        </Form.Item>
      </Col>
    </>
  );
}

/**
 * The filter card of a list: fields in a responsive grid, then Search (submits; Enter in any
 * field does too), Reset and Export (when the export route is allowed).
 */
export function FilterCard({
  form,
  prefix,
  children,
  onSearch,
  onReset,
  exportUrl,
  exportQuery,
  exportName,
}: {
  form: FormInstance;
  prefix: string;
  children: ReactNode;
  onSearch: (values: any) => void;
  onReset: () => void;
  exportUrl: string;
  exportQuery: () => Record<string, string | number | undefined>;
  exportName: string;
}) {
  const t = useT(dict);
  const { lang } = useLang();
  const { api, can } = useSession();
  const [exporting, setExporting] = useState(false);
  const [msg, holder] = message.useMessage();

  const doExport = async () => {
    setExporting(true);
    try {
      await api.download(exportUrl, exportQuery(), exportName);
      msg.success(t('exportDone'));
    } catch (err) {
      msg.error(t('exportFailed', { msg: errorText(err, lang) }));
    } finally {
      setExporting(false);
    }
  };

  return (
    <Card size="small" style={{ marginBottom: 16 }} title={t('filters')}>
      {holder}
      <Form form={form} layout="vertical" onFinish={onSearch} data-testid={`${prefix}-filters`} aria-label={t('filters')}>
        <Row gutter={16}>{children}</Row>
        <Space wrap>
          <Button type="primary" htmlType="submit" icon={<SearchOutlined />} data-testid={`${prefix}-search`}>
            {t('search')}
          </Button>
          <Button
            onClick={() => {
              form.resetFields();
              onReset();
            }}
            data-testid={`${prefix}-reset`}
          >
            {t('reset')}
          </Button>
          {can('GET', exportUrl) && (
            <Button icon={<DownloadOutlined />} onClick={doExport} loading={exporting} data-testid={`${prefix}-export`}>
              {exporting ? t('exporting') : t('export')}
            </Button>
          )}
        </Space>
      </Form>
    </Card>
  );
}

import { useState, type HTMLAttributes } from 'react';
import { App, Button, Form, Input, Select, Switch, Table, Tabs, Tag } from 'antd';
import { PlusOutlined, SearchOutlined } from '@ant-design/icons';
import { useLang, useT } from '../../shared/i18n';
import { parseYuan, yuan } from '../../shared/money';
import { useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { EmptyText, ListError, PageHeader, SubmitError, markFieldError, mono, useCursorList, useIdempotencyKey, type Page } from '../pages-b/common';
import { useTab, CursorTable, FilterBar, FormModal, useSending } from './common';
import { fc } from './i18n';

interface Category {
  id: number;
  code: string;
  nameZh: string;
  nameEn: string;
  goods?: number;
}
interface Goods {
  sku: string;
  categoryId: number;
  nameZh: string;
  nameEn: string;
  unitPrice: number;
  active: boolean;
}

function useCategories() {
  const { api } = useSession();
  return useLoad(() => api.request<{ items: Category[] }>('GET', '/api/v1/goods-categories').then((r) => r.items), [api]);
}

/** The store's goods (便利店商品) in categories: what a card may pay for besides fuel. */
export function GoodsPage() {
  const t = useT(fc);
  const { can } = useSession();
  const [tab, setTab] = useTab(['goods', 'categories'], 'goods');
  return (
    <div>
      <PageHeader title={t('goodsTitle')} />
      <Tabs
        destroyOnHidden
        activeKey={tab}
        onChange={setTab}
        items={[
          { key: 'goods', label: <span data-testid="goods-tab-goods">{t('goods')}</span>, children: <GoodsList /> },
          ...(can('GET', '/api/v1/goods-categories') ? [{ key: 'categories', label: <span data-testid="goods-tab-categories">{t('categories')}</span>, children: <Categories /> }] : []),
        ]}
      />
    </div>
  );
}

function GoodsList() {
  const t = useT(fc);
  const { lang } = useLang();
  const { api, can } = useSession();
  const categories = useCategories();
  const [filters, setFilters] = useState<{ categoryId?: number; q?: string; active?: string }>({});
  const key = JSON.stringify(filters);
  const list = useCursorList<Goods>((cursor) => api.request<Page<Goods>>('GET', '/api/v1/goods', { query: { ...filters, limit: 50, cursor } }), key);
  const [form] = Form.useForm();
  const [editing, setEditing] = useState<Goods | 'new' | null>(null);
  const catName = (id: number) => {
    const c = categories.data?.find((x) => x.id === id);
    return c ? (lang === 'en' ? c.nameEn : c.nameZh) : `#${id}`;
  };
  const catOptions = (categories.data ?? []).map((c) => ({ value: c.id, label: lang === 'en' ? c.nameEn : c.nameZh }));

  return (
    <>
      <FilterBar style={{ justifyContent: 'space-between', width: '100%' }}>
        <Form form={form} layout="inline" onFinish={(v) => setFilters({ categoryId: v.categoryId, q: v.q?.trim() || undefined, active: v.active })} style={{ rowGap: 8 }}>
          <Form.Item name="categoryId">
            <Select allowClear placeholder={t('anyCategory')} style={{ width: 160 }} options={catOptions} data-testid="goods-filter-category" />
          </Form.Item>
          <Form.Item name="q">
            <Input allowClear placeholder={t('goodsQ')} maxLength={60} style={{ width: 180 }} data-testid="goods-filter-q" />
          </Form.Item>
          <Form.Item name="active">
            <Select
              allowClear
              placeholder={t('anyStatus')}
              style={{ width: 120 }}
              options={[
                { value: 'true', label: t('onSale') },
                { value: 'false', label: t('offSale') },
              ]}
            />
          </Form.Item>
          <Button htmlType="submit" icon={<SearchOutlined />} data-testid="goods-search">
            {t('filter')}
          </Button>
        </Form>
        {can('POST', '/api/v1/goods') && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing('new')} data-testid="goods-new">
            {t('newGoods')}
          </Button>
        )}
      </FilterBar>
      <CursorTable<Goods>
        list={list}
        testId="goods"
        rowKey="sku"
        row={(g) => ({ 'data-testid': 'goods-row', 'data-sku': g.sku, 'data-active': String(g.active) })}
        columns={[
          { title: t('sku'), dataIndex: 'sku', render: (v: string) => <span style={mono}>{v}</span> },
          { title: t('name'), key: 'name', render: (_: unknown, g) => (lang === 'en' ? g.nameEn : g.nameZh) },
          { title: t('category'), dataIndex: 'categoryId', render: (v: number) => catName(v) },
          { title: t('price'), dataIndex: 'unitPrice', align: 'right', render: (v: number) => <span className="fc-num" data-testid="goods-price">{yuan(v)}</span> },
          { title: t('status'), dataIndex: 'active', render: (v: boolean) => (v ? <Tag color="green">{t('onSale')}</Tag> : <Tag>{t('offSale')}</Tag>) },
          ...(can('PATCH', '/api/v1/goods/:sku')
            ? [
                {
                  title: t('actions'),
                  key: 'actions',
                  render: (_: unknown, g: Goods) => (
                    <Button size="small" onClick={() => setEditing(g)} data-testid="goods-edit">
                      {t('edit')}
                    </Button>
                  ),
                },
              ]
            : []),
        ]}
      />
      {editing && (
        <GoodsModal
          goods={editing === 'new' ? null : editing}
          categories={catOptions}
          onClose={(saved) => {
            setEditing(null);
            if (saved) list.reload();
          }}
        />
      )}
    </>
  );
}

function GoodsModal({ goods, categories, onClose }: { goods: Goods | null; categories: { value: number; label: string }[]; onClose: (saved: boolean) => void }) {
  const t = useT(fc);
  const { lang } = useLang();
  const { api } = useSession();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const idem = useIdempotencyKey();
  const { busy, error, run } = useSending();

  const submit = (v: { sku?: string; categoryId: number; nameZh: string; nameEn: string; price: string; active?: boolean }) => {
    const common = { categoryId: v.categoryId, nameZh: v.nameZh.trim(), nameEn: v.nameEn.trim(), unitPrice: parseYuan(v.price)! };
    return run(
      async () => {
        if (goods) await api.request('PATCH', `/api/v1/goods/${encodeURIComponent(goods.sku)}`, { body: { ...common, active: v.active } });
        else await api.request('POST', '/api/v1/goods', { body: { sku: v.sku!.trim(), ...common }, idempotencyKey: idem.get() });
        idem.renew();
        message.success(t('goodsSaved', { sku: goods?.sku ?? v.sku! }));
        onClose(true);
      },
      (err) => markFieldError(form, err, lang, ['sku', 'categoryId', 'nameZh', 'nameEn']),
    );
  };

  return (
    <FormModal title={goods ? t('editGoods', { sku: goods.sku }) : t('newGoods')} onCancel={() => onClose(false)} onOk={() => form.submit()} busy={busy} submitTestId="goods-form-submit">
      <Form
        form={form}
        layout="vertical"
        initialValues={goods ? { ...goods, price: yuan(goods.unitPrice, { symbol: false }).replace(/,/g, '') } : {}}
        onFinish={submit}
        onValuesChange={() => idem.renew()}
        data-testid="goods-form"
        autoComplete="off"
      >
        <SubmitError error={error} />
        {!goods && (
          <Form.Item name="sku" label={t('sku')} rules={[{ required: true, message: t('required') }, { pattern: /^[A-Za-z0-9_-]{1,32}$/, message: t('skuInvalid') }]}>
            <Input maxLength={32} autoFocus data-testid="goods-form-sku" />
          </Form.Item>
        )}
        <Form.Item name="categoryId" label={t('category')} rules={[{ required: true, message: t('required') }]}>
          <Select options={categories} data-testid="goods-form-category" />
        </Form.Item>
        <Form.Item name="nameZh" label={t('nameZh')} rules={[{ required: true, whitespace: true, message: t('required') }, { max: 60 }]}>
          <Input maxLength={60} data-testid="goods-form-name-zh" />
        </Form.Item>
        <Form.Item name="nameEn" label={t('nameEn')} rules={[{ required: true, whitespace: true, message: t('required') }, { max: 80 }]}>
          <Input maxLength={80} data-testid="goods-form-name-en" />
        </Form.Item>
        <Form.Item
          name="price"
          label={t('priceYuan')}
          rules={[{ required: true, message: t('required') }, { validator: (_r, v: string | undefined) => (!v || ((x) => x !== null && x >= 1 && x <= 10_000_000)(parseYuan(v)) ? Promise.resolve() : Promise.reject(new Error(t('yuanInvalid')))) }]}
        >
          <Input prefix="¥" inputMode="decimal" placeholder="3.50" data-testid="goods-form-price" />
        </Form.Item>
        {goods && (
          <Form.Item name="active" label={t('status')} valuePropName="checked">
            <Switch checkedChildren={t('onSale')} unCheckedChildren={t('offSale')} data-testid="goods-form-active" />
          </Form.Item>
        )}
        <button type="submit" hidden aria-hidden tabIndex={-1} />
      </Form>
    </FormModal>
  );
}

function Categories() {
  const t = useT(fc);
  const { lang } = useLang();
  const { api, can } = useSession();
  const { message } = App.useApp();
  const list = useCategories();
  const [form] = Form.useForm();
  const idem = useIdempotencyKey();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const create = async (v: { code: string; nameZh: string; nameEn: string }) => {
    setBusy(true);
    setError(undefined);
    try {
      await api.request('POST', '/api/v1/goods-categories', { body: { code: v.code.trim(), nameZh: v.nameZh.trim(), nameEn: v.nameEn.trim() }, idempotencyKey: idem.get() });
      idem.renew();
      form.resetFields();
      message.success(t('categorySaved'));
      list.reload();
    } catch (err) {
      setError(err);
      markFieldError(form, err, lang, ['code', 'nameZh', 'nameEn']);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      {can('POST', '/api/v1/goods-categories') && (
        <>
          <SubmitError error={error} />
          <Form form={form} layout="inline" onFinish={create} onValuesChange={() => idem.renew()} style={{ marginBottom: 12, rowGap: 8 }} data-testid="category-form" autoComplete="off">
            <Form.Item name="code" rules={[{ required: true, message: t('required') }, { pattern: /^[A-Za-z0-9_-]{1,20}$/, message: t('catCodeInvalid') }]}>
              <Input placeholder={t('code')} maxLength={20} style={{ width: 120 }} data-testid="category-form-code" />
            </Form.Item>
            <Form.Item name="nameZh" rules={[{ required: true, whitespace: true, message: t('required') }]}>
              <Input placeholder={t('nameZh')} maxLength={40} style={{ width: 160 }} data-testid="category-form-name-zh" />
            </Form.Item>
            <Form.Item name="nameEn" rules={[{ required: true, whitespace: true, message: t('required') }]}>
              <Input placeholder={t('nameEn')} maxLength={60} style={{ width: 180 }} data-testid="category-form-name-en" />
            </Form.Item>
            <Button type="primary" htmlType="submit" icon={<PlusOutlined />} loading={busy} data-testid="category-form-submit">
              {t('newCategory')}
            </Button>
          </Form>
        </>
      )}
      <ListError error={list.error} onRetry={list.reload} />
      <Table<Category>
        rowKey="id"
        size="small"
        pagination={false}
        loading={list.loading}
        dataSource={list.data ?? []}
        locale={{ emptyText: list.loading ? ' ' : <EmptyText /> }}
        onRow={(c) => ({ 'data-testid': 'category-row', 'data-code': c.code }) as HTMLAttributes<HTMLElement>}
        columns={[
          { title: t('code'), dataIndex: 'code', render: (v: string) => <span style={mono}>{v}</span> },
          { title: t('nameZh'), dataIndex: 'nameZh' },
          { title: t('nameEn'), dataIndex: 'nameEn' },
          { title: t('goods'), dataIndex: 'goods', align: 'right', render: (v: number | undefined) => v ?? '—' },
        ]}
      />
    </>
  );
}

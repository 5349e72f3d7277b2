import { useEffect, useState } from 'react';
import { Alert, App, Button, Descriptions, Form, Input, Modal, Radio, Select, Space, Typography } from 'antd';
import { KeyOutlined } from '@ant-design/icons';
import { useT, type Dict } from '../shared/i18n';
import { useSession } from './session';
import { SubmitError, mono } from './pages-b/common';
import { StationSelect } from './pages-forecourt/common';

/**
 * 密钥灌装 (docs/pos-operations.md "Key ceremony"): an admin keys a platform terminal for ISO 8583.
 * The answer holds clear key components: it is shown once, in a modal that only an explicit
 * acknowledgement closes, and it is dropped from memory when closed. Nothing of it is cached.
 */

const kc: Dict = {
  open: { zh: '密钥灌装', en: 'Key ceremony' },
  title: { zh: '密钥灌装 · ISO 8583 终端', en: 'Key ceremony · ISO 8583 terminal' },
  station: { zh: '油站', en: 'Station' },
  terminal: { zh: '平台终端', en: 'Platform terminal' },
  chooseTerminal: { zh: '选择终端', en: 'Choose a terminal' },
  required: { zh: '必填', en: 'Required' },
  keyManagement: { zh: '密钥管理', en: 'Key management' },
  km_session: { zh: '主密钥 + 工作密钥（签到时下发）', en: 'Master key + session keys (at sign-on)' },
  km_dukpt: { zh: 'DUKPT（每笔交易一个密钥）', en: 'DUKPT (a key per transaction)' },
  algorithm: { zh: '密钥算法', en: 'Key algorithm' },
  macAlgorithm: { zh: 'MAC 算法', en: 'MAC algorithm' },
  pinFormat: { zh: 'PIN 块格式', en: 'PIN block format' },
  pinFormatValue: { zh: 'ISO 9564 格式 {n}（由密钥算法决定）', en: 'ISO 9564 format {n} (follows the key algorithm)' },
  framing: { zh: '报文长度头', en: 'Framing' },
  framing_auto: { zh: '自动识别', en: 'Detect automatically' },
  framing_binary2: { zh: '2 字节二进制', en: '2-byte binary' },
  framing_ascii4: { zh: '4 位 ASCII', en: '4-digit ASCII' },
  de41: { zh: '终端标识 DE 41（可选）', en: 'Terminal ID DE 41 (optional)' },
  de41Hint: { zh: '8 个字符；留空则为终端号去掉 T', en: '8 characters; empty: the terminal id without the T' },
  de41Invalid: { zh: '须为 8 个可打印字符', en: 'Must be 8 printable characters' },
  next: { zh: '下一步', en: 'Next' },
  back: { zh: '返回修改', en: 'Back' },
  cancel: { zh: '取消', en: 'Cancel' },
  confirmTitle: { zh: '确认灌装 {id}', en: 'Confirm the ceremony for {id}' },
  confirmWarning: {
    zh: '将替换该终端的全部密钥（主密钥、MAC 密钥、PIN 密钥或 DUKPT 初始密钥），终端随即签退，须用新密钥重新签到后才能交易。',
    en: 'This replaces every key of the terminal (master, MAC and PIN keys, or the DUKPT initial key) and signs it off: it must sign on with the new keys before it can trade.',
  },
  confirm: { zh: '确认灌装', en: 'Run the ceremony' },
  resultTitle: { zh: '密钥已生成 · {iso}（{id}）', en: 'Keys generated · {iso} ({id})' },
  onceWarning: {
    zh: '以下明文密钥分量仅显示这一次：关闭此窗口后无法再次查看，只能重新灌装。请由两名人员分别记录两个分量。',
    en: 'The clear key components below are shown this once: after this window closes they cannot be shown again, only replaced by a new ceremony. Have two people record one component each.',
  },
  rotated: { zh: '该终端此前的密钥已全部作废。', en: 'The terminal’s previous keys are gone.' },
  component: { zh: '分量 {n}', en: 'Component {n}' },
  kcv: { zh: '校验值 KCV', en: 'KCV' },
  tmkKcv: { zh: '终端主密钥 KCV', en: 'TMK KCV' },
  tak: { zh: '初始 MAC 密钥（主密钥加密）', en: 'Initial MAC key (under the TMK)' },
  takKcv: { zh: '初始 MAC 密钥 KCV', en: 'Initial MAC key KCV' },
  bdk: { zh: 'BDK 标识 / KCV', en: 'BDK ID / KCV' },
  ksn: { zh: '初始 KSN', en: 'Initial KSN' },
  ikKcv: { zh: '初始密钥 KCV', en: 'Initial key KCV' },
  sim: { zh: '模拟终端命令', en: 'Simulator command' },
  simHint: { zh: '主密钥经环境变量传入，不出现在进程列表中：', en: 'The TMK goes in through the environment, out of the process list:' },
  simDukpt: { zh: '模拟终端暂不支持 DUKPT 终端。', en: 'The simulator does not speak DUKPT terminals.' },
  close: { zh: '我已记录，关闭', en: 'Recorded — close' },
  closeConfirm: { zh: '关闭后密钥分量将无法再次查看。确定关闭？', en: 'The key components cannot be shown again once this closes. Close?' },
};

type KeyAlg = 'tdes' | 'aes' | 'sm4';
const MACS: Record<KeyAlg, string[]> = {
  tdes: ['retail-tdes-pad2', 'retail-tdes-pad1'],
  aes: ['aes-cmac'],
  sm4: ['sm4-cmac', 'sm4-cbcmac-pad2'],
};

interface TerminalRow {
  terminalId: string;
  status: string;
}

interface KeyPart {
  hex: string;
  kcv: string;
}

export interface CeremonyAnswer {
  terminalId: string;
  isoTerminalId: string;
  algorithm: string;
  macAlgorithm: string;
  pinFormat: number;
  framing: string;
  rotated: boolean;
  keyManagement: string;
  tmk?: { components: KeyPart[]; kcv: string };
  initialMacKey?: { version: number; encryptedUnderTmk: string; wrapMethod: string; kcv: string };
  dukpt?: { scheme: string; bdkId: string; bdkKcv: string; initialKsn: string; initialKey: { components: KeyPart[]; kcv: string } };
}

interface FormValues {
  stationId?: number;
  terminalId?: string;
  keyManagement: 'session' | 'dukpt';
  algorithm: KeyAlg;
  macAlgorithm: string;
  framing: 'auto' | 'binary2' | 'ascii4';
  isoTerminalId?: string;
}

const INITIAL: FormValues = { keyManagement: 'session', algorithm: 'tdes', macAlgorithm: 'retail-tdes-pad2', framing: 'auto' };
const DEFAULT_MAC: Record<KeyAlg, string> = { tdes: 'retail-tdes-pad2', aes: 'aes-cmac', sm4: 'sm4-cmac' };

/** The `fuelcard pos-sim --iso8583` line for this answer (docs/pos-sim.md); the TMK comes from FUELCARD_SIM_TMK. */
export function simCommand(a: CeremonyAnswer, host: string, port: number | null): string {
  const parts = ['fuelcard pos-sim --iso8583', `--host ${host}`];
  if (port !== null && port !== 8583) parts.push(`--port ${port}`);
  parts.push(`--terminal ${a.isoTerminalId}`, '--tmk-env FUELCARD_SIM_TMK', `--tak ${a.initialMacKey!.encryptedUnderTmk}:${a.initialMacKey!.kcv}`);
  if (a.algorithm !== 'tdes') parts.push(`--algorithm ${a.algorithm}`);
  if (a.macAlgorithm !== DEFAULT_MAC[a.algorithm as KeyAlg]) parts.push(`--mac-algorithm ${a.macAlgorithm}`);
  if (a.framing === 'ascii4') parts.push('--framing ascii4');
  parts.push('signon');
  return parts.join(' ');
}

/** The action on the Terminal host page: shown only to those the server lets run the ceremony. */
export function KeyCeremonyAction({ port, onDone }: { port: number | null; onDone: () => void }) {
  const t = useT(kc);
  const { can } = useSession();
  const [open, setOpen] = useState(false);
  const [answer, setAnswer] = useState<CeremonyAnswer | null>(null);
  if (!can('POST', '/api/v1/terminals/:terminalId/iso-keys')) return null;
  return (
    <>
      <Button type="primary" icon={<KeyOutlined />} onClick={() => setOpen(true)} data-testid="th-ceremony-open">
        {t('open')}
      </Button>
      {open && (
        <CeremonyForm
          onCancel={() => setOpen(false)}
          onDone={(a) => {
            setOpen(false);
            setAnswer(a);
            onDone();
          }}
        />
      )}
      {answer && <CeremonyResult answer={answer} port={port} onClose={() => setAnswer(null)} />}
    </>
  );
}

function CeremonyForm({ onCancel, onDone }: { onCancel: () => void; onDone: (a: CeremonyAnswer) => void }) {
  const t = useT(kc);
  const { api } = useSession();
  const [form] = Form.useForm<FormValues>();
  const [step, setStep] = useState<'form' | 'confirm'>('form');
  const [values, setValues] = useState<FormValues>(INITIAL);
  const [terminals, setTerminals] = useState<TerminalRow[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const stationId = Form.useWatch('stationId', form);
  const km = Form.useWatch('keyManagement', form) ?? 'session';
  const algorithm: KeyAlg = Form.useWatch('algorithm', form) ?? 'tdes';

  useEffect(() => {
    setTerminals(null);
    form.setFieldValue('terminalId', undefined);
    if (stationId === undefined) return undefined;
    let live = true;
    api
      .request<{ items: TerminalRow[] }>('GET', `/api/v1/stations/${stationId}/terminals`)
      .then((r) => live && setTerminals(r.items))
      .catch((err: unknown) => live && setError(err));
    return () => {
      live = false;
    };
  }, [api, form, stationId]);

  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const v = values;
      const body: Record<string, unknown> = {
        algorithm: v.algorithm,
        macAlgorithm: v.macAlgorithm,
        pinFormat: v.algorithm === 'tdes' ? 0 : 4,
        framing: v.framing,
        keyManagement: v.keyManagement,
      };
      if (v.isoTerminalId) body.isoTerminalId = v.isoTerminalId;
      onDone(await api.request<CeremonyAnswer>('POST', `/api/v1/terminals/${encodeURIComponent(v.terminalId!)}/iso-keys`, { body }));
    } catch (err) {
      setError(err);
      setStep('form');
    } finally {
      setBusy(false);
    }
  };

  const footer =
    step === 'form'
      ? [
          <Button key="c" onClick={onCancel}>
            {t('cancel')}
          </Button>,
          <Button key="n" type="primary" onClick={() => form.submit()} data-testid="th-ceremony-next">
            {t('next')}
          </Button>,
        ]
      : [
          <Button key="b" onClick={() => setStep('form')} disabled={busy}>
            {t('back')}
          </Button>,
          <Button key="ok" type="primary" danger loading={busy} onClick={() => void submit()} data-testid="th-ceremony-confirm">
            {t('confirm')}
          </Button>,
        ];

  return (
    <Modal open title={step === 'form' ? t('title') : t('confirmTitle', { id: values.terminalId ?? '' })} onCancel={busy ? undefined : onCancel} footer={footer} destroyOnHidden maskClosable={false}>
      <SubmitError error={error} />
      {step === 'confirm' && <Alert type="warning" showIcon title={t('confirmWarning')} data-testid="th-ceremony-warning" />}
      <Form<FormValues>
        form={form}
        layout="vertical"
        initialValues={values}
        onFinish={(v) => {
          setValues({ ...v, isoTerminalId: v.isoTerminalId?.trim() ? v.isoTerminalId : undefined });
          setStep('confirm');
        }}
        onValuesChange={(changed: Partial<FormValues>) => {
          // The MAC follows the key algorithm; DUKPT has no SM4.
          if (changed.keyManagement === 'dukpt' && form.getFieldValue('algorithm') === 'sm4') form.setFieldsValue({ algorithm: 'tdes', macAlgorithm: DEFAULT_MAC.tdes });
          if (changed.algorithm) form.setFieldValue('macAlgorithm', DEFAULT_MAC[changed.algorithm]);
        }}
        style={step === 'confirm' ? { display: 'none' } : undefined}
        data-testid="th-ceremony-form"
      >
        <Form.Item name="stationId" label={t('station')} rules={[{ required: true, message: t('required') }]}>
          <StationSelect allowClear={false} testId="th-ceremony-station" />
        </Form.Item>
        <Form.Item name="terminalId" label={t('terminal')} rules={[{ required: true, message: t('required') }]}>
          <Select
            placeholder={t('chooseTerminal')}
            disabled={stationId === undefined}
            loading={stationId !== undefined && terminals === null}
            options={(terminals ?? []).filter((x) => x.status === 'active').map((x) => ({ value: x.terminalId, label: x.terminalId }))}
            data-testid="th-ceremony-terminal"
            aria-label={t('terminal')}
          />
        </Form.Item>
        <Form.Item name="keyManagement" label={t('keyManagement')}>
          <Radio.Group data-testid="th-ceremony-km">
            <Radio value="session">{t('km_session')}</Radio>
            <Radio value="dukpt">{t('km_dukpt')}</Radio>
          </Radio.Group>
        </Form.Item>
        <Space wrap size="large" align="start">
          <Form.Item name="algorithm" label={t('algorithm')}>
            <Select
              style={{ minWidth: 120 }}
              options={[
                { value: 'tdes', label: 'TDES' },
                { value: 'aes', label: 'AES' },
                { value: 'sm4', label: 'SM4', disabled: km === 'dukpt' },
              ]}
              data-testid="th-ceremony-algorithm"
              aria-label={t('algorithm')}
            />
          </Form.Item>
          <Form.Item name="macAlgorithm" label={t('macAlgorithm')}>
            <Select style={{ minWidth: 180 }} options={MACS[algorithm].map((m) => ({ value: m, label: m }))} data-testid="th-ceremony-mac" aria-label={t('macAlgorithm')} />
          </Form.Item>
          <Form.Item label={t('pinFormat')}>
            <Typography.Text data-testid="th-ceremony-pin-format">{t('pinFormatValue', { n: algorithm === 'tdes' ? 0 : 4 })}</Typography.Text>
          </Form.Item>
        </Space>
        <Space wrap size="large" align="start">
          <Form.Item name="framing" label={t('framing')}>
            <Select
              style={{ minWidth: 160 }}
              options={(['auto', 'binary2', 'ascii4'] as const).map((f) => ({ value: f, label: t(`framing_${f}`) }))}
              data-testid="th-ceremony-framing"
              aria-label={t('framing')}
            />
          </Form.Item>
          <Form.Item name="isoTerminalId" label={t('de41')} extra={t('de41Hint')} rules={[{ pattern: /^[ -~]{8}$/, message: t('de41Invalid') }]}>
            <Input maxLength={8} style={{ ...mono, width: 140 }} data-testid="th-ceremony-de41" />
          </Form.Item>
        </Space>
      </Form>
    </Modal>
  );
}

function Copy({ text, testId }: { text: string; testId?: string }) {
  return (
    <Typography.Text copyable={{ text }} style={{ ...mono, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }} data-testid={testId}>
      {text}
    </Typography.Text>
  );
}

function Components({ parts }: { parts: KeyPart[] }) {
  const t = useT(kc);
  return (
    <Descriptions
      size="small"
      column={1}
      bordered
      items={parts.flatMap((p, i) => [
        {
          key: `c${i}`,
          label: t('component', { n: i + 1 }),
          children: (
            <Space orientation="vertical" size={0} data-testid="th-ceremony-component">
              <Copy text={p.hex} />
              <span>
                {t('kcv')}: <span style={mono} data-testid="th-ceremony-component-kcv">{p.kcv}</span>
              </span>
            </Space>
          ),
        },
      ])}
    />
  );
}

function CeremonyResult({ answer: a, port, onClose }: { answer: CeremonyAnswer; port: number | null; onClose: () => void }) {
  const t = useT(kc);
  const { modal } = App.useApp();
  const host = typeof window === 'undefined' ? 'localhost' : window.location.hostname;
  const close = () => {
    modal.confirm({ title: t('closeConfirm'), okText: t('close'), cancelText: t('cancel'), onOk: onClose, okButtonProps: { 'data-testid': 'th-ceremony-close-ok' } as Record<string, string> });
  };
  return (
    <Modal
      open
      width={760}
      title={t('resultTitle', { iso: a.isoTerminalId, id: a.terminalId })}
      maskClosable={false}
      keyboard={false}
      closable={false}
      destroyOnHidden
      footer={[
        <Button key="close" type="primary" onClick={close} data-testid="th-ceremony-close">
          {t('close')}
        </Button>,
      ]}
    >
      <div data-testid="th-ceremony-result" data-terminal-id={a.terminalId} data-iso-terminal-id={a.isoTerminalId}>
        <Alert type="error" showIcon title={t('onceWarning')} style={{ marginBottom: 12 }} data-testid="th-ceremony-once" />
        {a.rotated && <Alert type="warning" showIcon title={t('rotated')} style={{ marginBottom: 12 }} />}
        <Typography.Paragraph type="secondary" style={mono}>
          {a.keyManagement} · {a.algorithm}/{a.macAlgorithm} · PIN {a.pinFormat} · {a.framing}
        </Typography.Paragraph>
        {a.tmk && a.initialMacKey && (
          <>
            <Components parts={a.tmk.components} />
            <Descriptions
              size="small"
              column={1}
              style={{ marginTop: 12 }}
              items={[
                { key: 'tmk', label: t('tmkKcv'), children: <span style={mono} data-testid="th-ceremony-tmk-kcv">{a.tmk.kcv}</span> },
                { key: 'tak', label: t('tak'), children: <Copy text={a.initialMacKey.encryptedUnderTmk} testId="th-ceremony-tak" /> },
                { key: 'takKcv', label: t('takKcv'), children: <span style={mono} data-testid="th-ceremony-tak-kcv">{a.initialMacKey.kcv}</span> },
              ]}
            />
            <Typography.Title level={5}>{t('sim')}</Typography.Title>
            <Typography.Paragraph type="secondary">{t('simHint')}</Typography.Paragraph>
            <Space orientation="vertical" style={{ width: '100%' }}>
              <Copy text={`export FUELCARD_SIM_TMK=${a.tmk.components[0]!.hex}+${a.tmk.components[1]!.hex}`} testId="th-ceremony-sim-env" />
              <Copy text={simCommand(a, host, port)} testId="th-ceremony-sim" />
            </Space>
          </>
        )}
        {a.dukpt && (
          <>
            <Components parts={a.dukpt.initialKey.components} />
            <Descriptions
              size="small"
              column={1}
              style={{ marginTop: 12 }}
              items={[
                { key: 'ik', label: t('ikKcv'), children: <span style={mono} data-testid="th-ceremony-ik-kcv">{a.dukpt.initialKey.kcv}</span> },
                { key: 'ksn', label: t('ksn'), children: <Copy text={a.dukpt.initialKsn} testId="th-ceremony-ksn" /> },
                { key: 'bdk', label: t('bdk'), children: <span style={mono}>{a.dukpt.bdkId} / {a.dukpt.bdkKcv}</span> },
              ]}
            />
            <Typography.Paragraph type="secondary" style={{ marginTop: 12 }}>
              {t('simDukpt')}
            </Typography.Paragraph>
          </>
        )}
      </div>
    </Modal>
  );
}

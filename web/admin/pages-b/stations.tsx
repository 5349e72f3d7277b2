import { Tag } from 'antd';
import { useT } from '../../shared/i18n';
import { dict } from './i18n';

export function StationStatusTag({ status }: { status: string }) {
  const t = useT(dict);
  return <Tag color={status === 'active' || status === 'open' ? 'green' : 'default'}>{t(`stationStatus_${status}`)}</Tag>;
}

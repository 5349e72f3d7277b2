import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { Button, Empty, Input, Select, Switch, Tag } from 'antd';
import { AimOutlined, EnvironmentOutlined, PhoneOutlined } from '@ant-design/icons';
import { createApi } from '../shared/api';
import { useLang, useT } from '../shared/i18n';
import { unitPrice } from '../shared/money';
import { LoadState, useLoad } from '../shared/ui';
import { CITY_CENTRES, distanceText, parseCoords, plotPosition, type Point } from './finderMath';
import { FT } from './finderTexts';
import { Page } from './layout';

/** GET /api/v1/finder/stations items (docs/finder.md). */
interface FinderStation {
  stationId: number;
  code: string;
  name: string;
  address: string;
  province: string;
  city: string;
  district: string;
  lat: number;
  lng: number;
  phone: string | null;
  distanceM: number;
  openNow: boolean;
  services: string[];
  grades: Array<{ grade: string; nameZh: string; nameEn: string; unitPrice: number | null; inStock: boolean | null }>;
  promotions: Array<{ id: number; titleZh: string; titleEn: string; grade: string | null; endsAt: string }>;
}

const SERVICES = ['store', 'car_wash', 'toilet', 'ev_charging', 'air', 'restaurant', 'atm', 'lpg'] as const;
const GRADES = ['92#', '95#', '98#', '0#', '-10#'];
const RADII = [5, 10, 20, 50, 100];
const PLOT = 300;

/** The finder needs no sign-in: a plain client without a token. */
const publicApi = createApi({ getToken: () => null });

type Where = { point: Point; source: 'gps' | 'city' | 'typed'; cityId?: string };

/** 寻站: the nearest stations with distance, open now, prices, stock, services and promotions, as a list and a small plot. */
export function FinderPage() {
  const t = useT(FT);
  const { lang } = useLang();
  const [where, setWhere] = useState<Where>({ point: CITY_CENTRES[0]!, source: 'city', cityId: CITY_CENTRES[0]!.id });
  const [locating, setLocating] = useState(false);
  const [geoError, setGeoError] = useState('');
  const [grade, setGrade] = useState<string | undefined>();
  const [service, setService] = useState<string | undefined>();
  const [radiusKm, setRadiusKm] = useState(10);
  const [openNow, setOpenNow] = useState(false);
  const [latText, setLatText] = useState('');
  const [lngText, setLngText] = useState('');
  const [coordError, setCoordError] = useState(false);
  const [focused, setFocused] = useState<number | null>(null);

  const locate = () => {
    if (!('geolocation' in navigator)) {
      setGeoError(t('geoUnavailable'));
      return;
    }
    setLocating(true);
    setGeoError('');
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        setLocating(false);
        setWhere({ point: { lat: pos.coords.latitude, lng: pos.coords.longitude }, source: 'gps' });
      },
      () => {
        setLocating(false);
        setGeoError(t('geoDenied'));
      },
      { enableHighAccuracy: false, timeout: 8000, maximumAge: 60_000 },
    );
  };

  // Ask once on arrival; the city centre is shown meanwhile and stays if the position is refused.
  const asked = useRef(false);
  useEffect(() => {
    if (asked.current) return;
    asked.current = true;
    locate();
  }, []);

  const stations = useLoad(
    () =>
      publicApi.request<{ items: FinderStation[] }>('GET', '/api/v1/finder/stations', {
        query: { lat: where.point.lat.toFixed(6), lng: where.point.lng.toFixed(6), radiusKm, grade, service, openNow: openNow ? 'true' : undefined, limit: 20 },
      }),
    [where.point.lat, where.point.lng, radiusKm, grade, service, openNow],
  );

  const typed = (e: FormEvent) => {
    e.preventDefault();
    const p = parseCoords(latText, lngText);
    setCoordError(!p);
    if (p) setWhere({ point: p, source: 'typed' });
  };

  const whereText =
    where.source === 'gps'
      ? t('whereGps')
      : where.source === 'typed'
        ? t('whereTyped')
        : t('whereCity', { city: lang === 'en' ? CITY_CENTRES.find((c) => c.id === where.cityId)?.en ?? '' : CITY_CENTRES.find((c) => c.id === where.cityId)?.zh ?? '' });

  return (
    <Page title={t('finderTitle')} tab="find">
      <section className="pt-panel pt-finder-where" aria-labelledby="finder-where">
        <div className="pt-finder-row">
          <span id="finder-where" data-testid="finder-where" data-source={where.source}>
            <EnvironmentOutlined /> {whereText} · {where.point.lat.toFixed(4)}, {where.point.lng.toFixed(4)}
          </span>
          <Button icon={<AimOutlined />} loading={locating} onClick={locate} data-testid="finder-locate">
            {t('useMyPosition')}
          </Button>
        </div>
        {geoError ? (
          <div className="pt-footnote" role="status" data-testid="finder-geo-error">
            {geoError}
          </div>
        ) : null}
        <div className="pt-finder-row">
          <Select
            aria-label={t('city')}
            value={where.source === 'city' ? where.cityId : undefined}
            placeholder={t('city')}
            style={{ minWidth: 120 }}
            onChange={(id: string) => {
              const c = CITY_CENTRES.find((x) => x.id === id)!;
              setWhere({ point: c, source: 'city', cityId: c.id });
            }}
            options={CITY_CENTRES.map((c) => ({ value: c.id, label: lang === 'en' ? c.en : c.zh }))}
            data-testid="finder-city"
          />
          <form className="pt-finder-coords" onSubmit={typed} noValidate>
            <Input aria-label={t('lat')} placeholder={t('lat')} inputMode="decimal" value={latText} onChange={(e) => setLatText(e.target.value)} status={coordError ? 'error' : undefined} data-testid="finder-lat" />
            <Input aria-label={t('lng')} placeholder={t('lng')} inputMode="decimal" value={lngText} onChange={(e) => setLngText(e.target.value)} status={coordError ? 'error' : undefined} data-testid="finder-lng" />
            <Button htmlType="submit" data-testid="finder-go">
              {t('go')}
            </Button>
          </form>
        </div>
        {coordError ? (
          <div className="pt-field-error" role="alert">
            {t('coordsInvalid')}
          </div>
        ) : null}
        <div className="pt-finder-row pt-finder-filters">
          <Select
            aria-label={t('grade')}
            allowClear
            placeholder={t('allGrades')}
            value={grade}
            onChange={(v?: string) => setGrade(v)}
            options={GRADES.map((g) => ({ value: g, label: g }))}
            style={{ minWidth: 110 }}
            data-testid="finder-grade"
          />
          <Select
            aria-label={t('service')}
            allowClear
            placeholder={t('allServices')}
            value={service}
            onChange={(v?: string) => setService(v)}
            options={SERVICES.map((s) => ({ value: s, label: t(`svc_${s}`) }))}
            style={{ minWidth: 120 }}
            data-testid="finder-service"
          />
          <Select
            aria-label={t('radius')}
            value={radiusKm}
            onChange={(v: number) => setRadiusKm(v)}
            options={RADII.map((r) => ({ value: r, label: `${r} km` }))}
            style={{ minWidth: 90 }}
            data-testid="finder-radius"
          />
          <label className="pt-finder-open">
            <Switch checked={openNow} onChange={setOpenNow} data-testid="finder-open-now" /> {t('openNowOnly')}
          </label>
        </div>
      </section>

      <LoadState value={stations}>
        {(d) =>
          d.items.length === 0 ? (
            <Empty className="pt-empty" description={t('noStations', { km: radiusKm })} data-testid="finder-empty" />
          ) : (
            <>
              <Plot origin={where.point} radiusKm={radiusKm} items={d.items} focused={focused} onFocus={setFocused} />
              <ol className="pt-finder-list" data-testid="finder-list">
                {d.items.map((s, i) => (
                  <StationItem key={s.stationId} s={s} index={i} focused={focused === s.stationId} />
                ))}
              </ol>
            </>
          )
        }
      </LoadState>
    </Page>
  );
}

function Plot({ origin, radiusKm, items, focused, onFocus }: { origin: Point; radiusKm: number; items: FinderStation[]; focused: number | null; onFocus: (id: number) => void }) {
  const t = useT(FT);
  const radiusM = useMemo(() => Math.max(radiusKm * 1000, ...items.map((s) => s.distanceM)) , [radiusKm, items]);
  const half = PLOT / 2;
  return (
    <figure className="pt-panel pt-finder-plot" aria-label={t('plotLabel', { km: Math.round(radiusM / 100) / 10 })}>
      <svg viewBox={`0 0 ${PLOT} ${PLOT}`} role="img" aria-labelledby="finder-plot-title" data-testid="finder-plot">
        <title id="finder-plot-title">{t('plotLabel', { km: Math.round(radiusM / 100) / 10 })}</title>
        <circle cx={half} cy={half} r={half - 14} className="pt-plot-ring" />
        <circle cx={half} cy={half} r={(half - 14) / 2} className="pt-plot-ring pt-plot-ring--inner" />
        <line x1={half} y1={8} x2={half} y2={PLOT - 8} className="pt-plot-axis" />
        <line x1={8} y1={half} x2={PLOT - 8} y2={half} className="pt-plot-axis" />
        <text x={half + 4} y={18} className="pt-plot-label">
          N
        </text>
        <text x={PLOT - 40} y={half - 4} className="pt-plot-label">
          {distanceText(radiusM)}
        </text>
        <circle cx={half} cy={half} r={6} className="pt-plot-me" />
        {items.map((s, i) => {
          const p = plotPosition(origin, s, radiusM, PLOT);
          return (
            <g
              key={s.stationId}
              transform={`translate(${p.x.toFixed(1)} ${p.y.toFixed(1)})`}
              className={`pt-plot-station${s.openNow ? '' : ' is-closed'}${focused === s.stationId ? ' is-focused' : ''}`}
              onClick={() => {
                onFocus(s.stationId);
                document.getElementById(`finder-station-${s.stationId}`)?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
              }}
              data-testid="finder-plot-station"
              data-station-id={s.stationId}
            >
              <title>{`${i + 1}. ${s.name} · ${distanceText(s.distanceM)}`}</title>
              <circle r={10} />
              <text y={4} textAnchor="middle">
                {i + 1}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

function StationItem({ s, index, focused }: { s: FinderStation; index: number; focused: boolean }) {
  const t = useT(FT);
  const { lang } = useLang();
  return (
    <li id={`finder-station-${s.stationId}`} className={`pt-panel pt-finder-station${focused ? ' is-focused' : ''}`} data-testid="finder-station" data-station-id={s.stationId} tabIndex={-1}>
      <div className="pt-finder-head">
        <span className="pt-finder-no">{index + 1}</span>
        <strong className="pt-finder-name" data-testid="finder-station-name">
          {s.name}
        </strong>
        <span className="pt-finder-dist" data-testid="finder-station-distance">
          {distanceText(s.distanceM)}
        </span>
      </div>
      <div className="pt-finder-sub">
        <Tag color={s.openNow ? 'green' : 'default'} data-testid="finder-open" data-open={s.openNow ? 'true' : 'false'}>
          {s.openNow ? t('openNow') : t('closedNow')}
        </Tag>
        <span>{[s.city, s.district, s.address].filter(Boolean).join(' ')}</span>
      </div>
      {s.grades.length > 0 ? (
        <ul className="pt-finder-grades" aria-label={t('prices')}>
          {s.grades.map((g) => (
            <li key={g.grade} className={g.inStock === false ? 'is-out' : ''} data-testid="finder-grade-price" data-grade={g.grade} data-in-stock={g.inStock === null ? 'unknown' : String(g.inStock)}>
              <span className="pt-finder-grade">{g.grade}</span>
              <span className="pt-finder-price">{g.unitPrice === null ? t('noPrice') : unitPrice(g.unitPrice)}</span>
              {g.inStock === false ? <span className="pt-finder-stock">{t('outOfStock')}</span> : g.inStock ? <span className="pt-finder-stock is-in">{t('inStock')}</span> : null}
              <span className="sr-only">{lang === 'en' ? g.nameEn : g.nameZh}</span>
            </li>
          ))}
        </ul>
      ) : null}
      {s.services.length > 0 ? (
        <div className="pt-finder-services" aria-label={t('services')}>
          {s.services.map((x) => (
            <Tag key={x} bordered={false}>
              {t(`svc_${x}`)}
            </Tag>
          ))}
        </div>
      ) : null}
      {s.promotions.length > 0 ? (
        <ul className="pt-finder-promos" data-testid="finder-promotions">
          {s.promotions.map((p) => (
            <li key={p.id}>
              <Tag color="volcano">{t('promo')}</Tag> {lang === 'en' ? p.titleEn : p.titleZh}
              {p.grade ? ` · ${p.grade}` : ''}
            </li>
          ))}
        </ul>
      ) : null}
      {s.phone ? (
        <a className="pt-finder-phone" href={`tel:${s.phone}`}>
          <PhoneOutlined /> {s.phone}
        </a>
      ) : null}
    </li>
  );
}

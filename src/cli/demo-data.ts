import { randomInt } from 'node:crypto';

/**
 * The raw material of the demo dataset: stations in five cities, their nozzles, fuel prices,
 * and generators for Chinese names, mobile numbers and identity numbers that pass the
 * same format checks real ones do (resident ID check digit, USCC check character).
 * The brand 示范能源 is made up on purpose, so nobody mistakes the demo for a real operator.
 */

/** A small seeded generator (mulberry32): one seed reproduces a whole dataset when debugging. */
export class Rng {
  private state: number;
  constructor(readonly seed: number = randomInt(0, 2 ** 31)) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  weighted<T>(items: ReadonlyArray<readonly [T, number]>): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [item, w] of items) {
      r -= w;
      if (r < 0) return item;
    }
    return items[items.length - 1]![0];
  }
  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String(this.int(0, 9));
    return s;
  }
}

export type CityCode = 'BJ' | 'SH' | 'GZ' | 'SZ' | 'CD';

export interface City {
  code: CityCode;
  name: string;
  /** Administrative division codes of districts (first six digits of a resident ID). */
  districts: readonly string[];
}

export const CITIES: Readonly<Record<CityCode, City>> = {
  BJ: { code: 'BJ', name: '北京', districts: ['110105', '110108', '110106', '110102', '110114'] },
  SH: { code: 'SH', name: '上海', districts: ['310115', '310104', '310112', '310105', '310110'] },
  GZ: { code: 'GZ', name: '广州', districts: ['440106', '440111', '440104', '440105', '440113'] },
  SZ: { code: 'SZ', name: '深圳', districts: ['440304', '440305', '440306', '440307', '440309'] },
  CD: { code: 'CD', name: '成都', districts: ['510107', '510108', '510116', '510104', '510105'] },
};

/** Where people who moved to the big cities were registered (郑州, 武汉, 长沙, 南昌, 石家庄, 济南, 重庆, 南宁, 南京, 杭州). */
export const MIGRANT_DISTRICTS = ['410102', '420106', '430102', '360102', '130102', '370102', '500103', '450103', '320102', '330106'] as const;

export interface DemoStation {
  code: string;
  city: CityCode;
  name: string;
  address: string;
  lat: number;
  lng: number;
  /** Relative traffic: a ring-road station sells more than a side street one. */
  traffic: number;
  /** 区/县 as the address names it. */
  district: string;
  phone: string;
  /** null: open 24 hours. Otherwise every day from open to close (local time). */
  hours: { open: string; close: string } | null;
  services: ReadonlyArray<'store' | 'car_wash' | 'toilet' | 'ev_charging' | 'air' | 'restaurant' | 'atm' | 'lpg'>;
}

/** 省 and 市 of each demo city, as the stations' region records them (the province decides the province price list). */
export const CITY_REGION: Readonly<Record<CityCode, { province: string; city: string }>> = {
  BJ: { province: '北京市', city: '北京市' },
  SH: { province: '上海市', city: '上海市' },
  GZ: { province: '广东省', city: '广州市' },
  SZ: { province: '广东省', city: '深圳市' },
  CD: { province: '四川省', city: '成都市' },
};

/** A station's opening hours as the stations module stores them. */
export function openingHoursOf(station: DemoStation): { always: true } | { always: false; weekly: Array<{ day: number; open: string; close: string }> } {
  if (station.hours === null) return { always: true };
  const { open, close } = station.hours;
  return { always: false, weekly: [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day, open, close })) };
}

export const DEMO_STATIONS: readonly DemoStation[] = [
  { code: 'BJ001', city: 'BJ', name: '示范能源 北京朝阳北路加油站', address: '北京市朝阳区朝阳北路 101 号', lat: 39.9235, lng: 116.515, traffic: 3, district: '朝阳区', phone: '010-8576 2101', hours: null, services: ['store', 'car_wash', 'toilet', 'air', 'atm'] },
  { code: 'BJ002', city: 'BJ', name: '示范能源 北京西三环北路加油站', address: '北京市海淀区西三环北路 50 号', lat: 39.946, lng: 116.3105, traffic: 2, district: '海淀区', phone: '010-6841 0050', hours: { open: '06:00', close: '23:00' }, services: ['store', 'toilet', 'ev_charging'] },
  { code: 'BJ003', city: 'BJ', name: '示范能源 北京南四环西路加油站', address: '北京市丰台区南四环西路 188 号', lat: 39.833, lng: 116.287, traffic: 2, district: '丰台区', phone: '010-6375 0188', hours: null, services: ['store', 'toilet', 'air'] },
  { code: 'SH001', city: 'SH', name: '示范能源 上海世纪大道加油站', address: '上海市浦东新区世纪大道 1200 号', lat: 31.229, lng: 121.527, traffic: 3, district: '浦东新区', phone: '021-5835 1200', hours: null, services: ['store', 'car_wash', 'toilet', 'ev_charging', 'atm'] },
  { code: 'SH002', city: 'SH', name: '示范能源 上海漕溪北路加油站', address: '上海市徐汇区漕溪北路 398 号', lat: 31.1885, lng: 121.4365, traffic: 2, district: '徐汇区', phone: '021-6468 0398', hours: { open: '06:30', close: '22:30' }, services: ['store', 'toilet'] },
  { code: 'SH003', city: 'SH', name: '示范能源 上海沪闵路加油站', address: '上海市闵行区沪闵路 6088 号', lat: 31.112, lng: 121.383, traffic: 2, district: '闵行区', phone: '021-6412 6088', hours: null, services: ['store', 'car_wash', 'toilet', 'air'] },
  { code: 'GZ001', city: 'GZ', name: '示范能源 广州黄埔大道加油站', address: '广州市天河区黄埔大道西 638 号', lat: 23.126, lng: 113.335, traffic: 3, district: '天河区', phone: '020-3868 0638', hours: null, services: ['store', 'car_wash', 'toilet', 'restaurant', 'atm'] },
  { code: 'GZ002', city: 'GZ', name: '示范能源 广州机场路加油站', address: '广州市白云区机场路 1688 号', lat: 23.188, lng: 113.264, traffic: 2, district: '白云区', phone: '020-8636 1688', hours: null, services: ['store', 'toilet', 'lpg'] },
  { code: 'SZ001', city: 'SZ', name: '示范能源 深圳深南大道加油站', address: '深圳市福田区深南大道 6008 号', lat: 22.5405, lng: 114.03, traffic: 3, district: '福田区', phone: '0755-8391 6008', hours: null, services: ['store', 'car_wash', 'toilet', 'ev_charging', 'atm'] },
  { code: 'SZ002', city: 'SZ', name: '示范能源 深圳沙河西路加油站', address: '深圳市南山区沙河西路 3011 号', lat: 22.545, lng: 113.956, traffic: 2, district: '南山区', phone: '0755-2661 3011', hours: { open: '06:00', close: '24:00' }, services: ['store', 'toilet', 'ev_charging'] },
  { code: 'CD001', city: 'CD', name: '示范能源 成都天府大道加油站', address: '成都市武侯区天府大道北段 1700 号', lat: 30.57, lng: 104.066, traffic: 3, district: '武侯区', phone: '028-8532 1700', hours: null, services: ['store', 'car_wash', 'toilet', 'restaurant'] },
  { code: 'CD002', city: 'CD', name: '示范能源 成都二环路东二段加油站', address: '成都市成华区二环路东二段 29 号', lat: 30.666, lng: 104.112, traffic: 2, district: '成华区', phone: '028-8431 0029', hours: { open: '06:00', close: '23:30' }, services: ['store', 'toilet'] },
  { code: 'CD003', city: 'CD', name: '示范能源 成都双流物流园加油站', address: '成都市双流区西航港大道 2188 号', lat: 30.541, lng: 103.969, traffic: 1, district: '双流区', phone: '028-8580 2188', hours: null, services: ['store', 'toilet', 'air', 'restaurant', 'lpg'] },
];

/** The grades the demo forecourts sell (codes of the fuel_grades table). */
export type Grade = '92#' | '95#' | '98#' | '0#';
export const DEMO_GRADES: readonly Grade[] = ['92#', '95#', '98#', '0#'];

/** National retail prices in force now, fen per litre (¥7.45, ¥7.93, ¥8.86, ¥7.12). */
export const NATIONAL_PRICE: Readonly<Record<Grade, number>> = { '92#': 745, '95#': 793, '98#': 886, '0#': 712 };

/** One price adjustment (调价窗口) in the middle of the period, roughly +0.1 元/L: before it, prices were this much lower. */
export const PRICE_RISE: Readonly<Record<Grade, number>> = { '92#': 12, '95#': 13, '98#': 14, '0#': 13 };

/** Stations with their own price (override of the national one), fen per litre below it: the logistics park courts fleets with cheaper diesel. */
export const STATION_DISCOUNTS: Readonly<Record<string, Partial<Record<Grade, number>>>> = { CD003: { '0#': 15 } };

/**
 * Province price lists (省级油价): Guangdong adjusts its own prices at the next 24:00 after the
 * seed, fen per litre above the national price then — the demo's scheduled regional change, seen
 * as `next` on the Guangzhou and Shenzhen terminals.
 */
export const PROVINCE_PRICE_MARKUP: Readonly<Record<string, Partial<Record<Grade, number>>>> = { 广东省: { '92#': 6, '95#': 7, '98#': 8, '0#': 5 } };

/** A station's pumps (加油机): two nozzles on each, named as the forecourt signs them. */
export function pumpLayout(station: DemoStation): Array<{ pump: number; name: string }> {
  const pumps = Math.ceil(nozzleLayout(station).length / 2);
  return Array.from({ length: pumps }, (_, i) => ({ pump: i + 1, name: `${i + 1}号机` }));
}

/** Store goods categories and a dozen goods (便利店), fen per unit. */
export const DEMO_GOODS_CATEGORIES = [
  { code: 'DRINK', nameZh: '饮料', nameEn: 'Drinks' },
  { code: 'SNACK', nameZh: '零食', nameEn: 'Snacks' },
  { code: 'CARCARE', nameZh: '汽车用品', nameEn: 'Car care' },
  { code: 'DAILY', nameZh: '日用品', nameEn: 'Daily goods' },
] as const;
export const DEMO_GOODS: ReadonlyArray<{ sku: string; category: (typeof DEMO_GOODS_CATEGORIES)[number]['code']; nameZh: string; nameEn: string; unitPrice: number }> = [
  { sku: 'DRK-0001', category: 'DRINK', nameZh: '饮用天然水 550ml', nameEn: 'Mineral water 550 ml', unitPrice: 200 },
  { sku: 'DRK-0002', category: 'DRINK', nameZh: '功能饮料 250ml', nameEn: 'Energy drink 250 ml', unitPrice: 600 },
  { sku: 'DRK-0003', category: 'DRINK', nameZh: '茉莉花茶 500ml', nameEn: 'Jasmine tea 500 ml', unitPrice: 500 },
  { sku: 'DRK-0004', category: 'DRINK', nameZh: '罐装可乐 330ml', nameEn: 'Cola 330 ml can', unitPrice: 300 },
  { sku: 'SNK-0001', category: 'SNACK', nameZh: '红烧牛肉面（桶装）', nameEn: 'Braised beef instant noodles (cup)', unitPrice: 550 },
  { sku: 'SNK-0002', category: 'SNACK', nameZh: '夹心饼干 97g', nameEn: 'Sandwich cookies 97 g', unitPrice: 850 },
  { sku: 'SNK-0003', category: 'SNACK', nameZh: '牛奶巧克力 43g', nameEn: 'Milk chocolate 43 g', unitPrice: 990 },
  { sku: 'CAR-0001', category: 'CARCARE', nameZh: '防冻玻璃水 -25℃ 2L', nameEn: 'Screenwash −25 °C 2 L', unitPrice: 2500 },
  { sku: 'CAR-0002', category: 'CARCARE', nameZh: '全合成机油 5W-30 4L', nameEn: 'Synthetic engine oil 5W-30 4 L', unitPrice: 29_900 },
  { sku: 'CAR-0003', category: 'CARCARE', nameZh: '无骨雨刮片 24 寸', nameEn: 'Wiper blade 24 in', unitPrice: 6800 },
  { sku: 'DLY-0001', category: 'DAILY', nameZh: '车载抽纸', nameEn: 'In-car tissues', unitPrice: 1200 },
  { sku: 'DLY-0002', category: 'DAILY', nameZh: '一次性口罩 10 只', nameEn: 'Face masks, pack of 10', unitPrice: 990 },
];

/**
 * A station's nozzles (油枪), numbered as its pump displays show them: busy stations have eight,
 * ordinary ones six, the truck stop more diesel. Every station sells every demo grade, so any
 * driver can fill anywhere. Two nozzles hang on each pump.
 */
export function nozzleLayout(station: DemoStation): Array<{ nozzle: number; grade: Grade; pump: number }> {
  const grades: Grade[] =
    station.code === 'CD003'
      ? ['0#', '0#', '0#', '92#', '95#', '98#']
      : station.traffic >= 3
        ? ['92#', '92#', '95#', '95#', '98#', '0#', '92#', '0#']
        : ['92#', '92#', '95#', '95#', '98#', '0#'];
  return grades.map((grade, i) => ({ nozzle: i + 1, grade, pump: Math.floor(i / 2) + 1 }));
}

/** Sales by hour of day (Asia/Shanghai): morning and evening commutes, a lunchtime bump, quiet nights. */
export const HOUR_WEIGHTS: ReadonlyArray<readonly [number, number]> = [
  [0, 0.2], [1, 0.1], [2, 0.1], [3, 0.1], [4, 0.1], [5, 0.3], [6, 0.8], [7, 2.0], [8, 2.5], [9, 1.5], [10, 1.0], [11, 1.2],
  [12, 1.5], [13, 1.0], [14, 0.9], [15, 1.0], [16, 1.4], [17, 2.4], [18, 2.6], [19, 1.8], [20, 1.2], [21, 0.9], [22, 0.6], [23, 0.4],
];

/** Trucks run day and night. */
export const TRUCK_HOUR_WEIGHTS: ReadonlyArray<readonly [number, number]> = HOUR_WEIGHTS.map(([h, w]) => [h, h < 6 || h > 21 ? w * 4 : w] as const);

const SURNAMES: ReadonlyArray<readonly [string, number]> = [
  ['王', 72], ['李', 71], ['张', 68], ['刘', 55], ['陈', 45], ['杨', 31], ['黄', 24], ['赵', 22], ['吴', 20], ['周', 20],
  ['徐', 15], ['孙', 15], ['马', 14], ['朱', 13], ['胡', 13], ['郭', 12], ['何', 12], ['林', 11], ['罗', 11], ['高', 11],
  ['郑', 9], ['梁', 9], ['谢', 8], ['宋', 7], ['唐', 7], ['许', 7], ['韩', 7], ['冯', 7], ['邓', 7], ['曹', 6],
  ['彭', 6], ['曾', 6], ['肖', 6], ['田', 5], ['董', 5], ['潘', 5], ['袁', 5], ['蔡', 4], ['蒋', 4], ['余', 4],
  ['于', 4], ['杜', 4], ['叶', 4], ['程', 4], ['魏', 4], ['苏', 4], ['吕', 4], ['丁', 3], ['任', 3], ['沈', 3],
  ['姚', 3], ['卢', 3], ['钟', 3], ['姜', 3], ['崔', 3], ['谭', 3], ['陆', 3], ['范', 3], ['汪', 3], ['廖', 3],
  ['石', 3], ['金', 2], ['贾', 2], ['夏', 2], ['方', 2], ['邹', 2], ['熊', 2], ['白', 2], ['孟', 2], ['秦', 2],
  ['邱', 2], ['侯', 2], ['江', 2], ['薛', 2], ['雷', 2], ['龙', 2], ['黎', 2], ['陶', 2], ['贺', 2], ['顾', 2],
  ['欧阳', 0.5], ['司马', 0.2], ['上官', 0.2],
];
const MALE_GIVEN = [
  '伟', '强', '磊', '军', '洋', '勇', '杰', '涛', '明', '超', '刚', '平', '辉', '鹏', '华', '飞', '鑫', '波', '斌', '宇',
  '浩', '凯', '健', '俊', '帆', '旭', '宁', '峰', '建国', '志强', '海涛', '建华', '晓东', '文博', '子轩', '浩然', '宇航',
  '俊杰', '思远', '振华', '国栋', '立新', '家豪', '一鸣', '博文', '嘉伟', '志明', '永刚', '德华', '天宇',
];
const FEMALE_GIVEN = [
  '芳', '娜', '敏', '静', '丽', '艳', '娟', '霞', '秀英', '玲', '桂英', '丹', '萍', '红', '琳', '婷', '雪', '倩', '颖', '佳',
  '欣', '悦', '梦琪', '雨涵', '诗涵', '欣怡', '思琪', '晓燕', '海燕', '慧', '莉', '洁', '雅琴', '秀兰', '晓红', '丽华',
  '佳怡', '子涵', '若曦', '婉清', '春梅', '美玲', '文静', '凤英', '嘉欣', '静怡',
];

export function chineseName(rng: Rng, male: boolean): string {
  return rng.weighted(SURNAMES) + rng.pick(male ? MALE_GIVEN : FEMALE_GIVEN);
}

/** Mobile number prefixes of the three carriers (移动, 联通, 电信). */
const MOBILE_PREFIXES = [
  '134', '135', '136', '137', '138', '139', '147', '150', '151', '152', '157', '158', '159', '178', '182', '183', '187', '188', '198',
  '130', '131', '132', '155', '156', '166', '175', '176', '185', '186', '133', '153', '173', '177', '180', '181', '189', '191', '199',
];

export function mobile(rng: Rng): string {
  return rng.pick(MOBILE_PREFIXES) + rng.digits(8);
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** GB 11643 check character of the first 17 digits of a resident ID number. */
export function residentIdCheck(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11]!;
}

/** A resident ID number: district, birth date, sequence (odd for men, even for women), check character. */
export function residentId(rng: Rng, district: string, birth: { y: number; m: number; d: number }, male: boolean): string {
  const seq = rng.int(0, 99) * 10 + (male ? rng.pick([1, 3, 5, 7, 9]) : rng.pick([0, 2, 4, 6, 8]));
  const first17 = `${district}${birth.y}${String(birth.m).padStart(2, '0')}${String(birth.d).padStart(2, '0')}${String(seq).padStart(3, '0')}`;
  return first17 + residentIdCheck(first17);
}

const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** 统一社会信用代码 (GB 32100) of a company registered in `district`: registering authority 9 (market regulator), type 1 (enterprise). */
export function unifiedSocialCreditCode(rng: Rng, district: string): string {
  let body = `91${district}`;
  while (body.length < 17) body += USCC_CHARS[rng.int(0, 30)];
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_CHARS.indexOf(body[i]!) * USCC_WEIGHTS[i]!;
  return body + USCC_CHARS[(31 - (sum % 31)) % 31];
}

/** A bank transfer reference as a statement shows it: bank code, date, serial. */
export function bankReference(rng: Rng, day: string): string {
  return `${rng.pick(['ICBC', 'CCB', 'ABC', 'BOC', 'CMB', 'BCM'])}${day.replaceAll('-', '')}${rng.digits(10)}`;
}

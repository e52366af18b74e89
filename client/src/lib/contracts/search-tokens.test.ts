import { describe, expect, it } from 'vitest';
import type { ContractFields } from '$shared/schemas/contract';
import { contractTexts, fold, indexTexts, matchDoc, parseQuery } from './search-tokens';

const fields: ContractFields = {
  title: 'Supply agreement 供货合同',
  counterparties: ['Acme Ltd', '北京某某公司', 'Café Müller GmbH', "O'Brien & Søn"],
  amount: { value: '125000.50', currency: 'CNY' },
  dates: { signed: '2024-03-15', effective: null, expires: '2026-12-31' },
  status: 'in-review',
  extra: {
    'PO number': 'PO-2024-117',
    付款方式: '银行转账',
    'file:f-0011': JSON.stringify({ name: 'annex-pricing.xlsx', type: 'application/vnd.ms-excel', size: 10 }),
    'file:f-0022': 'not json',
  },
};
const doc = indexTexts(contractTexts(fields, ['In review', '审核中']));
const finds = (q: string) => matchDoc(doc, parseQuery(q));

describe('folding', () => {
  it('folds case, width and Latin diacritics, keeps kana voicing and Hangul', () => {
    expect(fold('Café MÜLLER ｓｏｎ１２３')).toBe('cafe muller son123');
    expect(fold('Straße Søren Łódź')).toBe('strasse soren lodz');
    expect(fold('が')).toBe('が');
    expect(fold('한국')).toBe('한국');
  });
  it('drops grouping commas from numbers and writes slashed dates as ISO', () => {
    expect(fold('125,000.50 and 1,234,567')).toBe('125000.50 and 1234567');
    expect(fold('1,2345 stays')).toBe('1,2345 stays');
    expect(fold('2024/3/5 and 2024/03')).toBe('2024-03-05 and 2024-03');
  });
});

describe('English', () => {
  it('matches words by prefix, case and diacritics folded', () => {
    for (const q of ['supply', 'SUP', 'Agreement', 'acme', 'ltd', 'cafe', 'MULLER', 'müll', 'gmbh', 'obrien', "o'brien", 'son', 'SØN']) expect(finds(q), q).toBe(true);
  });
  it('a query word longer than every token does not match', () => {
    for (const q of ['supplier', 'acmes', 'ltda', 'cafes', 'zeta']) expect(finds(q), q).toBe(false);
  });
  it('needs every term', () => {
    expect(finds('supply acme')).toBe(true);
    expect(finds('supply zeta')).toBe(false);
  });
  it('an empty or punctuation-only query matches everything', () => {
    expect(parseQuery('   ').terms).toEqual([]);
    expect(parseQuery(' - , ').terms).toEqual([]);
    expect(finds('')).toBe(true);
  });
});

describe('Chinese', () => {
  it('finds a run by its bigrams and single characters', () => {
    for (const q of ['北京', '某某公司', '北京某某公司', '京', '供货', '合同', '供货合同', '银行转账', '付款方式']) expect(finds(q), q).toBe(true);
  });
  it('a longer run must occur as written, not just its bigrams', () => {
    // bigrams 京某 and 某公 are both in 北京某某公司, the run 京某公 is not
    expect(finds('京某公')).toBe(false);
    expect(finds('北上')).toBe(false);
    expect(finds('上海')).toBe(false);
    expect(finds('公')).toBe(true);
  });
  it('mixed scripts in one query and in one word', () => {
    expect(finds('supply 北京')).toBe(true);
    expect(finds('acme 上海')).toBe(false);
    const mixed = indexTexts(['ABC科技有限公司']);
    expect(matchDoc(mixed, parseQuery('abc 科技'))).toBe(true);
    expect(matchDoc(mixed, parseQuery('abc科技'))).toBe(true);
    expect(matchDoc(mixed, parseQuery('科技有限'))).toBe(true);
  });
  it('status in every language the app speaks', () => {
    expect(finds('审核中')).toBe(true);
    expect(finds('in review')).toBe(true);
    expect(finds('in-review')).toBe(true);
    expect(finds('已签署')).toBe(false);
  });
});

describe('amounts, dates and free-form fields', () => {
  it('amounts as written, grouped or by currency', () => {
    for (const q of ['125000', '125000.50', '125,000.50', '125,000', 'cny', 'CNY 125000']) expect(finds(q), q).toBe(true);
    for (const q of ['126000', '125000.51', 'usd', '1250000']) expect(finds(q), q).toBe(false);
  });
  it('dates as ISO prefixes, slashed, in Chinese or by month name', () => {
    for (const q of ['2024-03-15', '2024-03', '2024', '2024/3/15', '2024年3月', '2024年3月15日', 'march 2024', 'dec', '2026-12']) expect(finds(q), q).toBe(true);
    for (const q of ['2024-04', '2025', 'april', '2024年4月']) expect(finds(q), q).toBe(false);
  });
  it('keys and values of free-form fields, and file names, not the file entries JSON', () => {
    for (const q of ['PO-2024-117', 'po number', 'po-2024', '117', 'annex', 'pricing', 'xlsx']) expect(finds(q), q).toBe(true);
    for (const q of ['application', 'vnd', 'size', 'f-0011', 'json']) expect(finds(q), q).toBe(false);
  });
  it('numbers and dates are not glued into other numbers', () => {
    expect(finds('20240315')).toBe(false);
    expect(finds('12500050')).toBe(false);
  });
});

describe('the document', () => {
  it('keeps sorted unique tokens and no text of the query side', () => {
    expect([...doc.tokens]).toEqual([...new Set(doc.tokens)].sort());
    expect(doc.tokens).toContain('北京');
    expect(doc.tokens).toContain('北');
    expect(doc.tokens).toContain('supply');
  });
  it('a contract with little in it', () => {
    const bare = indexTexts(contractTexts({ title: 'X', counterparties: [], amount: null, dates: { signed: null, effective: null, expires: null }, status: 'draft', extra: {} }));
    expect(matchDoc(bare, parseQuery('x'))).toBe(true);
    expect(matchDoc(bare, parseQuery('draft'))).toBe(true);
    expect(matchDoc(bare, parseQuery('xy'))).toBe(false);
  });
});

/**
 * Tokens and queries of the contract search (pure: no DOM, no storage, no keys).
 *
 * One folding for documents and queries: Unicode compatibility forms (full-width letters and
 * digits), case and Latin diacritics, so "Muller", "MÜLLER" and "ｍｕｌｌｅｒ" meet. Latin-script
 * words are matched by prefix, as people type. Chinese, Japanese and Korean have no spaces
 * between words, so a run of such characters is indexed as its single characters and its
 * overlapping bigrams: "北京" finds "北京某某公司" by one bigram; a longer query run needs all its
 * bigrams and then the run itself in the text, so bigrams alone never make a false hit.
 * A query matches when every one of its terms does.
 */
import type { ContractFields } from '$shared/schemas/contract';

export interface SearchDoc {
  /** sorted, unique: binary search finds a prefix in O(log n) */
  readonly tokens: readonly string[];
  /** the folded texts joined by newlines, to confirm CJK runs longer than a bigram */
  readonly text: string;
}

export type Term = { kind: 'prefix'; text: string } | { kind: 'cjk'; run: string; grams: string[] };

export interface Query {
  readonly terms: readonly Term[];
}

// Latin combining marks only: kana voicing marks (U+3099, U+309A) change the word, so they stay.
const LATIN_MARKS = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;
// Letters that do not decompose under NFKD but are read as their base letters.
const FOLD_LETTERS: Record<string, string> = { ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', ł: 'l', đ: 'd', ð: 'd', þ: 'th', ı: 'i' };
const CJK_CHARS = '\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}\\u30fc\\u3005';
const WORD_CHAR = `(?:(?![${CJK_CHARS}])[\\p{L}\\p{N}\\p{M}])`;
const CONNECTOR_CHARS = "-_.'@/:&+";
// A segment: a CJK run, or word characters joined by single connectors (a date, an amount, an
// e-mail address, "o'brien"): capture 1 is a CJK run, capture 2 a word.
const SEGMENT = new RegExp(`([${CJK_CHARS}]+)|(${WORD_CHAR}+(?:[${CONNECTOR_CHARS}]${WORD_CHAR}+)*)`, 'gu');
const CONNECTORS = /[-_.'@/:&+]+/;

/** Case, width and Latin diacritics folded; thousands separators and slashed dates made canonical. */
export function fold(text: string): string {
  return (
    text
      .toLowerCase()
      .normalize('NFKD')
      .replace(LATIN_MARKS, '')
      .normalize('NFC')
      .replace(/[ßæœøłđðþı]/g, (c) => FOLD_LETTERS[c] ?? c)
      // "125,000.50" is the amount 125000.50: grouping commas are not part of the number
      .replace(/(\d),(?=\d{3}(?!\d))/g, '$1')
      // "2024/3/5" is the date 2024-03-05
      .replace(/\b(\d{4})\/(\d{1,2})(?:\/(\d{1,2}))?\b/g, (_m, y: string, mo: string, d?: string) => `${y}-${mo.padStart(2, '0')}${d ? `-${d.padStart(2, '0')}` : ''}`)
  );
}

function bigrams(run: string): string[] {
  const chars = [...run];
  const out: string[] = [];
  for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i]! + chars[i + 1]!);
  return out;
}

/** The tokens of one folded text, added to `into`. */
function addTokens(folded: string, into: Set<string>): void {
  for (const m of folded.matchAll(SEGMENT)) {
    const [, cjk, word] = m;
    if (cjk) {
      for (const c of cjk) into.add(c);
      for (const g of bigrams(cjk)) into.add(g);
    } else if (word) {
      into.add(word);
      if (!CONNECTORS.test(word)) continue;
      const parts = word.split(CONNECTORS).filter(Boolean);
      for (const p of parts) into.add(p);
      // "o'brien" is also typed "obrien", "ACME-7" as "acme7"; numbers and dates are not glued
      // ("2024-03-15" as "20240315" would prefix-match unrelated numbers).
      if (/\p{L}/u.test(word)) into.add(parts.join(''));
    }
  }
}

/** The search document of some texts: every token of every text, and the folded text. */
export function indexTexts(texts: readonly string[]): SearchDoc {
  const tokens = new Set<string>();
  const folded = texts.map(fold);
  for (const t of folded) addTokens(t, tokens);
  return { tokens: [...tokens].sort(), text: folded.join('\n') };
}

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

/** A date as people may type it: ISO, "2024年3月5日", "March 2024". */
function dateTexts(iso: string | null): string[] {
  if (!iso) return [];
  const [y, m, d] = iso.split('-').map(Number) as [number, number, number];
  return [iso, `${y}年${m}月${d}日`, `${MONTHS[m - 1] ?? ''} ${y}`];
}

/** The name in a `file:<id>` entry of `extra` (JSON written by the app), or nothing. */
function fileName(value: string): string {
  try {
    const meta = JSON.parse(value) as { name?: unknown };
    return typeof meta?.name === 'string' ? meta.name : '';
  } catch {
    return '';
  }
}

/**
 * Everything a person might type to find a contract: title, counterparties, status (with the
 * words `statusWords` gives for it, in every language the app speaks), amount and currency,
 * dates, the free-form fields' keys and values, and the names of its files.
 */
export function contractTexts(fields: ContractFields, statusWords: readonly string[] = []): string[] {
  const texts = [fields.title, ...fields.counterparties, fields.status, ...statusWords];
  if (fields.amount) texts.push(fields.amount.value, fields.amount.currency);
  texts.push(...dateTexts(fields.dates.signed), ...dateTexts(fields.dates.effective), ...dateTexts(fields.dates.expires));
  for (const [key, value] of Object.entries(fields.extra)) {
    if (key.startsWith('file:')) texts.push(fileName(value));
    else texts.push(key, value);
  }
  return texts.filter((t) => t !== '');
}

/** The terms of a query; an empty query (or only punctuation) has none and matches everything. */
export function parseQuery(query: string): Query {
  const terms: Term[] = [];
  const seen = new Set<string>();
  for (const m of fold(query).matchAll(SEGMENT)) {
    const [, cjk, word] = m;
    const key = cjk ? `c:${cjk}` : `w:${word}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (cjk) terms.push({ kind: 'cjk', run: cjk, grams: [...cjk].length === 1 ? [cjk] : bigrams(cjk) });
    else if (word) terms.push({ kind: 'prefix', text: word });
  }
  return { terms };
}

/** Index of the first token >= `text`. */
function lowerBound(tokens: readonly string[], text: string): number {
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (tokens[mid]! < text) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const hasPrefix = (tokens: readonly string[], prefix: string) => tokens[lowerBound(tokens, prefix)]?.startsWith(prefix) ?? false;
const hasToken = (tokens: readonly string[], token: string) => tokens[lowerBound(tokens, token)] === token;

export function matchDoc(doc: SearchDoc, query: Query): boolean {
  return query.terms.every((term) => {
    if (term.kind === 'prefix') return hasPrefix(doc.tokens, term.text);
    if (!term.grams.every((g) => hasToken(doc.tokens, g))) return false;
    // Bigrams can all be present without the run itself ("京某公" in "北京某某公司"): confirm.
    return term.grams.length <= 1 || doc.text.includes(term.run);
  });
}

/**
 * A contract's fields between the sealed record (ContractFields) and the forms and lists that
 * show them: the form's draft, sorting, and the file names kept in `extra` under `file:<fileId>`.
 * Search lives in search-tokens.ts and search-index.ts.
 */
import { CONTRACT_STATUSES, ContractFieldsSchema, type ContractFields, type ContractStatus } from '$shared/schemas/contract';
import { FileMetaSchema, type FileMeta } from './schemas';
import { NoticeError } from './errors';

export const FILE_KEY_PREFIX = 'file:';
export const MAX_EXTRA = 50;

export interface ExtraRow {
  key: string;
  value: string;
}

/** What a fields form edits: plain strings, checked only when turned into ContractFields. */
export interface FieldsDraft {
  title: string;
  counterparties: string;
  amountValue: string;
  currency: string;
  signed: string;
  effective: string;
  expires: string;
  status: ContractStatus;
  extra: ExtraRow[];
}

export function emptyDraft(): FieldsDraft {
  return { title: '', counterparties: '', amountValue: '', currency: 'CNY', signed: '', effective: '', expires: '', status: 'draft', extra: [] };
}

export function draftOf(fields: ContractFields): FieldsDraft {
  return {
    title: fields.title,
    counterparties: fields.counterparties.join(', '),
    amountValue: fields.amount?.value ?? '',
    currency: fields.amount?.currency ?? 'CNY',
    signed: fields.dates.signed ?? '',
    effective: fields.dates.effective ?? '',
    expires: fields.dates.expires ?? '',
    status: fields.status,
    extra: userExtra(fields).map(([key, value]) => ({ key, value })),
  };
}

/**
 * The fields a draft describes, keeping the file entries of `keep` (the current fields) as they
 * are. Throws a ZodError naming the field, or a NoticeError for a reserved or repeated key.
 */
export function fieldsOf(draft: FieldsDraft, keep: ContractFields | null = null): ContractFields {
  const extra: Record<string, string> = {};
  for (const row of draft.extra) {
    const key = row.key.trim();
    if (key === '' && row.value.trim() === '') continue;
    if (key.startsWith(FILE_KEY_PREFIX)) throw new NoticeError('contracts.error.reservedKey', { key });
    if (key in extra) throw new NoticeError('contracts.error.duplicateKey', { key });
    extra[key] = row.value.trim();
  }
  if (keep) for (const [k, v] of Object.entries(keep.extra)) if (k.startsWith(FILE_KEY_PREFIX)) extra[k] = v;
  const amountValue = draft.amountValue.trim().replace(/[\s,]/g, '');
  return ContractFieldsSchema.parse({
    title: draft.title.trim(),
    counterparties: draft.counterparties
      .split(/[,，;；\n]/)
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    amount: amountValue === '' ? null : { value: amountValue, currency: draft.currency.trim().toUpperCase() },
    dates: { signed: draft.signed || null, effective: draft.effective || null, expires: draft.expires || null },
    status: draft.status,
    extra,
  });
}

/** The free-form extra fields, without the app's file entries. */
export function userExtra(fields: ContractFields): [string, string][] {
  return Object.entries(fields.extra).filter(([k]) => !k.startsWith(FILE_KEY_PREFIX));
}

/** The files named in the fields, by file id; an entry that does not parse keeps its id only. */
export function fileMetas(fields: ContractFields): Map<string, FileMeta | null> {
  const out = new Map<string, FileMeta | null>();
  for (const [k, v] of Object.entries(fields.extra)) {
    if (!k.startsWith(FILE_KEY_PREFIX)) continue;
    let meta: FileMeta | null = null;
    try {
      const parsed = FileMetaSchema.safeParse(JSON.parse(v));
      if (parsed.success) meta = parsed.data;
    } catch {
      // not JSON: shown by its id
    }
    out.set(k.slice(FILE_KEY_PREFIX.length), meta);
  }
  return out;
}

/** `fields` with these files added to `extra` (name and type cut to fit the 1000-character value). */
export function withFiles(fields: ContractFields, files: { id: string; file: File }[]): ContractFields {
  const extra = { ...fields.extra };
  const known = fileMetas(fields);
  for (const { id, file } of files) {
    // A new version keeps the document's name (its versions are one document); size and type follow the file.
    const meta: FileMeta = { name: known.get(id)?.name ?? (file.name.slice(0, 300) || id), type: file.type.slice(0, 200), size: file.size };
    extra[`${FILE_KEY_PREFIX}${id}`] = JSON.stringify(meta);
  }
  if (Object.keys(extra).length > MAX_EXTRA) throw new NoticeError('contracts.error.tooManyFiles', { max: MAX_EXTRA });
  return { ...fields, extra };
}

export function randomFileId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `f-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export const statusOrder = (s: ContractStatus) => CONTRACT_STATUSES.indexOf(s);

/** The amount as written (decimal text, never through a float), with thousands grouped. */
export function formatAmount(amount: ContractFields['amount']): string {
  if (!amount) return '—';
  const [whole = '0', fraction] = amount.value.replace(/^-/, '').split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${amount.value.startsWith('-') ? '-' : ''}${grouped}${fraction ? `.${fraction}` : ''} ${amount.currency}`;
}

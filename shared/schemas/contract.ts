/**
 * The structured fields of a contract, as the browser seals them in its "fields" record (the
 * relay never sees them). Checked on the way in (the form) and on the way out (a record that
 * decrypts but does not parse is refused: its author wrote something no client can show).
 */
import { z } from 'zod';
import { PlainText } from './directory';

export const CONTRACT_STATUSES = ['draft', 'in-review', 'signing', 'signed', 'active', 'expired', 'terminated'] as const;
export const ContractStatusSchema = z.enum(CONTRACT_STATUSES);
export type ContractStatus = z.infer<typeof ContractStatusSchema>;

/** A calendar date, YYYY-MM-DD. */
export const IsoDate = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'a date YYYY-MM-DD');

export const MoneySchema = z.strictObject({
  /** decimal text, so no binary rounding: up to 15 digits and 4 decimals */
  value: z.string().regex(/^-?\d{1,15}(\.\d{1,4})?$/, 'an amount such as 12500.00'),
  /** ISO 4217 code */
  currency: z.string().regex(/^[A-Z]{3}$/, 'a currency code such as CNY, USD, EUR'),
});

export const ContractFieldsSchema = z.strictObject({
  title: PlainText(300),
  counterparties: z.array(PlainText(200)).max(20),
  amount: MoneySchema.nullable(),
  dates: z.strictObject({ signed: IsoDate.nullable(), effective: IsoDate.nullable(), expires: IsoDate.nullable() }),
  status: ContractStatusSchema,
  /** free-form key/value fields */
  extra: z.record(z.string().min(1).max(64), z.string().max(1000)).refine((r) => Object.keys(r).length <= 50, 'at most 50 extra fields'),
});
export type ContractFields = z.infer<typeof ContractFieldsSchema>;

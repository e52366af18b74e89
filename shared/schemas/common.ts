/**
 * Building blocks for the wire schemas every relay route validates against. Objects are strict
 * (unknown fields are refused), strings are bounded, and binary travels as canonical base64url.
 */
import { z } from 'zod';
import { fromBase64url } from '../crypto/encoding';

// zod would probe `new Function` once to compile faster validators; the app's CSP forbids eval,
// and a refused probe is a CSP violation report for nothing. Interpreted validation is enough.
z.config({ jitless: true });

export const Id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'an id of 1 to 64 characters from A-Z a-z 0-9 _ -');

/** Canonical unpadded base64url, optionally of an exact decoded length or a maximum. */
export function B64u(opts: { bytes?: number; maxBytes?: number } = {}) {
  return z.string().max(Math.ceil(((opts.bytes ?? opts.maxBytes ?? 1 << 20) * 4) / 3) + 4).superRefine((s, ctx) => {
    let n: number;
    try {
      n = fromBase64url(s).length;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not canonical unpadded base64url' });
      return;
    }
    if (opts.bytes !== undefined && n !== opts.bytes) ctx.addIssue({ code: 'custom', message: `must decode to ${opts.bytes} bytes` });
    if (opts.maxBytes !== undefined && n > opts.maxBytes) ctx.addIssue({ code: 'custom', message: `must decode to at most ${opts.maxBytes} bytes` });
  });
}

export const Sha256B64u = B64u({ bytes: 32 });
export const PositiveInt = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
export const NonNegativeInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const ShortText = z.string().min(1).max(200);

/** A signed statement on the wire (shared/crypto/statements.ts); its content is checked by clients. */
export const SignedStatementSchema = z.strictObject({
  statement: z.record(z.string(), z.unknown()).refine((s) => typeof s.type === 'string', 'statement needs a type'),
  signature: B64u({ bytes: 64 }),
});

export const ErrorBodySchema = z.strictObject({ error: z.strictObject({ code: z.string(), message: z.string() }) });
export const HealthSchema = z.strictObject({ service: z.string(), version: z.string(), ok: z.boolean() });

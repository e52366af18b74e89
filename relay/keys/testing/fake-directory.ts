/**
 * TEST SUPPORT ONLY: a stand-in for the directory service (docs/relay-api.md) answering
 * `GET /api/directory/key` and `GET /api/directory/accounts/:id/public-keys`, with an Ed25519
 * key the test holds so it can mint session tokens and escrow tickets. Real account keys
 * (RSA-OAEP 3072 envelope keys, ECDSA P-256 signing keys) are made by `member()`.
 */
import { Hono } from 'hono';
import { toBase64url } from '../../../shared/crypto/encoding';
import { generateEnvelopeKeyPair } from '../../../shared/crypto/envelopes';
import { generateSigningKeyPair, publicKeyId } from '../../../shared/crypto/statements';
import { signToken, type TokenPayload } from '../../../shared/formats/token';
import type { DirectoryPublicKeys } from '../../../shared/schemas/keys';
import type { FetchLike } from '../../common/peers';

export interface TestAccount {
  id: string;
  envelopeKeys: CryptoKeyPair;
  signingKeys: CryptoKeyPair;
  record: DirectoryPublicKeys;
}

let counter = 0;

export async function createFakeDirectory() {
  const key = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const publicRaw = new Uint8Array(await crypto.subtle.exportKey('raw', key.publicKey));
  const accounts = new Map<string, DirectoryPublicKeys>();
  const lookups: string[] = [];

  const app = new Hono();
  app.get('/api/directory/key', (c) => c.json({ service: 'directory', publicKey: toBase64url(publicRaw) }));
  app.get('/api/directory/accounts/:id/public-keys', (c) => {
    const id = c.req.param('id');
    lookups.push(id);
    const record = accounts.get(id);
    if (!record) return c.json({ error: { code: 'E_NOT_FOUND', message: 'no such account' } }, 404);
    return c.json(record);
  });

  const nowSeconds = () => Math.floor(Date.now() / 1000);

  const token = (payload: Partial<TokenPayload> & Pick<TokenPayload, 'typ' | 'sub'>, signer: CryptoKey = key.privateKey): Promise<string> => {
    const iat = payload.iat ?? nowSeconds();
    return signToken(signer, {
      iss: 'directory',
      jti: `t${++counter}-${crypto.randomUUID()}`,
      exp: iat + (payload.typ === 'session' ? 900 : 60),
      ...payload,
      iat,
    });
  };

  return {
    app,
    key,
    accounts,
    lookups,
    local: (): FetchLike => async (url, init) => app.request(url, init),
    session: (sub: string, roles: string[] = ['employee'], extra: Partial<TokenPayload> = {}) => token({ typ: 'session', sub, roles, ...extra }),
    ticket: (sub: string, extra: Partial<TokenPayload> = {}, signer?: CryptoKey) => token({ typ: 'escrow-ticket', sub, ...extra }, signer),
    /** Adds an account with real keys; status, certification and revocation as given (`revoked` absent unless set). */
    async member(
      id: string,
      opts: { status?: DirectoryPublicKeys['status']; certified?: boolean; revoked?: boolean; roles?: string[]; envelopeKeys?: CryptoKeyPair } = {},
    ): Promise<TestAccount> {
      const envelopeKeys = opts.envelopeKeys ?? (await generateEnvelopeKeyPair());
      const signingKeys = await generateSigningKeyPair();
      const record: DirectoryPublicKeys = {
        account: id,
        status: opts.status ?? 'active',
        roles: opts.roles ?? ['employee'],
        envelopeKey: toBase64url(new Uint8Array(await crypto.subtle.exportKey('spki', envelopeKeys.publicKey))),
        signingKey: toBase64url(new Uint8Array(await crypto.subtle.exportKey('spki', signingKeys.publicKey))),
        signingKeyId: await publicKeyId(signingKeys.publicKey),
        certified: opts.certified ?? true,
        certificate: null,
        ...(opts.revoked === undefined ? {} : { revoked: opts.revoked }),
      };
      accounts.set(id, record);
      return { id, envelopeKeys, signingKeys, record };
    },
  };
}

export type FakeDirectory = Awaited<ReturnType<typeof createFakeDirectory>>;

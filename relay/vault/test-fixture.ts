/**
 * Test support for the vault: a fake directory (its session-signing key and the accounts' public
 * keys) and a fake keys service (who holds which role in which space) answering exactly the
 * routes the vault calls (docs/relay-api.md), the vault mounted in the relay app (so errors get the relay's shape), and
 * a client-side helper that encrypts a file as a browser would.
 */
import { Hono } from 'hono';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRelayApp } from '../server';
import { SESSION_LIFETIME_SECONDS } from '../common/auth';
import { testServiceContext } from '../test-support/service-context';
import type { RelayService } from '../services/service';
import { createBlockCutter, planBlocks, type CutBlock } from '../../shared/crypto/blocks';
import { ciphertextLength, createEncryptStream, fileContext } from '../../shared/crypto/chunked';
import { toBase64url } from '../../shared/crypto/encoding';
import { buildManifest, signManifest, type FileManifest } from '../../shared/crypto/manifest';
import { generateSigningKeyPair, publicKeyId, type SignedStatement } from '../../shared/crypto/statements';
import { signToken, verifyToken } from '../../shared/formats/token';
import type { DirectoryPublicKeys } from '../../shared/schemas/keys';
import type { SpaceRole } from '../../shared/schemas/vault';
import { createVaultService, type VaultOptions } from './index';

export interface FakePeers {
  app: Hono;
  /** space -> account -> role; edit it to grant or revoke */
  grants: Map<string, Map<string, SpaceRole>>;
  /** how many times keys was asked (proves nothing is cached) */
  keysCalls: number;
  /** account -> what the directory answers to GET /accounts/:id/public-keys */
  accounts: Map<string, DirectoryPublicKeys>;
  /** accounts the vault looked up in the directory, in order */
  directoryLookups: string[];
  /** when true the directory answers account lookups with HTTP 500 */
  directoryDown: boolean;
  session(account: string, extra?: { lifetime?: number; iat?: number }): Promise<string>;
  grant(space: string, account: string, role: SpaceRole | null): void;
  /** "space/contract/account" of each single share keys knows of; edit with share() */
  shares: Set<string>;
  share(space: string, contract: string, account: string, held: boolean): void;
  /**
   * The signing key pair of `account`, registered in the directory (active and certified unless
   * `opts` says otherwise) on first use; later calls return the same pair and apply `opts`.
   */
  signer(account: string, opts?: Partial<Pick<DirectoryPublicKeys, 'status' | 'certified' | 'revoked' | 'signingKey'>>): Promise<CryptoKeyPair>;
}

export async function createFakePeers(): Promise<FakePeers> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  const grants = new Map<string, Map<string, SpaceRole>>();
  const shares = new Set<string>();
  const signers = new Map<string, CryptoKeyPair>();
  const app = new Hono();
  const peers: FakePeers = {
    app,
    grants,
    shares,
    keysCalls: 0,
    accounts: new Map(),
    directoryLookups: [],
    directoryDown: false,
    async session(account, extra = {}) {
      const iat = extra.iat ?? Math.floor(Date.now() / 1000);
      return signToken(pair.privateKey, { typ: 'session', iss: 'directory', sub: account, jti: crypto.randomUUID(), iat, exp: iat + (extra.lifetime ?? SESSION_LIFETIME_SECONDS), roles: ['employee'] });
    },
    grant(space, account, role) {
      const members = grants.get(space) ?? new Map<string, SpaceRole>();
      if (role === null) members.delete(account);
      else members.set(account, role);
      grants.set(space, members);
    },
    share(space, contract, account, held) {
      if (held) shares.add(`${space}/${contract}/${account}`);
      else shares.delete(`${space}/${contract}/${account}`);
    },
    async signer(account, opts = {}) {
      let keys = signers.get(account);
      if (!keys) {
        keys = await generateSigningKeyPair();
        signers.set(account, keys);
        peers.accounts.set(account, {
          account,
          status: 'active',
          roles: ['employee'],
          envelopeKey: null,
          signingKey: toBase64url(new Uint8Array(await crypto.subtle.exportKey('spki', keys.publicKey))),
          signingKeyId: await publicKeyId(keys.publicKey),
          certified: true,
          certificate: null,
          revoked: false,
        });
      }
      Object.assign(peers.accounts.get(account)!, opts);
      return keys;
    },
  };
  app.get('/api/directory/key', (c) => c.json({ service: 'directory', publicKey: toBase64url(raw) }));
  app.get('/api/directory/accounts/:id/public-keys', (c) => {
    const id = c.req.param('id');
    peers.directoryLookups.push(id);
    if (peers.directoryDown) return c.json({ error: { code: 'E_INTERNAL', message: 'down' } }, 500);
    const record = peers.accounts.get(id);
    if (!record) return c.json({ error: { code: 'E_NOT_FOUND', message: 'no such account' } }, 404);
    return c.json(record);
  });
  const caller = async (authorization: string | undefined): Promise<string | null> => {
    const m = /^Bearer (.+)$/.exec(authorization ?? '');
    if (!m) return null;
    try {
      return (await verifyToken(pair.publicKey, m[1], { typ: 'session', iss: 'directory' })).sub;
    } catch {
      return null;
    }
  };
  // The members part of GET /grants?space= (what signing reads): members of the space only, as keys answers.
  app.get('/api/keys/grants', async (c) => {
    peers.keysCalls++;
    const sub = await caller(c.req.header('authorization'));
    if (sub === null) return c.json({ error: { code: 'E_UNAUTHORIZED', message: 'sign in' } }, 401);
    const space = c.req.query('space') ?? '';
    const members = grants.get(space);
    if (!members?.has(sub)) return c.json({ error: { code: 'E_NOT_FOUND', message: 'no such space among yours' } }, 404);
    return c.json({ space, members: [...members].map(([member, role]) => ({ member, role })) });
  });
  app.get('/api/keys/grants/mine', async (c) => {
    peers.keysCalls++;
    const sub = await caller(c.req.header('authorization'));
    if (sub === null) return c.json({ error: { code: 'E_UNAUTHORIZED', message: 'sign in' } }, 401);
    const space = c.req.query('space') ?? '';
    const contract = c.req.query('contract');
    const role = grants.get(space)?.get(sub) ?? null;
    if (contract === undefined) return c.json({ space, role });
    return c.json({ space, contract, role: role ?? (shares.has(`${space}/${contract}/${sub}`) ? 'viewer' : null) });
  });
  return peers;
}

export interface VaultHarness {
  service: RelayService;
  /** the relay app with only the vault mounted: request `/api/vault/...` */
  app: Hono;
  dataDir: string;
  audit: Awaited<ReturnType<typeof testServiceContext>>['audit'];
  ctx: Awaited<ReturnType<typeof testServiceContext>>;
  close(): Promise<void>;
}

export async function startVault(fake: FakePeers, options: VaultOptions & { dataDir?: string } = {}): Promise<VaultHarness> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'sealvault-vault-'));
  const ctx = await testServiceContext('vault', { dataDir, local: () => (url, init) => Promise.resolve(fake.app.request(url, init)) });
  const service = await createVaultService(ctx, { env: {}, ...options });
  const app = createRelayApp({ services: [service], errorLog: () => undefined }) as unknown as Hono;
  return { service, app, dataDir, audit: ctx.audit, ctx, close: async () => void (await service.close?.()) };
}

export interface EncryptedFile {
  plaintext: Uint8Array;
  blocks: CutBlock[];
  manifest: FileManifest;
  signed: SignedStatement<FileManifest>;
  salt: Uint8Array;
}

/** Encrypts `plaintext` as the browser does: stream-encrypt, cut into blocks, sign the manifest. */
export async function encryptFile(input: {
  dek: CryptoKey;
  signer: CryptoKey;
  contract: string;
  file: string;
  version: number;
  uploader: string;
  plaintext: Uint8Array;
  maxBlockSize: number;
}): Promise<EncryptedFile> {
  const enc = await createEncryptStream(input.dek, { context: fileContext(input.contract, input.file) });
  const length = ciphertextLength(input.plaintext.length);
  const reader = new Blob([input.plaintext as BlobPart]).stream().pipeThrough(enc.stream).pipeThrough(createBlockCutter(length, input.maxBlockSize)).getReader();
  const blocks: CutBlock[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    blocks.push(value);
  }
  const manifest = buildManifest({
    contract: input.contract,
    version: input.version,
    file: input.file,
    uploader: input.uploader,
    salt: enc.salt,
    commitment: enc.commitment,
    plaintextLength: input.plaintext.length,
    blockSize: planBlocks(length, input.maxBlockSize).blockSize,
    blockHashes: blocks.map((b) => b.sha256),
  });
  return { plaintext: input.plaintext, blocks, manifest, signed: await signManifest(input.signer, manifest), salt: enc.salt };
}

/** A ReadableStream that yields `bytes` in pieces of `piece` bytes and sets no content-length. */
export function pieces(bytes: Uint8Array, piece = 1000): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + piece));
      offset += piece;
    },
  });
}

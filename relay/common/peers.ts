/**
 * How one service reaches another: by HTTPS URL when services run on separate hosts, or by an
 * in-process call to the composed app when `npm start` runs all five. Either way a peer is only
 * trusted through signatures made with its service key, never through the channel.
 */
import type { ServiceName } from '../services/names';
import { fromBase64url } from '../../shared/crypto/encoding';
import { importEd25519PublicKey } from '../../shared/formats/token';
import { HttpError } from '../http/errors';

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export interface PeerConfig {
  /** base URL such as https://escrow.example:8443, or undefined for in-process */
  url?: string;
  /** pinned base64url Ed25519 public key; when absent it is fetched once from GET /api/<svc>/key */
  publicKey?: string;
}

export interface Peers {
  fetch(service: ServiceName, path: string, init?: RequestInit): Promise<Response>;
  /** The Ed25519 verify key of a peer service. */
  publicKey(service: ServiceName): Promise<CryptoKey>;
}

export function createPeers(options: {
  config?: Partial<Record<ServiceName, PeerConfig>>;
  /** in-process handler for services without a URL (the composed relay app) */
  local?: () => FetchLike;
  remoteFetch?: FetchLike;
}): Peers {
  const keys = new Map<ServiceName, Promise<CryptoKey>>();
  const peerFetch = async (service: ServiceName, path: string, init?: RequestInit): Promise<Response> => {
    const cfg = options.config?.[service];
    const full = `/api/${service}${path}`;
    try {
      if (cfg?.url) return await (options.remoteFetch ?? fetch)(new URL(full, cfg.url).toString(), init);
      if (!options.local) throw new Error(`no route to the ${service} service`);
      return await options.local()(`http://in-process${full}`, init);
    } catch (e) {
      throw new HttpError(503, 'E_PEER_UNAVAILABLE', `the ${service} service is unavailable`, { cause: e });
    }
  };
  return {
    fetch: peerFetch,
    publicKey(service) {
      let key = keys.get(service);
      if (!key) {
        key = (async () => {
          const pinned = options.config?.[service]?.publicKey;
          if (pinned) return importEd25519PublicKey(fromBase64url(pinned));
          const res = await peerFetch(service, '/key');
          if (!res.ok) throw new HttpError(503, 'E_PEER_UNAVAILABLE', `cannot read the ${service} service key`);
          const body = (await res.json()) as { publicKey?: string };
          return importEd25519PublicKey(fromBase64url(String(body.publicKey)));
        })();
        key.catch(() => keys.delete(service));
        keys.set(service, key);
      }
      return key;
    },
  };
}

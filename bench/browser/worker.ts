/**
 * A dedicated Web Worker for the two-worker experiment: it holds its own half of the plaintext
 * and runs the raw AES-GCM baseline on it when told to. Only the raw helpers are bundled here.
 */
import { chunkViews, makePlaintext, rawSequential } from '../lib/raw';
import type { FromWorker, ToWorker } from './protocol';

// The project's type check uses the DOM lib, not WebWorker: describe the little of the worker scope we use.
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker): void;
};

let key: CryptoKey | undefined;
let units: Uint8Array[] = [];
let nonceBase = 0;

scope.onmessage = (e) => {
  const msg = e.data;
  void (async () => {
    try {
      if (msg.type === 'setup') {
        key = msg.key;
        nonceBase = msg.nonceBase;
        units = chunkViews(makePlaintext(msg.bytes));
        scope.postMessage({ type: 'ready' });
      } else if (msg.type === 'run') {
        if (!key) throw new Error('run before setup');
        scope.postMessage({ type: 'done', timing: await rawSequential(key, units, nonceBase) });
      }
    } catch (err) {
      scope.postMessage({ type: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    }
  })();
};

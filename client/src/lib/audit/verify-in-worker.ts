/** Runs shared/audit/verify.ts verifyAuditLog in a module worker, with progress. */
import type { AuditEvidence, AuditVerdict } from '$shared/audit/verify';
import type { VerifyReply, VerifyRequest } from './verify.worker';

export function verifyInWorker(evidence: AuditEvidence, onProgress: (done: number, total: number) => void): Promise<AuditVerdict> {
  // Same-origin module worker, as the Argon2id one: allowed by worker-src 'self'.
  const worker = new Worker(new URL('./verify.worker.ts', import.meta.url), { type: 'module', name: 'audit-verify' });
  return new Promise<AuditVerdict>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<VerifyReply>) => {
      const reply = e.data;
      if ('progress' in reply) onProgress(reply.progress.done, reply.progress.total);
      else if ('verdict' in reply) resolve(reply.verdict);
      else reject(new Error(reply.error));
    };
    worker.onerror = (e) => reject(new Error(`the verification worker failed: ${e.message}`));
    const request: VerifyRequest = { evidence };
    worker.postMessage(request);
  }).finally(() => worker.terminate());
}

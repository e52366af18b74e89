/// <reference lib="webworker" />
// Verifying the whole log hashes every leaf and checks every signature: seconds to minutes of
// WebCrypto calls that would freeze the console's progress bar on the main thread.
import { verifyAuditLog, type AuditEvidence, type AuditVerdict } from '$shared/audit/verify';

export interface VerifyRequest {
  evidence: AuditEvidence;
}
export type VerifyReply = { progress: { done: number; total: number } } | { verdict: AuditVerdict } | { error: string };

self.onmessage = async (event: MessageEvent<VerifyRequest>) => {
  const scope = self as unknown as DedicatedWorkerGlobalScope;
  let lastReported = -1;
  try {
    const verdict = await verifyAuditLog(event.data.evidence, {
      onProgress(done: number, total: number) {
        // At most about 200 messages however long the log: each one repaints the page.
        const step = Math.floor((done * 200) / Math.max(total, 1));
        if (step === lastReported && done !== total) return;
        lastReported = step;
        scope.postMessage({ progress: { done, total } } satisfies VerifyReply);
      },
    });
    scope.postMessage({ verdict } satisfies VerifyReply);
  } catch (e) {
    scope.postMessage({ error: e instanceof Error ? e.message : String(e) } satisfies VerifyReply);
  }
};

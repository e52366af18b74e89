/**
 * Progress of a file transfer as a person reads it: percent, MB/s and time left. The rate is
 * measured from the start of the current phase (an upload that resumes starts counting from the
 * bytes already on the relay), and shown only after a moment, so the first block does not
 * promise an absurd speed.
 */
import type { FileProgress } from '$shared/protocol/files';

export interface TransferView {
  phase: FileProgress['phase'];
  done: number;
  total: number;
  fraction: number;
  /** bytes per second in this phase, or null until measurable */
  rate: number | null;
  secondsLeft: number | null;
}

const MIN_ELAPSED_MS = 400;

export class RateTracker {
  private start: { phase: FileProgress['phase']; at: number; done: number } | null = null;

  update(p: FileProgress, now = performance.now()): TransferView {
    if (!this.start || this.start.phase !== p.phase) this.start = { phase: p.phase, at: now, done: p.done };
    const elapsed = now - this.start.at;
    const moved = p.done - this.start.done;
    const rate = elapsed >= MIN_ELAPSED_MS && moved > 0 ? (moved * 1000) / elapsed : null;
    return {
      phase: p.phase,
      done: p.done,
      total: p.total,
      fraction: p.total > 0 ? Math.min(1, p.done / p.total) : 1,
      rate,
      secondsLeft: rate ? Math.max(0, (p.total - p.done) / rate) : null,
    };
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

export function formatRate(bytesPerSecond: number): string {
  const mbps = bytesPerSecond / 1e6;
  return mbps.toFixed(mbps >= 10 ? 0 : mbps >= 1 ? 1 : mbps >= 0.01 ? 2 : 3);
}

export function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}:${String(s % 60).padStart(2, '0')}`;
  return `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

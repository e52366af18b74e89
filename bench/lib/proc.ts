/**
 * What the benches read of a process from /proc (Linux): CPU seconds, per thread too, and RSS.
 * Fields 14 and 15 of stat (utime, stime) are counted from the state field (3), in clock ticks.
 */
import { readdirSync, readFileSync } from 'node:fs';

function cpuOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds (user + system, all threads) the process has used so far; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    return cpuOf(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return 0;
  }
}

/** CPU seconds by thread name (threads of one name added up); the main thread is `mainName`. */
export function threadCpu(pid: number, mainName = 'main'): Map<string, number> {
  const out = new Map<string, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
      const name = task === String(pid) ? mainName : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      out.set(name, (out.get(name) ?? 0) + cpuOf(stat));
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** "name seconds-per-GB, ..." for the threads that used at least 0.05 s/GB between two readings. */
export function describeThreads(before: Map<string, number>, after: Map<string, number>, gb: number): string {
  return [...after]
    .map(([name, v]) => [name, (v - (before.get(name) ?? 0)) / gb] as const)
    .filter(([, v]) => v >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([name, v]) => `${name} ${v.toFixed(2)}`)
    .join(', ');
}

import { readFileSync } from 'node:fs';

// Read at runtime rather than imported as JSON so tsx, vitest and tsc agree without
// import attributes, and so the relay reports the version of the tree it runs from.
function readPackageVersion(): string {
  const raw = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  const parsed: unknown = JSON.parse(raw);
  if (typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string') {
    return parsed.version;
  }
  throw new Error('package.json has no string "version"');
}

export const RELAY_VERSION: string = readPackageVersion();

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { Context, Handler } from 'hono';
import { contentTypeFor } from './content-types';
import { HttpError } from './errors';
import { inlineHashesOf, type InlineHashes } from './inline-hashes';
import { integrityOf, withIntegrity } from './subresource-integrity';

export type SpaBuild =
  | { present: true; dir: string; indexHtml: Uint8Array<ArrayBuffer>; inlineHashes: InlineHashes }
  | { present: false; dir: string };

const IMMUTABLE = 'public, max-age=31536000, immutable';
// Answered in the browser by the download worker (client/src/service-worker.ts). A request that
// reaches the relay had no worker to answer it, and must fail as a download: the page as a 200
// would be saved under the file's name as if it were the file.
const WORKER_ONLY = 'download-stream';
// Everything outside _app/immutable (index.html, _app/version.json, favicon) may change on
// the next build under the same name, so the browser must revalidate.
const REVALIDATE = 'no-cache';

/**
 * Read once at startup: the CSP hashes and the served index.html must come from the same
 * bytes, so a rebuild takes effect on the next relay start, never half-way.
 */
export function loadSpaBuild(dir: string): SpaBuild {
  const root = resolve(dir);
  const indexPath = join(root, 'index.html');
  if (!existsSync(indexPath)) return { present: false, dir: root };
  // The import map of module digests is itself an inline script: hash the page after adding it.
  const html = withIntegrity(readFileSync(indexPath, 'utf8'), integrityOf(root));
  return {
    present: true,
    dir: realpathSync(root),
    indexHtml: new Uint8Array(Buffer.from(html, 'utf8')),
    inlineHashes: inlineHashesOf(html),
  };
}

/** GET/HEAD handler for every path outside /api/: a static file, else the index.html fallback. */
export function serveSpa(build: SpaBuild): Handler {
  return async (c) => {
    if (!build.present) {
      throw new HttpError(503, 'E_CLIENT_NOT_BUILT', 'the web client is not built: run `npm run build`, then restart the relay');
    }
    const segments = safeSegments(new URL(c.req.url).pathname);
    const file = await findStaticFile(build.dir, segments);
    if (file !== null && file !== join(build.dir, 'index.html')) {
      const cacheControl = segments[0] === '_app' && segments[1] === 'immutable' ? IMMUTABLE : REVALIDATE;
      return fileResponse(c, await readFile(file), contentTypeFor(file), cacheControl);
    }
    // A missing hashed asset must stay a 404: answering HTML for a .js URL would only turn
    // a clear "not found" into a MIME-type error in the browser.
    if (file === null && segments[0] === '_app') {
      throw new HttpError(404, 'E_NOT_FOUND', 'no such file');
    }
    if (segments[0] === WORKER_ONLY) throw new HttpError(404, 'E_NOT_FOUND', 'no such download');
    return fileResponse(c, build.indexHtml, 'text/html; charset=utf-8', REVALIDATE);
  };
}

function fileResponse(c: Context, body: Uint8Array<ArrayBuffer>, contentType: string, cacheControl: string): Response {
  c.header('Content-Type', contentType);
  c.header('Cache-Control', cacheControl);
  return c.body(body);
}

/**
 * Splits the raw (still percent-encoded) path and decodes each segment on its own, so an
 * encoded slash or dot-dot (`..%2f`, `%2e%2e`) is judged after decoding and refused.
 */
export function safeSegments(rawPathname: string): string[] {
  const segments: string[] = [];
  for (const raw of rawPathname.split('/')) {
    if (raw === '') continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      throw new HttpError(400, 'E_BAD_PATH', 'malformed percent-encoding in path');
    }
    if (segment === '.' || segment === '..' || /[/\\\0]/.test(segment)) {
      throw new HttpError(400, 'E_BAD_PATH', 'path segments may not be "." or ".." or contain slashes');
    }
    segments.push(segment);
  }
  return segments;
}

async function findStaticFile(root: string, segments: string[]): Promise<string | null> {
  if (segments.length === 0) return null;
  // Dot-files are never part of a build; refusing them keeps stray .env or .git copies private.
  if (segments.some((s) => s.startsWith('.') && s !== '.well-known')) return null;
  const candidate = join(root, ...segments);
  if (!isInside(root, candidate)) return null;
  try {
    const info = await stat(candidate);
    if (!info.isFile()) return null;
    // A symlink inside the build could still point anywhere; judge where it really lands.
    const real = await realpath(candidate);
    return isInside(root, real) ? real : null;
  } catch {
    return null;
  }
}

function isInside(root: string, candidate: string): boolean {
  return candidate.startsWith(root + sep);
}

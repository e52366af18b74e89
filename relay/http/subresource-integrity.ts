/**
 * Subresource Integrity for the built SPA. SvelteKit loads its code as ES modules through
 * `import()`, which a plain `integrity` attribute cannot cover, so the page gets an import map
 * with an `integrity` section listing the SHA-384 of every module in the build: the browser then
 * refuses any module whose bytes changed after the relay started, whoever changed them. The
 * modulepreload and stylesheet links get the same digests as `integrity` attributes.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export type IntegrityMap = Record<string, string>;

function sri(bytes: Uint8Array): string {
  return `sha384-${createHash('sha384').update(bytes).digest('base64')}`;
}

/** `/_app/...` URL -> `sha384-...` for every .js and .css file under the build's _app folder. */
export function integrityOf(buildDir: string): IntegrityMap {
  const map: IntegrityMap = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && /\.(m?js|css)$/.test(entry.name)) map[`/${relative(buildDir, path).split(sep).join('/')}`] = sri(readFileSync(path));
    }
  };
  walk(join(buildDir, '_app'));
  return map;
}

/** Adds the import map (first thing in <head>, before any module loads) and integrity attributes. */
export function withIntegrity(html: string, map: IntegrityMap): string {
  const modules = Object.fromEntries(Object.entries(map).filter(([url]) => /\.m?js$/.test(url)));
  // JSON in a script element: escape "<" so no value can close the element early.
  const importMap = JSON.stringify({ integrity: modules }).replace(/</g, '\\u003c');
  let out = html.replace(/<head(\s[^>]*)?>/i, (head) => `${head}\n\t\t<script type="importmap">${importMap}</script>`);
  out = out.replace(/<link\b([^>]*?)\s*\/?>/gi, (tag, attrs: string) => {
    const href = /\bhref="([^"]+)"/.exec(attrs)?.[1];
    const digest = href === undefined ? undefined : map[href];
    if (digest === undefined || /\bintegrity=/.test(attrs)) return tag;
    return `<link${attrs} integrity="${digest}">`;
  });
  return out;
}

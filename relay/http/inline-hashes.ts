import { createHash } from 'node:crypto';

export interface InlineHashes {
  /** CSP source expressions (`'sha256-…'`) for every inline `<script>` without `src`. */
  scripts: string[];
  /** The same for every `<style>` element. */
  styles: string[];
}

const INLINE_SCRIPT = /<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi;
const STYLE_ELEMENT = /<style\b[^>]*>([\s\S]*?)<\/style\s*>/gi;
const SRC_ATTRIBUTE = /(?:^|\s)src\s*=/i;

export function cspHash(text: string): string {
  // The HTML parser turns CR LF and lone CR into LF before the browser hashes the element's
  // text, so hash what the browser hashes, not the bytes on disk.
  const normalized = text.replace(/\r\n?/g, '\n');
  return `'sha256-${createHash('sha256').update(normalized, 'utf8').digest('base64')}'`;
}

// A regex scan is enough here: the input is our own build output (SvelteKit's fallback page),
// not arbitrary HTML, and a missed script fails closed (the browser refuses to run it).
export function inlineHashesOf(html: string): InlineHashes {
  const scripts: string[] = [];
  for (const match of html.matchAll(INLINE_SCRIPT)) {
    const [, attributes = '', body = ''] = match;
    if (!SRC_ATTRIBUTE.test(attributes)) scripts.push(cspHash(body));
  }
  const styles = [...html.matchAll(STYLE_ELEMENT)].map(([, body = '']) => cspHash(body));
  return { scripts: unique(scripts), styles: unique(styles) };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// Shaped like SvelteKit's adapter-static output: tabs, newlines and all, because the CSP
// hash must cover the script text byte for byte.
export const FIXTURE_INLINE_SCRIPT = `
				{
					__sveltekit_test = {
						base: ""
					};

					const element = document.currentScript.parentElement;

					Promise.all([
						import("/_app/immutable/entry/start.test.js"),
						import("/_app/immutable/entry/app.test.js")
					]).then(([kit, app]) => {
						kit.start(app, element);
					});
				}
			`;

export const FIXTURE_INDEX_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <link href="/_app/immutable/entry/start.test.js" rel="modulepreload">
    <script type="module" src="/_app/immutable/entry/app.test.js"></script>
  </head>
  <body>
    <div style="display: contents">
			<script>${FIXTURE_INLINE_SCRIPT}</script>
		</div>
  </body>
</html>
`;

export const WASM_BYTES = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
export const SECRET_OUTSIDE_BUILD = 'secret outside the build folder';

const FILES: Record<string, string | Uint8Array> = {
  'index.html': FIXTURE_INDEX_HTML,
  '_app/immutable/entry/start.test.js': 'export const start = 1;\n',
  '_app/immutable/entry/app.test.js': 'export const app = 1;\n',
  '_app/immutable/assets/app.test.css': 'body { margin: 0 }\n',
  '_app/immutable/workers/hash.test.wasm': WASM_BYTES,
  '_app/version.json': '{"version":"test"}\n',
  'favicon.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
  'vendor/module.mjs': 'export default 1;\n',
  // SvelteKit's build of client/src/service-worker.ts: a classic script at the top level.
  'service-worker.js': 'self.addEventListener("fetch", () => {});\n',
  '.env': 'SECRET=1\n',
};

/** Writes a fake client build into a fresh temp folder; returns `{ root, buildDir }`. */
export function writeSpaFixture(): { root: string; buildDir: string } {
  const root = mkdtempSync(join(tmpdir(), 'sealvault-spa-'));
  const buildDir = join(root, 'build');
  for (const [path, content] of Object.entries(FILES)) {
    const full = join(buildDir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
  writeFileSync(join(root, 'secret.txt'), SECRET_OUTSIDE_BUILD);
  symlinkSync(join(root, 'secret.txt'), join(buildDir, 'escape.txt'));
  return { root, buildDir };
}

import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRelayApp } from '../server';
import { writeSpaFixture } from '../test-support/spa-fixture';
import { integrityOf, withIntegrity } from './subresource-integrity';

const fixture = writeSpaFixture();
afterAll(() => rmSync(fixture.root, { recursive: true, force: true }));

const sha384 = (path: string) => `sha384-${createHash('sha384').update(readFileSync(join(fixture.buildDir, path))).digest('base64')}`;

describe('subresource integrity of the built SPA', () => {
  it('lists every module and stylesheet with its SHA-384', () => {
    expect(integrityOf(fixture.buildDir)).toEqual({
      '/_app/immutable/entry/start.test.js': sha384('_app/immutable/entry/start.test.js'),
      '/_app/immutable/entry/app.test.js': sha384('_app/immutable/entry/app.test.js'),
      '/_app/immutable/assets/app.test.css': sha384('_app/immutable/assets/app.test.css'),
    });
  });

  it('serves the page with an import map of module digests first in <head> and integrity on preloads', async () => {
    const html = await (await createRelayApp({ spaDir: fixture.buildDir }).request('/')).text();
    const head = html.slice(html.indexOf('<head>'), html.indexOf('</head>'));
    const mapAt = head.indexOf('<script type="importmap">');
    expect(mapAt).toBeGreaterThan(0);
    expect(mapAt).toBeLessThan(head.indexOf('<script type="module"'));
    const map = JSON.parse(/<script type="importmap">([^<]*)<\/script>/.exec(html)![1]!);
    expect(map.integrity['/_app/immutable/entry/start.test.js']).toBe(sha384('_app/immutable/entry/start.test.js'));
    expect(map.integrity['/_app/immutable/assets/app.test.css']).toBeUndefined();
    expect(html).toContain(`<link href="/_app/immutable/entry/start.test.js" rel="modulepreload" integrity="${sha384('_app/immutable/entry/start.test.js')}">`);
  });

  it('escapes "<" inside the import map so no path can end the script element', () => {
    const html = withIntegrity('<head></head>', { '/_app/x</script><script>alert(1)//.js': 'sha384-x' });
    expect(html).not.toContain('</script><script>alert');
  });
});

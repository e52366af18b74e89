/**
 * Node-side plumbing for the Chromium half of the bench: find the browser, bundle the page code
 * with esbuild, serve it on 127.0.0.1, open it with Playwright and call into it.
 */
import { accessSync, constants } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from '@playwright/test';
import { build } from 'esbuild';
import type { BenchApi } from '../browser/entry';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** An error whose message is the whole story (no stack trace needed). */
export class UsageError extends Error {}

/** PLAYWRIGHT_CHROMIUM_PATH if set, else /usr/bin/chromium; a UsageError saying what to install otherwise. */
export function findChromium(): string {
  const fromEnv = process.env.PLAYWRIGHT_CHROMIUM_PATH;
  const path = fromEnv || '/usr/bin/chromium';
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    const where = fromEnv ? `PLAYWRIGHT_CHROMIUM_PATH=${fromEnv} is not an executable file` : 'No Chromium at /usr/bin/chromium';
    throw new UsageError(
      `${where}.\nInstall one (Debian/Ubuntu: apt-get install -y chromium) or set PLAYWRIGHT_CHROMIUM_PATH to a Chromium or Chrome binary.`,
    );
  }
}

/** bench/browser/entry.ts and worker.ts as ES modules, in memory: path ("/entry.js") to source. */
export async function bundle(): Promise<Map<string, string>> {
  const out = await build({
    absWorkingDir: ROOT,
    entryPoints: { entry: 'bench/browser/entry.ts', worker: 'bench/browser/worker.ts' },
    outdir: 'bench-bundle', // nothing is written (write: false); this only names the outputs
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const files = new Map<string, string>();
  for (const f of out.outputFiles) files.set(`/${f.path.split(/[\\/]/).pop()}`, f.text);
  for (const need of ['/entry.js', '/worker.js']) if (!files.has(need)) throw new Error(`esbuild produced no ${need}`);
  return files;
}

const PAGE = '<!doctype html><meta charset="utf-8"><title>sealvault crypto bench</title><script type="module" src="/entry.js"></script>\n';

export interface BenchServer {
  origin: string;
  close(): Promise<void>;
}

/** Serves the page and the bundle on 127.0.0.1 (a secure context, so WebCrypto is there). */
export async function serve(files: Map<string, string>): Promise<BenchServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const body = path === '/' ? PAGE : files.get(path);
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': path === '/' ? 'text/html; charset=utf-8' : 'text/javascript; charset=utf-8',
      'cache-control': 'no-store',
    });
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface BenchPage {
  browser: Browser;
  page: Page;
}

/** Launches Chromium headless; Playwright gives it a fresh temporary profile (--user-data-dir). */
export async function launchChromium(executablePath: string): Promise<Browser> {
  try {
    return await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  } catch (e) {
    const detail = (e as Error).message.split('\n').slice(0, 3).join('\n');
    throw new UsageError(
      `could not start Chromium at ${executablePath}: ${detail}\nInstall a working one (Debian/Ubuntu: apt-get install -y chromium) or set PLAYWRIGHT_CHROMIUM_PATH.`,
    );
  }
}

/** Starts Chromium and closes it again: fails fast, before minutes of other measurements. */
export async function probeChromium(executablePath: string): Promise<string> {
  const browser = await launchChromium(executablePath);
  const version = browser.version();
  await browser.close();
  return version;
}

/** Launches Chromium and opens the bench page. */
export async function openBenchPage(executablePath: string, origin: string, log: (m: string) => void): Promise<BenchPage> {
  const browser = await launchChromium(executablePath);
  try {
    const context = await browser.newContext();
    // Belt and braces: the page may only talk to our own server.
    await context.route(
      (url) => !url.href.startsWith(`${origin}/`),
      (route) => route.abort(),
    );
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('console', (m) => log(`[page ${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => {
      pageErrors.push(e.message);
      log(`[page error] ${e.message}`);
    });
    await page.goto(`${origin}/`);
    try {
      await page.waitForFunction(() => 'sealvaultBench' in globalThis, undefined, { timeout: 30_000 });
    } catch {
      throw new Error(`the bench page did not load its bundle${pageErrors.length ? `: ${pageErrors.join('; ')}` : ''}`);
    }
    return { browser, page };
  } catch (e) {
    await browser.close().catch(() => undefined);
    throw e;
  }
}

type Method = { [K in keyof BenchApi]: BenchApi[K] extends (...a: never[]) => unknown ? K : never }[keyof BenchApi];

/** Calls globalThis.sealvaultBench[name](...args) in the page and returns its (serialisable) result. */
export async function call<K extends Method>(page: Page, name: K, ...args: Parameters<BenchApi[K]>): Promise<Awaited<ReturnType<BenchApi[K]>>> {
  return page.evaluate(
    ([n, a]) => {
      const api = (globalThis as unknown as { sealvaultBench: Record<string, (...x: unknown[]) => unknown> }).sealvaultBench;
      return api[n]!(...a);
    },
    [name, args] as [string, unknown[]],
  ) as Promise<Awaited<ReturnType<BenchApi[K]>>>;
}

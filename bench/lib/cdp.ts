/**
 * Headless Chromium driven over a bare DevTools pipe (--remote-debugging-pipe), for benches that
 * must not be instrumented: Playwright enables the Network domain on every page with no size
 * limit, so Chromium copies each request body (base64, in the renderer's main thread, through the
 * browser process, into the Node process) into a requestWillBeSent event and keeps response
 * bodies for getResponseBody. With 4 MiB block PUTs that cost 50 times more than the upload
 * itself and hundreds of MiB of renderer memory. Here only Runtime (console messages, evaluate),
 * Performance (JS heap), HeapProfiler (GC), Security and SystemInfo are used: nothing watches the
 * network.
 *
 * Wire format: JSON messages separated by NUL bytes; Chromium reads commands from its fd 3 and
 * writes answers and events to its fd 4. Targets are attached in flat mode (one sessionId per
 * target on the same pipe).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { CHROMIUM_ARGS, UsageError } from './chromium';

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
  sessionId?: string;
}

type Listener = (params: Record<string, unknown>, sessionId: string | undefined) => void;

export class CdpBrowser {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void; method: string }>();
  private readonly listeners = new Map<string, Listener[]>();
  private exited = false;

  private constructor(
    readonly child: ChildProcess,
    private readonly profile: string,
    private readonly out: Writable,
    input: Readable,
  ) {
    let buffered = Buffer.alloc(0);
    input.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (let end = buffered.indexOf(0); end >= 0; end = buffered.indexOf(0)) {
        const text = buffered.subarray(0, end).toString('utf8');
        buffered = buffered.subarray(end + 1);
        this.dispatch(JSON.parse(text) as Message);
      }
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      const error = new Error(`Chromium exited (${signal ?? code})`);
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    });
  }

  /** Starts headless Chromium with a fresh temporary profile. */
  static async launch(executablePath: string): Promise<CdpBrowser> {
    const profile = mkdtempSync(join(tmpdir(), 'sealvault-bench-chromium-'));
    const child = spawn(executablePath, [...CHROMIUM_ARGS, '--remote-debugging-pipe', `--user-data-dir=${profile}`, '--no-default-browser-check', '--mute-audio', 'about:blank'], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 20_000) stderr += d.toString();
    });
    const browser = new CdpBrowser(child, profile, child.stdio[3] as Writable, child.stdio[4] as Readable);
    try {
      await Promise.race([
        browser.send('Browser.getVersion'),
        new Promise((_, reject) => child.once('error', reject)),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 60 s')), 60_000)),
      ]);
    } catch (e) {
      await browser.close();
      throw new UsageError(`could not start Chromium at ${executablePath}: ${(e as Error).message}\n${stderr.split('\n').slice(0, 5).join('\n')}`);
    }
    return browser;
  }

  private dispatch(msg: Message): void {
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
      else p.resolve(msg.result ?? {});
      return;
    }
    for (const l of this.listeners.get(msg.method ?? '') ?? []) l(msg.params ?? {}, msg.sessionId);
  }

  send<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<T> {
    if (this.exited) return Promise.reject(new Error('Chromium has exited'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: Record<string, unknown>) => void, reject, method });
      this.out.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }

  on(event: string, listener: Listener): void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
  }

  /** Opens `url` in a new tab and attaches to it; returns the tab's session. */
  async newPage(url: string): Promise<CdpPage> {
    const { targetId } = await this.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
    const page = new CdpPage(this, sessionId);
    await this.send('Runtime.enable', {}, sessionId);
    await this.send('Page.enable', {}, sessionId);
    const loaded = new Promise<void>((resolve) => this.on('Page.loadEventFired', (_, s) => s === sessionId && resolve()));
    const nav = await this.send<{ errorText?: string }>('Page.navigate', { url }, sessionId);
    if (nav.errorText) throw new Error(`could not open ${url}: ${nav.errorText}`);
    await loaded;
    return page;
  }

  async close(): Promise<void> {
    if (!this.exited) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.send('Browser.close').catch(() => undefined);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.profile, { recursive: true, force: true });
  }
}

export class CdpPage {
  constructor(
    readonly browser: CdpBrowser,
    readonly sessionId: string,
  ) {}

  send<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    return this.browser.send<T>(method, params, this.sessionId);
  }

  /** Evaluates `expression` in the page, awaits it if it is a promise, and returns its JSON value. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send<{ result: { value?: unknown }; exceptionDetails?: { text: string; exception?: { description?: string } } }>('Runtime.evaluate', {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** Calls `handler` with the text of every console message and uncaught exception of the page. */
  onConsole(handler: (type: string, text: string) => void): void {
    this.browser.on('Runtime.consoleAPICalled', (p, s) => {
      if (s !== this.sessionId) return;
      const args = (p.args as { value?: unknown; description?: string }[]) ?? [];
      handler(String(p.type), args.map((a) => (a.value !== undefined ? String(a.value) : (a.description ?? ''))).join(' '));
    });
    this.browser.on('Runtime.exceptionThrown', (p, s) => {
      if (s !== this.sessionId) return;
      const d = p.exceptionDetails as { text: string; exception?: { description?: string } };
      handler('exception', d.exception?.description ?? d.text);
    });
  }
}

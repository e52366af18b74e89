/**
 * pdf.js for the PDF viewer. This module is only ever imported dynamically (see ./load.ts), so
 * pdf.js, its worker and its data files cost nothing until a PDF is shown.
 *
 * What the relay's CSP and subresource integrity ask of it:
 * - The worker is pdf.js's own prebuilt module, emitted by vite as a hashed file under
 *   /_app/immutable/assets and started here as a same-origin module worker (worker-src 'self').
 *   pdf.js is handed that Worker as a port, so it never falls back to its "fake worker" on the
 *   main thread and never wraps a worker URL in a blob.
 * - isEvalSupported: false keeps pdf.js from compiling PostScript functions with new Function(),
 *   which script-src (no 'unsafe-eval') would refuse; it uses its interpreter instead.
 * - CMaps (needed by CJK text in PDFs without embedded fonts), the standard 14 fonts and the JPEG
 *   2000 / JBIG2 decoders (WebAssembly, allowed by 'wasm-unsafe-eval') are build assets too, and
 *   reach pdf.js through BundledBinaryData below: the main thread fetches them from 'self' and
 *   hands the bytes to the worker. pdf.js's usual base-URL scheme is not used, since vite gives
 *   each file a hashed name; no file is ever fetched from another origin.
 * - The document itself is read from memory (`data`), never from a URL, a download or a blob.
 */
import { getDocument, PDFWorker, RenderingCancelledException, VerbosityLevel, type PDFDocumentProxy, type RenderTask } from 'pdfjs-dist';
import workerUrl from 'pdfjs-dist/build/pdf.worker.min.mjs?url&no-inline';

type AssetKind = 'cMapUrl' | 'standardFontDataUrl' | 'wasmUrl';

// `no-inline`: small files would otherwise become data: URLs, which connect-src 'self' refuses.
const cMaps = import.meta.glob<string>('/node_modules/pdfjs-dist/cmaps/*.bcmap', { query: '?url&no-inline', import: 'default', eager: true });
const standardFonts = import.meta.glob<string>(['/node_modules/pdfjs-dist/standard_fonts/*.pfb', '/node_modules/pdfjs-dist/standard_fonts/*.ttf'], {
  query: '?url&no-inline',
  import: 'default',
  eager: true,
});
// qcms_bg.wasm (ICC colour profiles) is not shipped: pdf.js loads it only with useWorkerFetch, and
// falls back to the profile's alternate colour space without it.
const wasm = import.meta.glob<string>(['/node_modules/pdfjs-dist/wasm/openjpeg.wasm', '/node_modules/pdfjs-dist/wasm/jbig2.wasm'], {
  query: '?url&no-inline',
  import: 'default',
  eager: true,
});

function byFileName(files: Record<string, string>): ReadonlyMap<string, string> {
  return new Map(Object.entries(files).map(([path, url]) => [path.slice(path.lastIndexOf('/') + 1), url]));
}

const ASSETS: Readonly<Record<AssetKind, ReadonlyMap<string, string>>> = {
  cMapUrl: byFileName(cMaps),
  standardFontDataUrl: byFileName(standardFonts),
  wasmUrl: byFileName(wasm),
};

/** pdf.js's BinaryDataFactory contract: `new Factory(urls)`, then `fetch({ kind, filename })`. */
class BundledBinaryData {
  async fetch({ kind, filename }: { kind: string; filename: string }): Promise<Uint8Array> {
    const url = ASSETS[kind as AssetKind]?.get(filename);
    if (url === undefined) throw new Error(`pdf.js asked for ${kind} "${filename}", which this build does not ship`);
    const response = await fetch(url, { credentials: 'same-origin' });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
}

/** A canvas holds at most this many pixels: a zoomed page on a dense screen lowers its resolution instead. */
const MAX_CANVAS_PIXELS = 16_777_216;

export interface PageSize {
  /** CSS pixels at scale 1 (72 dpi, rotation applied). */
  width: number;
  height: number;
}

export interface RenderHandle {
  /** Resolves when the page is on the canvas; rejects with a cancellation when cancel() came first. */
  done: Promise<void>;
  cancel(): void;
}

export interface OpenPdf {
  pageCount: number;
  pageSize(pageNumber: number): Promise<PageSize>;
  render(pageNumber: number, canvas: HTMLCanvasElement, scale: number): RenderHandle;
  close(): Promise<void>;
}

/**
 * Opens a PDF held in memory. The bytes are copied: pdf.js transfers its input to the worker,
 * which would otherwise empty the caller's array.
 */
export async function openPdf(bytes: Uint8Array, onProgress: (fraction: number) => void): Promise<OpenPdf> {
  const worker = new Worker(workerUrl, { type: 'module', name: 'pdfjs' });
  // The generated typings declare `port` as null; pdf.js accepts any Worker-like port here.
  const pdfWorker = new PDFWorker({ port: worker, verbosity: VerbosityLevel.ERRORS } as unknown as ConstructorParameters<typeof PDFWorker>[0]);
  const task = getDocument({
    data: bytes.slice(),
    worker: pdfWorker,
    isEvalSupported: false,
    useWorkerFetch: false,
    BinaryDataFactory: BundledBinaryData,
    // The standard 14 fonts come from the bundled files, so a page looks the same on every device.
    useSystemFonts: false,
    enableXfa: false,
    verbosity: VerbosityLevel.ERRORS,
  });
  task.onProgress = ({ loaded, total }: { loaded: number; total: number }) => {
    if (total > 0) onProgress(Math.min(1, loaded / total));
  };
  const dispose = async () => {
    try {
      await task.destroy();
    } finally {
      pdfWorker.destroy();
      worker.terminate();
    }
  };
  // A worker that cannot start (blocked, failed to load) would leave pdf.js waiting for ever.
  let onWorkerError: (() => void) | undefined;
  const workerFailed = new Promise<never>((_, reject) => {
    onWorkerError = () => reject(new Error('the PDF worker could not start'));
    worker.addEventListener('error', onWorkerError);
  });
  let doc: PDFDocumentProxy;
  try {
    doc = await Promise.race([task.promise, workerFailed]);
  } catch (e) {
    await dispose().catch(() => {});
    throw e;
  } finally {
    if (onWorkerError) worker.removeEventListener('error', onWorkerError);
  }
  return {
    pageCount: doc.numPages,
    async pageSize(pageNumber) {
      const { width, height } = (await doc.getPage(pageNumber)).getViewport({ scale: 1 });
      return { width, height };
    },
    render(pageNumber, canvas, scale) {
      let cancelled = false;
      let task: RenderTask | null = null;
      const done = (async () => {
        const page = await doc.getPage(pageNumber);
        if (cancelled) throw new RenderingCancelledException('Rendering cancelled.');
        const viewport = page.getViewport({ scale });
        const density = Math.min(globalThis.devicePixelRatio || 1, Math.sqrt(MAX_CANVAS_PIXELS / (viewport.width * viewport.height)));
        canvas.width = Math.max(1, Math.floor(viewport.width * density));
        canvas.height = Math.max(1, Math.floor(viewport.height * density));
        canvas.style.width = `${Math.floor(viewport.width)}px`;
        canvas.style.height = `${Math.floor(viewport.height)}px`;
        task = page.render({ canvas, viewport, transform: density === 1 ? undefined : [density, 0, 0, density, 0, 0] });
        await task.promise;
      })();
      return {
        done,
        cancel() {
          cancelled = true;
          task?.cancel();
        },
      };
    },
    close: dispose,
  };
}

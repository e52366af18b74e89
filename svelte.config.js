import adapter from '@sveltejs/adapter-static';

/** @type {import('@sveltejs/kit').Config} */
export default {
  kit: {
    // The SPA lives under client/ so the top level shows the architecture (client, relay, shared).
    files: { src: 'client/src', assets: 'client/static' },
    adapter: adapter({ pages: 'client/build', assets: 'client/build', fallback: 'index.html', strict: true }),
    alias: { $shared: 'shared' },
    output: { bundleStrategy: 'split' },
    // The app registers the download worker itself (lib/download-stream/page.ts): a refused
    // registration stays quiet, and a save waits for the worker's control before using it.
    serviceWorker: { register: false },
  },
};

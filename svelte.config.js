import adapter from '@sveltejs/adapter-static';

/** @type {import('@sveltejs/kit').Config} */
export default {
  kit: {
    // The SPA lives under client/ so the top level shows the architecture (client, relay, shared).
    files: { src: 'client/src', assets: 'client/static' },
    adapter: adapter({ pages: 'client/build', assets: 'client/build', fallback: 'index.html', strict: true }),
    alias: { $shared: 'shared' },
    output: { bundleStrategy: 'split' },
  },
};

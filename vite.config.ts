import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [sveltekit()],
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    // The plugin-timing report is about SvelteKit's own writeBundle step: noise in every build log.
    rolldownOptions: { checks: { pluginTimings: false } },
  },
});

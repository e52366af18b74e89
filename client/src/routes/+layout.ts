// A pure SPA: every byte of crypto runs in the browser, so nothing is rendered on a server.
export const ssr = false;
export const prerender = false;

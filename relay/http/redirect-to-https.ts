import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/**
 * The plain-HTTP listener's only behaviour: 308 to the same path and query over HTTPS, with
 * an empty body, whatever the method. 308 (not 301) keeps the method, so a mistaken
 * `POST http://…` is not silently turned into a GET.
 */
export function redirectToHttps({ httpsPort }: { httpsPort: () => number }): RequestListener {
  return (request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(308, { Location: httpsLocation(request, httpsPort()), 'Content-Length': '0' });
    response.end();
  };
}

export function httpsLocation(request: Pick<IncomingMessage, 'url' | 'headers'>, httpsPort: number): string {
  const target = requestTarget(request.url);
  const host = hostnameOf(request.headers.host);
  const port = httpsPort === 443 ? '' : `:${httpsPort}`;
  return `https://${host}${port}${target.pathname}${target.search}`;
}

// Origin-form targets are appended, not resolved, so "//evil.example/x" stays a path on
// this host; absolute-form targets (proxy style) lend only their path and query.
function requestTarget(url: string | undefined): URL {
  if (url?.startsWith('/')) return new URL(`http://placeholder.invalid${url}`);
  try {
    if (url !== undefined && /^https?:\/\//i.test(url)) return new URL(url);
  } catch {
    // fall through to the root
  }
  return new URL('http://placeholder.invalid/');
}

// The Host header is client input: only a syntactically plain host name or IP literal is
// echoed back; anything else redirects to localhost, where the local certificate is valid.
function hostnameOf(hostHeader: string | undefined): string {
  if (hostHeader === undefined) return 'localhost';
  try {
    const { hostname, username, password, pathname } = new URL(`http://${hostHeader}`);
    if (username || password || pathname !== '/' || !/^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])$/i.test(hostname)) return 'localhost';
    return hostname;
  } catch {
    return 'localhost';
  }
}

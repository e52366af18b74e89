import { describe, expect, it } from 'vitest';
import { httpsLocation } from './redirect-to-https';

function location(url: string | undefined, host: string | undefined, port = 8443): string {
  return httpsLocation({ url, headers: host === undefined ? {} : { host } }, port);
}

describe('httpsLocation', () => {
  it('keeps path and query and swaps scheme and port', () => {
    expect(location('/contracts/7?tab=seals&x=%20', 'localhost:8080')).toBe('https://localhost:8443/contracts/7?tab=seals&x=%20');
    expect(location('/', '127.0.0.1:8080')).toBe('https://127.0.0.1:8443/');
    expect(location('/a', '[::1]:8080')).toBe('https://[::1]:8443/a');
  });

  it('omits the default HTTPS port', () => {
    expect(location('/a', 'vault.example.com', 443)).toBe('https://vault.example.com/a');
  });

  it('never lets the request line pick another host', () => {
    expect(location('//evil.example/x', 'localhost:8080')).toBe('https://localhost:8443//evil.example/x');
    expect(location('http://evil.example/x?y', 'localhost:8080')).toBe('https://localhost:8443/x?y');
    expect(location('*', 'localhost:8080')).toBe('https://localhost:8443/');
  });

  it('falls back to localhost for a missing or odd Host header', () => {
    expect(location('/a', undefined)).toBe('https://localhost:8443/a');
    for (const host of ['user@evil.example', 'evil.example/path', 'a b', 'x:99999', '']) {
      expect(location('/a', host)).toBe('https://localhost:8443/a');
    }
  });
});

import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { pngProblem } from './png';

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A 1x1 PNG of the colour type given, with an optional tRNS chunk (an independent encoder). */
function png(colourType: number, withTrns = false): Uint8Array {
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, colourType, 0, 0, 0]);
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colourType]!;
  const raw = Buffer.alloc(1 + channels);
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
  if (withTrns) parts.push(chunk('tRNS', Buffer.from([0, 0, 0, 0, 0, 0])));
  parts.push(chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}

describe('pngProblem', () => {
  it('accepts PNGs that can be transparent', () => {
    expect(pngProblem(png(6), 1024)).toBeNull();
    expect(pngProblem(png(4), 1024)).toBeNull();
    expect(pngProblem(png(2, true), 1024)).toBeNull();
  });

  it('refuses an opaque PNG, a non-PNG and one over the size limit', () => {
    expect(pngProblem(png(2), 1024)).toBe('no-alpha');
    expect(pngProblem(png(0), 1024)).toBe('no-alpha');
    expect(pngProblem(new TextEncoder().encode('GIF89a this is not a png at all....'), 1024)).toBe('not-png');
    expect(pngProblem(png(6), 20)).toBe('too-large');
  });
});

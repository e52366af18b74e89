/** Test helpers: feed bytes through a TransformStream in pieces of chosen sizes, collect the output. */
export async function pipeThrough(
  stream: TransformStream<Uint8Array, Uint8Array>,
  input: Uint8Array,
  pieceSizes: (offset: number) => number = () => 65536,
): Promise<Uint8Array> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      let offset = 0;
      while (offset < input.length) {
        const size = Math.max(1, pieceSizes(offset));
        controller.enqueue(input.slice(offset, offset + size));
        offset += size;
      }
      controller.close();
    },
  });
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = source.pipeThrough(stream).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    total += value.length;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A deterministic pseudo-random sequence of piece sizes, to shake out framing bugs. */
export function jitteredSizes(seed: number, max: number): (offset: number) => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return 1 + ((x >>> 0) % max);
  };
}

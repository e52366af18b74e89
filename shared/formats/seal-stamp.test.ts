import { describe, expect, it } from 'vitest';
import { codeOf } from '../test-support/outcome';
import { sealStampSvg, xmlEscape } from './seal-stamp';

/**
 * A small well-formedness check: every tag closes in order, attributes are quoted, and text and
 * attribute values hold no raw `<` and only known entities. Enough to catch an unescaped name.
 */
function wellFormed(xml: string): { root: string; tags: string[] } {
  const stack: string[] = [];
  const tags: string[] = [];
  const entity = /&(amp|lt|gt|quot|apos);/g;
  let i = 0;
  let root = '';
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    if (text.replace(entity, '').includes('&') || text.includes('>')) throw new Error(`bad text: ${text}`);
    if (lt === -1) break;
    const gt = xml.indexOf('>', lt);
    if (gt === -1) throw new Error('unclosed tag');
    const tag = xml.slice(lt + 1, gt);
    if (tag.startsWith('/')) {
      if (stack.pop() !== tag.slice(1)) throw new Error(`mismatched </${tag.slice(1)}>`);
    } else {
      const m = /^([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)$/.exec(tag);
      if (!m) throw new Error(`bad tag: <${tag}>`);
      if (m[2]!.replace(entity, '').includes('&')) throw new Error(`bad attribute: ${m[2]}`);
      if (!root) root = m[1]!;
      tags.push(m[1]!);
      if (!m[3]) stack.push(m[1]!);
    }
    i = gt + 1;
  }
  if (stack.length) throw new Error(`unclosed: ${stack.join(',')}`);
  return { root, tags };
}

describe('seal stamp SVG', () => {
  it('draws the enterprise name on the rim, a star and the purpose, in a 240x240 view box', () => {
    const svg = sealStampSvg({ enterprise: '示例科技有限公司', purpose: '合同专用章', type: 'contract' });
    const { root, tags } = wellFormed(svg);
    expect(root).toBe('svg');
    expect(svg).toContain('viewBox="0 0 240 240"');
    expect(svg).toMatch(/<textPath href="#rim"[^>]*>示例科技有限公司<\/textPath>/);
    expect(svg).toMatch(/>合同专用章<\/text>/);
    expect(tags).toEqual(expect.arrayContaining(['circle', 'polygon', 'textPath', 'path']));
    // The star has ten corners.
    expect(/<polygon points="([^"]+)"/.exec(svg)![1]!.split(' ')).toHaveLength(10);
    expect(svg).toContain(`fill="#d0021b"`);
  });

  it('is deterministic and takes another colour', () => {
    const a = sealStampSvg({ enterprise: 'Example Tech', purpose: 'Finance', type: 'finance' });
    expect(sealStampSvg({ enterprise: 'Example Tech', purpose: 'Finance', type: 'finance' })).toBe(a);
    expect(sealStampSvg({ enterprise: 'Example Tech', purpose: 'Finance', type: 'finance', color: '#0000aa' })).toContain('#0000aa');
  });

  it('escapes names with < & " and drops control characters: no markup or script comes through', () => {
    const svg = sealStampSvg({ enterprise: 'A&B <Co> "x"', purpose: '</text><script>', type: 'contract\u0001' });
    wellFormed(svg);
    expect(svg).toContain('A&amp;B &lt;Co&gt; &quot;x&quot;');
    expect(svg).toContain('&lt;/text&gt;&lt;script&gt;');
    expect(svg.toLowerCase()).not.toContain('<script');
    expect(svg).not.toContain('\u0001');
    expect(svg).not.toMatch(/href="(?!#rim)/);
    expect(xmlEscape(`'`)).toBe('&apos;');
  });

  it('refuses an empty or over-long name, and a colour that is not #rrggbb', async () => {
    expect(await codeOf(Promise.resolve().then(() => sealStampSvg({ enterprise: ' ', purpose: 'x', type: 'company' })))).toBe('E_LIMIT');
    expect(await codeOf(Promise.resolve().then(() => sealStampSvg({ enterprise: '长'.repeat(41), purpose: 'x', type: 'company' })))).toBe('E_LIMIT');
    expect(await codeOf(Promise.resolve().then(() => sealStampSvg({ enterprise: 'Co', purpose: 'x', type: 'company', color: 'red" onload="x' })))).toBe('E_FORMAT');
  });
});

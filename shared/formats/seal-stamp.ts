/**
 * The classic round red stamp of a Chinese seal (DESIGN.md section 8), drawn as SVG text from
 * the enterprise name: a double ring, the name running clockwise around the upper rim, a
 * five-pointed star in the middle and the seal's purpose below it. The browser rasterises it to
 * a PNG (what is stored and stamped into PDFs); this module only writes text.
 *
 * Deterministic (same input, same bytes: no ids, dates or random numbers) and safe to embed:
 * every name is XML-escaped and control characters are dropped, so a name such as `</text><script>`
 * stays text. No script, no external reference, no font download (system CJK fonts only).
 */
import { fail } from '../crypto/errors';

export const STAMP_VIEWBOX = 240;
export const STAMP_DEFAULT_COLOR = '#d0021b';
/** Longest enterprise name and purpose drawn; longer ones are refused rather than squeezed unreadable. */
export const STAMP_MAX_NAME = 40;
export const STAMP_MAX_PURPOSE = 20;

export interface StampOptions {
  enterprise: string;
  /** what the seal is for, drawn below the star: "合同专用章", "Contract seal" */
  purpose: string;
  /** seal type; kept in a data attribute so the picture says what it was drawn for */
  type: string;
  /** #rrggbb, red by default */
  color?: string;
}

// Characters XML 1.0 forbids (C0 controls but tab, LF, CR) and lone surrogates cannot be escaped, only dropped.
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function xmlEscape(text: string): string {
  return text.replace(NOT_XML, '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const r2 = (n: number) => (Math.round(n * 100) / 100).toString();

/** A point on the circle around the centre, angle in degrees (0 = right, clockwise as the screen's y grows downwards). */
function at(radius: number, degrees: number): [string, string] {
  const rad = (degrees * Math.PI) / 180;
  const c = STAMP_VIEWBOX / 2;
  return [r2(c + radius * Math.cos(rad)), r2(c + radius * Math.sin(rad))];
}

function starPoints(cx: number, cy: number, outer: number): string {
  // inner radius of a regular pentagram: outer * sin(18°) / sin(54°)
  const inner = (outer * Math.sin(Math.PI / 10)) / Math.sin((3 * Math.PI) / 10);
  const points: string[] = [];
  for (let k = 0; k < 10; k++) {
    const rad = ((-90 + k * 36) * Math.PI) / 180;
    const radius = k % 2 === 0 ? outer : inner;
    points.push(`${r2(cx + radius * Math.cos(rad))},${r2(cy + radius * Math.sin(rad))}`);
  }
  return points.join(' ');
}

function checkText(what: string, value: unknown, max: number): string {
  if (typeof value !== 'string') return fail('E_FORMAT', `${what} must be text`);
  const trimmed = value.replace(NOT_XML, '').trim();
  const length = Array.from(trimmed).length;
  if (length === 0 || length > max) fail('E_LIMIT', `${what} must be 1 to ${max} characters`);
  return trimmed;
}

export function sealStampSvg(options: StampOptions): string {
  const enterprise = checkText('the enterprise name', options.enterprise, STAMP_MAX_NAME);
  const purpose = checkText('the purpose', options.purpose, STAMP_MAX_PURPOSE);
  const type = checkText('the seal type', options.type, 40);
  const color = options.color ?? STAMP_DEFAULT_COLOR;
  if (!/^#[0-9a-fA-F]{6}$/.test(color)) fail('E_FORMAT', 'the stamp color must be #rrggbb');

  // The name runs along a 240° arc from lower left, over the top, to lower right; its letters
  // are spread evenly over the arc the way a carved stamp spaces them, up to the whole arc.
  const rimRadius = 82;
  const [sx, sy] = at(rimRadius, 150);
  const [ex, ey] = at(rimRadius, 30);
  const arcLength = (rimRadius * 240 * Math.PI) / 180;
  const nameChars = Array.from(enterprise).length;
  const nameSize = nameChars <= 12 ? 26 : nameChars <= 20 ? 20 : 15;
  const nameLength = Math.min(arcLength - 8, nameChars * nameSize * 1.25);
  const purposeChars = Array.from(purpose).length;
  const purposeSize = purposeChars <= 8 ? 20 : 14;
  const purposeLength = Math.min(150, purposeChars * purposeSize * 1.05);
  const font = `'SimSun','Songti SC','STSong','Noto Serif CJK SC','Source Han Serif SC',serif`;

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${STAMP_VIEWBOX} ${STAMP_VIEWBOX}" width="${STAMP_VIEWBOX}" height="${STAMP_VIEWBOX}" data-seal-type="${xmlEscape(type)}">`,
    `<defs><path id="rim" d="M ${sx} ${sy} A ${rimRadius} ${rimRadius} 0 1 1 ${ex} ${ey}" fill="none"/></defs>`,
    `<g fill="${color}" stroke="none">`,
    `<circle cx="120" cy="120" r="114" fill="none" stroke="${color}" stroke-width="6"/>`,
    `<circle cx="120" cy="120" r="107" fill="none" stroke="${color}" stroke-width="1.5"/>`,
    `<text font-family="${font.replace(/'/g, '&apos;')}" font-size="${nameSize}" font-weight="bold"><textPath href="#rim" startOffset="50%" text-anchor="middle" textLength="${r2(nameLength)}" lengthAdjust="spacing">${xmlEscape(enterprise)}</textPath></text>`,
    `<polygon points="${starPoints(120, 116, 34)}"/>`,
    `<text x="120" y="188" text-anchor="middle" font-family="${font.replace(/'/g, '&apos;')}" font-size="${purposeSize}" font-weight="bold" textLength="${r2(purposeLength)}" lengthAdjust="spacingAndGlyphs">${xmlEscape(purpose)}</text>`,
    `</g>`,
    `</svg>`,
  ].join('');
}

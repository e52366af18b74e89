// DER for the X.509 NameConstraints extension (RFC 5280 §4.2.1.10), hand-encoded because
// @peculiar/x509 has no class for it. Only permittedSubtrees with dNSName and iPAddress
// names are needed, which keeps the encoder to a few tags.

export const NAME_CONSTRAINTS_OID = '2.5.29.30';

export interface PermittedNames {
  dnsNames: readonly string[];
  /** Address and mask of equal length: 4 bytes each for IPv4, 16 each for IPv6. */
  ipRanges: ReadonlyArray<{ address: readonly number[]; mask: readonly number[] }>;
}

const SEQUENCE = 0x30;
const CONTEXT_0_CONSTRUCTED = 0xa0; // permittedSubtrees [0]
const DNS_NAME = 0x82; // GeneralName dNSName [2] IMPLICIT IA5String
const IP_ADDRESS = 0x87; // GeneralName iPAddress [7] IMPLICIT OCTET STRING

function tlv(tag: number, content: Uint8Array): Uint8Array<ArrayBuffer> {
  const length = content.length;
  let header: number[];
  if (length < 0x80) header = [tag, length];
  else if (length < 0x100) header = [tag, 0x81, length];
  else if (length < 0x10000) header = [tag, 0x82, length >> 8, length & 0xff];
  else throw new RangeError('name constraints too long');
  const out = new Uint8Array(header.length + length);
  out.set(header, 0);
  out.set(content, header.length);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function encodeNameConstraints({ dnsNames, ipRanges }: PermittedNames): Uint8Array<ArrayBuffer> {
  const subtrees: Uint8Array[] = [];
  for (const name of dnsNames) {
    if (!/^[a-z0-9.-]+$/i.test(name)) throw new TypeError(`not a DNS name: ${name}`);
    subtrees.push(tlv(SEQUENCE, tlv(DNS_NAME, new TextEncoder().encode(name))));
  }
  for (const { address, mask } of ipRanges) {
    if (address.length !== mask.length || (address.length !== 4 && address.length !== 16)) {
      throw new RangeError('IP constraint needs address and mask of 4 or 16 bytes each');
    }
    subtrees.push(tlv(SEQUENCE, tlv(IP_ADDRESS, Uint8Array.from([...address, ...mask]))));
  }
  return tlv(SEQUENCE, tlv(CONTEXT_0_CONSTRUCTED, concat(subtrees)));
}

/** localhost and its subdomains, 127.0.0.0/8 and ::1: all the local CA ever needs to vouch for. */
export const LOOPBACK_ONLY: PermittedNames = {
  dnsNames: ['localhost'],
  ipRanges: [
    { address: [127, 0, 0, 0], mask: [255, 0, 0, 0] },
    { address: [...new Array<number>(15).fill(0), 1], mask: new Array<number>(16).fill(255) },
  ],
};

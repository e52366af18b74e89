// The closed set of relay services (DESIGN.md section 2). Each is mounted at /api/<name>.
export const SERVICE_NAMES = ['directory', 'keys', 'escrow', 'vault', 'audit'] as const;

export type ServiceName = (typeof SERVICE_NAMES)[number];

export function isServiceName(value: string): value is ServiceName {
  return (SERVICE_NAMES as readonly string[]).includes(value);
}

/** How to make browsers and tools trust the local CA, printed at startup. */
export function trustInstructions(caPath: string): string[] {
  const q = JSON.stringify(caPath);
  return [
    `macOS:   sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${q}`,
    `Debian/Ubuntu: sudo cp ${q} /usr/local/share/ca-certificates/sealvault-local-ca.crt && sudo update-ca-certificates`,
    `Windows: certutil -user -addstore Root ${q}`,
    `Firefox, and Chrome on Linux, keep their own store: import ${q} as an authority in the browser's certificate settings.`,
    `Node tools: NODE_EXTRA_CA_CERTS=${q}`,
  ];
}

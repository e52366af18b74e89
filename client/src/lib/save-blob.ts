/**
 * Hands a small Blob (already whole in memory) to the browser as a download named `name`. Large
 * files go through lib/contracts/transfers.ts saveFile, which streams.
 */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  try {
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    a.rel = 'noopener';
    document.body.append(a);
    a.click();
    a.remove();
  } finally {
    // Give the browser time to start the download before the bytes are dropped.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
}

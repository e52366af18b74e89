/**
 * A batch of files uploaded into one contract, one after the other, with each file's progress
 * as reactive state. The files are named in the contract's fields first (one fields version
 * for the batch), then encrypted and uploaded; a file that fails stays named, and choosing the
 * same file again for it on the contract page resumes its upload.
 */
import type { OpenedContract, VersionMemory } from '$shared/protocol/contracts';
import { isTransient } from '$shared/protocol/relay-transport';
import { errorText } from './errors';
import { pauseForReconnect, RECONNECT_GIVE_UP_MS, reconnectDelayMs } from './reconnect';
import { RateTracker, type TransferView } from './progress';
import { nameFiles, uploadOne } from './transfers';
import { randomFileId } from './fields';

export interface UploadItem {
  id: string;
  version: number;
  file: File;
  state: 'waiting' | 'running' | 'reconnecting' | 'done' | 'failed';
  view: TransferView | null;
  error: string;
  /** while reconnecting: the try that comes next and the seconds until it */
  reconnect: { attempt: number; seconds: number } | null;
}

export class UploadBatch {
  items = $state<UploadItem[]>([]);
  running = $state(false);

  /** New files get random ids and version 1; `resume` names the id and version of a file begun earlier. */
  constructor(files: File[], resume: { id: string; version: number } | null = null) {
    this.items = files.map((file) => ({ id: resume?.id ?? randomFileId(), version: resume?.version ?? 1, file, state: 'waiting', view: null, error: '', reconnect: null }));
  }

  get failed(): number {
    return this.items.filter((i) => i.state === 'failed').length;
  }

  /**
   * Names the files in the fields (unless `named`), then uploads each; returns the contract as
   * it is afterwards. A failure to name them stops before any upload (and is thrown); a failed
   * upload is kept on its item and the others go on.
   */
  async run(opened: OpenedContract, memory: VersionMemory, options: { named?: boolean } = {}): Promise<OpenedContract> {
    this.running = true;
    try {
      let current = opened;
      if (!options.named) current = await nameFiles(opened, this.items.map((i) => ({ id: i.id, file: i.file })), memory);
      for (const item of this.items) {
        if (item.state === 'done') continue;
        await this.uploadItem(current, item);
      }
      return current;
    } finally {
      this.running = false;
    }
  }

  /**
   * One file, tried again after a lost connection or a relay restart (each try resumes where the
   * relay's block list says); a refusal, or a connection lost for RECONNECT_GIVE_UP_MS, fails it.
   */
  private async uploadItem(opened: OpenedContract, item: UploadItem): Promise<void> {
    const firstFailure = { at: 0 };
    for (let attempt = 1; ; attempt++) {
      item.state = 'running';
      item.error = '';
      item.reconnect = null;
      const tracker = new RateTracker();
      try {
        await uploadOne(opened, item.id, item.file, (p) => (item.view = tracker.update(p)), item.version);
        item.state = 'done';
        return;
      } catch (e) {
        firstFailure.at ||= Date.now();
        if (!isTransient(e) || Date.now() - firstFailure.at > RECONNECT_GIVE_UP_MS) {
          item.state = 'failed';
          item.error = errorText(e);
          return;
        }
        item.state = 'reconnecting';
        item.error = errorText(e);
        const delay = reconnectDelayMs(attempt);
        item.reconnect = { attempt: attempt + 1, seconds: Math.round(delay / 1000) };
        await pauseForReconnect(delay);
      }
    }
  }
}

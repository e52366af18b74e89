/**
 * A batch of files uploaded into one contract, one after the other, with each file's progress
 * as reactive state. The files are named in the contract's fields first (one fields version
 * for the batch), then encrypted and uploaded; a file that fails stays named, and choosing the
 * same file again for it on the contract page resumes its upload.
 */
import type { OpenedContract, VersionMemory } from '$shared/protocol/contracts';
import { errorText } from './errors';
import { RateTracker, type TransferView } from './progress';
import { nameFiles, uploadOne } from './transfers';
import { randomFileId } from './fields';

export interface UploadItem {
  id: string;
  version: number;
  file: File;
  state: 'waiting' | 'running' | 'done' | 'failed';
  view: TransferView | null;
  error: string;
}

export class UploadBatch {
  items = $state<UploadItem[]>([]);
  running = $state(false);

  /** New files get random ids and version 1; `resume` names the id and version of a file begun earlier. */
  constructor(files: File[], resume: { id: string; version: number } | null = null) {
    this.items = files.map((file) => ({ id: resume?.id ?? randomFileId(), version: resume?.version ?? 1, file, state: 'waiting', view: null, error: '' }));
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
        item.state = 'running';
        item.error = '';
        const tracker = new RateTracker();
        try {
          await uploadOne(current, item.id, item.file, (p) => (item.view = tracker.update(p)), item.version);
          item.state = 'done';
        } catch (e) {
          item.state = 'failed';
          item.error = errorText(e);
        }
      }
      return current;
    } finally {
      this.running = false;
    }
  }
}

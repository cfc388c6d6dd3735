import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Where ciphertext payloads sent by reference are kept. They are already encrypted, so the
 * store needs durability, not secrecy. The filesystem store suits one node or a shared
 * volume; an object-store implementation can replace it behind this interface.
 */
export interface PayloadStore {
  put(envelopeId: string, bytes: Uint8Array): Promise<void>;
  get(envelopeId: string): Promise<Buffer | null>;
  /** The payload as a stream, for serving: the first bytes go out before the last are read. */
  open(envelopeId: string): Promise<{ size: number; stream: Readable } | null>;
}

const ID = /^[A-Za-z0-9_-]{22}$/;

export function createFilePayloadStore(dir: string): PayloadStore {
  const fileFor = (id: string) => {
    // Ids come from the API; refuse anything that could name another path.
    if (!ID.test(id)) throw new Error('invalid envelope id');
    // Flat, file name = envelope id, so the folder can be served as it is at a profile's
    // separate payload URL (<url>/<id>).
    return path.join(dir, id);
  };
  return {
    async put(id, bytes) {
      const file = fileFor(id);
      await fs.mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      const handle = await fs.open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      // Rename is atomic: readers see the old file or the whole new one, never half.
      await fs.rename(tmp, file);
    },
    async get(id) {
      try {
        return await fs.readFile(fileFor(id));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    async open(id) {
      let handle: fs.FileHandle;
      try {
        handle = await fs.open(fileFor(id), 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
      try {
        // Size and bytes from the same open file: a replacement renamed in meanwhile is not mixed in.
        const { size } = await handle.stat();
        return { size, stream: handle.createReadStream({ highWaterMark: 1024 * 1024 }) };
      } catch (err) {
        await handle.close();
        throw err;
      }
    },
  };
}

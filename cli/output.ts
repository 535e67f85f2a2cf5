/**
 * Output files of the CLI: the path is checked before any work is done (a compile that ends in
 * "no such directory" wastes the whole compile), and write failures are IO_ERROR naming the path
 * and the reason (missing folder, a folder, no permission, disk full, closed pipe).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CnncError } from '../runtime/errors.js';

const REASONS: Record<string, string> = {
  ENOENT: 'its folder does not exist', ENOTDIR: 'a part of the path is not a folder', EISDIR: 'it is a folder',
  EACCES: 'permission denied', EPERM: 'permission denied', EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full', EDQUOT: 'the disk quota is exceeded', EPIPE: 'the pipe was closed', EFBIG: 'the file is too large',
};

function ioError(file: string, why: string): CnncError {
  return new CnncError('IO_ERROR', `cannot write '${file}': ${why}`);
}

/** Throws IO_ERROR unless `file` can be created or overwritten. */
export function checkOutputPath(file: string): void {
  const dir = path.dirname(path.resolve(file));
  let stat: fs.Stats | undefined;
  try { stat = fs.statSync(file); } catch { /* a new file */ }
  if (stat?.isDirectory()) throw ioError(file, REASONS.EISDIR);
  let dirStat: fs.Stats;
  try { dirStat = fs.statSync(dir); } catch { throw ioError(file, `its folder '${dir}' does not exist`); }
  if (!dirStat.isDirectory()) throw ioError(file, `'${dir}' is not a folder`);
  try {
    fs.accessSync(stat ? file : dir, fs.constants.W_OK);
  } catch {
    throw ioError(file, stat ? 'the file is not writable' : `the folder '${dir}' is not writable`);
  }
}

/** writeFileSync with failures as IO_ERROR naming the path and the reason. */
export function writeOutput(file: string, bytes: Uint8Array | string): void {
  try {
    fs.writeFileSync(file, bytes);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw ioError(file, REASONS[code] ?? (e as Error).message);
  }
}

/** What every benchmark shares: medians, interleaved timing, the error measure, raw f32 files. */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { median } from '../cli/util.js';

export { median };

/**
 * Median ms of each function, warmed up, then timed in rounds that run each once: on a shared
 * machine the load then falls on every runtime alike, which keeps the ratios comparable. The order
 * rotates from round to round. `pauseMs` (for runtimes with threads) waits that long before each
 * timed run: worker pools spin for a while after a run (XNNPACK's pthreadpool, onnxruntime's,
 * cnnc's barrier), and on a 2-core machine a pool still spinning would take a core from the runtime
 * timed next (the browser page, bench/browser-page.ts, pauses 30 ms likewise).
 */
export async function timeInterleaved(fs: (() => unknown)[], runs: number, warmup: number, pauseMs = 0): Promise<number[]> {
  for (const f of fs) for (let i = 0; i < warmup; i++) await f();
  const ts: number[][] = fs.map(() => []);
  for (let r = 0; r < runs; r++) {
    // each round starts with the next runtime: whatever the previous run leaves behind (GC, caches) falls on all alike
    for (let j = 0; j < fs.length; j++) {
      const k = (r + j) % fs.length;
      if (pauseMs > 0) await sleep(pauseMs);
      const t0 = performance.now();
      await fs[k]();
      ts[k].push(performance.now() - t0);
    }
  }
  return ts.map(median);
}

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** max |want − got| / max |want|. */
export function relErr(want: ArrayLike<number>, got: ArrayLike<number>): number {
  let mx = 0, err = 0;
  for (let i = 0; i < want.length; i++) { mx = Math.max(mx, Math.abs(want[i])); err = Math.max(err, Math.abs(want[i] - got[i])); }
  return err / mx;
}

/** A raw little-endian float32 file (../shared/models' .bin tensors). */
export const f32File = (p: string): Float32Array => {
  const b = readFileSync(p);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

/**
 * Replaces one benchmark's block of docs/benchmarks.md, `<!-- NAME:start -->` … `<!-- NAME:end -->` (other
 * sections are left alone); `section` is the block's text. A missing block goes after the `after` marker
 * if given and present, else at the end.
 */
export function writeDocSection(name: string, section: string, after?: string): void {
  const file = path.resolve(import.meta.dirname, '../docs/benchmarks.md');
  const start = `<!-- ${name}:start -->`, end = `<!-- ${name}:end -->`;
  const block = `${start}\n${section}\n${end}`;
  const doc = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  const a = doc.indexOf(start), b = doc.indexOf(end);
  if (a >= 0 && b > a) return writeFileSync(file, doc.slice(0, a) + block + doc.slice(b + end.length));
  const at = after && doc.includes(after) ? doc.indexOf(after) + after.length : -1;
  writeFileSync(file, at >= 0 ? `${doc.slice(0, at)}\n\n${block}\n${doc.slice(at)}` : `${doc.trimEnd()}\n\n${block}\n`);
}

/** onnxruntime-web's wasm backend files (1 and more threads) into DIR/ort, for a benchmark page. */
export function copyOrtWeb(dir: string): void {
  const ortDist = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  mkdirSync(path.join(dir, 'ort'));
  for (const f of ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']) copyFileSync(path.join(ortDist, f), path.join(dir, 'ort', f));
}

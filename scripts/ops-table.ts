/**
 * The ops × targets table in README.md, generated from the op registry and each code generator's
 * list of ops it lowers. `npm run ops-table` rewrites README's section; test/ops-table.test.ts
 * fails while it is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allOps } from '../ir/ops/index.js';
import { WASM_OPS } from '../codegen/wasm/index.js';
import { WGSL_OPS } from '../codegen/wgsl/index.js';
import { CUDA_OPS } from '../codegen/cuda/index.js';

const START = '<!-- ops-table:start -->';
const END = '<!-- ops-table:end -->';

export function opsTable(): string {
  const targets: [string, ReadonlySet<string>][] = [['wasm', WASM_OPS], ['wgsl', WGSL_OPS], ['cuda', CUDA_OPS]];
  const rows = allOps().map((op) => `| ${op.name} | ${op.doc.replace(/\|/g, '\\|')} | ✓ | ${targets.map(([, s]) => (s.has(op.name) ? '✓' : '')).join(' | ')} |`);
  return [
    `| op | what it computes | reference | ${targets.map(([t]) => t).join(' | ')} |`,
    `|---|---|:-:|${targets.map(() => ':-:').join('|')}|`,
    ...rows,
  ].join('\n');
}

/** README.md with its ops-table section replaced by the current table. */
export function readmeWithTable(readme: string): string {
  const a = readme.indexOf(START), b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md lacks the ${START} … ${END} markers`);
  return `${readme.slice(0, a + START.length)}\n${opsTable()}\n${readme.slice(b)}`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = resolve(fileURLToPath(import.meta.url), '../../README.md');
  writeFileSync(file, readmeWithTable(readFileSync(file, 'utf8')));
  console.log(`wrote the ops table (${allOps().length} ops) into ${file}`);
}

/**
 * The ops × targets table in README.md, generated from the op registry and each target's
 * `supportsOp` (codegen/targets.ts): ✓ where the target lowers the op, else a footnote with the
 * reason it gives. `npm run ops-table` rewrites README's section; test/ops-table.test.ts fails
 * while it is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allOps } from '../ir/ops/index.js';
import { getTarget, TARGET_NAMES } from '../codegen/targets.js';
import type { Target } from '../codegen/target.js';

const START = '<!-- ops-table:start -->';
const END = '<!-- ops-table:end -->';

/** The table and its footnotes (one per distinct reason, numbered in order of first use). */
export async function opsTable(): Promise<string> {
  const targets: Target[] = await Promise.all(TARGET_NAMES.map((t) => getTarget(t)));
  const notes: string[] = [];
  const cell = (t: Target, op: string): string => {
    const reason = t.supportsOp(op);
    if (reason === undefined) return '✓';
    if (!notes.includes(reason)) notes.push(reason);
    return `[${notes.indexOf(reason) + 1}]`;
  };
  const rows = allOps().map((op) => `| ${op.name} | ${op.doc.replace(/\|/g, '\\|')} | ${targets.map((t) => cell(t, op.name)).join(' | ')} |`);
  return [
    `| op | what it computes | ${targets.map((t) => t.name).join(' | ')} |`,
    `|---|---|${targets.map(() => ':-:').join('|')}|`,
    ...rows,
    '',
    ...notes.map((n, i) => `[${i + 1}] ${n.replace(/\|/g, '\\|')}${i < notes.length - 1 ? '  ' : ''}`),
  ].join('\n');
}

/** README.md with its ops-table section replaced by the current table. */
export async function readmeWithTable(readme: string): Promise<string> {
  const a = readme.indexOf(START), b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md lacks the ${START} … ${END} markers`);
  return `${readme.slice(0, a + START.length)}\n${await opsTable()}\n${readme.slice(b)}`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = resolve(fileURLToPath(import.meta.url), '../../README.md');
  writeFileSync(file, await readmeWithTable(readFileSync(file, 'utf8')));
  console.log(`wrote the ops table (${allOps().length} ops) into ${file}`);
}

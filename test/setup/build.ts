/**
 * Vitest global setup: builds dist/ once per run, because the tests that spawn the CLI, the demo and
 * the examples run them with plain node from dist/ (through tsx they start 10× slower: binaryen's
 * 14 MB module goes through its loader). Type errors are `npm test`'s own tsc step's business;
 * tsc emits regardless, which is all this needs.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

export default function setup(): void {
  const root = resolve(__dirname, '../..');
  spawnSync(process.execPath, [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'ignore' });
}

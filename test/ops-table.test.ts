import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readmeWithTable } from '../scripts/ops-table.js';
import { allOps } from '../ir/ops/index.js';
import { getTarget, TARGET_NAMES } from '../codegen/targets.js';

describe('README ops × targets table', () => {
  it('is what the op registry and the targets\' supportsOp say now (npm run ops-table regenerates it)', async () => {
    const readme = readFileSync(resolve(__dirname, '../README.md'), 'utf8');
    expect(readme).toBe(await readmeWithTable(readme));
  });

  it('every registry op either lowers on each target or that target gives a non-empty reason', async () => {
    for (const name of TARGET_NAMES) {
      const t = await getTarget(name);
      for (const op of allOps()) {
        const reason = t.supportsOp(op.name);
        if (reason !== undefined) expect(typeof reason === 'string' && reason.trim().length > 0, `${name} ${op.name}: ${JSON.stringify(reason)}`).toBe(true);
      }
    }
  });

  it('the reference interpreter runs every registry op, and refuses an op that is not registered', async () => {
    const ref = await getTarget('reference');
    for (const op of allOps()) expect(ref.supportsOp(op.name)).toBeUndefined();
    expect(ref.supportsOp('NoSuchOp')).toMatch(/not a registered op/);
  });
});

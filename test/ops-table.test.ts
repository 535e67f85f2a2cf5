import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readmeWithTable } from '../scripts/ops-table.js';

describe('README ops × targets table', () => {
  it('is what the op registry and the code generators say now (npm run ops-table regenerates it)', () => {
    const readme = readFileSync(resolve(__dirname, '../README.md'), 'utf8');
    expect(readme).toBe(readmeWithTable(readme));
  });
});

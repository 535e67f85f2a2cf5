/**
 * The compiler's public types as an app meets them: `tsc` on a consumer of 'cnnc' (package.json
 * "types" → dist/index.d.ts, which vitest's global setup builds) with skipLibCheck: false, strict, ES2022
 * lib only and no @types. It must type-check, and the declarations it pulls in must all be cnnc's own:
 * no onnx-proto (its .d.ts needs protobufjs's `Long`), no binaryen, no @webgpu/types.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = realpathSync(resolve(__dirname, '..'));

describe("the compiler entry's declarations", () => {
  const app = mkdtempSync(join(tmpdir(), 'cnnc-types-'));
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  it('type-check in a consumer with skipLibCheck: false and reach no third-party declarations', () => {
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(ROOT, join(app, 'node_modules', 'cnnc'), 'dir');
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, skipLibCheck: false, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022'], types: [] },
      files: ['consumer.mts'],
    }));
    writeFileSync(join(app, 'consumer.mts'), `import { compile, importOnnx, exportOnnx, zoo, Graph, CnncError, tensor, type CompileOptions, type CompileProgress, type ImportOptions, type Tensor } from 'cnnc';
const progress: CompileProgress[] = [];
const options: CompileOptions = { opt: 'O3', wasm: { relaxedSimd: false, tile: { P: 4, V: 3 } }, onProgress: (e) => progress.push(e) };
const io: ImportOptions = { batch: 1 };
const g: Graph = importOnnx(exportOnnx(zoo('lenet5')), io);
const cm = await compile(g, 'wasm', options);
const out: Record<string, Tensor> = await cm.run({ input: tensor('f32', [1, 1, 32, 32]) });
export const n: number = cm.save().length + Object.keys(out).length + progress.length + cm.stats.kernels;
export const isErr = (e: unknown): boolean => e instanceof CnncError && e.code === 'UNSUPPORTED';
`);
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app, '--listFiles'], { cwd: app, encoding: 'utf8' });
    const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
    const errors = lines.filter((l) => /error TS\d+/.test(l));
    expect(errors.join('\n') + r.stderr).toBe('');
    expect(r.status).toBe(0);
    const files = lines.map((l) => realpathSync(l.trim()));
    expect(files.some((f) => f === join(ROOT, 'dist/index.d.ts'))).toBe(true);
    // TypeScript's own lib files, the consumer, and cnnc's dist: nothing else
    const foreign = files.filter((f) => !f.startsWith(join(ROOT, 'dist') + '/') && !f.startsWith(realpathSync(app)) && !/[/\\]typescript[^/\\]*[/\\]lib[/\\]lib\.[\w.]+\.d\.ts$/.test(f));
    expect(foreign).toEqual([]);
  });
});

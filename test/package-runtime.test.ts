/**
 * The @cnnc/runtime package as an app meets it: built (scripts/build-runtime.ts), packed with
 * `npm pack`, installed alone into a temporary app with `npm install --offline` (no registry: it has
 * no dependencies), then: its installed size, an ESM import and a CommonJS require that load and run a
 * wasm artifact (outputs equal to the reference interpreter's), the wasm-only entry, and `tsc` on a
 * consumer (ESM and CommonJS) with skipLibCheck: false and no lib but ES2022 (no DOM, no @types/node).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, Model } from '../index.js';
import { interpret } from '../ir/interpreter.js';
import { tensor } from '../runtime/tensor.js';
import { buildRuntimePackage, RUNTIME_PACKAGE } from '../scripts/build-runtime.js';

const ROOT = resolve(__dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function model() {
  const m = new Model('pkg', { seed: 5 });
  let x = m.input([1, 3, 8, 8]);
  x = m.relu(m.conv2d(x, 4, 3, { padding: 1 }));
  m.output(m.linear(m.flatten(m.adaptiveAvgPool2d(x, 1)), 5));
  return m.build();
}

function sizeOf(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((n, d) => {
    const p = join(dir, d.name);
    return n + (d.isDirectory() ? sizeOf(p) : statSync(p).size);
  }, 0);
}

describe('@cnnc/runtime, packed and installed alone', () => {
  let app: string, want: number[];
  const x = Array.from({ length: 3 * 8 * 8 }, (_, i) => Math.cos(i * 0.3));

  beforeAll(async () => {
    await buildRuntimePackage();
    app = mkdtempSync(join(tmpdir(), 'cnnc-app-'));
    const packed = JSON.parse(execFileSync(NPM, ['pack', '--json', '--pack-destination', app], { cwd: RUNTIME_PACKAGE, encoding: 'utf8' }));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    execFileSync(NPM, ['install', '--offline', '--no-audit', '--no-fund', `./${packed[0].filename}`], { cwd: app, encoding: 'utf8', env: { ...process.env, npm_config_cache: join(app, '.npm-cache') } });
    const g = model();
    writeFileSync(join(app, 'm.cnnc'), (await compile(g, 'wasm')).save());
    want = Array.from(interpret(g, { input: tensor('f32', [1, 3, 8, 8], Float32Array.from(x)) }).output.data as Float32Array);
  }, 300_000);
  afterAll(() => { if (app) rmSync(app, { recursive: true, force: true }); });

  const expectOutput = (stdout: string) => {
    const got: number[] = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(got).toHaveLength(want.length);
    const scale = Math.max(...want.map(Math.abs));
    got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(1e-4 * scale));
  };
  const node = (file: string, code: string) => {
    writeFileSync(join(app, file), code);
    const r = spawnSync(process.execPath, [file], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };

  it('installs only itself (no binaryen, no protobuf), in at most 2 MB', () => {
    const mods = readdirSync(join(app, 'node_modules')).filter((d) => !d.startsWith('.'));
    expect(mods).toEqual(['@cnnc']);
    expect(readdirSync(join(app, 'node_modules/@cnnc'))).toEqual(['runtime']);
    const bytes = sizeOf(join(app, 'node_modules'));
    console.log(`@cnnc/runtime installed: ${(bytes / 1024).toFixed(0)} KiB`);
    expect(bytes).toBeLessThanOrEqual(2 * 1024 * 1024);
  });

  it('an ESM app imports it, loads the artifact by path and runs it', () => {
    expectOutput(node('esm.mjs', `import { load } from '@cnnc/runtime';
const s = await load('./m.cnnc');
const out = await s.run({ input: { data: new Float32Array(${JSON.stringify(x)}), shape: [1, 3, 8, 8] } });
console.log(JSON.stringify(Array.from(out.output.data)));`));
  });

  it('a CommonJS app requires it (main entry and /wasm) and runs the artifact', () => {
    const code = (entry: string) => `const { load, tensor } = require('${entry}');
const { readFileSync } = require('node:fs');
load(readFileSync('./m.cnnc')).then(async (s) => {
  const out = await s.run({ input: tensor('f32', [1, 3, 8, 8], new Float32Array(${JSON.stringify(x)})) });
  console.log(JSON.stringify(Array.from(out.output.data)));
});`;
    expectOutput(node('cjs.cjs', code('@cnnc/runtime')));
    expectOutput(node('cjs-wasm.cjs', code('@cnnc/runtime/wasm')));
  });

  it("in this repository, require('cnnc/runtime') resolves through the compiler package's exports to the same CommonJS bundle", () => {
    const r = spawnSync(process.execPath, ['-e', `const { load } = require('cnnc/runtime'); load(require('node:fs').readFileSync(${JSON.stringify(join(app, 'm.cnnc'))}))
      .then((s) => s.run({ input: new Float32Array(${JSON.stringify(x)}) })).then((o) => console.log(JSON.stringify(Array.from(o.output.data))));`], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expectOutput(r.stdout);
  });

  it('a missing optional peer (webgpu) is a NO_DEVICE error that says how to install it', async () => {
    const wgsl = (await compile(model(), 'wgsl')).save();
    writeFileSync(join(app, 'm.wgsl.cnnc'), wgsl);
    const out = node('peer.mjs', `import { load } from '@cnnc/runtime';
try { await load('./m.wgsl.cnnc'); console.log('loaded'); } catch (e) { console.log(e.message); }`);
    expect(out).toMatch(/^NO_DEVICE: .*npm install webgpu/);
  });

  it('tsc accepts a consumer with skipLibCheck: false (ESM and CommonJS, ES2022 lib only)', () => {
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, skipLibCheck: false, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022'], types: [] },
      files: ['consumer.mts', 'consumer.cts'],
    }));
    const body = `const s: Session = await load(new Uint8Array(0), { backends: ['webgpu', 'wasm'], onProgress: (e: LoadEvent) => void e.phase });
const feeds: Record<string, Feed> = { input: { type: 'float32', dims: [1, 3], data: new Float32Array(3) } };
const out: Tensor = (await s.run(feeds)).output;
const times: KernelTime[] = await s.profile();
export const n: number = out.shape.length + times.length + (s.fallbacks.length as number);
export const isErr = (e: unknown): boolean => e instanceof CnncError && e.code === 'NO_DEVICE';`;
    writeFileSync(join(app, 'consumer.mts'), `import { load, CnncError, type Session, type LoadEvent, type Feed, type Tensor, type KernelTime } from '@cnnc/runtime';\n${body}\n`);
    writeFileSync(join(app, 'consumer.cts'), `import { load, CnncError, type Session, type LoadEvent, type Feed, type Tensor, type KernelTime } from '@cnnc/runtime';
export async function f(): Promise<number> {\n${body.replace(/export const/g, 'const')}\n  return n + Number(isErr(0));\n}\n`);
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

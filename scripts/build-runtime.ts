/**
 * Builds the @cnnc/runtime package (packages/runtime) from runtime/ without moving its sources:
 *   dist/*.js        ESM bundles of runtime/index.ts and runtime/wasm-entry.ts (WebGPU and CUDA code in
 *                    lazily imported chunks, so an app bundler can leave them out)
 *   dist/cjs/*.cjs   CommonJS bundles of the same entries
 *   types/           .d.ts from tsc (runtime/ only), pruned to what the entries reach, plus .d.cts copies
 * Then `npm pack ./packages/runtime` makes the tarball.   npx tsx scripts/build-runtime.ts
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const RUNTIME_PACKAGE = join(ROOT, 'packages/runtime');
const ENTRIES = ['index', 'wasm-entry'];

async function bundles(out: string): Promise<void> {
  const common = { bundle: true, platform: 'neutral' as const, target: 'es2022', logLevel: 'error' as const, legalComments: 'none' as const };
  const entryPoints = ENTRIES.map((e) => join(ROOT, 'runtime', `${e}.ts`));
  await build({ ...common, entryPoints, format: 'esm', splitting: true, outdir: join(out, 'dist'), chunkNames: 'chunks/[name]-[hash]' });
  await build({ ...common, entryPoints, format: 'cjs', outdir: join(out, 'dist/cjs'), outExtension: { '.js': '.cjs' } });
}

/** The relative .js imports of a .d.ts. */
function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)].map((m) => m[1]);
}

function declarations(out: string): void {
  const types = join(out, 'types');
  rmSync(types, { recursive: true, force: true });
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(out, 'tsconfig.json')], { encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`tsc (runtime declarations) failed:\n${tsc.stdout}${tsc.stderr}`);
  // Keep only the declarations the entries reach: the others (WebGPU, CUDA internals) would drag in @webgpu/types.
  const keep = new Set<string>();
  const visit = (file: string) => {
    if (keep.has(file)) return;
    if (!existsSync(file)) throw new Error(`declaration ${relative(out, file)} is imported but was not emitted`);
    keep.add(file);
    for (const spec of importsOf(readFileSync(file, 'utf8'))) visit(resolve(dirname(file), spec.replace(/\.js$/, '.d.ts')));
  };
  for (const e of ENTRIES) visit(join(types, `${e}.d.ts`));
  const all = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? all(join(dir, d.name)) : [join(dir, d.name)]));
  for (const f of all(types)) if (!keep.has(f)) rmSync(f);
  for (const d of readdirSync(types, { withFileTypes: true })) if (d.isDirectory() && !readdirSync(join(types, d.name)).length) rmSync(join(types, d.name), { recursive: true });
  // CommonJS consumers resolve .d.cts (TypeScript reads a .d.ts of a "type": "module" package as ESM).
  for (const f of keep) {
    const rel = relative(types, f);
    const target = join(types, 'cjs', rel.replace(/\.d\.ts$/, '.d.cts'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, readFileSync(f, 'utf8').replace(/(['"]\.[^'"]*)\.js(['"])/g, '$1.cjs$2'));
  }
  for (const f of [...keep, ...all(join(types, 'cjs'))]) {
    const text = readFileSync(f, 'utf8');
    if (/reference types=|from ['"][^.]/.test(text)) throw new Error(`${relative(out, f)} refers to a package: the runtime's types must be self-contained`);
  }
}

export async function buildRuntimePackage(out = RUNTIME_PACKAGE): Promise<void> {
  const rootVersion = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
  const pkgVersion = JSON.parse(readFileSync(join(out, 'package.json'), 'utf8')).version;
  if (rootVersion !== pkgVersion) throw new Error(`packages/runtime is version ${pkgVersion}, cnnc is ${rootVersion}: keep them equal`);
  rmSync(join(out, 'dist'), { recursive: true, force: true });
  await bundles(out);
  declarations(out);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildRuntimePackage();
  console.log(`built ${relative(process.cwd(), RUNTIME_PACKAGE)}: npm pack ./packages/runtime`);
}

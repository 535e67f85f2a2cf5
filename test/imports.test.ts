/**
 * The layering, checked over the source imports of every .ts file (static `import … from`,
 * `export … from`, `import '…'`, dynamic and type-level `import('…')`, type-only imports too):
 *
 *   runtime/   imports nothing from the compiler (an edge app bundles it alone)
 *   ir/        imports ir/ and runtime/
 *   frontends/ imports frontends/, ir/, runtime/
 *   passes/    imports passes/, ir/, runtime/   (not codegen/: a target hands its defaults to the pipeline)
 *   codegen/   imports codegen/, ir/, runtime/  (not passes/: analyses the targets share live in codegen/)
 *   models/    imports models/, frontends/, ir/, runtime/
 *
 * index.ts, cli/, bench/, scripts/, examples/ and test/ may import any layer. And no import cycle
 * anywhere: each is reported as the chain of files that closes it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');
const SKIP = new Set(['node_modules', 'dist', '.git']);

const LAYERS: Record<string, readonly string[]> = {
  runtime: ['runtime'],
  ir: ['ir', 'runtime'],
  frontends: ['frontends', 'ir', 'runtime'],
  passes: ['passes', 'ir', 'runtime'],
  codegen: ['codegen', 'ir', 'runtime'],
  models: ['models', 'frontends', 'ir', 'runtime'],
};

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name) || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) sourceFiles(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(relative(ROOT, p));
  }
  return out;
}

/** The relative module specifiers a file imports (comments removed first). */
export function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specs: string[] = [];
  for (const re of [/\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g]) {
    for (const m of code.matchAll(re)) specs.push(m[1]);
  }
  return specs.filter((s) => s.startsWith('.'));
}

/** file → the repository files it imports (specifiers resolved as TypeScript does for NodeNext: x.js is x.ts). */
function importGraph(): Map<string, string[]> {
  const files = sourceFiles(ROOT);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const deps = importsOf(readFileSync(join(ROOT, f), 'utf8')).map((s) => {
      const p = relative(ROOT, resolve(ROOT, dirname(f), s));
      return [p.replace(/\.js$/, '.ts'), `${p}.ts`, `${p}/index.ts`].find((c) => known.has(c));
    });
    graph.set(f, [...new Set(deps.filter((d): d is string => d !== undefined))]);
  }
  return graph;
}

const layerOf = (file: string): string => (file.includes('/') ? file.split('/')[0] : '.');

/** One cycle per strongly connected component of more than one file (or a file importing itself), as a closed chain. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string): void => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) { connect(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) !== idx.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do { w = stack.pop()!; onStack.delete(w); scc.push(w); } while (w !== v);
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(chain(graph, new Set(scc), v));
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) connect(v);
  return found;
}

/** A path from `start` back to itself inside one component (breadth-first, so a shortest one). */
function chain(graph: Map<string, string[]>, scc: Set<string>, start: string): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!scc.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = prev.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!prev.has(w)) { prev.set(w, v); queue.push(w); }
    }
  }
  return [start, start];
}

describe('source imports', () => {
  const graph = importGraph();

  it('finds the imports it checks (static, type-only, re-exports, dynamic)', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(importsOf(`import { a } from './a.js';\nimport type { B } from "../b.js";\nexport { c } from './c.js';\nexport * from './d.js';\nimport './e.js';\nconst f = await import('./f.js');\ntype G = import('./g.js').G;\n// import { h } from './h.js';\n/* import('./i.js') */\nimport x from 'pkg';`))
      .toEqual(['./a.js', '../b.js', './c.js', './d.js', './e.js', './f.js', './g.js']);
    expect(graph.get('index.ts')).toContain('codegen/targets.ts');
    expect(graph.get('codegen/targets.ts')).toEqual(expect.arrayContaining(['codegen/wasm/target.ts', 'codegen/cuda/target.ts'])); // dynamic imports
  });

  it('keep the layering: no codegen/ ↔ passes/, a runtime free of the compiler, ir/ and frontends/ below the rest', () => {
    const bad: string[] = [];
    for (const [file, deps] of graph) {
      const allowed = LAYERS[layerOf(file)];
      if (!allowed) continue;
      for (const d of deps) if (!allowed.includes(layerOf(d))) bad.push(`${file} imports ${d} (${layerOf(file)}/ may import ${allowed.map((l) => `${l}/`).join(', ')})`);
    }
    expect(bad).toEqual([]);
  });

  it('have no cycles', () => {
    expect(cycles(graph).map((c) => c.join(' → '))).toEqual([]);
  });

  it('the cycle finder reports a cycle as the chain of files that closes it', () => {
    const g = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts', 'd.ts']], ['d.ts', []], ['e.ts', ['e.ts']]]);
    expect(cycles(g)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts'], ['e.ts', 'e.ts']]);
  });
});

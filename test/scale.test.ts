/**
 * The compiler is (near-)linear in the number of nodes: ONNX import, verify, the wasm pass pipeline
 * and wasm code generation on a chain, a wide fan-out and residual blocks at n, 2n and 4n nodes.
 * Doubling n may at most ~2.2× the work; the bound asserted is 2.6× (a margin for GC and timer noise).
 * Work is CPU time of this process (not wall-clock: the machine is shared), the minimum of up to 3
 * tries per size, compared within one run, so no absolute time limit is asserted anywhere.
 * A quadratic step shows as ≈4× per doubling (before this test: ONNX import 6× from 2k to 4k Relus, the
 * pass pipeline 4.5× from 4k to 8k; causes: Graph.nodeNames rebuilt per addNode, removeNoOps' find per
 * node, first-fit over every placed buffer, one transpose sunk per sweep, which also failed outright
 * with 'rewrites did not settle' past 50 elementwise ops after a Conv).
 */
import { describe, expect, it } from 'vitest';
import { Graph } from '../ir/graph.js';
import { verify } from '../ir/verify.js';
import { exportOnnx } from '../frontends/onnx/export.js';
import { importOnnx } from '../frontends/onnx/import.js';
import { runPipeline } from '../passes/pipeline.js';
import { compileWasm } from '../codegen/wasm/index.js';
import { planMemory } from '../codegen/memory-plan.js';

const MAX_RATIO = 2.6;
const SIZES = [1000, 2000, 4000];

const weight = (g: Graph, name: string) => g.addConstant(name, { dtype: 'f32', shape: [2, 2, 1, 1], data: new Float32Array([1, 0.5, -0.5, 1]) });

/** n nodes of one shape of graph; a Conv first so the layout pass has transposes to move through all of them. */
const SHAPES: Record<string, (n: number) => Graph> = {
  chain(n) {
    const g = new Graph('chain');
    let x = g.add('Conv', [g.addInput('x', { dtype: 'f32', shape: [1, 2, 4, 4] }), weight(g, 'w')]);
    for (let i = 1; i < n; i++) x = g.add('Relu', [x]);
    g.setOutputs([x]);
    return g;
  },
  /** One value read by n/2 nodes, their results summed up as they come. */
  fanOut(n) {
    const g = new Graph('fan');
    const x = g.add('Conv', [g.addInput('x', { dtype: 'f32', shape: [1, 2, 4, 4] }), weight(g, 'w')]);
    let acc = g.add('Relu', [x]);
    for (let i = 2; i < n; i += 2) acc = g.add('Add', [acc, g.add('Sigmoid', [x])]);
    g.setOutputs([acc]);
    return g;
  },
  /** Blocks y = x + Relu(Conv(x)), three nodes each. */
  residual(n) {
    const g = new Graph('res');
    let x = g.addInput('x', { dtype: 'f32', shape: [1, 2, 4, 4] });
    const w = weight(g, 'w');
    for (let i = 0; i < n; i += 3) x = g.add('Add', [x, g.add('Relu', [g.add('Conv', [x, w])])]);
    g.setOutputs([x]);
    return g;
  },
};

function cpuSeconds(f: () => void): number {
  const t0 = process.cpuUsage();
  f();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1e6;
}

/** Import → verify → passes → wasm module, timed as a whole. */
function compileAll(g: Graph): void {
  const onnx = exportOnnx(g);
  const imported = importOnnx(onnx);
  verify(imported);
  const { graph } = runPipeline(imported, 'wasm', {});
  compileWasm(graph);
}

/** The best of up to 3 tries of `work` on each graph, retried only while some doubling is over the bound. */
function bestTimes(graphs: Graph[], work: (g: Graph) => void): number[] {
  const best = graphs.map(() => Infinity);
  for (let attempt = 0; attempt < 3; attempt++) {
    graphs.forEach((g, i) => { best[i] = Math.min(best[i], cpuSeconds(() => work(g))); });
    if (best.every((t, i) => i === 0 || t / best[i - 1] <= MAX_RATIO)) break;
  }
  return best;
}

describe('compile time scales linearly with the graph', () => {
  compileAll(SHAPES.chain(200)); // warm up JIT and binaryen
  for (const [shape, build] of Object.entries(SHAPES)) {
    it(`${shape}: ${SIZES.join(' / ')} nodes, each doubling ≤ ${MAX_RATIO}× the CPU time`, () => {
      const graphs = SIZES.map(build);
      const best = bestTimes(graphs, compileAll);
      const ratios = best.slice(1).map((t, i) => t / best[i]);
      const report = SIZES.map((n, i) => `${n}: ${best[i].toFixed(3)} s`).join(', ');
      for (const r of ratios) expect(r, `${shape} CPU times ${report}`).toBeLessThanOrEqual(MAX_RATIO);
      expect(graphs[2].nodes.length).toBeGreaterThanOrEqual(SIZES[2] - 3);
    });
  }

  it(`the arena planner of the GPU targets (codegen/memory-plan, 38 orders × 2 fits): ${SIZES.join(' / ')} values, each doubling ≤ ${MAX_RATIO}×`, () => {
    const graphs = SIZES.map((n) => {
      const g = new Graph('pairs');
      let x = g.addInput('x', { dtype: 'f32', shape: [1, 8] });
      for (let i = 0; i < n; i += 2) x = g.add('Relu', [g.add('Sigmoid', [x])]);
      g.setOutputs([x]);
      return g;
    });
    const best = bestTimes(graphs, (g) => planMemory(g, { inPlace: false }));
    const report = SIZES.map((n, i) => `${n}: ${best[i].toFixed(3)} s`).join(', ');
    best.slice(1).forEach((t, i) => expect(t / best[i], `memory-plan CPU times ${report}`).toBeLessThanOrEqual(MAX_RATIO));
  });
});

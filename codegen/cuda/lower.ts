/**
 * Lowers an optimized graph to the CUDA module: one translation unit of deduplicated kernels,
 * the packed weights, and the plan (arena size, where each value lives, launches in order).
 * The plan is plain JSON: the standalone host program and runtime/cuda both just walk it.
 */
import type { Graph, Node } from '../../ir/graph.js';
import { typeBytes } from '../../ir/types.js';
import { planMemory } from '../memory-plan.js';
import { CnncError } from '../../runtime/errors.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { BufRef, CudaIO, CudaPlan, CudaStep } from '../../runtime/cuda/plan.js';
import { conv, convTranspose, fusedDwPw } from './conv.js';
import { ctype, hash, ident } from './emit.js';
import { PRELUDE, kernelSource, type Launch, type LowerCtx } from './kernel.js';
import { gemm, matmul } from './matmul.js';
import { COPY_OPS, GATHER_OPS, concat, copy, gather } from './movement.js';
import { batchNorm, cast, elementwise, instanceNorm, layerNorm, lrn, reduce, softmax } from './pointwise.js';
import { getOp, hasOp } from '../../ir/ops/index.js';
import { globalPool, pool } from './pool.js';

export type { BufRef, CudaIO, CudaPlan, CudaStep } from '../../runtime/cuda/plan.js';

export interface CudaModule {
  plan: CudaPlan;
  /** The complete .cu translation unit (kernels only; the host program is separate). */
  source: string;
  /** Each distinct kernel's function text, by name (to merge modules into one unit). */
  kernels: Map<string, string>;
  weights: Uint8Array;
}

/** One translation unit from kernels (deduplicated by name): the prelude, then each function. */
export function translationUnit(title: string, kernels: Iterable<[string, string]>): string {
  const seen = new Map(kernels);
  return `// ${title}: ${seen.size} kernels\n${PRELUDE}\n${[...seen.values()].join('\n')}`;
}

type Gen = (ctx: LowerCtx) => Launch | Launch[];

const GENERATORS: Record<string, Gen> = {
  Conv: conv, ConvTranspose: convTranspose, FusedDwPw: fusedDwPw,
  Gemm: gemm, MatMul: matmul,
  MaxPool: pool, AveragePool: pool, GlobalAveragePool: globalPool, GlobalMaxPool: globalPool,
  BatchNormalization: batchNorm, Cast: cast, Softmax: softmax, LogSoftmax: softmax, LayerNormalization: layerNorm,
  InstanceNormalization: instanceNorm, LRN: lrn,
  ReduceMean: reduce, ReduceSum: reduce, ReduceMax: reduce, ReduceMin: reduce,
  Concat: concat,
  ...Object.fromEntries(COPY_OPS.map((o) => [o, copy])),
  ...Object.fromEntries(GATHER_OPS.map((o) => [o, gather])),
};

/** The generator of an op: its own, else the elementwise kernel for every op with a scalar formula. */
export function generatorOf(op: string): Gen | undefined {
  return GENERATORS[op] ?? (hasOp(op) && getOp(op).traits.scalar ? elementwise : undefined);
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

export function lowerCuda(g: Graph): CudaModule {
  for (const o of g.outputs) {
    if (g.constValue(o) || g.inputs.includes(o)) throw new CnncError('UNSUPPORTED', `output '${o}' is a constant or an input; the CUDA target computes outputs`, { value: o });
  }
  // arena offsets from the shared memory planner (256-byte aligned: coalescing and vector loads)
  const { arenaBytes, offsets } = planMemory(g, { align: 256 });
  const extra = new Map<string, Tensor>();
  const weightOff = new Map<string, number>();
  const chunks: { off: number; t: Tensor }[] = [];
  let weightsBytes = 0;
  const weightOf = (name: string): number => {
    let off = weightOff.get(name);
    if (off === undefined) {
      const t = extra.get(name) ?? g.constValue(name)!;
      off = weightsBytes;
      weightOff.set(name, off);
      chunks.push({ off, t });
      weightsBytes = align(off + t.data.byteLength, 16);
    }
    return off;
  };
  const kernels = new Map<string, string>(); // text with placeholder → name
  const sources = new Map<string, string>();
  const signatures: Record<string, string[]> = {};
  const steps: CudaStep[] = [];
  for (const node of g.nodes) {
    // a copy op the planner placed in place (Reshape, Identity) needs no kernel
    if (COPY_OPS.includes(node.op) && offsets.get(node.inputs[0]) === offsets.get(node.outputs[0]) && offsets.has(node.inputs[0])) continue;
    const gen = generatorOf(node.op);
    if (!gen) throw new CnncError('UNSUPPORTED', `no CUDA kernel for op ${node.op}`, { node: node.name, op: node.op });
    const ctx: LowerCtx = {
      graph: g, node,
      addConstant: (base, t) => {
        const name = `${base}#${extra.size}`;
        extra.set(name, t);
        return name;
      },
    };
    const out = gen(ctx);
    for (const l of Array.isArray(out) ? out : [out]) steps.push(emitLaunch(l, node));
  }

  function emitLaunch(l: Launch, node: Node): CudaStep {
    const text = kernelSource('KERNEL', l);
    let name = kernels.get(text);
    if (!name) {
      name = `cnnc_${l.kind}_${hash(text)}`;
      kernels.set(text, name);
      sources.set(name, `// first used by ${ident(node.name)} (${node.op})\n` + kernelSource(name, l));
      signatures[name] = l.args.map((a) => `${a.out ? '' : 'const '}${ctype(a.dtype)}*`);
    }
    const args: BufRef[] = l.args.map((a) => {
      if (extra.has(a.value) || g.constValue(a.value)) return { region: 'weights', offset: weightOf(a.value) };
      const off = offsets.get(a.value);
      if (off === undefined) throw new CnncError('BAD_GRAPH', `value '${a.value}' has no buffer`, { node: node.name, op: node.op, value: a.value });
      return { region: 'arena', offset: off };
    });
    return { node: node.name, kernel: name, grid: l.grid, block: l.threads, args };
  }

  const weights = new Uint8Array(Math.max(weightsBytes, 16));
  for (const { off, t } of chunks) weights.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), off);
  const io = (names: string[]): CudaIO[] => names.map((name) => {
    const t = g.type(name);
    return { name, dtype: t.dtype, shape: [...t.shape], offset: offsets.get(name)!, bytes: typeBytes(t) };
  });
  const source = translationUnit(`cnnc CUDA kernels for '${g.name}' (${steps.length} launches)`, sources);
  return {
    plan: { arenaBytes: Math.max(arenaBytes, 256), weightsBytes: weights.length, kernels: [...kernels.values()], signatures, steps, inputs: io(g.inputs), outputs: io(g.outputs), model: g.name },
    source,
    kernels: sources,
    weights,
  };
}

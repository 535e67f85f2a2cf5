/**
 * Lowers an optimized graph to the CUDA module: one translation unit of deduplicated kernels,
 * the packed weights, and the plan (arena size, where each value lives, launches in order).
 * The plan is plain JSON: the standalone host program and runtime/cuda both just walk it.
 */
import type { Graph, Node } from '../../ir/graph.js';
import { typeBytes } from '../../ir/types.js';
import { planMemory } from '../memory-plan.js';
import { planConcats, sliceIndex } from '../concat-plan.js';
import { CnncError } from '../../runtime/errors.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { BufRef, CudaIO, CudaPlan, CudaStep } from '../../runtime/cuda/plan.js';
import { conv, convTranspose, fusedDwPw } from './conv.js';
import { ctype, hash, ident } from './emit.js';
import { PRELUDE, kernelSource, type Launch, type LowerCtx } from './kernel.js';
import { gemm, matmul } from './matmul.js';
import { COPY_OPS, GATHER_OPS, concat, copy, gather } from './movement.js';
import { batchNorm, cast, channelLayerNorm, elementwise, fusedElementwise, instanceNorm, layerNorm, lrn, reduce, softmax } from './pointwise.js';
import { getOp, hasOp } from '../../ir/ops/index.js';
import { globalPool, pool } from './pool.js';
import { resize } from './resize.js';
import { squeezeExcitationGate } from './squeeze-excitation.js';
import { convInteger, dequantizeLinear, dynamicQuantizeLinear, matmulInteger, qconv, qgemm, quantizeLinear } from './quant.js';

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
  Gemm: gemm, MatMul: matmul, SqueezeExcitationGate: squeezeExcitationGate,
  MaxPool: pool, AveragePool: pool, GlobalAveragePool: globalPool, GlobalMaxPool: globalPool,
  BatchNormalization: batchNorm, FusedElementwise: fusedElementwise, Cast: cast, Softmax: softmax, LogSoftmax: softmax, LayerNormalization: layerNorm,
  ChannelLayerNorm: channelLayerNorm, InstanceNormalization: instanceNorm, LRN: lrn,
  ReduceMean: reduce, ReduceSum: reduce, ReduceMax: reduce, ReduceMin: reduce,
  Concat: concat,
  ...Object.fromEntries(GATHER_OPS.map((o) => [o, gather])),
  Resize: resize,
  QuantizeLinear: quantizeLinear, DequantizeLinear: dequantizeLinear, DynamicQuantizeLinear: dynamicQuantizeLinear,
  ConvInteger: convInteger, QLinearConv: convInteger, QConv: qconv,
  MatMulInteger: matmulInteger, QLinearMatMul: matmulInteger, QGemm: qgemm,
  ...Object.fromEntries(COPY_OPS.map((o) => [o, copy])),
};

/** The generator of an op: its own, else the elementwise kernel for every op with a scalar formula. */
export function generatorOf(op: string): Gen | undefined {
  return GENERATORS[op] ?? (hasOp(op) && getOp(op).traits.scalar ? elementwise : undefined);
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * Producers whose kernels store through `LowerCtx.outIndex`, so that they can write a Concat part
 * in place (codegen/concat-plan.ts): the conv family (its epilogue) and windowed pooling, in float.
 */
const SLICE_WRITERS = new Set(['Conv', 'ConvTranspose', 'FusedDwPw', 'MaxPool', 'AveragePool']);
export function cudaWritesSlice(p: Node, v: string, _axis: number, g: Graph): boolean {
  const dt = g.type(v).dtype;
  return SLICE_WRITERS.has(p.op) && p.outputs.filter(Boolean).length === 1 && (dt === 'f32' || dt === 'f16');
}

/** A graph output that is a constant: its bytes copied from the weights into its arena place. */
function constantCopy(o: string, t: Tensor): Launch {
  const n = t.data.byteLength;
  return {
    kind: 'const_copy', threads: 256, grid: [Math.max(1, Math.ceil(n / 256)), 1, 1],
    args: [{ param: 'x', value: `${o}#const`, dtype: 'u8' }, { param: 'y', value: o, dtype: 'u8', out: true }],
    body: `const int i = blockIdx.x * blockDim.x + threadIdx.x;\nif (i < ${n}) y[i] = x[i];\n`,
  };
}

export function lowerCuda(g: Graph): CudaModule {
  // arena offsets from the shared memory planner (256-byte aligned: coalescing and vector loads);
  // an output that is a constant gets its own space after the plan (a copy kernel fills it), one
  // that is an input is read back from the input's place
  // Concat parts their producers write in place share the Concat's buffer; their offset is their slice's
  const concats = planConcats(g, cudaWritesSlice);
  const plan = planMemory(g, { align: 256, slices: concats.slices });
  const offsets = new Map(plan.offsets);
  let arenaBytes = plan.arenaBytes;
  const constOuts = [...new Set(g.outputs.filter((o) => g.constValue(o)))];
  for (const o of constOuts) {
    offsets.set(o, align(arenaBytes, 256));
    arenaBytes = offsets.get(o)! + g.constValue(o)!.data.byteLength;
  }
  const extra = new Map<string, Tensor>(constOuts.map((o) => [`${o}#const`, g.constValue(o)!]));
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
  const stored = new Set<string>();
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
      outIndex: (value, idx) => {
        const slice = concats.slices.get(value);
        if (!slice) return idx;
        stored.add(value);
        return sliceIndex(slice, idx, String, false);
      },
      inPlace: (value) => concats.slices.has(value),
    };
    const out = gen(ctx);
    const unstored = node.outputs.find((v) => concats.slices.has(v) && !stored.has(v));
    if (unstored) throw new CnncError('KERNEL_ERROR', `the CUDA kernel of ${node.op} did not store '${unstored}' at its concat slice`, { node: node.name, op: node.op, value: unstored });
    for (const l of Array.isArray(out) ? out : [out]) steps.push(emitLaunch(l, node));
  }
  for (const o of constOuts) steps.push(emitLaunch(constantCopy(o, g.constValue(o)!), { name: `${o}_const`, op: 'Constant', inputs: [], outputs: [o], attrs: {} } as unknown as Node));

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
      if (!a.out && (extra.has(a.value) || g.constValue(a.value))) return { region: 'weights', offset: weightOf(a.value) };
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

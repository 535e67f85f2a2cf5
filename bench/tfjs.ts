/**
 * TensorFlow.js peer for the WASM benchmark: MobileNetV2 and ResNet-18 rebuilt with tf.layers
 * from the very weights of ../shared/models/<name>/model.onnx, run on the wasm backend
 * (XNNPACK, SIMD, one thread) — the fastest WebAssembly CNN runtime users know.
 *
 * The model is built by walking the imported ONNX graph: each node becomes the tf.layers layer
 * a TF.js user would write, weights transposed to TF's layouts (conv (M,C/g,kH,kW) → (kH,kW,C,M),
 * depthwise → (kH,kW,C,1), Gemm (N,K) → dense (K,N)). Tensors are NHWC inside the model.
 */
import * as path from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import type { Graph, Node } from '../ir/graph.js';
import { CnncError } from '../runtime/errors.js';

export type TfjsModelName = 'mobilenet_v2' | 'resnet18';

export interface TfjsPeer {
  /** Runs one batch-1 image given in NCHW [1,3,224,224]; returns the [1,1000] logits. */
  run(inputNCHW: Float32Array): Promise<Float32Array>;
  /** Frees the model's weights. */
  dispose(): void;
  /** The tf backend that runs it ('wasm'). */
  backend: string;
}

const MODELS_DIR = path.resolve(import.meta.dirname, '../../shared/models');

let ready: Promise<void> | undefined;

/** Selects the wasm backend once: one thread, wasm binaries from node_modules (no network). */
function initWasm(): Promise<void> {
  ready ??= (async () => {
    const require = createRequire(import.meta.url);
    const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    setWasmPaths(dist + path.sep);
    setThreadsCount(1);
    if (!(await tf.setBackend('wasm'))) throw new CnncError('NO_DEVICE', 'TensorFlow.js wasm backend failed to initialise');
    await tf.ready();
  })();
  return ready;
}

/** The tfjs peer of ../shared/models/<name>, ready to run. */
export async function tfjsPeer(name: TfjsModelName): Promise<TfjsPeer> {
  await initWasm();
  const g = loadOnnxFile(path.join(MODELS_DIR, name, 'model.onnx'));
  const model = buildModel(g);
  const [, c, h, w] = g.type(g.inputs[0]).shape;
  return {
    backend: tf.getBackend(),
    async run(inputNCHW) {
      if (inputNCHW.length !== c * h * w) {
        throw new CnncError('BAD_INPUT', `expected ${c * h * w} input values (1x${c}x${h}x${w}), got ${inputNCHW.length}`, { value: g.inputs[0] });
      }
      const y = tf.tidy(() => model.predict(tf.tensor4d(inputNCHW, [1, c, h, w]).transpose([0, 2, 3, 1])) as tf.Tensor);
      const out = (await y.data()) as Float32Array;
      y.dispose();
      return out;
    },
    dispose: () => model.dispose(),
  };
}

/** Median latency in ms of one inference on a fixed random input, after warm-up. */
export async function tfjsMedianMs(name: TfjsModelName, runs = 20, warmup = 5): Promise<number> {
  const peer = await tfjsPeer(name);
  try {
    const x = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.618));
    for (let i = 0; i < warmup; i++) await peer.run(x);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await peer.run(x);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const m = times.length >> 1;
    return times.length % 2 ? times[m] : (times[m - 1] + times[m]) / 2;
  } finally {
    peer.dispose();
  }
}

// ---- building the tf.layers model from the ONNX graph ----

type Sym = tf.SymbolicTensor;

/** Walks the graph's nodes in order, mapping each to tf.layers; weights set after the model is built. */
function buildModel(g: Graph): tf.LayersModel {
  const [, c, h, w] = g.type(g.inputs[0]).shape;
  const input = tf.input({ shape: [h, w, c] });
  const syms = new Map<string, Sym>([[g.inputs[0], input]]);
  const weights: [tf.layers.Layer, tf.Tensor[]][] = [];
  const sym = (node: Node, i: number): Sym => {
    const s = syms.get(node.inputs[i]);
    if (!s) throw new CnncError('UNSUPPORTED', `input ${i} is not a tensor the tfjs peer computes`, { node: node.name, op: node.op, value: node.inputs[i] });
    return s;
  };
  const konst = (node: Node, i: number): { shape: number[]; data: Float32Array } => {
    const t = g.value(node.inputs[i]).const;
    if (!t || !(t.data instanceof Float32Array)) throw new CnncError('UNSUPPORTED', `input ${i} must be an f32 constant`, { node: node.name, op: node.op, value: node.inputs[i] });
    return { shape: [...t.shape], data: t.data };
  };
  const withWeights = (layer: tf.layers.Layer, ws: tf.Tensor[]) => (weights.push([layer, ws]), layer);

  for (const node of g.nodes) {
    const a = node.attrs;
    const fail = (msg: string): never => {
      throw new CnncError('UNSUPPORTED', `tfjs peer: ${msg}`, { node: node.name, op: node.op });
    };
    let out: Sym;
    switch (node.op) {
      case 'Conv': {
        if ((a.dilations as number[]).some((d) => d !== 1) || a.activation !== '' || node.inputs.length > 3) fail('dilated or fused Conv');
        const W = konst(node, 1);
        const [m, cg, kh, kw] = W.shape;
        const x = sym(node, 0);
        const cin = x.shape[3]!;
        const group = a.group as number;
        const depthwise = group > 1 && group === cin && m === cin && cg === 1;
        if (group > 1 && !depthwise) fail(`grouped conv (group ${group}) other than depthwise`);
        const strides = a.strides as number[];
        const [xp, padding] = padFor(x, a.pads as number[], [kh, kw], strides, node.name);
        const hasBias = node.inputs.length > 2 && node.inputs[2] !== '';
        const kernel = tf.tidy(() => depthwise
          ? tf.tensor4d(W.data, [m, 1, kh, kw]).transpose([2, 3, 0, 1]) // (kH,kW,C,1)
          : tf.tensor4d(W.data, [m, cg, kh, kw]).transpose([2, 3, 1, 0])); // (kH,kW,C,M)
        const ws = hasBias ? [kernel, tf.tensor1d(konst(node, 2).data)] : [kernel];
        const cfg = { kernelSize: [kh, kw] as [number, number], strides: strides as [number, number], padding, useBias: hasBias, name: tfName(node.name) };
        const layer = depthwise ? tf.layers.depthwiseConv2d({ ...cfg, depthMultiplier: 1 }) : tf.layers.conv2d({ ...cfg, filters: m });
        out = withWeights(layer, ws).apply(xp) as Sym;
        break;
      }
      case 'BatchNormalization': {
        const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => tf.tensor1d(konst(node, i).data));
        const layer = tf.layers.batchNormalization({ axis: -1, epsilon: a.epsilon as number, name: tfName(node.name) });
        out = withWeights(layer, [scale, bias, mean, variance]).apply(sym(node, 0)) as Sym;
        break;
      }
      case 'Relu':
        out = tf.layers.reLU({ name: tfName(node.name) }).apply(sym(node, 0)) as Sym;
        break;
      case 'Clip':
        if (a.min !== 0 || a.max !== 6) fail(`Clip(${a.min}, ${a.max}) other than ReLU6`);
        out = tf.layers.reLU({ maxValue: 6, name: tfName(node.name) }).apply(sym(node, 0)) as Sym;
        break;
      case 'Add':
        out = tf.layers.add({ name: tfName(node.name) }).apply([sym(node, 0), sym(node, 1)]) as Sym;
        break;
      case 'MaxPool': {
        // Zero padding equals -inf padding only for non-negative inputs (after ReLU, as in ResNet).
        const producer = g.nodes.find((n) => n.outputs.includes(node.inputs[0]));
        const nonNegative = producer?.op === 'Relu' || (producer?.op === 'Clip' && (producer.attrs.min as number) >= 0);
        if (!nonNegative && (a.pads as number[]).some((p) => p !== 0)) fail('padded MaxPool of a possibly negative input');
        if (a.ceil_mode !== 0) fail('ceil_mode');
        const k = a.kernel_shape as number[];
        const [xp, padding] = padFor(sym(node, 0), a.pads as number[], k, a.strides as number[], node.name);
        out = tf.layers.maxPooling2d({ poolSize: k as [number, number], strides: a.strides as [number, number], padding, name: tfName(node.name) }).apply(xp) as Sym;
        break;
      }
      case 'GlobalAveragePool':
        out = tf.layers.globalAveragePooling2d({ name: tfName(node.name) }).apply(sym(node, 0)) as Sym;
        break;
      case 'Flatten': {
        // After global pooling TF already holds [1, C]; flattening a spatial NHWC map would reorder values.
        const x = sym(node, 0);
        if (x.shape.length !== 2 || a.axis !== 1) fail('Flatten of a spatial tensor');
        out = x;
        break;
      }
      case 'Gemm': {
        if (a.alpha !== 1 || a.beta !== 1 || a.transA !== 0 || a.activation !== '' || node.inputs.length > 3) fail('Gemm other than x·Wᵀ + b');
        const W = konst(node, 1);
        const kernel = tf.tidy(() => (a.transB ? tf.tensor2d(W.data, W.shape as [number, number]).transpose() : tf.tensor2d(W.data, W.shape as [number, number])));
        const hasBias = node.inputs.length > 2 && node.inputs[2] !== '';
        const layer = tf.layers.dense({ units: kernel.shape[1]!, useBias: hasBias, name: tfName(node.name) });
        out = withWeights(layer, hasBias ? [kernel, tf.tensor1d(konst(node, 2).data)] : [kernel]).apply(sym(node, 0)) as Sym;
        break;
      }
      default:
        return fail('op not mapped to tf.layers');
    }
    syms.set(node.outputs[0], out);
  }
  const output = syms.get(g.outputs[0]);
  if (!output) throw new CnncError('BAD_GRAPH', 'graph output not computed', { value: g.outputs[0] });
  const model = tf.model({ inputs: input, outputs: output, name: g.name });
  for (const [layer, ws] of weights) {
    layer.setWeights(ws);
    tf.dispose(ws);
  }
  return model;
}

/** A valid tf.layers name (letters, digits, - . _ /, not leading with a separator). */
function tfName(name: string): string {
  return name.replace(/[^-A-Za-z0-9._/]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
}

/**
 * PyTorch pads symmetrically; TF's 'same' pads the extra pixel at the end. Use 'same' where both
 * agree (what a TF.js user writes), else an explicit zeroPadding2d followed by 'valid'.
 */
function padFor(x: Sym, pads: number[], k: number[], strides: number[], name: string): [Sym, 'same' | 'valid'] {
  const [top, left, bottom, right] = pads;
  if (pads.every((p) => p === 0)) return [x, 'valid'];
  const sameMatches = [0, 1].every((d) => {
    const size = x.shape[1 + d]!;
    const out = Math.ceil(size / strides[d]);
    const total = Math.max((out - 1) * strides[d] + k[d] - size, 0);
    return Math.floor(total / 2) === pads[d] && total - Math.floor(total / 2) === pads[d + 2];
  });
  if (sameMatches) return [x, 'same'];
  const padded = tf.layers.zeroPadding2d({ padding: [[top, bottom], [left, right]], name: tfName(`${name}_pad`) }).apply(x) as Sym;
  return [padded, 'valid'];
}

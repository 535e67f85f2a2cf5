/**
 * The DSL: a model builder that reads like PyTorch and produces the same typed `Graph` the
 * ONNX importer does. Every layer adds registry ops (Conv, BatchNormalization, Gemm, ...) with
 * seeded weights; node names follow PyTorch module paths ('layer1.0.conv1') through scopes.
 *
 *   const m = new Model('lenet5', { seed: 0 });
 *   let x = m.input([1, 1, 32, 32]);
 *   x = m.tanh(m.conv2d(x, 6, 5)); x = m.avgPool2d(x, 2); ...
 *   m.output(x); const graph = m.build();
 */
import { CnncError } from '../../runtime/errors.js';
import { tensor } from '../../runtime/tensor.js';
import { Graph } from '../../ir/graph.js';
import type { AttrValue } from '../../ir/op.js';
import { verify } from '../../ir/verify.js';
import { Rng } from './random.js';

/** A value of the graph being built (its name). */
export type Value = string;
/** A size for both spatial axes, or [height, width]. */
export type Pair = number | readonly [number, number];

export interface ModelOptions {
  /** Seed of the weight PRNG (default 0): the same seed gives the same weights. */
  seed?: number;
  /** 'random' (default): seeded initialisation; 'zeros': all-zero weights, cheap when only the structure matters. */
  weights?: 'random' | 'zeros';
}

export interface Conv2dOptions {
  stride?: Pair;
  /** Padding per side, or 'same' (stride 1: k//2 · dilation). */
  padding?: Pair | 'same';
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  name?: string;
}

export interface ConvTranspose2dOptions {
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  name?: string;
}

export interface PoolOptions {
  /** Defaults to the kernel size, as in PyTorch. */
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
  /** AvgPool only; PyTorch's default is true. */
  countIncludePad?: boolean;
  name?: string;
}

export interface Named {
  name?: string;
}

/** How a weight tensor is filled. */
export type Init =
  | { kind: 'kaiming'; fanIn: number }          // N(0, 2/fan_in): kaiming_normal_(mode='fan_in', relu gain)
  | { kind: 'uniform'; lo: number; hi: number }
  | { kind: 'normal'; mean: number; std: number }
  | { kind: 'constant'; value: number };

/** Activation names accepted by `activation()` and the block helpers. */
export type Act = '' | 'relu' | 'relu6' | 'silu' | 'hardswish' | 'hardsigmoid' | 'sigmoid' | 'tanh' | 'gelu' | 'leaky_relu';

const pair = (p: Pair): [number, number] => (typeof p === 'number' ? [p, p] : [p[0], p[1]]);

export class Model {
  readonly graph: Graph;
  private readonly rng: Rng;
  private readonly zeros: boolean;
  private readonly prefix: string[] = [];
  private readonly pendingOutputs: [Value, string][] = [];
  private built = false;

  constructor(name: string, opts: ModelOptions = {}) {
    this.graph = new Graph(name);
    this.rng = new Rng(opts.seed ?? 0);
    this.zeros = opts.weights === 'zeros';
  }

  // ---- graph ends ----

  input(shape: readonly number[], name = 'input'): Value {
    if (shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new CnncError('SHAPE_MISMATCH', `input shape [${shape}] must be positive integers`, { value: name });
    }
    return this.graph.addInput(name, { dtype: 'f32', shape: [...shape] });
  }

  /** Marks `x` as a graph output, renamed to `name` ('output' by default) when build() runs. */
  output(x: Value, name = 'output'): void {
    this.pendingOutputs.push([x, name]);
  }

  /** Finishes the graph: outputs get their names, then the verifier checks it. */
  build(): Graph {
    if (this.built) return this.graph;
    if (this.pendingOutputs.length === 0) throw new CnncError('BAD_GRAPH', `model '${this.graph.name}' has no output: call output(x)`);
    const names = this.pendingOutputs.map(([x, name]) => this.rename(x, name));
    this.graph.setOutputs(names);
    verify(this.graph);
    this.built = true;
    return this.graph;
  }

  /** Gives a node's output value a new name (graph outputs are 'output', as in the ONNX models). */
  private rename(x: Value, to: string): Value {
    const g = this.graph;
    if (x === to) return x;
    const i = g.nodes.findIndex((n) => n.outputs.includes(x));
    if (i < 0 || g.values.has(to)) return x; // a graph input or constant, or the name is taken: keep it
    const type = g.type(x);
    g.nodes = g.nodes.map((n) => ({
      ...n,
      inputs: n.inputs.map((v) => (v === x ? to : v)),
      outputs: n.outputs.map((v) => (v === x ? to : v)),
    }));
    g.removeValue(x);
    g.define({ name: to, type });
    return to;
  }

  // ---- inspection and naming ----

  shape(x: Value): number[] {
    return [...this.graph.type(x).shape];
  }

  /** Channels of an NCHW value (or features of an NC one). */
  channels(x: Value): number {
    return this.graph.type(x).shape[1];
  }

  /** Runs `fn` with `name` appended to the module path, like a PyTorch submodule. */
  scope<T>(name: string | number, fn: () => T): T {
    this.prefix.push(String(name));
    try {
      return fn();
    } finally {
      this.prefix.pop();
    }
  }

  /** The full dotted path of a layer named `name` in the current scope. */
  path(name: string): string {
    return [...this.prefix, name].filter((s) => s !== '').join('.');
  }

  /** A weight constant `${layer}.${what}` of `shape`, filled by `init`. */
  param(layer: string, what: string, shape: readonly number[], init: Init): Value {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (!this.zeros) {
      switch (init.kind) {
        case 'kaiming': this.rng.fillNormal(data, 0, Math.sqrt(2 / init.fanIn)); break;
        case 'uniform': this.rng.fillUniform(data, init.lo, init.hi); break;
        case 'normal': this.rng.fillNormal(data, init.mean, init.std); break;
        case 'constant': data.fill(init.value); break;
      }
    }
    return this.graph.addConstant(what ? `${layer}.${what}` : layer, tensor('f32', shape, data));
  }

  /** Adds one registry op named `name` in the current scope: the escape hatch for ops without a helper. */
  node(op: string, inputs: readonly Value[], attrs: Record<string, AttrValue | undefined>, name: string): Value {
    return this.addOp(op, inputs, attrs, this.path(name));
  }

  /** Adds a node by its full path; a path that names a weight already gets a fresh suffix. */
  private addOp(op: string, inputs: readonly Value[], attrs: Record<string, AttrValue | undefined>, path: string): Value {
    if (this.built) throw new CnncError('BAD_GRAPH', `model '${this.graph.name}' is already built`);
    const name = this.graph.values.has(path) ? this.graph.freshName(path) : path;
    return this.graph.add(op, inputs, attrs, { name });
  }

  // ---- convolution and linear layers ----

  /** nn.Conv2d: weight (out, in/groups, kh, kw) kaiming-normal, bias U(±1/√fan_in) as PyTorch. */
  conv2d(x: Value, outChannels: number, kernel: Pair, o: Conv2dOptions = {}): Value {
    const name = this.path(o.name ?? 'conv');
    const [kh, kw] = pair(kernel);
    const groups = o.groups ?? 1;
    const cin = this.channels(x);
    if (cin % groups !== 0 || outChannels % groups !== 0) {
      throw new CnncError('SHAPE_MISMATCH', `channels ${cin} → ${outChannels} are not divisible by groups ${groups}`, { node: name, op: 'Conv', value: x });
    }
    const [dh, dw] = pair(o.dilation ?? 1);
    const [ph, pw] = o.padding === 'same' ? [((kh - 1) * dh) >> 1, ((kw - 1) * dw) >> 1] : pair(o.padding ?? 0);
    const fanIn = (cin / groups) * kh * kw;
    const w = this.param(name, 'weight', [outChannels, cin / groups, kh, kw], { kind: 'kaiming', fanIn });
    const inputs = [x, w];
    if (o.bias ?? true) inputs.push(this.param(name, 'bias', [outChannels], { kind: 'uniform', lo: -1 / Math.sqrt(fanIn), hi: 1 / Math.sqrt(fanIn) }));
    return this.addOp('Conv', inputs, {
      strides: pair(o.stride ?? 1), pads: [ph, pw, ph, pw], dilations: [dh, dw], group: groups,
    }, name);
  }

  /** nn.ConvTranspose2d: weight (in, out/groups, kh, kw). */
  convTranspose2d(x: Value, outChannels: number, kernel: Pair, o: ConvTranspose2dOptions = {}): Value {
    const name = this.path(o.name ?? 'conv_transpose');
    const [kh, kw] = pair(kernel);
    const groups = o.groups ?? 1;
    const cin = this.channels(x);
    const [ph, pw] = pair(o.padding ?? 0);
    // PyTorch computes fan_in of a transposed conv from weight dim 1: (out/groups)·kh·kw.
    const fanIn = (outChannels / groups) * kh * kw;
    const w = this.param(name, 'weight', [cin, outChannels / groups, kh, kw], { kind: 'kaiming', fanIn });
    const inputs = [x, w];
    if (o.bias ?? true) inputs.push(this.param(name, 'bias', [outChannels], { kind: 'uniform', lo: -1 / Math.sqrt(fanIn), hi: 1 / Math.sqrt(fanIn) }));
    return this.addOp('ConvTranspose', inputs, {
      strides: pair(o.stride ?? 1), pads: [ph, pw, ph, pw], dilations: pair(o.dilation ?? 1), group: groups,
      output_padding: pair(o.outputPadding ?? 0),
    }, name);
  }

  /** nn.Linear on (N, in): Gemm with transB=1, weight (out, in) as PyTorch stores it. */
  linear(x: Value, outFeatures: number, o: { bias?: boolean; name?: string } = {}): Value {
    const name = this.path(o.name ?? 'linear');
    const shape = this.shape(x);
    if (shape.length !== 2) {
      throw new CnncError('SHAPE_MISMATCH', `linear takes a (N, features) value, got [${shape}]: flatten first`, { node: name, op: 'Gemm', value: x });
    }
    const fanIn = shape[1];
    const w = this.param(name, 'weight', [outFeatures, fanIn], { kind: 'kaiming', fanIn });
    const inputs = [x, w];
    if (o.bias ?? true) inputs.push(this.param(name, 'bias', [outFeatures], { kind: 'uniform', lo: -1 / Math.sqrt(fanIn), hi: 1 / Math.sqrt(fanIn) }));
    return this.addOp('Gemm', inputs, { transB: 1 }, name);
  }

  // ---- normalization ----

  /**
   * nn.BatchNorm2d in inference form. Its statistics are drawn so it is not an identity:
   * weight U(0.5, 1.5), bias N(0, 0.1), running mean N(0, 0.1), running var U(0.5, 2).
   */
  batchNorm2d(x: Value, o: { eps?: number; name?: string } = {}): Value {
    const name = this.path(o.name ?? 'bn');
    const c = [this.channels(x)];
    const scale = this.param(name, 'weight', c, { kind: 'uniform', lo: 0.5, hi: 1.5 });
    const bias = this.param(name, 'bias', c, { kind: 'normal', mean: 0, std: 0.1 });
    const mean = this.param(name, 'running_mean', c, { kind: 'normal', mean: 0, std: 0.1 });
    const variance = this.param(name, 'running_var', c, { kind: 'uniform', lo: 0.5, hi: 2 });
    return this.addOp('BatchNormalization', [x, scale, bias, mean, variance], { epsilon: o.eps ?? 1e-5 }, name);
  }

  /** nn.LayerNorm over the last axis (weight U(0.5, 1.5), bias N(0, 0.1) so it is not an identity). */
  layerNorm(x: Value, o: { eps?: number; name?: string } = {}): Value {
    const name = this.path(o.name ?? 'norm');
    const shape = this.shape(x);
    const c = [shape[shape.length - 1]];
    const scale = this.param(name, 'weight', c, { kind: 'uniform', lo: 0.5, hi: 1.5 });
    const bias = this.param(name, 'bias', c, { kind: 'normal', mean: 0, std: 0.1 });
    return this.addOp('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: o.eps ?? 1e-5 }, name);
  }

  /** ConvNeXt's LayerNorm2d: LayerNorm over the channels of NCHW, as Transpose → LayerNormalization → Transpose. */
  layerNorm2d(x: Value, o: { eps?: number; name?: string } = {}): Value {
    const name = o.name ?? 'norm';
    const nhwc = this.transpose(x, [0, 2, 3, 1], `${name}.to_nhwc`);
    const y = this.layerNorm(nhwc, { eps: o.eps ?? 1e-6, name });
    return this.transpose(y, [0, 3, 1, 2], `${name}.to_nchw`);
  }

  // ---- activations ----

  relu(x: Value, o: Named = {}): Value { return this.node('Relu', [x], {}, o.name ?? 'relu'); }
  relu6(x: Value, o: Named = {}): Value { return this.node('Clip', [x], { min: 0, max: 6 }, o.name ?? 'relu6'); }
  leakyRelu(x: Value, slope = 0.01, o: Named = {}): Value { return this.node('LeakyRelu', [x], { alpha: slope }, o.name ?? 'leaky_relu'); }
  sigmoid(x: Value, o: Named = {}): Value { return this.node('Sigmoid', [x], {}, o.name ?? 'sigmoid'); }
  tanh(x: Value, o: Named = {}): Value { return this.node('Tanh', [x], {}, o.name ?? 'tanh'); }
  /** nn.Hardsigmoid = relu6(x + 3) / 6, ONNX HardSigmoid with alpha 1/6. */
  hardSigmoid(x: Value, o: Named = {}): Value { return this.node('HardSigmoid', [x], { alpha: 1 / 6, beta: 0.5 }, o.name ?? 'hardsigmoid'); }
  hardSwish(x: Value, o: Named = {}): Value { return this.node('HardSwish', [x], {}, o.name ?? 'hardswish'); }
  gelu(x: Value, o: Named = {}): Value { return this.node('Gelu', [x], {}, o.name ?? 'gelu'); }
  /** nn.SiLU as x · sigmoid(x) (there is no SiLU op: the passes fuse this pattern). */
  silu(x: Value, o: Named = {}): Value {
    const name = o.name ?? 'silu';
    return this.node('Mul', [x, this.node('Sigmoid', [x], {}, `${name}.sigmoid`)], {}, name);
  }
  softmax(x: Value, dim = -1, o: Named = {}): Value { return this.node('Softmax', [x], { axis: dim }, o.name ?? 'softmax'); }

  /** An activation by name ('' is none). */
  activation(x: Value, act: Act, o: Named = {}): Value {
    switch (act) {
      case '': return x;
      case 'relu': return this.relu(x, o);
      case 'relu6': return this.relu6(x, o);
      case 'silu': return this.silu(x, o);
      case 'hardswish': return this.hardSwish(x, o);
      case 'hardsigmoid': return this.hardSigmoid(x, o);
      case 'sigmoid': return this.sigmoid(x, o);
      case 'tanh': return this.tanh(x, o);
      case 'gelu': return this.gelu(x, o);
      case 'leaky_relu': return this.leakyRelu(x, 0.01, o);
    }
  }

  /** nn.Dropout: the identity at inference, so nothing is added. */
  dropout(x: Value, _p = 0.5): Value {
    return x;
  }

  // ---- pooling ----

  maxPool2d(x: Value, kernel: Pair, o: PoolOptions = {}): Value {
    const [ph, pw] = pair(o.padding ?? 0);
    return this.node('MaxPool', [x], {
      kernel_shape: pair(kernel), strides: pair(o.stride ?? kernel), pads: [ph, pw, ph, pw],
      dilations: pair(o.dilation ?? 1), ceil_mode: o.ceilMode ? 1 : 0,
    }, o.name ?? 'maxpool');
  }

  avgPool2d(x: Value, kernel: Pair, o: PoolOptions = {}): Value {
    const [ph, pw] = pair(o.padding ?? 0);
    return this.node('AveragePool', [x], {
      kernel_shape: pair(kernel), strides: pair(o.stride ?? kernel), pads: [ph, pw, ph, pw],
      ceil_mode: o.ceilMode ? 1 : 0, count_include_pad: (o.countIncludePad ?? true) ? 1 : 0,
    }, o.name ?? 'avgpool');
  }

  /**
   * nn.AdaptiveAvgPool2d: size 1 is GlobalAveragePool; other sizes must divide the input
   * (an AveragePool with kernel = stride = input/size); equal sizes are the identity.
   */
  adaptiveAvgPool2d(x: Value, size: Pair, o: Named = {}): Value {
    const name = o.name ?? 'avgpool';
    const [oh, ow] = pair(size);
    const [, , h, w] = this.shape(x);
    if (oh === 1 && ow === 1) return this.node('GlobalAveragePool', [x], {}, name);
    if (oh === h && ow === w) return x;
    if (h % oh === 0 && w % ow === 0) return this.avgPool2d(x, [h / oh, w / ow], { name });
    // Output a whole multiple of the input: torch's window for output i is [⌊i·h/oh⌋, ⌈(i+1)·h/oh⌉),
    // one input pixel ⌊i/k⌋, so the pool is nearest-neighbour upsampling (VGG or AlexNet on small images).
    if (oh % h === 0 && ow % w === 0) {
      return this.node('Resize', [x], {
        scales: [1, 1, oh / h, ow / w], sizes: [], mode: 'nearest',
        coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor',
      }, name);
    }
    throw new CnncError('UNSUPPORTED', `adaptive pooling ${h}x${w} → ${oh}x${ow} needs sizes that divide the input or that the input divides`, { node: this.path(name), value: x });
  }

  // ---- shape and combination ----

  /** torch.flatten(x, 1): ONNX Flatten keeps axis 0 and joins the rest. */
  flatten(x: Value, o: Named = {}): Value { return this.node('Flatten', [x], { axis: 1 }, o.name ?? 'flatten'); }
  reshape(x: Value, shape: readonly number[], o: Named = {}): Value { return this.node('Reshape', [x], { shape: [...shape] }, o.name ?? 'reshape'); }
  transpose(x: Value, perm: readonly number[], name = 'transpose'): Value { return this.node('Transpose', [x], { perm: [...perm] }, name); }
  add(a: Value, b: Value, o: Named = {}): Value { return this.node('Add', [a, b], {}, o.name ?? 'add'); }
  mul(a: Value, b: Value, o: Named = {}): Value { return this.node('Mul', [a, b], {}, o.name ?? 'mul'); }
  cat(xs: readonly Value[], dim = 1, o: Named = {}): Value { return this.node('Concat', xs, { axis: dim }, o.name ?? 'cat'); }

  /** nn.Upsample(scale_factor, mode='nearest'): Resize as PyTorch exports it (asymmetric, floor). */
  upsample(x: Value, scale = 2, o: Named = {}): Value {
    return this.node('Resize', [x], {
      scales: [1, 1, scale, scale], sizes: [], mode: 'nearest',
      coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor',
    }, o.name ?? 'upsample');
  }

  // ---- composition ----

  /** A residual connection: branch(x) + shortcut(x) (the identity by default), branch built first as PyTorch's forward runs it. */
  residual(x: Value, branch: (x: Value) => Value, shortcut: (x: Value) => Value = (v) => v, o: Named = {}): Value {
    const y = branch(x);
    return this.add(y, shortcut(x), o);
  }

  /** nn.Sequential: layer i runs with name `${name}.${i}`, as PyTorch names its children. */
  sequential(x: Value, name: string, layers: readonly Layer[]): Value {
    return this.scope(name, () => layers.reduce((v, layer, i) => layer(this, v, String(i)), x));
  }
}

/** A layer as nn.Sequential holds it: applied to a model and a value under a name. */
export type Layer = (m: Model, x: Value, name: string) => Value;

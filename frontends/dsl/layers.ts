/**
 * Layers as values, for `Model.sequential` (the nn.Sequential of the DSL):
 *
 *   x = m.sequential(x, 'features', [nn.conv2d(64, 3, { padding: 1 }), nn.relu(), nn.maxPool2d(2)]);
 *
 * gives nodes 'features.0', 'features.1', 'features.2' as PyTorch names them.
 */
import type { Act, Conv2dOptions, ConvTranspose2dOptions, Layer, Model, Pair, PoolOptions, Value } from './model.js';

export type { Layer } from './model.js';

export const nn = {
  conv2d: (out: number, kernel: Pair, o: Conv2dOptions = {}): Layer => (m, x, name) => m.conv2d(x, out, kernel, { ...o, name }),
  convTranspose2d: (out: number, kernel: Pair, o: ConvTranspose2dOptions = {}): Layer => (m, x, name) => m.convTranspose2d(x, out, kernel, { ...o, name }),
  linear: (out: number, o: { bias?: boolean } = {}): Layer => (m, x, name) => m.linear(x, out, { ...o, name }),
  batchNorm2d: (o: { eps?: number } = {}): Layer => (m, x, name) => m.batchNorm2d(x, { ...o, name }),
  layerNorm2d: (o: { eps?: number } = {}): Layer => (m, x, name) => m.layerNorm2d(x, { ...o, name }),
  relu: (): Layer => (m, x, name) => m.relu(x, { name }),
  relu6: (): Layer => (m, x, name) => m.relu6(x, { name }),
  tanh: (): Layer => (m, x, name) => m.tanh(x, { name }),
  sigmoid: (): Layer => (m, x, name) => m.sigmoid(x, { name }),
  silu: (): Layer => (m, x, name) => m.silu(x, { name }),
  gelu: (): Layer => (m, x, name) => m.gelu(x, { name }),
  hardSwish: (): Layer => (m, x, name) => m.hardSwish(x, { name }),
  hardSigmoid: (): Layer => (m, x, name) => m.hardSigmoid(x, { name }),
  activation: (act: Act): Layer => (m, x, name) => m.activation(x, act, { name }),
  maxPool2d: (kernel: Pair, o: PoolOptions = {}): Layer => (m, x, name) => m.maxPool2d(x, kernel, { ...o, name }),
  avgPool2d: (kernel: Pair, o: PoolOptions = {}): Layer => (m, x, name) => m.avgPool2d(x, kernel, { ...o, name }),
  adaptiveAvgPool2d: (size: Pair): Layer => (m, x, name) => m.adaptiveAvgPool2d(x, size, { name }),
  flatten: (): Layer => (m, x, name) => m.flatten(x, { name }),
  dropout: (p = 0.5): Layer => (m, x) => m.dropout(x, p),
  /** A submodule: `fn` runs in the scope of the layer's name (e.g. a residual block 'layer1.0'). */
  block: (fn: (m: Model, x: Value) => Value): Layer => (m, x, name) => m.scope(name, () => fn(m, x)),
  /** A nested nn.Sequential. */
  sequential: (layers: readonly Layer[]): Layer => (m, x, name) => m.sequential(x, name, layers),
};

/**
 * torchvision's Conv2dNormActivation: conv (no bias) → BatchNorm → activation, named
 * '<scope>.0', '<scope>.1', '<scope>.2' like the nn.Sequential it is.
 */
export function convBnAct(out: number, kernel: number, o: { stride?: number; groups?: number; act?: Act; eps?: number; dilation?: number } = {}): Layer {
  const layers: Layer[] = [
    nn.conv2d(out, kernel, { stride: o.stride ?? 1, padding: ((kernel - 1) >> 1) * (o.dilation ?? 1), dilation: o.dilation ?? 1, groups: o.groups ?? 1, bias: false }),
    nn.batchNorm2d({ eps: o.eps }),
  ];
  if ((o.act ?? 'relu') !== '') layers.push(nn.activation(o.act ?? 'relu'));
  return nn.sequential(layers);
}

/**
 * EfficientNet-B0 (Tan & Le 2019) as torchvision builds it: MBConv blocks 'features.i.j.block.k'
 * with squeeze-and-excitation, SiLU written as x·sigmoid(x).
 */
import type { Graph } from '../ir/graph.js';
import { convBnAct, nn } from '../frontends/dsl/layers.js';
import { Model, type Value } from '../frontends/dsl/model.js';
import { inputShape, type ZooOptions } from './common.js';
import { makeDivisible, squeezeExcite } from './mobilenet.js';

/** MBConv: 1×1 expand (ratio ≠ 1), k×k depthwise, SE (squeeze = input/4), 1×1 projection, residual. */
function mbconv(m: Model, x: Value, ratio: number, k: number, stride: number, out: number): Value {
  const cin = m.channels(x);
  const exp = makeDivisible(cin * ratio);
  const layers = [
    ...(exp !== cin ? [convBnAct(exp, 1, { act: 'silu' })] : []),
    convBnAct(exp, k, { stride, groups: exp, act: 'silu' }),
    nn.block((m, v) => squeezeExcite(m, v, Math.max(1, Math.floor(cin / 4)), 'silu', 'sigmoid')),
    convBnAct(out, 1, { act: '' }),
  ];
  const y = m.sequential(x, 'block', layers);
  return stride === 1 && cin === out ? m.add(y, x) : y;
}

export function efficientnetB0(opts: ZooOptions = {}): Graph {
  const m = new Model('efficientnet_b0', opts);
  let x = m.input(inputShape(opts, 3, 224));
  // expand ratio, kernel, stride, out channels, layers
  const stages = [[1, 3, 1, 16, 1], [6, 3, 2, 24, 2], [6, 5, 2, 40, 2], [6, 3, 2, 80, 3], [6, 5, 1, 112, 3], [6, 5, 2, 192, 4], [6, 3, 1, 320, 1]];
  m.scope('features', () => {
    x = convBnAct(32, 3, { stride: 2, act: 'silu' })(m, x, '0');
    stages.forEach(([t, k, s, c, n], i) => {
      m.scope(i + 1, () => {
        for (let j = 0; j < n; j++) x = m.scope(j, () => mbconv(m, x, t, k, j === 0 ? s : 1, c));
      });
    });
    x = convBnAct(1280, 1, { act: 'silu' })(m, x, String(stages.length + 1));
  });
  x = m.flatten(m.adaptiveAvgPool2d(x, 1));
  x = m.sequential(x, 'classifier', [nn.dropout(0.2), nn.linear(1000)]);
  m.output(x);
  return m.build();
}

/**
 * The model zoo: classic CNNs built with the DSL, seeded weights, parameter counts equal to
 * torchvision's. `zoo('resnet18')` gives the Graph; the command line takes `zoo:resnet18`.
 */
import { CnncError } from '../runtime/errors.js';
import type { Graph } from '../ir/graph.js';
import type { ZooOptions } from './common.js';
import { lenet5 } from './lenet.js';
import { resnet18, resnet34, resnet50 } from './resnet.js';
import { mobilenetV2, mobilenetV3Small } from './mobilenet.js';
import { squeezenet1_1 } from './squeezenet.js';
import { efficientnetB0 } from './efficientnet.js';
import { alexnet, vgg11, vgg11Bn, vgg16, vgg16Bn } from './vgg.js';
import { googlenet } from './googlenet.js';
import { convnextTiny } from './convnext.js';
import { unet, unetSmall } from './unet.js';
import { yolov5s } from './yolo.js';

export type { ZooOptions } from './common.js';

const BUILDERS: Record<string, (opts?: ZooOptions) => Graph> = {
  lenet5,
  resnet18,
  resnet34,
  resnet50,
  mobilenet_v2: mobilenetV2,
  mobilenet_v3_small: mobilenetV3Small,
  squeezenet1_1,
  efficientnet_b0: efficientnetB0,
  vgg11,
  vgg11_bn: vgg11Bn,
  vgg16,
  vgg16_bn: vgg16Bn,
  alexnet,
  googlenet,
  convnext_tiny: convnextTiny,
  unet_small: unetSmall,
  unet,
  yolov5s,
};

/** Zoo model names, LeNet-5 and ResNet-18 first (the defaults of the demo). */
export const ZOO_NAMES: readonly string[] = Object.keys(BUILDERS);

export function zoo(name: string, opts: ZooOptions = {}): Graph {
  const build = BUILDERS[name];
  if (!build) throw new CnncError('BAD_INPUT', `no zoo model '${name}' (models: ${ZOO_NAMES.join(', ')})`);
  return build(opts);
}

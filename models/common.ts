/** What every zoo builder takes: the DSL's weight options and a batch size. */
import type { ModelOptions } from '../frontends/dsl/model.js';

export interface ZooOptions extends ModelOptions {
  /** Batch size of the input (default 1). */
  batch?: number;
  /** Input height and width (default: the model's own, 224 for the ImageNet models). */
  size?: number;
}

/** The NCHW input shape of a zoo model. */
export function inputShape(opts: ZooOptions, channels: number, size: number): number[] {
  return [opts.batch ?? 1, channels, opts.size ?? size, opts.size ?? size];
}

/** The TypeScript DSL: build a CNN like a PyTorch module, get a typed cnnc Graph. */
export { Model } from './model.js';
export type { Act, Conv2dOptions, ConvTranspose2dOptions, Init, Layer, ModelOptions, Named, Pair, PoolOptions, Value } from './model.js';
export { nn, convBnAct } from './layers.js';
export { Rng } from './random.js';

/** What every zoo builder takes: the DSL's weight options and a batch size. */
import type { ModelOptions } from '../frontends/dsl/model.js';

export interface ZooOptions extends ModelOptions {
  /** Batch size of the input (default 1). */
  batch?: number;
}

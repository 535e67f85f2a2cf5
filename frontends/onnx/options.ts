/** Options of the ONNX importer (frontends/onnx/import.ts), apart so that the public types name no onnx-proto type. */
import type { Tensor } from '../../runtime/tensor.js';

export interface ImportOptions {
  /** Folder of the model file: external data is read only from inside it. */
  modelDir?: string;
  /** Value bound to a symbolic first (batch) dimension of the graph inputs. Default 1. */
  batch?: number;
  /** Largest tensor the importer allocates, in bytes (default 2 GiB). */
  maxTensorBytes?: number;
  /**
   * Values of graph inputs that an op needs as constants (ONNX node tests pass Reshape's shape,
   * Slice's starts... as graph inputs). They stay graph inputs; only their values are read.
   */
  inputValues?: Record<string, Tensor>;
}

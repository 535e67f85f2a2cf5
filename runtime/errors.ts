/**
 * Every error cnnc raises on purpose is a CnncError: a stable `code` a program can switch on,
 * plus the node, op and value at fault when they are known.
 */
export type ErrorCode =
  | 'UNKNOWN_OP'          // op not in the registry (importers list every one at once)
  | 'UNSUPPORTED'         // a known op with an attribute/dtype/mode cnnc does not handle
  | 'BAD_ATTRIBUTE'       // attribute missing, of the wrong kind or out of range
  | 'SHAPE_MISMATCH'      // shapes that the op cannot combine
  | 'DTYPE_MISMATCH'      // dtypes that the op cannot combine
  | 'UNKNOWN_VALUE'       // a name that no input, constant or node defines
  | 'DUPLICATE_VALUE'     // a name defined twice (SSA violated)
  | 'CYCLE'               // nodes that depend on each other
  | 'BAD_GRAPH'           // any other structural problem the verifier finds
  | 'BAD_INPUT'           // run-time input of the wrong name, shape or dtype
  | 'BAD_MODEL'           // malformed model file (protobuf, tensor data)
  | 'TOO_LARGE'           // a declared size over the configured limit
  | 'BAD_PATH'            // external data outside the model's folder
  | 'BAD_ARTIFACT'        // truncated, corrupted or wrong-version artifact
  | 'NO_DEVICE'           // the backend's device (GPU) is not present
  | 'KERNEL_ERROR'        // a generated kernel failed to compile or run
  | 'OUT_OF_RANGE'        // a run-time result outside what the target carries its dtype in (i64 in i32 on wgsl)
  | 'IO_ERROR';

export interface ErrorPlace {
  node?: string;
  op?: string;
  value?: string;
}

export class CnncError extends Error {
  readonly code: ErrorCode;
  readonly node?: string;
  readonly op?: string;
  readonly value?: string;

  constructor(code: ErrorCode, message: string, place: ErrorPlace = {}) {
    const where = [
      place.node !== undefined ? `node '${place.node}'` : '',
      place.op !== undefined ? `op ${place.op}` : '',
      place.value !== undefined ? `value '${place.value}'` : '',
    ].filter(Boolean).join(', ');
    super(where ? `${code}: ${message} (${where})` : `${code}: ${message}`);
    this.name = 'CnncError';
    this.code = code;
    this.node = place.node;
    this.op = place.op;
    this.value = place.value;
  }
}

/** Throws a CnncError unless `cond` holds. */
export function check(cond: unknown, code: ErrorCode, message: string, place?: ErrorPlace): asserts cond {
  if (!cond) throw new CnncError(code, message, place);
}

// The engine's one error type, on both sides of the worker boundary: the worker throws it, the
// protocol carries its code, and the page receives the same class with the same code.

export type EngineErrorCode =
  | 'state' // asked out of order (no model, no image yet)
  | 'prompt' // a prompt the model cannot take
  | 'bundle' // a model description (manifest) that is malformed or lacks what is asked of it
  | 'session' // onnxruntime-web cannot run the model
  | 'device-lost' // the GPU device is gone
  | 'storage' // the browser's storage (OPFS) did not answer
  | 'quota' // the browser's storage is full
  | 'network' // the model files could not be fetched
  | 'integrity' // a model file does not match its sha256
  | 'insecure' // not a secure context: no OPFS, no WebGPU
  | 'cancelled' // the caller's AbortSignal fired
  | 'disposed' // the engine was disposed while the request was pending
  | 'internal'; // anything else (a bug)

export class EngineError extends Error {
  constructor(
    message: string,
    readonly code: EngineErrorCode,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

/** The error as it crosses the worker boundary. */
export interface SerializedError {
  error: string;
  code: EngineErrorCode;
}

export function serializeError(e: unknown, fallback: EngineErrorCode = 'internal'): SerializedError {
  if (e instanceof EngineError) return { error: e.message, code: e.code };
  if (e instanceof DOMException && e.name === 'AbortError') return { error: 'cancelled', code: 'cancelled' };
  return { error: e instanceof Error ? e.message : String(e), code: fallback };
}

export const deserializeError = (e: SerializedError) => new EngineError(e.error, e.code);

/** Throws the 'cancelled' EngineError once `signal` has fired. */
export function throwIfCancelled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new EngineError(`${what} was cancelled`, 'cancelled');
}

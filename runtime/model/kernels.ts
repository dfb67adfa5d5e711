// Typed access to the native `model` module (native/src/model). Every function writes into
// caller-allocated Float32Arrays (subarray views are fine) and throws an Error with a `.code`
// (LMP_E_SHAPE, LMP_E_TOKEN, LMP_E_ARG) on bad input.
import { native, nativeFn } from '../native.js';

type F32 = Float32Array;
type I32 = Int32Array;

export interface ModelKernels {
  /** C[M,N] = alpha * op(A) op(B) + beta * C; op(A) is M x K (A stored K x M when transA). */
  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, A: F32, lda: number,
    B: F32, ldb: number, beta: number, C: F32, ldc: number): void;
  /**
   * `gemm` on a libuv worker thread: resolves when C is written, bit-identical to `gemm`, and the
   * event loop (timers, signals, progress output) keeps running meanwhile. Bad arguments throw
   * synchronously, like `gemm`. Do not read or write C, nor change A or B, until it settles.
   */
  gemmAsync(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, A: F32, lda: number,
    B: F32, ldb: number, beta: number, C: F32, ldc: number): Promise<void>;
  /**
   * C[M,N] = alpha * A[M,K] B^T + beta * C (B stored [N, K]: a weight) for M <= 16, every row with
   * exactly the bits of the same call with M = 1 (batched decoding: each sequence as alone).
   */
  gemmRows(M: number, N: number, K: number, alpha: number, A: F32, lda: number, B: F32, ldb: number, beta: number, C: F32, ldc: number): void;
  embeddingForward(table: F32, vocab: number, dim: number, tokens: I32, out: F32): void;
  embeddingBackward(dout: F32, tokens: I32, vocab: number, dim: number, dtable: F32): void;
  rmsnormForward(x: F32, w: F32, rows: number, dim: number, eps: number, y: F32, rstd: F32): void;
  rmsnormBackward(dy: F32, x: F32, w: F32, rstd: F32, rows: number, dim: number, dx: F32, accumulate: boolean, dw: F32): void;
  swigluForward(g: F32, u: F32, h: F32): void;
  swigluBackward(g: F32, u: F32, dh: F32, dg: F32, du: F32): void;
  addInplace(y: F32, x: F32): void;
  crossEntropy(logits: F32, rows: number, vocab: number, targets: I32, weight: F32, scale: number, loss: F32,
    dlogits: F32 | null): void;
  rope(x: F32, n: number, heads: number, headDim: number, positions: I32, theta: number, inverse: boolean): void;
  adamw(p: F32, g: F32, m: F32, v: F32, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number,
    step: number, gradScale: number): void;
  sumSquares(x: F32): number;
  attentionForward(q: F32, k: F32, v: F32, heads: number, kvHeads: number, headDim: number, cuQ: I32, cuK: I32,
    mask: Uint8Array, scale: number, out: F32, lse: F32): void;
  attentionBackward(q: F32, k: F32, v: F32, out: F32, lse: F32, dout: F32, heads: number, kvHeads: number,
    headDim: number, cuQ: I32, cuK: I32, mask: Uint8Array, scale: number, dq: F32, dk: F32, dv: F32): void;
  setForceScalar(on: boolean): void;
  setNumThreads(n: number): number;
  numThreads(): number;
}

let cached: ModelKernels | undefined;

/** The model kernels (loads the addon on first use). */
export function kernels(): ModelKernels {
  if (cached) return cached;
  const f = <T extends (...a: never[]) => unknown>(name: string): T => nativeFn<T>(name, 'model');
  const addon = native();
  cached = {
    gemm: f('modelGemm'),
    // looked up on first use, so builds without it still serve every synchronous kernel
    gemmAsync: (...a) => f<ModelKernels['gemmAsync']>('modelGemmAsync')(...a),
    gemmRows: f('modelGemmRows'),
    embeddingForward: f('modelEmbeddingForward'),
    embeddingBackward: f('modelEmbeddingBackward'),
    rmsnormForward: f('modelRmsnormForward'),
    rmsnormBackward: f('modelRmsnormBackward'),
    swigluForward: f('modelSwigluForward'),
    swigluBackward: f('modelSwigluBackward'),
    addInplace: f('modelAddInplace'),
    crossEntropy: f('modelCrossEntropy'),
    rope: f('modelRope'),
    adamw: f('modelAdamw'),
    sumSquares: f('modelSumSquares'),
    attentionForward: f('modelAttentionForward'),
    attentionBackward: f('modelAttentionBackward'),
    setForceScalar: (on) => addon.setForceScalar(on),
    setNumThreads: (n) => addon.setNumThreads(n),
    numThreads: () => addon.numThreads(),
  };
  return cached;
}

package org.jalign.backend;

import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.cublasCreate_v2;
import static org.bytedeco.cuda.global.cublas.cublasDestroy_v2;
import static org.bytedeco.cuda.global.cublas.cublasSetStream_v2;
import static org.bytedeco.cuda.global.cublas.cublasSgemm_v2;
import static org.bytedeco.cuda.global.cublas.cublasSger_v2;

import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Row-major SGEMM on cuBLAS (column-major) through the org.bytedeco CUDA presets. Loaded only by
 * {@link CudaBackend} after a GPU was found: these classes need the CUDA driver library to load.
 * Row-major C(M,N) = op(A) op(B) is computed as column-major C^T(N,M) = op(B)^T op(A)^T.
 */
final class CublasGemm implements AutoCloseable {
  private final cublasContext handle = new cublasContext();
  private final FloatPointer one = new FloatPointer(1f);
  private final FloatPointer zero = new FloatPointer(0f);

  CublasGemm(Pointer stream) {
    int s = cublasCreate_v2(handle);
    if (s != 0) throw new JalignException(3, "cublasCreate failed with status " + s);
    s = cublasSetStream_v2(handle, new CUstream_st(stream));
    if (s != 0) throw new JalignException(3, "cublasSetStream failed with status " + s);
  }

  /** out = op(a) op(b) (+ out when accumulate); row-major; all device pointers. */
  void sgemm(FloatPointer out, FloatPointer a, FloatPointer b, long m, long n, long k, boolean transA,
      boolean transB, boolean accumulate) {
    int lda = (int) (transA ? m : k);
    int ldb = (int) (transB ? k : n);
    int s = cublasSgemm_v2(handle, transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N, (int) n,
        (int) m, (int) k, one, b, ldb, a, lda, accumulate ? one : zero, out, (int) n);
    if (s != 0) throw new JalignException(3, "cublasSgemm failed with status " + s);
  }

  /** out(M,N) += ones(M) x bias(N) as a rank-1 update. */
  void addBias(FloatPointer out, FloatPointer bias, FloatPointer onesM, long m, long n) {
    int s = cublasSger_v2(handle, (int) n, (int) m, one, bias, 1, onesM, 1, out, (int) n);
    if (s != 0) throw new JalignException(3, "cublasSger failed with status " + s);
  }

  @Override
  public void close() {
    cublasDestroy_v2(handle);
    one.close();
    zero.close();
  }
}

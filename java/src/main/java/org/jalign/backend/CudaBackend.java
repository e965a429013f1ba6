package org.jalign.backend;

import static org.jalign.backend.NativeLibrary.check;

import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.jalign.bindings.JalignNative;
import org.jalign.tensor.DType;
import org.jalign.tensor.Device;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;

/**
 * The CUDA backend: jalign's CUDA kernels (fused attention, sampling, PPO loss, the core ops) on one stream, and
 * cuBLAS (org.bytedeco CUDA presets) for GEMM. Construct it only on a machine with a GPU: {@link Backends} checks
 * {@link NativeLibrary#cudaDeviceCount()} first, so a CPU-only machine never loads driver-dependent classes.
 * Host transfers are synchronous with respect to the backend's stream.
 */
public final class CudaBackend extends NativeBackend {
  private final CublasGemm gemm;
  private Tensor onesM;

  public CudaBackend(int deviceIndex) {
    super(requireGpu(deviceIndex));
    CublasGemm g = null;
    if (!"false".equalsIgnoreCase(System.getProperty("jalign.cublas", "true"))) {
      try {
        g = new CublasGemm(JalignNative.jalign_ctx_stream(ctx));
      } catch (Throwable t) {
        // cuBLAS unavailable (library not found): jalign's own CUDA GEMM kernel is used instead.
        g = null;
      }
    }
    this.gemm = g;
  }

  private static Device requireGpu(int index) {
    NativeLibrary.load();
    if (!NativeLibrary.cudaCompiled()) {
      throw new IllegalStateException("this jalign build has no CUDA kernels (built without nvcc)");
    }
    int n = NativeLibrary.cudaDeviceCount();
    if (index < 0 || index >= n) {
      throw new IllegalStateException("CUDA device " + index + " requested but " + n + " device(s) are present");
    }
    return Device.cuda(index);
  }

  /** True when GEMM runs on cuBLAS (else on jalign's CUDA SGEMM kernel). */
  public boolean usesCublas() {
    return gemm != null;
  }

  @Override
  protected void gemm(Tensor out, Tensor a, Tensor b, Tensor bias, long m, long n, long k, boolean transA,
      boolean transB, boolean accumulate) {
    if (gemm == null) {
      super.gemm(out, a, b, bias, m, n, k, transA, transB, accumulate);
      return;
    }
    gemm.sgemm(out.f32(), a.f32(), b.f32(), m, n, k, transA, transB, accumulate);
    if (bias != null) {
      if (onesM == null || onesM.numel() < m) {
        if (onesM != null) onesM.close();
        try (Scope s = Scope.open()) {
          float[] ones = new float[(int) m];
          Arrays.fill(ones, 1f);
          onesM = s.detach(fromArray(ones, m));
        }
      }
      gemm.addBias(out.f32(), bias.f32(), onesM.f32(), m, n);
    }
  }

  private void lengths(String what, long arrayLen, Tensor t) {
    if (arrayLen != t.numel()) {
      throw new IllegalArgumentException(what + " has " + arrayLen + " elements but the tensor " + t + " has "
          + t.numel());
    }
  }

  private void transfer(Pointer dst, Pointer src, long bytes, int kind) {
    check(JalignNative.jalign_memcpy(dst, src, bytes, kind, ctx));
    check(JalignNative.jalign_ctx_synchronize(ctx));
  }

  @Override
  public void copyFromHost(Tensor dst, float[] src) {
    tensor("dst", dst, DType.F32);
    if (src == null) throw new IllegalArgumentException("src is null");
    lengths("src", src.length, dst);
    try (FloatPointer host = new FloatPointer(src)) {
      transfer(ptr(dst), host, dst.bytes(), JalignNative.JALIGN_MEMCPY_HOST_TO_DEVICE);
    }
  }

  @Override
  public void copyFromHost(Tensor dst, int[] src) {
    tensor("dst", dst, DType.I32);
    if (src == null) throw new IllegalArgumentException("src is null");
    lengths("src", src.length, dst);
    try (IntPointer host = new IntPointer(src)) {
      transfer(ptr(dst), host, dst.bytes(), JalignNative.JALIGN_MEMCPY_HOST_TO_DEVICE);
    }
  }

  @Override
  public void copyToHost(float[] dst, Tensor src) {
    tensor("src", src, DType.F32);
    if (dst == null) throw new IllegalArgumentException("dst is null");
    lengths("dst", dst.length, src);
    try (FloatPointer host = new FloatPointer(dst.length)) {
      transfer(host, ptr(src), src.bytes(), JalignNative.JALIGN_MEMCPY_DEVICE_TO_HOST);
      host.get(dst);
    }
  }

  @Override
  public void copyToHost(int[] dst, Tensor src) {
    tensor("src", src, DType.I32);
    if (dst == null) throw new IllegalArgumentException("dst is null");
    lengths("dst", dst.length, src);
    try (IntPointer host = new IntPointer(dst.length)) {
      transfer(host, ptr(src), src.bytes(), JalignNative.JALIGN_MEMCPY_DEVICE_TO_HOST);
      host.get(dst);
    }
  }

  @Override
  protected void hostToTensor(Tensor dst, Pointer host, long bytes) {
    transfer(ptr(dst), host, bytes, JalignNative.JALIGN_MEMCPY_HOST_TO_DEVICE);
  }

  @Override
  public synchronized void close() {
    if (onesM != null) onesM.close();
    if (gemm != null) gemm.close();
    super.close();
  }
}

package org.jalign.backend;

import static org.jalign.backend.NativeLibrary.check;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.jalign.bindings.JalignNative;
import org.jalign.tensor.DType;
import org.jalign.tensor.Device;
import org.jalign.tensor.Tensor;

/**
 * The CPU backend: jalign's C++ kernels (OpenMP, AVX2/AVX-512) and OpenBLAS sgemm. Host transfers are plain
 * copies between Java arrays and native memory.
 */
public final class CpuBackend extends NativeBackend {

  public CpuBackend() {
    super(Device.CPU);
  }

  /** Threads the CPU kernels use (OpenMP); n <= 0 restores the default. */
  public static void setNumThreads(int n) {
    NativeLibrary.load();
    check(JalignNative.jalign_set_num_threads(n));
  }

  public static int numThreads() {
    NativeLibrary.load();
    return JalignNative.jalign_get_num_threads();
  }

  private void lengths(String what, long arrayLen, Tensor t) {
    if (arrayLen != t.numel()) {
      throw new IllegalArgumentException(what + " has " + arrayLen + " elements but the tensor " + t + " has "
          + t.numel());
    }
  }

  @Override
  public void copyFromHost(Tensor dst, float[] src) {
    tensor("dst", dst, DType.F32);
    if (src == null) throw new IllegalArgumentException("src is null");
    lengths("src", src.length, dst);
    dst.f32().put(src);
  }

  @Override
  public void copyFromHost(Tensor dst, int[] src) {
    tensor("dst", dst, DType.I32);
    if (src == null) throw new IllegalArgumentException("src is null");
    lengths("src", src.length, dst);
    dst.i32().put(src);
  }

  @Override
  public void copyToHost(float[] dst, Tensor src) {
    tensor("src", src, DType.F32);
    if (dst == null) throw new IllegalArgumentException("dst is null");
    lengths("dst", dst.length, src);
    src.f32().get(dst);
  }

  @Override
  public void copyToHost(int[] dst, Tensor src) {
    tensor("src", src, DType.I32);
    if (dst == null) throw new IllegalArgumentException("dst is null");
    lengths("dst", dst.length, src);
    src.i32().get(dst);
  }

  @Override
  protected void hostToTensor(Tensor dst, Pointer host, long bytes) {
    check(JalignNative.jalign_memcpy(ptr(dst), host, bytes, JalignNative.JALIGN_MEMCPY_HOST_TO_DEVICE, ctx));
  }

  /** Direct access for CPU tensors: a FloatPointer over the tensor's memory (valid while it is open). */
  public static FloatPointer hostView(Tensor t) {
    if (!t.device().isCpu()) throw new IllegalArgumentException(t + " is not on the CPU");
    return t.f32();
  }

  /** Direct access for CPU I32 tensors. */
  public static IntPointer hostIntView(Tensor t) {
    if (!t.device().isCpu()) throw new IllegalArgumentException(t + " is not on the CPU");
    return t.i32();
  }
}

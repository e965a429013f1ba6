package org.jalign.backend;

import java.util.Map;
import org.bytedeco.javacpp.Loader;
import org.jalign.bindings.JalignNative;

/**
 * Loads the jalign native library once: the JNI library from the bindings jar, and OpenBLAS from the
 * org.bytedeco openblas preset (whose sgemm jalign's CPU GEMM calls). Touches nothing CUDA-specific:
 * the CUDA kernels, when compiled in, sit inside the same library with a static CUDA runtime that reports
 * "no device" on a machine without a driver instead of failing to load.
 */
public final class NativeLibrary {
  private static volatile boolean loaded;
  private static String blasPath;

  private NativeLibrary() {}

  /** Loads the libraries (idempotent, thread-safe). */
  public static synchronized void load() {
    if (loaded) return;
    Loader.load(JalignNative.class);
    blasPath = loadOpenBlas();
    if (blasPath != null) {
      int s = JalignNative.jalign_set_blas_library(blasPath);
      if (s != 0) blasPath = null; // falls back to the built-in GEMM
    }
    loaded = true;
  }

  private static String loadOpenBlas() {
    if ("false".equalsIgnoreCase(System.getProperty("jalign.openblas", "true"))) return null;
    try {
      Loader.load(org.bytedeco.openblas.global.openblas_nolapack.class);
      for (Map.Entry<String, String> e : Loader.getLoadedLibraries().entrySet()) {
        String path = e.getValue();
        if (path != null && path.matches(".*/libopenblas\\.so(\\.\\d+)*$")) return path;
      }
      return "libopenblas.so.0";
    } catch (Throwable t) {
      return null;
    }
  }

  /** Path of the OpenBLAS library jalign's GEMM uses, or null when it runs its built-in kernel. */
  public static String blasPath() {
    load();
    return JalignNative.jalign_blas_loaded() == 1 ? blasPath : null;
  }

  /** The native build report (compiler, SIMD, OpenMP, whether CUDA was compiled in). */
  public static String buildInfo() {
    load();
    return JalignNative.jalign_build_info().getString();
  }

  public static boolean cudaCompiled() {
    load();
    return JalignNative.jalign_cuda_compiled() == 1;
  }

  /** Number of CUDA devices (0 without CUDA support, driver or GPU). Never loads driver-dependent code. */
  public static int cudaDeviceCount() {
    load();
    return JalignNative.jalign_cuda_device_count();
  }

  public static String version() {
    load();
    return JalignNative.jalign_version().getString();
  }

  /** Throws {@link JalignException} with the native message when {@code status} is not 0. */
  public static void check(int status) {
    if (status != 0) {
      String msg = JalignNative.jalign_last_error().getString();
      if (status == JalignNative.JALIGN_ERR_INVALID_ARG) {
        throw new IllegalArgumentException(msg);
      }
      throw new JalignException(status, msg);
    }
  }
}

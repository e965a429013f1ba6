package org.jalign.backend;

import org.jalign.tensor.Device;

/**
 * Chooses a backend. {@link #best()} takes CUDA device 0 when the library was built with CUDA and a GPU is
 * present, else the CPU. The system property {@code jalign.backend} forces one: {@code cpu}, {@code cuda},
 * {@code cuda:N}, or {@code auto} (the default). Forcing CUDA where none is available is an error, never a
 * silent fallback.
 */
public final class Backends {
  private Backends() {}

  /** The best available backend, honouring {@code -Djalign.backend=cpu|cuda|cuda:N|auto}. */
  public static Backend best() {
    String forced = System.getProperty("jalign.backend", "auto").trim();
    if (!forced.isEmpty() && !forced.equalsIgnoreCase("auto")) {
      return create(Device.parse(forced));
    }
    if (cudaAvailable()) return new CudaBackend(0);
    return new CpuBackend();
  }

  /** A backend for a device name: "auto" means {@link #best()}, else "cpu", "cuda" or "cuda:N". */
  public static Backend named(String device) {
    if (device == null) throw new IllegalArgumentException("device is null");
    return device.trim().equalsIgnoreCase("auto") ? best() : create(Device.parse(device));
  }

  /** A backend for {@code device}; throws {@link IllegalStateException} when that device is not available. */
  public static Backend create(Device device) {
    if (device.isCpu()) return new CpuBackend();
    return new CudaBackend(device.index());
  }

  /** Whether CUDA kernels are compiled in and at least one GPU is visible. Never loads driver-dependent code. */
  public static boolean cudaAvailable() {
    return NativeLibrary.cudaCompiled() && NativeLibrary.cudaDeviceCount() > 0;
  }
}

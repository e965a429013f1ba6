package org.jalign.cli;

import java.util.concurrent.Callable;
import org.jalign.backend.Backend;
import org.jalign.backend.Backends;
import org.jalign.backend.CpuBackend;
import org.jalign.backend.NativeLibrary;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import picocli.CommandLine.Command;

/** {@code jalign info}: the native build, the devices, and a one-op self-check. */
@Command(name = "info", mixinStandardHelpOptions = true,
    description = "Print the native build (SIMD, OpenMP, CUDA), the visible devices and the chosen backend, "
        + "and run one op as a self-check.")
final class InfoCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    System.out.println("jalign " + NativeLibrary.version());
    System.out.println("native build: " + NativeLibrary.buildInfo());
    System.out.println("OpenBLAS: " + (NativeLibrary.blasPath() == null ? "not loaded (built-in GEMM)" : NativeLibrary.blasPath()));
    System.out.println("CPU threads: " + CpuBackend.numThreads());
    System.out.println("CUDA devices: " + NativeLibrary.cudaDeviceCount());
    try (Backend b = Backends.best(); Scope s = Scope.open()) {
      System.out.println("backend: " + b.name());
      Tensor a = b.fromArray(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
      Tensor out = b.zeros(DType.F32, 2, 2);
      b.matmul(out, a, a, null, false, true, false); // a . a^T
      float[] r = out.toFloatArray();
      boolean ok = r[0] == 14f && r[1] == 32f && r[2] == 32f && r[3] == 77f;
      System.out.println("self-check a.a^T = " + java.util.Arrays.toString(r) + (ok ? " ok" : " WRONG"));
      return ok ? 0 : 1;
    }
  }
}

package org.jalign.ops;

import org.jalign.backend.CpuBackend;

/** One CPU backend shared by the op tests (closed by the JVM's end; tests close every tensor they make). */
final class CpuOps {
  static final CpuBackend CPU = new CpuBackend();

  private CpuOps() {}
}

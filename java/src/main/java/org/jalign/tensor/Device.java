package org.jalign.tensor;

import java.util.Objects;

/** Where a tensor's memory lives: the CPU, or CUDA device {@code i}. */
public final class Device {
  /** Host memory, CPU kernels. */
  public static final Device CPU = new Device(-1);

  private final int index;

  private Device(int index) {
    this.index = index;
  }

  /** CUDA device {@code index} (0-based). */
  public static Device cuda(int index) {
    if (index < 0) {
      throw new IllegalArgumentException("CUDA device index must be >= 0, got " + index);
    }
    return new Device(index);
  }

  /** Parses "cpu", "cuda" (device 0) or "cuda:N". */
  public static Device parse(String s) {
    Objects.requireNonNull(s, "device");
    String t = s.trim().toLowerCase(java.util.Locale.ROOT);
    if (t.equals("cpu")) return CPU;
    if (t.equals("cuda") || t.equals("gpu")) return cuda(0);
    if (t.startsWith("cuda:")) {
      try {
        return cuda(Integer.parseInt(t.substring(5)));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad device '" + s + "': expected cpu, cuda or cuda:N");
      }
    }
    throw new IllegalArgumentException("bad device '" + s + "': expected cpu, cuda or cuda:N");
  }

  public boolean isCpu() {
    return index < 0;
  }

  public boolean isCuda() {
    return index >= 0;
  }

  /** -1 for the CPU, else the CUDA device index (the value the C ABI takes). */
  public int index() {
    return index;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Device && ((Device) o).index == index;
  }

  @Override
  public int hashCode() {
    return Integer.hashCode(index);
  }

  @Override
  public String toString() {
    return isCpu() ? "cpu" : "cuda:" + index;
  }
}

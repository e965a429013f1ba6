package org.jalign.tensor;

/** Element types of a {@link Tensor}. */
public enum DType {
  /** 32-bit IEEE float. */
  F32(4),
  /** bfloat16 storage (upper half of an fp32), used by the CUDA attention path. */
  BF16(2),
  /** 32-bit signed integer (token ids, indices). */
  I32(4),
  /** 64-bit integer (seeds). */
  I64(8);

  private final int bytes;

  DType(int bytes) {
    this.bytes = bytes;
  }

  /** Size of one element in bytes. */
  public int bytes() {
    return bytes;
  }
}

package org.jalign.model;

import java.util.Arrays;
import org.jalign.tensor.Tensor;

/**
 * One named parameter tensor inside a model's single flat parameter buffer: its shape and its offset (in
 * elements) from the start of the buffer. The gradient buffer uses the same layout.
 */
public record ParamSpec(String name, long[] shape, long offset) {

  public ParamSpec {
    shape = shape.clone();
  }

  /** Number of elements. */
  public long numel() {
    return Tensor.numelOf(shape);
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ParamSpec p && p.name.equals(name) && Arrays.equals(p.shape, shape) && p.offset == offset;
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape) + Long.hashCode(offset);
  }

  @Override
  public String toString() {
    return name + Arrays.toString(shape) + "@" + offset;
  }
}

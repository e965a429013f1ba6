package org.jalign.tensor;

import java.util.Arrays;
import java.util.Objects;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;
import org.jalign.backend.Backend;

/**
 * A dense, row-major block of native memory on one device: shape, dtype, device. Tensors are made by a
 * {@link Backend} ({@code backend.zeros(DType.F32, B, T, C)}) and must be closed ({@link #close()} or a
 * {@link Scope}); closing frees the memory at once. Views ({@link #view}, {@link #slice}, {@link #row}) share
 * the storage and never free it; using any tensor whose storage was freed throws {@link IllegalStateException}.
 */
public final class Tensor implements AutoCloseable {

  /** The allocation behind a tensor and its views. */
  public static final class Storage {
    private final Pointer ptr;
    private final long bytes;
    private volatile boolean freed;

    public Storage(Pointer ptr, long bytes) {
      this.ptr = Objects.requireNonNull(ptr, "ptr");
      this.bytes = bytes;
    }

    public long address() {
      return ptr.address();
    }

    public long bytes() {
      return bytes;
    }

    public Pointer pointer() {
      return ptr;
    }

    public boolean freed() {
      return freed;
    }
  }

  private final Backend backend;
  private final Storage storage;
  private final long offset; // in elements of dtype
  private final long[] shape;
  private final long numel;
  private final DType dtype;
  private final boolean owner;

  /** For backends: wraps a storage; {@code owner} tensors free it on close. */
  public Tensor(Backend backend, Storage storage, long offset, DType dtype, long[] shape, boolean owner) {
    this.backend = Objects.requireNonNull(backend, "backend");
    this.storage = Objects.requireNonNull(storage, "storage");
    this.dtype = Objects.requireNonNull(dtype, "dtype");
    this.shape = shape.clone();
    this.numel = numelOf(this.shape);
    this.offset = offset;
    this.owner = owner;
    if (offset < 0 || (offset + numel) * dtype.bytes() > storage.bytes()) {
      throw new IllegalArgumentException("view [" + offset + ", " + (offset + numel) + ") elements of "
          + dtype + " exceeds its storage of " + storage.bytes() + " bytes");
    }
    if (owner) Scope.register(this);
  }

  /** Number of elements of a shape; checks every dimension is >= 0 and the product does not overflow. */
  public static long numelOf(long... shape) {
    long n = 1;
    for (int i = 0; i < shape.length; i++) {
      if (shape[i] < 0) {
        throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has a negative dimension " + i);
      }
      n = Math.multiplyExact(n, shape[i]);
    }
    return n;
  }

  public Backend backend() {
    return backend;
  }

  public Device device() {
    return backend.device();
  }

  public DType dtype() {
    return dtype;
  }

  public long[] shape() {
    return shape.clone();
  }

  public int rank() {
    return shape.length;
  }

  /** Size of dimension {@code i}; negative {@code i} counts from the end. */
  public long dim(int i) {
    int j = i < 0 ? shape.length + i : i;
    if (j < 0 || j >= shape.length) {
      throw new IllegalArgumentException("dimension " + i + " out of range for shape " + Arrays.toString(shape));
    }
    return shape[j];
  }

  public long numel() {
    return numel;
  }

  public long bytes() {
    return numel * dtype.bytes();
  }

  /** Element offset of this view in its storage. */
  public long offset() {
    return offset;
  }

  public Storage storage() {
    return storage;
  }

  /** Native address of the first element (for overlap checks). */
  public long address() {
    return storage.address() + offset * dtype.bytes();
  }

  public boolean isOwner() {
    return owner;
  }

  public boolean isClosed() {
    return storage.freed;
  }

  /** Throws if the storage was freed. */
  public Tensor checkOpen(String name) {
    if (storage.freed) {
      throw new IllegalStateException(name + " is closed (its memory was freed)");
    }
    return this;
  }

  /** A view with another shape of the same number of elements. */
  public Tensor view(long... newShape) {
    checkOpen("tensor");
    if (numelOf(newShape) != numel) {
      throw new IllegalArgumentException("cannot view shape " + Arrays.toString(shape) + " (" + numel
          + " elements) as " + Arrays.toString(newShape));
    }
    return new Tensor(backend, storage, offset, dtype, newShape, false);
  }

  /** A view of {@code numelOf(newShape)} elements starting {@code elementOffset} elements into this tensor. */
  public Tensor slice(long elementOffset, long... newShape) {
    checkOpen("tensor");
    long n = numelOf(newShape);
    if (elementOffset < 0 || elementOffset + n > numel) {
      throw new IllegalArgumentException("slice [" + elementOffset + ", " + (elementOffset + n)
          + ") out of range for " + numel + " elements");
    }
    return new Tensor(backend, storage, offset + elementOffset, dtype, newShape, false);
  }

  /** View of index {@code i} along the first dimension. */
  public Tensor row(long i) {
    if (shape.length == 0) throw new IllegalArgumentException("row() of a scalar");
    if (i < 0 || i >= shape[0]) {
      throw new IllegalArgumentException("row " + i + " out of range [0, " + shape[0] + ")");
    }
    long[] rest = Arrays.copyOfRange(shape, 1, shape.length);
    long rowNumel = numelOf(rest);
    return slice(i * rowNumel, rest);
  }

  // ---- raw pointers for backends (no copies; valid while the tensor is open)

  public FloatPointer f32() {
    requireDtype(DType.F32);
    return new FloatPointer(storage.ptr).position(offset);
  }

  public IntPointer i32() {
    requireDtype(DType.I32);
    return new IntPointer(storage.ptr).position(offset);
  }

  public ShortPointer bf16() {
    requireDtype(DType.BF16);
    return new ShortPointer(storage.ptr).position(offset);
  }

  public LongPointer i64() {
    requireDtype(DType.I64);
    return new LongPointer(storage.ptr).position(offset);
  }

  private void requireDtype(DType d) {
    checkOpen("tensor");
    if (dtype != d) throw new IllegalArgumentException("tensor has dtype " + dtype + ", expected " + d);
  }

  // ---- host transfers

  public float[] toFloatArray() {
    float[] a = new float[Math.toIntExact(numel)];
    backend.copyToHost(a, this);
    return a;
  }

  public int[] toIntArray() {
    int[] a = new int[Math.toIntExact(numel)];
    backend.copyToHost(a, this);
    return a;
  }

  /** The single element of a one-element F32 tensor. */
  public float item() {
    if (numel != 1) throw new IllegalArgumentException("item() needs one element, tensor has " + numel);
    return toFloatArray()[0];
  }

  public Tensor copyFrom(float[] src) {
    backend.copyFromHost(this, src);
    return this;
  }

  public Tensor copyFrom(int[] src) {
    backend.copyFromHost(this, src);
    return this;
  }

  /** Frees the memory now (owners only; closing a view does nothing). Idempotent. */
  @Override
  public void close() {
    if (!owner) return;
    synchronized (storage) {
      if (storage.freed) return;
      storage.freed = true;
    }
    backend.free(storage);
  }

  @Override
  public String toString() {
    return "Tensor" + Arrays.toString(shape) + " " + dtype + " " + device() + (storage.freed ? " (closed)" : "");
  }
}

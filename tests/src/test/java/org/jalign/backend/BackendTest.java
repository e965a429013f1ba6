package org.jalign.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.FloatPointer;
import org.jalign.bindings.JalignNative;
import org.jalign.tensor.DType;
import org.jalign.tensor.Device;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Backend selection, tensor lifecycle, validation before native calls, native error mapping. */
class BackendTest {

  @Test
  void bestIsCpuWithoutAGpuAndForcingCudaFailsClearly() {
    if (Backends.cudaAvailable()) return; // covered by the cuda-tagged tests on a GPU machine
    try (Backend b = Backends.best()) {
      assertInstanceOf(CpuBackend.class, b);
      assertEquals(Device.CPU, b.device());
    }
    String old = System.getProperty("jalign.backend");
    try {
      System.setProperty("jalign.backend", "cuda");
      IllegalStateException e = assertThrows(IllegalStateException.class, Backends::best);
      assertTrue(e.getMessage().contains("CUDA") || e.getMessage().contains("device"), e.getMessage());
      System.setProperty("jalign.backend", "cpu");
      try (Backend b = Backends.best()) {
        assertInstanceOf(CpuBackend.class, b);
      }
      System.setProperty("jalign.backend", "tpu");
      assertThrows(IllegalArgumentException.class, Backends::best);
    } finally {
      if (old == null) System.clearProperty("jalign.backend");
      else System.setProperty("jalign.backend", old);
    }
  }

  @Test
  void nativeLibraryReportsItsBuild() {
    String info = NativeLibrary.buildInfo();
    assertTrue(info.contains("jalign"), info);
    assertEquals(NativeLibrary.cudaCompiled(), info.contains("cuda compiled in"), info);
    assertTrue(NativeLibrary.cudaDeviceCount() >= 0);
  }

  @Test
  void closedTensorsAreRejectedBeforeAnyNativeCall() {
    try (CpuBackend b = new CpuBackend()) {
      Tensor t = b.zeros(DType.F32, 4);
      Tensor view = t.view(2, 2);
      t.close();
      t.close(); // idempotent
      assertTrue(t.isClosed());
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> b.scale(view, 2f));
      assertTrue(e.getMessage().contains("closed"), e.getMessage());
      assertThrows(IllegalStateException.class, t::toFloatArray);
    }
  }

  @Test
  void wrongDtypeShapeAndNullNameTheArgument() {
    try (CpuBackend b = new CpuBackend(); Scope s = Scope.open()) {
      Tensor f = b.zeros(DType.F32, 3, 4);
      Tensor i = b.zeros(DType.I32, 3, 4);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.geluForward(f, i));
      assertTrue(e.getMessage().startsWith("inp"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> b.geluForward(null, f));
      assertTrue(e.getMessage().startsWith("out"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> b.add(f, f, b.zeros(DType.F32, 5)));
      assertTrue(e.getMessage().contains("[5]"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> b.zeros(DType.F32, -1, 4));
      assertThrows(IllegalArgumentException.class, () -> b.zeros(DType.F32, 1L << 31, 1L << 31));
      assertThrows(IllegalArgumentException.class, () -> b.copyFromHost(f, new float[5]));
    }
  }

  @Test
  void tensorsOfAnotherDeviceOrClosedBackendAreRejected() {
    CpuBackend b1 = new CpuBackend();
    Tensor t = b1.zeros(DType.F32, 2);
    b1.close();
    assertThrows(IllegalStateException.class, () -> b1.zeros(DType.F32, 2));
    t.close(); // freeing after the backend closed still releases the memory
    assertEquals(0, b1.liveBytes());
  }

  @Test
  void nativeErrorsBecomeJavaExceptionsWithTheNativeMessage() {
    // Straight through the raw binding: the native layer checks arguments too and never crashes.
    NativeLibrary.load();
    JalignNative.jalign_ctx ctx = JalignNative.jalign_ctx_create(-1);
    try (FloatPointer p = new FloatPointer(4)) {
      int status = JalignNative.jalign_gelu_forward(p, null, 4, ctx);
      assertEquals(JalignNative.JALIGN_ERR_INVALID_ARG, status);
      assertTrue(JalignNative.jalign_last_error().getString().contains("NULL"));
      status = JalignNative.jalign_gelu_forward(p, p, -3, ctx);
      assertEquals(JalignNative.JALIGN_ERR_INVALID_ARG, status);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> NativeLibrary.check(JalignNative.jalign_matmul(p, p,
              p, null, 1L << 40, 1L << 40, 4, 0, 0, 0, ctx)));
      assertTrue(e.getMessage().contains("jalign_matmul"), e.getMessage());
      assertEquals(JalignNative.JALIGN_ERR_INVALID_ARG, JalignNative.jalign_gelu_forward(p, p, 4, null));
    } finally {
      JalignNative.jalign_ctx_destroy(ctx);
    }
    assertTrue(JalignNative.jalign_ctx_create(-5) == null || JalignNative.jalign_ctx_create(-5).isNull());
    if (!NativeLibrary.cudaCompiled()) {
      JalignNative.jalign_ctx c = JalignNative.jalign_ctx_create(0);
      assertTrue(c == null || c.isNull());
      assertTrue(JalignNative.jalign_last_error().getString().contains("no CUDA"));
    }
  }

  @Test
  void scopeClosesEverythingAllocatedInItAndDetachKeeps() {
    try (CpuBackend b = new CpuBackend()) {
      Tensor kept;
      Tensor inner;
      try (Scope s = Scope.open()) {
        b.zeros(DType.F32, 100);
        inner = b.zeros(DType.I32, 7);
        kept = s.detach(b.zeros(DType.F32, 3));
        assertEquals(2, s.size());
      }
      assertTrue(inner.isClosed());
      assertFalse(kept.isClosed());
      assertEquals(12, b.liveBytes());
      kept.close();
      assertEquals(0, b.liveBytes());
    }
  }

  @Test
  void viewsShareStorageAndSlicesAreBoundsChecked() {
    try (CpuBackend b = new CpuBackend(); Scope s = Scope.open()) {
      Tensor t = b.fromArray(new float[] {0, 1, 2, 3, 4, 5}, 2, 3);
      assertEquals(3f, t.row(1).toFloatArray()[0]);
      Tensor v = t.slice(2, 2);
      b.scale(v, 10f);
      assertEquals(20f, t.toFloatArray()[2]);
      assertEquals(30f, t.toFloatArray()[3]);
      assertThrows(IllegalArgumentException.class, () -> t.slice(5, 2));
      assertThrows(IllegalArgumentException.class, () -> t.view(4, 2));
      assertThrows(IllegalArgumentException.class, () -> t.row(2));
    }
  }

  @Test
  void nativeMemoryReturnsToItsStartingLevelAfterManyCycles() {
    try (CpuBackend b = new CpuBackend()) {
      long start = b.liveBytes();
      long physStart = org.bytedeco.javacpp.Pointer.physicalBytes();
      for (int i = 0; i < 2000; i++) {
        try (Scope s = Scope.open()) {
          Tensor x = b.zeros(DType.F32, 64, 1024); // 256 KiB each
          b.geluForward(x, x);
        }
      }
      assertEquals(start, b.liveBytes());
      long grown = org.bytedeco.javacpp.Pointer.physicalBytes() - physStart;
      // 2000 x 256 KiB = 500 MiB were allocated in total; a leak would show as hundreds of MiB.
      assertTrue(grown < 64L << 20, "resident memory grew by " + grown + " bytes");
    }
  }
}

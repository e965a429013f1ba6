package org.jalign.backend;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.testing.Ref;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The same core ops on the CUDA backend and the CPU backend agree. Skipped (with a reason) without a GPU. */
@Tag("cuda")
class CudaParityTest {
  static Backend cuda;
  static CpuBackend cpu;

  @BeforeEach
  void gpu() {
    assumeTrue(Backends.cudaAvailable(), "no CUDA device here (CUDA compiled in: " + NativeLibrary.cudaCompiled()
        + ", devices: " + NativeLibrary.cudaDeviceCount() + ")");
    if (cuda == null) {
      cuda = Backends.create(org.jalign.tensor.Device.cuda(0));
      cpu = new CpuBackend();
    }
  }

  private static float[] run(Backend b, float[] aIn, float[] bIn, int m, int n, int k, boolean ta, boolean tb) {
    try (Scope s = Scope.open()) {
      Tensor a = b.fromArray(aIn, ta ? k : m, ta ? m : k);
      Tensor bb = b.fromArray(bIn, tb ? n : k, tb ? k : n);
      Tensor bias = b.fromArray(new float[n], n);
      Tensor out = b.zeros(DType.F32, m, n);
      b.matmul(out, a, bb, bias, ta, tb, false);
      b.geluForward(out, out);
      Tensor w = b.fromArray(new float[n], n);
      b.scale(w, 0f);
      Tensor ln = b.zeros(DType.F32, m, n);
      Tensor ones = b.fromArray(filled(n, 1f), n);
      b.layerNormForward(ln, null, null, out, ones, w, 1e-5f);
      return ln.toFloatArray();
    }
  }

  static float[] filled(int n, float v) {
    float[] a = new float[n];
    java.util.Arrays.fill(a, v);
    return a;
  }

  @Test
  void matmulGeluLayerNormAgree() {
    SplittableRandom r = new SplittableRandom(1);
    int m = 37, n = 65, k = 129;
    for (int mode = 0; mode < 4; mode++) {
      boolean ta = (mode & 1) != 0, tb = (mode & 2) != 0;
      float[] a = Ref.randn(r, m * k, 1), b = Ref.randn(r, k * n, 1);
      Ref.assertClose("cuda vs cpu ta=" + ta + " tb=" + tb, run(cpu, a, b, m, n, k, ta, tb),
          run(cuda, a, b, m, n, k, ta, tb), 2e-3, 2e-3);
    }
  }

  /** RMSNorm forward and backward, RoPE on the q and k blocks of a fused projection and back, SwiGLU both ways. */
  private static float[] llamaOps(Backend b, float[] x, float[] w, float[] g, float[] qkv, int[] pos, float[] inv,
      float[] gu, int n, int c, int nh, int nkv, int hs) {
    try (Scope s = Scope.open()) {
      Tensor tx = b.fromArray(x, n, c), tw = b.fromArray(w, c), out = b.zeros(DType.F32, n, c);
      Tensor rstd = b.zeros(DType.F32, n), dx = b.zeros(DType.F32, n, c), dw = b.zeros(DType.F32, c);
      b.rmsNormForward(out, rstd, tx, tw, 1e-6f);
      b.rmsNormBackward(dx, dw, b.fromArray(g, n, c), tx, tw, rstd);
      int width = (nh + 2 * nkv) * hs;
      Tensor tq = b.fromArray(qkv, 1, n, width), tp = b.fromArray(pos, 1, n), ti = b.fromArray(inv, hs / 2);
      b.ropeForward(tq, 0, nh, hs, tp, ti);
      b.ropeForward(tq, (long) nh * hs, nkv, hs, tp, ti);
      Tensor rotated = b.zeros(DType.F32, 1, n, width);
      b.copy(rotated, tq);
      b.ropeBackward(tq, 0, nh + nkv, hs, tp, ti);
      Tensor tgu = b.fromArray(gu, n, 2 * c), act = b.zeros(DType.F32, n, c), dgu = b.zeros(DType.F32, n, 2 * c);
      b.swigluForward(act, tgu);
      b.swigluBackward(dgu, b.fromArray(g, n, c), tgu);
      java.util.List<float[]> parts = java.util.List.of(out.toFloatArray(), dx.toFloatArray(), dw.toFloatArray(),
          rotated.toFloatArray(), tq.toFloatArray(), act.toFloatArray(), dgu.toFloatArray());
      float[] all = new float[parts.stream().mapToInt(p -> p.length).sum()];
      int off = 0;
      for (float[] p : parts) {
        System.arraycopy(p, 0, all, off, p.length);
        off += p.length;
      }
      return all;
    }
  }

  @Test
  void rmsNormRopeSwigluAgree() {
    SplittableRandom r = new SplittableRandom(4);
    int n = 19, c = 133, nh = 4, nkv = 2, hs = 16;
    float[] x = Ref.randn(r, n * c, 2), w = Ref.randn(r, c, 1), g = Ref.randn(r, n * c, 1);
    float[] qkv = Ref.randn(r, n * (nh + 2 * nkv) * hs, 1), gu = Ref.randn(r, n * 2 * c, 3);
    int[] pos = new int[n];
    for (int i = 0; i < n; i++) pos[i] = i < 3 ? 1 : 1000 * i;
    float[] inv = org.jalign.model.RopeConfig.of(500000, hs).invFreq();
    Ref.assertClose("cuda vs cpu rmsnorm, rope, swiglu", llamaOps(cpu, x, w, g, qkv, pos, inv, gu, n, c, nh, nkv, hs),
        llamaOps(cuda, x, w, g, qkv, pos, inv, gu, n, c, nh, nkv, hs), 1e-4, 1e-4);
  }

  @Test
  void crossEntropyAndAdamwAgree() {
    SplittableRandom r = new SplittableRandom(2);
    int n = 9, v = 1000, ld = 1024;
    float[] logits = Ref.randn(r, n * ld, 2);
    int[] tgt = new int[n];
    for (int i = 0; i < n; i++) tgt[i] = r.nextInt(v);
    float[] dl = filled(n, 1f / n);
    float[][] res = new float[2][];
    Backend[] bs = {cpu, cuda};
    for (int i = 0; i < 2; i++) {
      try (Scope s = Scope.open()) {
        Backend b = bs[i];
        Tensor l = b.fromArray(logits, n, ld);
        Tensor losses = b.zeros(DType.F32, n);
        b.crossEntropy(losses, l, l, b.fromArray(tgt, n), b.fromArray(dl, n), v);
        Tensor p = b.fromArray(filled(n * ld, 0.5f), n * ld);
        Tensor m = b.zeros(DType.F32, n * ld), vv = b.zeros(DType.F32, n * ld);
        b.adamw(p, l.view(n * ld), m, vv, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, 1f);
        float[] lo = losses.toFloatArray(), pa = p.toFloatArray();
        float[] both = new float[lo.length + pa.length];
        System.arraycopy(lo, 0, both, 0, lo.length);
        System.arraycopy(pa, 0, both, lo.length, pa.length);
        res[i] = both;
      }
    }
    Ref.assertClose("ce + adamw cuda vs cpu", res[0], res[1], 1e-4, 1e-4);
  }
}

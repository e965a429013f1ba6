package org.jalign.reliability;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.jalign.backend.Backend;
import org.jalign.backend.CpuBackend;
import org.jalign.backend.PpoLossConfig;
import org.jalign.backend.SamplingParams;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The Java {@link Backend} rejects every kind of bad argument to the attention, Llama-family, sampling and loss ops
 * before any
 * native code runs: wrong shapes, wrong dtypes, closed tensors, overlapping outputs, out-of-range ids. Each
 * rejection is an IllegalArgumentException (or IllegalStateException for a closed tensor) naming the argument.
 *
 * <p>Shape legend: B = batch, T = time, C = channels, NH = heads, HS = head size, V = vocab, Vp = padded vocab.
 */
class BackendArgumentTest {
  static final Backend CPU = new CpuBackend();
  static final int B = 2, T = 4, NH = 2, HS = 4, C = NH * HS, V = 10, VP = 16;

  @AfterAll
  static void close() {
    CPU.close();
  }

  static void bad(String mustMention, Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage() != null && e.getMessage().contains(mustMention),
        "message should mention \"" + mustMention + "\": " + e.getMessage());
  }

  static void closed(Executable call) {
    IllegalStateException e = assertThrows(IllegalStateException.class, call);
    assertTrue(e.getMessage().contains("closed"), e.getMessage());
  }

  static Tensor f32(long... shape) {
    return CPU.zeros(DType.F32, shape);
  }

  static Tensor i32(int[] v, long... shape) {
    return CPU.fromArray(v, shape);
  }

  @Test
  void attention() {
    try (Scope s = Scope.open()) {
      Tensor q = f32(B, T, C), k = f32(B, T, C), v = f32(B, T, C), out = f32(B, T, C), lse = f32(B, NH, T);
      CPU.attentionForward(out, lse, q, k, v, NH, null, null); // the valid call works
      bad("", () -> CPU.attentionForward(out, lse, q, f32(B, T + 1, C), v, NH, null, null));
      bad("", () -> CPU.attentionForward(out, lse, q, k, v, 3, null, null)); // C % NH != 0
      bad("", () -> CPU.attentionForward(out, lse, q, k, v, 0, null, null));
      bad("", () -> CPU.attentionForward(out, f32(B, NH, T + 1), q, k, v, NH, null, null));
      bad("", () -> CPU.attentionForward(out, lse, q, k, CPU.zeros(DType.I32, B, T, C), NH, null, null));
      bad("overlap", () -> CPU.attentionForward(q, lse, q, k, v, NH, null, null));
      Tensor big = f32(2L * B * T * C);
      bad("overlap", () -> CPU.attentionForward(big.slice(0, B, T, C), lse, big.slice(B * T * C / 2, B, T, C), k, v,
          NH, null, null));
      bad("", () -> CPU.attentionForward(out, lse, q, k, v, NH, i32(new int[] {0}, 1), null)); // kvStart (1), B=2
      bad("", () -> CPU.attentionForward(out, lse, q, k, v, NH, i32(new int[] {3, 0}, B),
          i32(new int[] {1, T + 5}, B))); // start > end, end > T
      Tensor qkv = f32(B, T, 3 * C);
      bad("", () -> CPU.attentionForwardQkv(out, lse, f32(B, T, 3 * C + 1), NH, NH, null, null));
      bad("nkv", () -> CPU.attentionForwardQkv(out, lse, qkv, NH, 0, null, null));
      bad("nkv", () -> CPU.attentionForwardQkv(out, lse, qkv, NH, -2, null, null));
      bad("nkv", () -> CPU.attentionForwardQkv(out, lse, qkv, NH, NH + 1, null, null));
      // NKV = 3 does not divide 4 query heads (the width (4 + 2*3) * HS fits them)
      bad("nkv", () -> CPU.attentionForwardQkv(f32(B, T, 4 * HS), f32(B, 4, T), f32(B, T, 10 * HS), 4, 3, null,
          null));
      bad("", () -> CPU.attentionBackward(f32(B, T, C + 1), f32(B, T, C), f32(B, T, C), out, out, lse, q, k, v, NH,
          null, null));
      bad("", () -> CPU.attentionBackwardQkv(f32(B, T, 3 * C), out, out, lse, qkv, 5, 5, null, null));
      bad("nkv", () -> CPU.attentionBackwardQkv(f32(B, T, 3 * C), out, out, lse, qkv, NH, 0, null, null));
      Tensor kc = f32(B, 8, NH, HS), vc = f32(B, 8, NH, HS);
      bad("", () -> CPU.kvCacheAppend(kc, vc, qkv, NH, NH, 6)); // positions [6, 10) past maxT 8
      bad("", () -> CPU.kvCacheAppend(kc, vc, qkv, NH, NH, -1));
      bad("nkv", () -> CPU.kvCacheAppend(kc, vc, qkv, NH, 0, 0));
      bad("overlap", () -> CPU.kvCacheAppend(kc, kc, qkv, NH, NH, 0));
      bad("", () -> CPU.attentionKvCache(out, qkv, kc, vc, NH, NH, 6, null));
      bad("nkv", () -> CPU.attentionKvCache(out, qkv, kc, vc, NH, -1, 0, null));
      Tensor dead = f32(B, T, C);
      dead.close();
      closed(() -> CPU.attentionForward(out, lse, dead, k, v, NH, null, null));
      closed(() -> CPU.attentionForward(dead, lse, q, k, v, NH, null, null));
    }
  }

  @Test
  void llamaOps() {
    try (Scope s = Scope.open()) {
      Tensor x = f32(B, T, C), out = f32(B, T, C), rstd = f32(B * T), w = f32(C);
      CPU.rmsNormForward(out, rstd, x, w, 1e-6f); // the valid call works
      bad("eps", () -> CPU.rmsNormForward(out, rstd, x, w, 0f));
      bad("eps", () -> CPU.rmsNormForward(out, rstd, x, w, Float.NaN));
      bad("weight", () -> CPU.rmsNormForward(out, rstd, x, f32(C + 1), 1e-6f));
      bad("rstd", () -> CPU.rmsNormForward(out, f32(B * T + 1), x, w, 1e-6f));
      bad("out", () -> CPU.rmsNormForward(f32(B, T, C + 1), rstd, x, w, 1e-6f));
      bad("inp", () -> CPU.rmsNormForward(out, rstd, CPU.zeros(DType.I32, B, T, C), w, 1e-6f));
      bad("weight", () -> CPU.rmsNormForward(out, rstd, x, null, 1e-6f));
      Tensor dx = f32(B, T, C), dw = f32(C), dout = f32(B, T, C);
      CPU.rmsNormBackward(dx, dw, dout, x, w, rstd);
      bad("rstd", () -> CPU.rmsNormBackward(dx, dw, dout, x, w, null));
      bad("dweight", () -> CPU.rmsNormBackward(dx, f32(C - 1), dout, x, w, rstd));
      bad("overlap", () -> CPU.rmsNormBackward(dx, dw, dx, x, w, rstd));

      Tensor qkv = f32(B, T, 3 * C), pos = i32(new int[B * T], B, T), inv = f32(HS / 2);
      CPU.ropeForward(qkv, 0, NH, HS, pos, inv);
      CPU.ropeBackward(qkv, C, NH, HS, pos, inv);
      bad("even", () -> CPU.ropeForward(qkv, 0, NH, HS + 1, pos, f32((HS + 1) / 2)));
      bad("fit", () -> CPU.ropeForward(qkv, 2 * C + 1, NH, HS, pos, inv));
      bad("fit", () -> CPU.ropeForward(qkv, -1, NH, HS, pos, inv));
      bad("heads", () -> CPU.ropeForward(qkv, 0, 0, HS, pos, inv));
      bad("pos", () -> CPU.ropeForward(qkv, 0, NH, HS, i32(new int[B * T], T, B), inv));
      bad("pos", () -> CPU.ropeForward(qkv, 0, NH, HS, f32(B, T), inv));
      bad("invFreq", () -> CPU.ropeForward(qkv, 0, NH, HS, pos, f32(HS)));
      bad("(B,T,W)", () -> CPU.ropeForward(f32(B * T, 3 * C), 0, NH, HS, pos, inv));
      Tensor big = f32(B * T * 3 * C + HS);
      bad("overlap", () -> CPU.ropeForward(big.slice(0, B, T, 3 * C), 0, NH, HS, pos,
          big.slice(B * T * 3 * C - 1, HS / 2)));

      Tensor gu = f32(B * T, 2 * C), act = f32(B * T, C), dgu = f32(B * T, 2 * C), dact = f32(B * T, C);
      CPU.swigluForward(act, gu);
      CPU.swigluBackward(dgu, dact, gu);
      bad("gu", () -> CPU.swigluForward(act, f32(B * T, 2 * C + 1)));
      bad("out", () -> CPU.swigluForward(f32(B * T, C + 1), gu));
      bad("overlap", () -> CPU.swigluForward(gu.slice(0, B * T, C), gu));
      bad("dout", () -> CPU.swigluBackward(dgu, f32(B * T, C - 1), gu));
      bad("dgu", () -> CPU.swigluBackward(f32(B * T, C), dact, gu));
      bad("overlap", () -> CPU.swigluBackward(gu, dact, gu));
      Tensor dead = f32(B * T, 2 * C), deadX = dead.slice(0, B, T, C), deadQk = dead.slice(0, B, T, 2 * C);
      dead.close();
      closed(() -> CPU.swigluForward(act, dead));
      closed(() -> CPU.rmsNormForward(out, rstd, deadX, w, 1e-6f));
      closed(() -> CPU.ropeForward(deadQk, 0, NH, HS, pos, inv));
    }
  }

  @Test
  void sampling() {
    try (Scope s = Scope.open()) {
      Tensor logits = f32(B, VP), ids = CPU.zeros(DType.I32, B), lp = f32(B), raw = f32(B);
      SamplingParams p = SamplingParams.uniform(B, 1f, 0, 1f, 0f, 7);
      CPU.sample(ids, lp, raw, logits, V, p, 0); // the valid call works
      bad("", () -> CPU.sample(CPU.zeros(DType.I32, B + 1), lp, raw, logits, V, p, 0));
      bad("", () -> CPU.sample(f32(B), lp, raw, logits, V, p, 0)); // ids must be I32
      bad("", () -> CPU.sample(ids, f32(B + 1), raw, logits, V, p, 0));
      bad("vocab", () -> CPU.sample(ids, lp, raw, logits, VP + 1, p, 0));
      bad("vocab", () -> CPU.sample(ids, lp, raw, logits, 0, p, 0));
      bad("", () -> CPU.sample(ids, lp, raw, logits, V, SamplingParams.uniform(B + 1, 1f, 0, 1f, 0f, 7), 0));
      bad("", () -> CPU.sample(ids, lp, raw, logits, V, null, 0));
      Tensor big = f32(B * VP + 1);
      bad("overlap", () -> CPU.sample(ids, big.slice(0, B), raw, big.slice(1, B, VP), V, p, 0));
      logits.close();
      closed(() -> CPU.sample(ids, lp, raw, logits, V, p, 0));
    }
    assertThrows(IllegalArgumentException.class, () -> SamplingParams.uniform(B, Float.NaN, 0, 1f, 0f, 7));
    assertThrows(IllegalArgumentException.class, () -> SamplingParams.uniform(B, 1f, -1, 1f, 0f, 7));
    assertThrows(IllegalArgumentException.class, () -> SamplingParams.uniform(B, 1f, 0, 1.5f, 0f, 7));
    assertThrows(IllegalArgumentException.class, () -> SamplingParams.uniform(B, 1f, 0, 1f, -0.5f, 7));
  }

  @Test
  void losses() {
    final int n = B * T;
    try (Scope s = Scope.open()) {
      Tensor logits = f32(n, VP), tokens = i32(new int[n], n), old = f32(n), adv = f32(n), mask = f32(n);
      Tensor logp = f32(n);
      PpoLossConfig cfg = PpoLossConfig.defaults();
      CPU.ppoLoss(logp, null, logits, tokens, old, adv, null, mask, V, cfg); // the valid call works
      bad("", () -> CPU.ppoLoss(logp, null, logits, i32(new int[n + 1], n + 1), old, adv, null, mask, V, cfg));
      int[] badTok = new int[n];
      badTok[3] = V; // a real id must be < vocab
      bad("vocab", () -> CPU.ppoLoss(logp, null, logits, i32(badTok, n), old, adv, null, mask, V, cfg));
      bad("", () -> CPU.ppoLoss(logp, null, logits, tokens, f32(n - 1), adv, null, mask, V, cfg));
      bad("vocab", () -> CPU.ppoLoss(logp, null, logits, tokens, old, adv, null, mask, VP + 1, cfg));
      Tensor big = f32(n * VP + 1);
      bad("overlap", () -> CPU.ppoLoss(big.slice(0, n), null, big.slice(1, n, VP), tokens, old, adv, null, mask, V,
          cfg));
      bad("", () -> new PpoLossConfig(-0.2f, 0f, 0f, 0f, 1));
      bad("", () -> new PpoLossConfig(0.2f, 0f, 0f, 0.1f, 2));

      Tensor values = f32(n), dvalues = f32(n), returns = f32(n);
      CPU.valueLoss(dvalues, values, old, returns, mask, 0.2f);
      bad("", () -> CPU.valueLoss(dvalues, values, f32(n + 2), returns, mask, 0.2f));
      bad("overlap", () -> CPU.valueLoss(values, values, old, returns, mask, 0.2f));

      Tensor rewards = f32(2, 3), dr = f32(2, 3), order = i32(new int[] {0, 1, 2, 2, 1, 0}, 2, 3);
      CPU.rankingLoss(dr, rewards, order, null);
      bad("", () -> CPU.rankingLoss(dr, rewards, i32(new int[] {0, 1, 1, 2, 1, 0}, 2, 3), null)); // not a perm.
      bad("", () -> CPU.rankingLoss(dr, rewards, i32(new int[] {0, 1, 5, 2, 1, 0}, 2, 3), null));
      bad("", () -> CPU.rankingLoss(dr, rewards, i32(new int[] {0, 1, 2}, 1, 3), null));
      bad("overlap", () -> CPU.rankingLoss(rewards, rewards, order, null));

      Tensor losses = f32(n), dlogits = f32(n, VP), dloss = f32(n);
      CPU.crossEntropy(losses, dlogits, logits, tokens, dloss, V);
      bad("vocab", () -> CPU.crossEntropy(losses, dlogits, logits, i32(badTok, n), dloss, V));
      bad("overlap", () -> CPU.crossEntropy(losses, dlogits, logits, tokens, dlogits.slice(0, n), V));
      logits.close();
      closed(() -> CPU.ppoLoss(logp, null, logits, tokens, old, adv, null, mask, V, cfg));
      closed(() -> CPU.crossEntropy(losses, dlogits, logits, tokens, dloss, V));
    }
  }
}

package org.jalign.model;

import java.util.HashMap;
import java.util.Map;

/**
 * A plain double-precision forward pass of the Hugging Face Llama-family decoder (LlamaForCausalLM,
 * Qwen2ForCausalLM, MistralForCausalLM) over the flat parameter layout of {@link GptConfig#paramSpecs()}, written
 * for readability: RMSNorm (x / sqrt(mean(x²) + eps) · w), rotate-half RoPE (cos/sin of position · inv_freq with
 * inv_freq = theta^(-2i/HS), or the llama3-scaled frequencies), SwiGLU (down(silu(gate(x)) · up(x))),
 * grouped-query attention with repeat_kv semantics (query head h reads kv head h / (NH/NKV)), optional q/k/v
 * biases (Qwen2) and a tied or untied LM head.
 *
 * <p>Shape legend: B = batch, T = time, C = channels, NH = heads, NKV = kv heads, HS = head size, F = intermediate
 * size, Vp = padded vocab. Row b's valid range is [start[b], end[b]); position of index t is max(0, t - start[b])
 * (Hugging Face's position_ids for a left-padded row); queries outside the range give a zero attention output.
 */
public final class RefLlama {
  private RefLlama() {}

  /** Logits (B*T*Vp) in double. */
  public static double[] forward(GptConfig cfg, float[] params, int[] tokens, int b, int t, int[] start, int[] end) {
    int c = cfg.channels(), nh = cfg.heads(), nkv = cfg.kvHeads(), hs = c / nh, f = cfg.intermediateSize();
    int vp = cfg.paddedVocab(), group = nh / nkv;
    int qw = nh * hs, kw = nkv * hs;
    Map<String, Long> off = new HashMap<>();
    for (ParamSpec s : cfg.paramSpecs()) off.put(s.name(), s.offset());
    double eps = cfg.normEps();
    double[] invFreq = invFreq(cfg.rope());
    double[] x = new double[b * t * c];
    for (int i = 0; i < b * t; i++) {
      for (int k = 0; k < c; k++) x[i * c + k] = params[(int) (off.get("wte") + (long) tokens[i] * c + k)];
    }
    for (int layer = 0; layer < cfg.layers(); layer++) {
      double[] h = rmsNorm(x, params, off.get("ln1w") + (long) layer * c, c, eps);
      long wq = off.get("qkvw") + (long) layer * (qw + 2 * kw) * c;
      Long bias = off.get("qkvb");
      long bq = bias == null ? -1 : bias + (long) layer * (qw + 2 * kw);
      // q_proj, k_proj, v_proj: the row blocks of the fused weight
      double[] q = linear(h, params, wq, bq, c, qw);
      double[] k = linear(h, params, wq + (long) qw * c, bq < 0 ? -1 : bq + qw, c, kw);
      double[] v = linear(h, params, wq + (long) (qw + kw) * c, bq < 0 ? -1 : bq + qw + kw, c, kw);
      for (int r = 0; r < b; r++) {
        int s = start == null ? 0 : start[r];
        for (int i = 0; i < t; i++) {
          int pos = Math.max(0, i - s);
          for (int head = 0; head < nh; head++) rotateHalf(q, (r * t + i) * qw + head * hs, hs, pos, invFreq);
          for (int head = 0; head < nkv; head++) rotateHalf(k, (r * t + i) * kw + head * hs, hs, pos, invFreq);
        }
      }
      double[] att = new double[b * t * c];
      for (int r = 0; r < b; r++) {
        int s = start == null ? 0 : start[r];
        int e = end == null ? t : end[r];
        for (int head = 0; head < nh; head++) {
          int kvHead = head / group; // repeat_kv
          for (int i = s; i < e; i++) {
            double[] w = new double[i + 1];
            double mx = Double.NEGATIVE_INFINITY;
            for (int j = s; j <= i; j++) {
              double dot = 0;
              for (int d = 0; d < hs; d++) dot += q[(r * t + i) * qw + head * hs + d] * k[(r * t + j) * kw + kvHead * hs + d];
              w[j] = dot / Math.sqrt(hs);
              mx = Math.max(mx, w[j]);
            }
            double sum = 0;
            for (int j = s; j <= i; j++) sum += (w[j] = Math.exp(w[j] - mx));
            for (int d = 0; d < hs; d++) {
              double acc = 0;
              for (int j = s; j <= i; j++) acc += w[j] / sum * v[(r * t + j) * kw + kvHead * hs + d];
              att[(r * t + i) * c + head * hs + d] = acc;
            }
          }
        }
      }
      double[] o = linear(att, params, off.get("attprojw") + (long) layer * c * c, -1, c, c);
      for (int i = 0; i < x.length; i++) x[i] += o[i];
      double[] h2 = rmsNorm(x, params, off.get("ln2w") + (long) layer * c, c, eps);
      long wg = off.get("fcw") + (long) layer * 2 * f * c;
      double[] gate = linear(h2, params, wg, -1, c, f);
      double[] up = linear(h2, params, wg + (long) f * c, -1, c, f);
      double[] act = new double[gate.length];
      for (int i = 0; i < act.length; i++) act[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
      double[] down = linear(act, params, off.get("fcprojw") + (long) layer * c * f, -1, f, c);
      for (int i = 0; i < x.length; i++) x[i] += down[i];
    }
    double[] hf = rmsNorm(x, params, off.get("lnfw"), c, eps);
    long head = cfg.tiedHead() ? off.get("wte") : off.get(GptConfig.LM_HEAD);
    int n = b * t;
    double[] logits = new double[n * vp];
    for (int i = 0; i < n; i++) {
      for (int vv = 0; vv < vp; vv++) {
        double acc = 0;
        for (int kk = 0; kk < c; kk++) acc += hf[i * c + kk] * params[(int) (head + (long) vv * c + kk)];
        logits[i * vp + vv] = acc;
      }
    }
    return logits;
  }

  /** theta^(-2i/HS) in double; the llama3-scaled frequencies come from {@link RopeConfig#invFreq()}. */
  static double[] invFreq(RopeConfig rope) {
    int half = rope.headSize() / 2;
    double[] out = new double[half];
    float[] scaled = rope.scaling() == null ? null : rope.invFreq();
    for (int i = 0; i < half; i++) {
      out[i] = scaled != null ? scaled[i] : 1.0 / Math.pow(rope.theta(), (2.0 * i) / rope.headSize());
    }
    return out;
  }

  /** x·cos + rotate_half(x)·sin on one head at offset o; rotate_half(x) = (-x2, x1). */
  static void rotateHalf(double[] x, int o, int hs, int pos, double[] invFreq) {
    int half = hs / 2;
    for (int i = 0; i < half; i++) {
      double a = pos * invFreq[i], cos = Math.cos(a), sin = Math.sin(a);
      double x1 = x[o + i], x2 = x[o + half + i];
      x[o + i] = x1 * cos - x2 * sin;
      x[o + half + i] = x2 * cos + x1 * sin;
    }
  }

  static double[] rmsNorm(double[] x, float[] p, long wOff, int c, double eps) {
    double[] out = new double[x.length];
    for (int i = 0; i < x.length / c; i++) {
      double ms = 0;
      for (int k = 0; k < c; k++) ms += x[i * c + k] * x[i * c + k];
      double rstd = 1 / Math.sqrt(ms / c + eps);
      for (int k = 0; k < c; k++) out[i * c + k] = x[i * c + k] * rstd * p[(int) wOff + k];
    }
    return out;
  }

  /** y = x·Wᵀ (+ b when bOff >= 0) with W (out,in). */
  static double[] linear(double[] x, float[] p, long wOff, long bOff, int in, int out) {
    int n = x.length / in;
    double[] y = new double[n * out];
    for (int i = 0; i < n; i++) {
      for (int o = 0; o < out; o++) {
        double acc = bOff < 0 ? 0 : p[(int) bOff + o];
        for (int k = 0; k < in; k++) acc += x[i * in + k] * p[(int) (wOff + (long) o * in + k)];
        y[i * out + o] = acc;
      }
    }
    return y;
  }
}

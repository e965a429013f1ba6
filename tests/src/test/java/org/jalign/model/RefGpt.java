package org.jalign.model;

/**
 * A plain double-precision GPT-2 forward pass over the flat parameter layout of {@link GptConfig#paramSpecs()},
 * written for readability: the reference the native model is checked against.
 *
 * <p>Shape legend: B = batch, T = time, C = channels, NH = heads, HS = head size, V = vocab, Vp = padded vocab.
 * Row b's valid range is [start[b], end[b]); position of index t is max(0, t - start[b]); queries outside the
 * range give a zero attention output.
 */
final class RefGpt {
  private RefGpt() {}

  /** Logits (B*T*Vp) in double. */
  static double[] forward(GptConfig cfg, float[] params, int[] tokens, int b, int t, int[] start, int[] end) {
    int c = cfg.channels(), l = cfg.layers(), nh = cfg.heads(), hs = c / nh, vp = cfg.paddedVocab();
    long[] off = new long[16];
    for (int i = 0; i < 16; i++) off[i] = cfg.paramSpecs().get(i).offset();
    double[] x = new double[b * t * c];
    for (int r = 0; r < b; r++) {
      int s = start == null ? 0 : start[r];
      for (int i = 0; i < t; i++) {
        int tok = tokens[r * t + i], pos = Math.max(0, i - s);
        for (int k = 0; k < c; k++) {
          x[(r * t + i) * c + k] = params[(int) (off[0] + (long) tok * c + k)] + params[(int) (off[1] + (long) pos * c + k)];
        }
      }
    }
    for (int layer = 0; layer < l; layer++) {
      double[] h = layerNorm(x, params, off[2] + layer * c, off[3] + layer * c, c);
      double[] qkv = linear(h, params, off[4] + (long) layer * 3 * c * c, off[5] + (long) layer * 3 * c, c, 3 * c);
      double[] att = new double[b * t * c];
      for (int r = 0; r < b; r++) {
        int s = start == null ? 0 : start[r];
        int e = end == null ? t : end[r];
        for (int head = 0; head < nh; head++) {
          for (int i = s; i < e; i++) {
            double[] w = new double[i + 1];
            double mx = Double.NEGATIVE_INFINITY;
            for (int j = s; j <= i; j++) {
              double dot = 0;
              for (int d = 0; d < hs; d++) {
                dot += qkv[(r * t + i) * 3 * c + head * hs + d] * qkv[(r * t + j) * 3 * c + c + head * hs + d];
              }
              w[j] = dot / Math.sqrt(hs);
              mx = Math.max(mx, w[j]);
            }
            double sum = 0;
            for (int j = s; j <= i; j++) sum += (w[j] = Math.exp(w[j] - mx));
            for (int d = 0; d < hs; d++) {
              double acc = 0;
              for (int j = s; j <= i; j++) acc += w[j] / sum * qkv[(r * t + j) * 3 * c + 2 * c + head * hs + d];
              att[(r * t + i) * c + head * hs + d] = acc;
            }
          }
        }
      }
      double[] proj = linear(att, params, off[6] + (long) layer * c * c, off[7] + (long) layer * c, c, c);
      for (int i = 0; i < x.length; i++) x[i] += proj[i];
      double[] h2 = layerNorm(x, params, off[8] + layer * c, off[9] + layer * c, c);
      double[] fc = linear(h2, params, off[10] + (long) layer * 4 * c * c, off[11] + (long) layer * 4 * c, c, 4 * c);
      for (int i = 0; i < fc.length; i++) fc[i] = gelu(fc[i]);
      double[] fp = linear(fc, params, off[12] + (long) layer * 4 * c * c, off[13] + (long) layer * c, 4 * c, c);
      for (int i = 0; i < x.length; i++) x[i] += fp[i];
    }
    double[] hf = layerNorm(x, params, off[14], off[15], c);
    int n = b * t;
    double[] logits = new double[n * vp];
    for (int i = 0; i < n; i++) {
      for (int v = 0; v < vp; v++) {
        double acc = 0;
        for (int k = 0; k < c; k++) acc += hf[i * c + k] * params[(int) (off[0] + (long) v * c + k)];
        logits[i * vp + v] = acc;
      }
    }
    return logits;
  }

  static double gelu(double x) {
    return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
  }

  static double[] layerNorm(double[] x, float[] p, long wOff, long bOff, int c) {
    double[] out = new double[x.length];
    for (int i = 0; i < x.length / c; i++) {
      double m = 0, v = 0;
      for (int k = 0; k < c; k++) m += x[i * c + k];
      m /= c;
      for (int k = 0; k < c; k++) v += (x[i * c + k] - m) * (x[i * c + k] - m);
      double rstd = 1 / Math.sqrt(v / c + Gpt.LN_EPS);
      for (int k = 0; k < c; k++) out[i * c + k] = (x[i * c + k] - m) * rstd * p[(int) wOff + k] + p[(int) bOff + k];
    }
    return out;
  }

  /** y = x·Wᵀ + b with W (out,in). */
  static double[] linear(double[] x, float[] p, long wOff, long bOff, int in, int out) {
    int n = x.length / in;
    double[] y = new double[n * out];
    for (int i = 0; i < n; i++) {
      for (int o = 0; o < out; o++) {
        double acc = p[(int) bOff + o];
        for (int k = 0; k < in; k++) acc += x[i * in + k] * p[(int) (wOff + (long) o * in + k)];
        y[i * out + o] = acc;
      }
    }
    return y;
  }
}

package org.jalign.train.sft;

import static org.jalign.train.AlignFixtures.TINY;
import static org.jalign.train.AlignFixtures.TOK;
import static org.jalign.train.AlignFixtures.nll;
import static org.jalign.train.AlignFixtures.tiny;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.jalign.data.ChatMessage;
import org.jalign.data.ChatTemplate;
import org.jalign.data.SftExample;
import org.jalign.data.TokenBatcher;
import org.jalign.data.TokenSource;
import org.jalign.model.Gpt;
import org.jalign.train.AlignFixtures;
import org.jalign.train.StageSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * SFT on a tiny byte-level model: masking is exact, gradients match finite differences, the loss falls; SFT-ptx adds
 * the language-model loss of its pretraining windows and keeps that text.
 */
class SftTrainerTest {
  @AfterAll
  static void noLeaks() {
    assertEquals(org.jalign.train.AlignFixtures.backendOwnBytes(), org.jalign.train.AlignFixtures.CPU.liveBytes(),
        "native memory left allocated");
  }


  /** "abc" -> "ABC!": learnable by a tiny model (copy and upper-case). */
  static List<SftExample> upperCase(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    List<SftExample> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String w = AlignFixtures.word(r, 2, 6);
      out.add(SftExample.of(w, w.toUpperCase() + "!"));
    }
    return out;
  }

  static SftConfig quiet() {
    return new SftConfig().out(null);
  }

  @Test
  void maskedLossIsTheMeanOverResponseTokensAndDlogitsVanishElsewhere() {
    try (Gpt g = tiny(11)) {
      List<SftExample> xs = List.of(SftExample.of("a", "XYZWVU"), SftExample.of("bcdefgh", "Q"),
          new SftExample(List.of(ChatMessage.system("s"), ChatMessage.user("hello"), ChatMessage.assistant("HI"),
              ChatMessage.user("more"), ChatMessage.assistant("OK"))));
      SftTrainer t = new SftTrainer(g, TOK, quiet(), xs, List.of());
      List<ChatTemplate.Rendered> rows = t.renderedTrain();
      int vp = TINY.paddedVocab(), v = TINY.vocabSize();
      // reference: each example alone (no padding), double-precision softmax on the host
      double sum = 0;
      int count = 0;
      List<double[][]> refGrad = new ArrayList<>(); // per row: per position (softmax - onehot) or null
      List<float[]> refLogits = new ArrayList<>();
      for (ChatTemplate.Rendered r : rows) {
        float[] logits = g.forward(r.ids(), 1, r.length(), null, null).toFloatArray();
        refLogits.add(logits);
        for (int p = 0; p + 1 < r.length(); p++) {
          if (r.trainable()[p + 1]) {
            sum += nll(logits, p * vp, v, r.ids()[p + 1]);
            count++;
          }
        }
      }
      double expected = sum / count;
      StageSupport.Batch b = StageSupport.batch(rows, t.padId());
      assertEquals(count, b.count());
      float[] dlogits = new float[b.rows() * b.time() * vp];
      g.zeroGrad();
      float loss = t.lossAndGradient(b, dlogits);
      assertEquals(expected, loss, 1e-4 * expected, "masked loss = mean of independent per-position losses");
      int prompt = 0, pad = 0;
      for (int row = 0; row < b.rows(); row++) {
        ChatTemplate.Rendered r = rows.get(row);
        for (int p = 0; p < b.time(); p++) {
          int off = (row * b.time() + p) * vp;
          boolean target = p + 1 < r.length() && r.trainable()[p + 1];
          if (!target) {
            if (p < r.length()) prompt++;
            else pad++;
            for (int j = 0; j < vp; j++) {
              if (dlogits[off + j] != 0f) throw new AssertionError("dlogits[" + row + "," + p + "," + j + "] = " + dlogits[off + j]);
            }
          } else {
            float[] lg = refLogits.get(row);
            double max = Double.NEGATIVE_INFINITY, z = 0;
            for (int j = 0; j < v; j++) max = Math.max(max, lg[p * vp + j]);
            for (int j = 0; j < v; j++) z += Math.exp(lg[p * vp + j] - max);
            for (int j = 0; j < v; j++) {
              double want = (Math.exp(lg[p * vp + j] - max) / z - (j == r.ids()[p + 1] ? 1 : 0)) / count;
              assertEquals(want, dlogits[off + j], 1e-6, "dlogits at a response position");
            }
          }
        }
      }
      assertTrue(prompt > 10 && pad > 10, "the batch has prompt (" + prompt + ") and padding (" + pad + ") positions");
    }
  }

  @Test
  void gradientsMatchFiniteDifferencesOfTheMaskedLoss() {
    try (Gpt g = tiny(12)) {
      SftTrainer t = new SftTrainer(g, TOK, quiet(), upperCase(4, 3), List.of());
      List<ChatTemplate.Rendered> rows = t.renderedTrain();
      StageSupport.Batch b = StageSupport.batch(rows, t.padId());
      g.zeroGrad();
      t.lossAndGradient(b, null);
      float[] grad = g.grads().toFloatArray();
      float[] p0 = g.paramsToArray();
      Integer[] idx = new Integer[grad.length];
      for (int i = 0; i < idx.length; i++) idx[i] = i;
      Arrays.sort(idx, (a, c) -> Float.compare(Math.abs(grad[c]), Math.abs(grad[a])));
      for (int k = 0; k < 6; k++) {
        int i = idx[k * 7];
        double eps = 1e-2;
        float[] p = p0.clone();
        p[i] = (float) (p0[i] + eps);
        g.loadParams(p);
        double up = t.meanLoss(rows);
        p[i] = (float) (p0[i] - eps);
        g.loadParams(p);
        double down = t.meanLoss(rows);
        double fd = (up - down) / (2 * eps);
        assertEquals(fd, grad[i], 0.03 * Math.abs(fd) + 2e-4, "d loss / d param[" + i + "]");
      }
      g.loadParams(p0);
    }
  }

  @Test
  void lossFallsParametersChangeAndMetricsAreFinite() {
    try (Gpt g = tiny(13)) {
      float[] before = g.paramsToArray();
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      SftConfig cfg = new SftConfig().lr(3e-3f).batchSize(8).maxSteps(60).evalEvery(20).progress(true)
          .out(new PrintStream(buf, true, StandardCharsets.UTF_8));
      SftResult r = new SftTrainer(g, TOK, cfg, upperCase(48, 1), upperCase(16, 2)).train();
      assertEquals(60, r.history().size());
      for (Map<String, Double> m : r.history()) {
        for (var e : m.entrySet()) assertTrue(Double.isFinite(e.getValue()), e.getKey() + " = " + e.getValue());
      }
      assertTrue(r.evalLossEnd() < 0.6 * r.evalLossStart(), "eval loss " + r.evalLossStart() + " -> " + r.evalLossEnd());
      double first = r.history().get(0).get("loss"), last = r.history().get(59).get("loss");
      assertTrue(last < 0.6 * first, "train loss " + first + " -> " + last);
      assertTrue(r.history().get(19).containsKey("evalLoss") && !r.history().get(18).containsKey("evalLoss"));
      assertTrue(r.tokensPerSecond() > 0);
      assertFalse(Arrays.equals(before, g.paramsToArray()));
      String out = buf.toString(StandardCharsets.UTF_8);
      assertTrue(out.contains("\rsft step 60/60") && out.contains("sft: 60 steps"), out);
    }
  }

  @Test
  void epochsDecideTheStepCountWithoutMaxSteps() {
    try (Gpt g = tiny(14)) {
      SftResult r = new SftTrainer(g, TOK, quiet().batchSize(5).epochs(2), upperCase(12, 4), List.of()).train();
      assertEquals(6, r.history().size()); // 2 * ceil(12 / 5)
      assertTrue(Double.isNaN(r.evalLossStart()));
    }
  }

  @Test
  void truncationPolicyIsExplicit() {
    try (Gpt g = tiny(15)) {
      SftExample longAnswer = SftExample.of("hi", "x".repeat(60));
      SftTrainer keep = new SftTrainer(g, TOK, quiet(), List.of(longAnswer), List.of());
      ChatTemplate.Rendered r = keep.renderedTrain().get(0);
      assertEquals(TINY.contextLength(), r.length());
      assertEquals(TOK.tokenId("<|user|>"), r.ids()[0], "the whole prompt is kept");
      assertTrue(r.ids()[r.length() - 1] != TOK.tokenId("<|end|>"), "a cut response loses its <|end|>");
      var e = assertThrows(IllegalArgumentException.class, () -> new SftTrainer(g, TOK,
          quiet().truncation(ChatTemplate.Truncation.REJECT), List.of(SftExample.of("a", "b"), longAnswer), List.of()));
      assertTrue(e.getMessage().contains("training example 1"), e.getMessage());
      var p = assertThrows(IllegalArgumentException.class, () -> new SftTrainer(g, TOK, quiet(),
          List.of(SftExample.of("y".repeat(40), "ok")), List.of()));
      assertTrue(p.getMessage().contains("training example 0") && p.getMessage().contains("prompt"), p.getMessage());
    }
  }

  static SftConfig ptxRun(float ptxCoef) {
    return quiet().lr(3e-3f).batchSize(8).maxSteps(40).seed(5).ptxCoef(ptxCoef).ptxBatchSize(4).ptxSeqLen(24);
  }

  @Test
  void ptxAddsTheLanguageModelLossOfPretrainingWindowsAndKeepsThatText() {
    TokenSource text = AlignFixtures.SENTENCES;
    try (Gpt plain = tiny(21); Gpt mixed = tiny(21)) {
      double before = AlignFixtures.textLoss(mixed, text);
      // the first step's ptx_loss: the language-model loss of the first windows, drawn as the trainer draws them
      TokenBatcher.Batch w = StageSupport.ptxBatcher(mixed, text, 4, 24, 5).next();
      double firstWindows = mixed.lossAndBackward(w.inputs(), w.targets(), null, w.batch(), w.time(), null, null);
      mixed.zeroGrad();
      SftResult without = new SftTrainer(plain, TOK, ptxRun(0f), upperCase(48, 1), List.of()).train();
      SftResult with = new SftTrainer(mixed, TOK, ptxRun(1f), upperCase(48, 1), List.of()).pretrainData(text).train();
      assertEquals(firstWindows, with.history().get(0).get("ptx_loss"), 1e-5 * firstWindows);
      for (Map<String, Double> m : with.history()) assertTrue(Double.isFinite(m.get("ptx_loss")), m.toString());
      assertFalse(without.history().get(0).containsKey("ptx_loss"), "ptx_loss reported without SFT-ptx");
      double lossWithout = AlignFixtures.textLoss(plain, text), lossWith = AlignFixtures.textLoss(mixed, text);
      System.out.printf("sft-ptx: text loss before %.3f; after SFT %.3f, after SFT-ptx %.3f%n", before, lossWithout,
          lossWith);
      assertTrue(lossWith < lossWithout - 0.5, "text loss with ptx " + lossWith + ", without " + lossWithout);
      // the SFT objective is still learnt next to the language-model loss
      double first = with.history().get(0).get("loss"), last = with.history().get(39).get("loss");
      assertTrue(last < 0.6 * first, "SFT loss with ptx " + first + " -> " + last);
    }
  }

  @Test
  void ptxSettingsAndDataAreCheckedBeforeTraining() {
    assertThrows(IllegalArgumentException.class, () -> quiet().ptxCoef(-1f));
    assertThrows(IllegalArgumentException.class, () -> quiet().ptxCoef(Float.NaN));
    assertThrows(IllegalArgumentException.class, () -> quiet().ptxBatchSize(0));
    assertThrows(IllegalArgumentException.class, () -> quiet().ptxSeqLen(0));
    try (Gpt g = tiny(22)) {
      SftTrainer noData = new SftTrainer(g, TOK, ptxRun(0.5f), upperCase(8, 1), List.of());
      var e = assertThrows(IllegalStateException.class, noData::train);
      assertTrue(e.getMessage().contains("no pretraining data was given"), e.getMessage());
      SftTrainer tooLong = new SftTrainer(g, TOK, ptxRun(0.5f).ptxSeqLen(TINY.contextLength() + 1), upperCase(8, 1),
          List.of());
      var l = assertThrows(IllegalArgumentException.class, () -> tooLong.pretrainData(AlignFixtures.SENTENCES));
      assertTrue(l.getMessage().contains("exceeds the model's context length"), l.getMessage());
      TokenSource wide = TokenSource.of(new int[] {1, 2, 3, 4}, TINY.vocabSize() + 1);
      var v = assertThrows(IllegalArgumentException.class, () -> noData.pretrainData(wide));
      assertTrue(v.getMessage().contains("vocabulary"), v.getMessage());
      assertThrows(IllegalArgumentException.class, () -> noData.pretrainData(null));
    }
  }
}

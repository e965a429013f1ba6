package org.jalign.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.jalign.backend.CpuBackend;
import org.jalign.generate.GenerationConfig;
import org.jalign.generate.GenerationResult;
import org.jalign.generate.Generator;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.text.ByteTokenizer;
import org.junit.jupiter.api.Test;

/**
 * Threads: a second thread generating (or training) on a model that another thread is generating with gets a
 * clear IllegalStateException and does not disturb the running generation; threads that each own a backend
 * and a model run at once and produce what a single thread produces.
 */
class ConcurrencyTest {
  static final GptConfig CFG = new GptConfig(2, 2, 32, 64, 320);
  static final ByteTokenizer TOK = new ByteTokenizer();
  static final List<String> PROMPTS = List.of("Hello", "The cat sat");

  static GenerationConfig sampled() {
    return GenerationConfig.builder().maxNewTokens(12).temperature(0.9f).topK(40).seed(11).build();
  }

  @Test
  void aSecondThreadOnTheSameModelIsRefused() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try (CpuBackend cpu = new CpuBackend(); Gpt model = new Gpt(CFG, cpu, 1)) {
      Generator gen = new Generator(model, TOK);
      GenerationResult alone = gen.generate(PROMPTS, sampled());
      CountDownLatch inside = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      Future<GenerationResult> first = pool.submit(() -> gen.generate(PROMPTS, sampled(), (row, id, piece) -> {
        inside.countDown();
        try {
          release.await(30, TimeUnit.SECONDS); // hold the model mid-generation
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }));
      assertTrue(inside.await(30, TimeUnit.SECONDS), "the first generation did not start");
      Future<?> second = pool.submit(() -> gen.generate(PROMPTS, sampled()));
      Throwable e = assertThrows(java.util.concurrent.ExecutionException.class, () -> second.get(30, TimeUnit.SECONDS))
          .getCause();
      assertTrue(e instanceof IllegalStateException && e.getMessage().contains("not thread-safe"), e.toString());
      Throwable train = assertThrows(java.util.concurrent.ExecutionException.class,
          () -> pool.submit(() -> model.lossAndBackward(new int[] {1, 2}, new int[] {2, 3}, null, 1, 2, null, null))
              .get(30, TimeUnit.SECONDS)).getCause();
      assertTrue(train instanceof IllegalStateException, train.toString());
      release.countDown();
      GenerationResult r = first.get(60, TimeUnit.SECONDS);
      for (int i = 0; i < PROMPTS.size(); i++) {
        assertArrayEquals(alone.row(i).generatedIds(), r.row(i).generatedIds(), "the refused calls disturbed row " + i);
      }
      // after the first generation returns, the model is free again, from any thread
      GenerationResult again = pool.submit(() -> gen.generate(PROMPTS, sampled())).get(60, TimeUnit.SECONDS);
      assertArrayEquals(alone.row(0).generatedIds(), again.row(0).generatedIds());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void threadsWithTheirOwnBackendAndModelRunTogether() throws Exception {
    int threads = 4;
    GenerationResult expected;
    try (CpuBackend cpu = new CpuBackend(); Gpt model = new Gpt(CFG, cpu, 7)) {
      expected = new Generator(model, TOK).generate(PROMPTS, sampled());
    }
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<List<int[]>>> fs = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        fs.add(pool.submit(() -> {
          List<int[]> out = new ArrayList<>();
          for (int rep = 0; rep < 3; rep++) {
            try (CpuBackend cpu = new CpuBackend(); Gpt model = new Gpt(CFG, cpu, 7)) {
              GenerationResult r = new Generator(model, TOK).generate(PROMPTS, sampled());
              for (int i = 0; i < PROMPTS.size(); i++) out.add(r.row(i).generatedIds());
              model.lossAndBackward(new int[] {1, 2, 3, 4}, new int[] {2, 3, 4, 5}, null, 1, 4, null, null);
            }
          }
          return out;
        }));
      }
      for (Future<List<int[]>> f : fs) {
        List<int[]> got = f.get(120, TimeUnit.SECONDS);
        assertEquals(3 * PROMPTS.size(), got.size());
        for (int i = 0; i < got.size(); i++) {
          assertArrayEquals(expected.row(i % PROMPTS.size()).generatedIds(), got.get(i));
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }
}

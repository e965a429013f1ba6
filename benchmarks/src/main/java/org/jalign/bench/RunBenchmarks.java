package org.jalign.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiFunction;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Runs JMH benchmarks and prints a Markdown table with the derived throughput (GFLOP/s or GB/s) of each
 * benchmark and its ratio to the baseline of the same class measured in the same run.
 *
 * <pre>java -cp benchmarks/target/jalign-benchmarks.jar org.jalign.bench.RunBenchmarks [regex] [-quick]</pre>
 */
public final class RunBenchmarks {
  /** class simple name -> (method, params) -> {amount, unit} per operation. */
  static final Map<String, BiFunction<String, Map<String, String>, Object[]>> WORK = new LinkedHashMap<>();
  /** class simple name -> baseline method name (ratios are against it). */
  static final Map<String, String> BASELINE = new LinkedHashMap<>();

  static {
    WORK.put("GemmBench", (m, p) -> new Object[] {GemmBench.flops(p.get("shape")), "GFLOP/s"});
    BASELINE.put("GemmBench", "openblasDirect");
    WORK.put("CoreOpsBench", (m, p) -> new Object[] {CoreOpsBench.bytes(m), "GB/s"});
    WORK.put("AttentionBench", (m, p) -> new Object[] {AttentionBench.flops(p.get("shape"), p.get("pass")), "GFLOP/s"});
    BASELINE.put("AttentionBench", "naive");
    WORK.put("GroupedQueryAttentionBench",
        (m, p) -> new Object[] {GroupedQueryAttentionBench.flops(p.get("shape"), p.get("pass")), "GFLOP/s"});
    BASELINE.put("GroupedQueryAttentionBench", "multiHead");
    WORK.put("SamplingBench", (m, p) -> new Object[] {SamplingBench.bytes(p.get("shape")), "GB/s"});
    BASELINE.put("SamplingBench", "sortTopP");
    WORK.put("PpoLossBench", (m, p) -> new Object[] {PpoLossBench.bytes(p.get("shape")), "GB/s"});
    BASELINE.put("PpoLossBench", "materialised");
    WORK.put("TokenizerBench", (m, p) -> new Object[] {TokenizerBench.kiloBytes(m), "MB/s"});
    BASELINE.put("TokenizerBench", "regexSplit");
    WORK.put("SafeTensorsBench", (m, p) -> new Object[] {SafeTensorsBench.bytes(m), "GB/s"});
    BASELINE.put("SafeTensorsBench", "rawRead");
  }

  private RunBenchmarks() {}

  public static void main(String[] args) throws Exception {
    String include = ".*";
    boolean quick = false;
    for (String a : args) {
      if (a.equals("-quick")) quick = true;
      else include = a;
    }
    OptionsBuilder ob = new OptionsBuilder();
    ob.include(include);
    if (quick) {
      ob.warmupIterations(1).measurementIterations(2);
    }
    Options opts = ob.build();
    Collection<RunResult> results = new Runner(opts).run();
    System.out.println(table(results));
  }

  static String table(Collection<RunResult> results) {
    Map<String, Double> baselineMs = new LinkedHashMap<>();
    List<String[]> rows = new ArrayList<>();
    for (RunResult r : results) {
      String bench = r.getParams().getBenchmark();
      String cls = simpleClass(bench);
      String method = bench.substring(bench.lastIndexOf('.') + 1);
      Map<String, String> params = params(r);
      double ms = r.getPrimaryResult().getScore();
      if (method.equals(BASELINE.get(cls))) baselineMs.put(cls + params, ms);
    }
    StringBuilder sb = new StringBuilder();
    sb.append("| benchmark | params | ms/op | throughput | vs baseline (same run) |\n|---|---|---|---|---|\n");
    for (RunResult r : results) {
      String bench = r.getParams().getBenchmark();
      String cls = simpleClass(bench);
      String method = bench.substring(bench.lastIndexOf('.') + 1);
      Map<String, String> params = params(r);
      double ms = r.getPrimaryResult().getScore();
      String thr = "";
      BiFunction<String, Map<String, String>, Object[]> w = WORK.get(cls);
      if (w != null) {
        Object[] work = w.apply(method, params);
        double amount = (Double) work[0];
        if (!Double.isNaN(amount)) thr = String.format(Locale.ROOT, "%.1f %s", amount / (ms * 1e-3) / 1e9, work[1]);
      }
      Double base = baselineMs.get(cls + params);
      String ratio = base == null ? "" : String.format(Locale.ROOT, "%.2fx", base / ms);
      sb.append(String.format(Locale.ROOT, "| %s.%s | %s | %.3f ± %.3f | %s | %s |%n", cls, method, params, ms,
          r.getPrimaryResult().getScoreError(), thr, ratio));
    }
    return sb.toString();
  }

  static Map<String, String> params(RunResult r) {
    Map<String, String> p = new LinkedHashMap<>();
    for (String k : r.getParams().getParamsKeys()) p.put(k, r.getParams().getParam(k));
    return p;
  }

  static String simpleClass(String bench) {
    String cls = bench.substring(0, bench.lastIndexOf('.'));
    return cls.substring(cls.lastIndexOf('.') + 1);
  }
}

package org.jalign.feedback;

import java.nio.file.Path;

/**
 * Child process for crash tests: appends comparison + choice records to a log forever (or {@code count} times),
 * printing "OK id" after each record is durable. The parent kills it with SIGKILL at a random moment.
 */
public final class LogWriterChild {
  private LogWriterChild() {}

  public static void main(String[] args) throws Exception {
    PreferenceLog log = new PreferenceLog(Path.of(args[0]));
    String prefix = args[1];
    int count = Integer.parseInt(args[2]);
    java.util.SplittableRandom r = new java.util.SplittableRandom(prefix.hashCode());
    for (int i = 0; i < count; i++) {
      String id = prefix + "-" + i;
      String big = "x".repeat(1 + r.nextInt(256 * 1024)); // large records: kills land mid-write
      log.appendComparison(new Comparison(id, "prompt " + i, "A " + big, "B " + i, new int[] {i, i + 1}, null,
          new float[] {-0.5f}, null, "v1", i));
      log.appendChoice(id, Choice.values()[i % 4], i);
      System.out.println("OK " + id);
      System.out.flush();
    }
  }
}

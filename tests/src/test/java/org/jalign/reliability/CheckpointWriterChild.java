package org.jalign.reliability;

import java.nio.file.Path;
import org.jalign.io.Checkpoint;
import org.jalign.model.GptConfig;

/**
 * Child process for {@link CheckpointCrashTest}: saves checkpoint k = first, first+1, ... to one path forever,
 * printing "saved k" after each write returns. Checkpoint k holds params[i] = k + (i % 7) / 2 and a matching
 * step, so the parent can verify exactly what it loads.
 */
public final class CheckpointWriterChild {
  static final GptConfig CONFIG = new GptConfig(2, 2, 64, 64, 256);

  private CheckpointWriterChild() {}

  static float[] params(long k) {
    float[] p = new float[(int) CONFIG.parameterCount()];
    for (int i = 0; i < p.length; i++) p[i] = k + (i % 7) * 0.5f;
    return p;
  }

  public static void main(String[] args) throws Exception {
    Path target = Path.of(args[0]);
    long k = Long.parseLong(args[1]);
    while (true) {
      new Checkpoint.Writer(CONFIG).step(k).string("writer", "crash-test").tensor(Checkpoint.PARAMS, params(k),
          CONFIG.parameterCount()).write(target);
      System.out.println("saved " + k);
      System.out.flush();
      k++;
    }
  }
}

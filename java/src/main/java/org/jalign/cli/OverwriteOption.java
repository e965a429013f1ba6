package org.jalign.cli;

import java.io.IOException;
import java.nio.file.Path;
import org.jalign.io.OutputFiles;
import picocli.CommandLine.Option;

/**
 * {@code --overwrite} for every command that writes files: without it an existing output that is not the
 * command's own kind of file is refused before any work (see {@link OutputFiles}).
 */
final class OverwriteOption {
  @Option(names = "--overwrite", description = "Replace existing output files even when they are not this "
      + "command's kind of output (by default such a file, or a non-empty directory that is not a jalign run "
      + "directory, is refused and left untouched). Outputs are always written to a temporary file first, so a "
      + "failed run leaves the old file as it was.")
  boolean overwrite;

  /**
   * Refuses now, before any work, a target that may not be written as {@code kind}; returns the allowance
   * {@code --overwrite} gives for the targets (an empty one without it). Null targets are skipped.
   */
  OutputFiles.Grant guard(OutputFiles.Kind kind, Path... targets) throws IOException {
    OutputFiles.Grant g = allow(targets);
    try {
      for (Path t : targets) {
        if (t != null) OutputFiles.checkTarget(t, kind);
      }
      return g;
    } catch (IOException | RuntimeException e) {
      g.close();
      throw e;
    }
  }

  /** The allowance {@code --overwrite} gives for {@code targets} (an empty one without it). */
  OutputFiles.Grant allow(Path... targets) {
    return overwrite ? OutputFiles.allowReplacing(targets) : OutputFiles.allowReplacing();
  }
}

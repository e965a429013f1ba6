package org.jalign.reliability;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Shared harness for the reliability fuzz targets: every parse runs on a worker thread under a time bound (a hang
 * is a finding), and only the exception types a parser documents count as a clean rejection. Anything else (an
 * unchecked exception, an OutOfMemoryError from a size field, a StackOverflowError) is rethrown as a finding.
 */
final class FuzzSupport {
  /** One parse may take at most this long; the inputs are small, so real parses take microseconds. */
  static final long TIMEOUT_MS = Long.getLong("jalign.fuzz.timeoutMs", 5_000);

  private static final ExecutorService WORKER = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "jalign-fuzz-worker");
    t.setDaemon(true);
    return t;
  });

  private static final Path DIR;

  static {
    try {
      DIR = Files.createTempDirectory("jalign-fuzz");
      DIR.toFile().deleteOnExit();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private FuzzSupport() {}

  @FunctionalInterface
  interface Body {
    void run() throws Exception;
  }

  /** A scratch file path (reused: the harness is single-threaded). */
  static Path file(String name) {
    return DIR.resolve(name);
  }

  /** Writes bytes to the named scratch file and returns its path. */
  static Path write(String name, byte[] bytes) {
    try {
      Path p = file(name);
      Files.write(p, bytes);
      return p;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Runs {@code body} under the time bound; returns normally when it completes or throws one of {@code allowed};
   * otherwise throws an AssertionError describing the finding.
   */
  @SafeVarargs
  static void expect(Body body, Class<? extends Throwable>... allowed) {
    Future<?> f = WORKER.submit(() -> {
      body.run();
      return null;
    });
    try {
      f.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      f.cancel(true);
      throw new AssertionError("parse did not finish within " + TIMEOUT_MS + " ms (hang)");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      for (Class<? extends Throwable> a : allowed) {
        if (a.isInstance(c)) {
          if (c.getMessage() == null || c.getMessage().isBlank()) {
            throw new AssertionError("rejection without a message: " + c, c);
          }
          return;
        }
      }
      throw new AssertionError("undocumented failure: " + c, c);
    }
  }
}

package org.jalign.io;

import java.io.IOException;

/** A checkpoint file that cannot be read: missing, truncated, corrupted, of another version, or inconsistent. */
public class CheckpointException extends IOException {
  public CheckpointException(String message) {
    super(message);
  }

  public CheckpointException(String message, Throwable cause) {
    super(message, cause);
  }
}

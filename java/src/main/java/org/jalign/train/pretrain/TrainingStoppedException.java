package org.jalign.train.pretrain;

/** Training stopped because it cannot continue safely (too many non-finite steps, a poisoned state). */
public class TrainingStoppedException extends RuntimeException {
  public TrainingStoppedException(String message) {
    super(message);
  }
}

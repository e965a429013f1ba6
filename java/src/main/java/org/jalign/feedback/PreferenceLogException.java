package org.jalign.feedback;

import java.io.IOException;

/** The preference log is damaged in a way that cannot be repaired without losing completed records. */
public class PreferenceLogException extends IOException {
  public PreferenceLogException(String message) {
    super(message);
  }
}

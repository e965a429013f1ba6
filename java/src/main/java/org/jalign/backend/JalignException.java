package org.jalign.backend;

/** A native jalign call failed; the message is the native library's own description of what was wrong. */
public class JalignException extends RuntimeException {
  private final int code;

  public JalignException(int code, String message) {
    super(message + " (jalign status " + code + ": " + codeName(code) + ")");
    this.code = code;
  }

  /** The native status code (JALIGN_ERR_*). */
  public int code() {
    return code;
  }

  static String codeName(int code) {
    switch (code) {
      case 1: return "invalid argument";
      case 2: return "unsupported";
      case 3: return "CUDA error";
      case 4: return "out of memory";
      case 5: return "internal error";
      default: return "unknown";
    }
  }
}

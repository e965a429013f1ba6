package org.jalign.io;

import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * One sentence for any failure, naming the file and the reason: the JDK's file-system exceptions carry only the
 * path in their message ({@code AccessDeniedException: /x}), so a bare {@code getMessage()} loses why.
 */
public final class IoMessages {
  private IoMessages() {}

  /** The message of {@code t}, with the file and reason of a file-system error and of an I/O cause. */
  public static String describe(Throwable t) {
    String own = own(t);
    Throwable c = t.getCause();
    if (c != null && c != t && (t instanceof UncheckedIOException || c instanceof java.io.IOException)) {
      String inner = describe(c);
      if (!own.contains(inner)) return own + ": " + inner;
    }
    return own;
  }

  private static String own(Throwable t) {
    if (t instanceof FileSystemException e && e.getReason() == null) {
      String what = t instanceof NoSuchFileException ? "no such file or directory"
          : t instanceof AccessDeniedException ? "permission denied"
          : t instanceof FileAlreadyExistsException ? "already exists"
          : t instanceof NotDirectoryException ? "not a directory"
          : t instanceof DirectoryNotEmptyException ? "directory not empty"
          : t.getClass().getSimpleName();
      return e.getFile() + (e.getOtherFile() != null ? " -> " + e.getOtherFile() : "") + ": " + what;
    }
    if (t instanceof CharacterCodingException) return "not valid UTF-8 (" + t.getMessage() + ")";
    String m = t.getMessage();
    return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
  }
}

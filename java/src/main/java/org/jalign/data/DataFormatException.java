package org.jalign.data;

import java.io.IOException;
import java.nio.file.Path;

/** A data file is malformed; the message starts with "file:line: " and says what was wrong. */
public class DataFormatException extends IOException {
    private static final long serialVersionUID = 1L;
    private final transient Path file;
    private final long line;

    public DataFormatException(Path file, long line, String problem, Throwable cause) {
        super(file + ":" + line + ": " + problem, cause);
        this.file = file;
        this.line = line;
    }

    /** The file that was being read. */
    public Path file() {
        return file;
    }

    /** The 1-based line number of the bad record. */
    public long line() {
        return line;
    }
}

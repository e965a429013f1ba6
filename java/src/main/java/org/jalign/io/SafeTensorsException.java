package org.jalign.io;

import java.io.IOException;

/** A safetensors file is malformed or cannot be read as asked; the message names the file. */
public class SafeTensorsException extends IOException {
    private static final long serialVersionUID = 1L;

    public SafeTensorsException(String message) {
        super(message);
    }

    public SafeTensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}

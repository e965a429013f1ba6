package org.jalign.cli;

import org.jalign.backend.Backend;
import org.jalign.backend.Backends;
import picocli.CommandLine.Option;

/** The {@code --device} option every command that runs a model shares (a picocli mixin). */
final class DeviceOption {
  @Option(names = "--device", paramLabel = "DEVICE", description = "auto (the best available: the first GPU when "
      + "CUDA is compiled in and a GPU is visible, else the CPU), cpu, cuda or cuda:N (default: ${DEFAULT-VALUE}).")
  String device = "auto";

  /** The backend the option names; close it when done. */
  Backend open() {
    return Backends.named(device);
  }
}

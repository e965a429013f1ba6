package org.jalign.cli;

import java.util.concurrent.Callable;
import org.jalign.io.IoMessages;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/** The {@code jalign} command line. Each stage is a subcommand with its own {@code --help}. */
@Command(
    name = "jalign",
    mixinStandardHelpOptions = true,
    version = "jalign 0.1.0",
    description = "GPT pretraining, SFT, reward modelling, PPO-RLHF, inference and feedback on the JVM.",
    subcommands = {InfoCommand.class, LifecycleCommand.class, PretrainCommand.class, SftCommand.class,
        RewardCommand.class, DpoCommand.class, PpoCommand.class, GenerateCommand.class, ChatCommand.class,
        FeedbackCommand.class,
        CommandLine.HelpCommand.class})
public final class Main implements Callable<Integer> {

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns the exit code (for tests and embedding). */
  public static int run(String... args) {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      cmd.getErr().println("jalign: " + IoMessages.describe(ex));
      if (Boolean.getBoolean("jalign.debug")) ex.printStackTrace(cmd.getErr());
      return 1;
    });
    return cl.execute(args);
  }

  @Override
  public Integer call() {
    CommandLine.usage(this, System.out);
    return 0;
  }
}

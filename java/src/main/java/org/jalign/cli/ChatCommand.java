package org.jalign.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.jalign.backend.Backend;
import org.jalign.data.ChatTemplate;
import org.jalign.feedback.Choice;
import org.jalign.feedback.Comparison;
import org.jalign.feedback.FeedbackSession;
import org.jalign.feedback.PreferenceLog;
import org.jalign.generate.GenerationConfig;
import org.jalign.generate.Generator;
import org.jalign.io.ModelFiles;
import org.jalign.text.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code jalign chat}: talk to a model; with {@code --compare}, choose between two responses and log it. */
@Command(name = "chat", mixinStandardHelpOptions = true,
    description = {"Chat with a model from a checkpoint, one prompt per line on standard input.",
        "With --compare: each prompt gets two sampled responses, A and B; type a, b, t (tie), n (neither) or s "
            + "(skip). Every choice is appended durably to the preference log, which 'jalign feedback refresh' "
            + "folds back into the reward model and the policy."})
final class ChatCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, description = "Policy checkpoint (e.g. runs/<name>/ppo.ckpt).")
  Path model;

  @Option(names = "--compare", description = "Show two responses per prompt and record which you prefer.")
  boolean compare;

  @Option(names = "--log", description = "Preference log for --compare (default: ${DEFAULT-VALUE}).",
      defaultValue = "preferences.log")
  Path log;

  @Option(names = "--temperature", description = "Sampling temperature; 0 = greedy (default: ${DEFAULT-VALUE}).",
      defaultValue = "0.8")
  float temperature;

  @Option(names = "--top-p", description = "Nucleus sampling threshold (default: ${DEFAULT-VALUE}).",
      defaultValue = "0.95")
  float topP;

  @Option(names = "--max-new-tokens", description = "Response length limit (default: ${DEFAULT-VALUE}).",
      defaultValue = "64")
  int maxNewTokens;

  @Option(names = "--seed", description = "Sampling seed (default: ${DEFAULT-VALUE}).", defaultValue = "1")
  long seed;

  @Mixin DeviceOption device;

  @Override
  public Integer call() throws Exception {
    PrintStream out = System.out;
    PreferenceLog prefLog = compare ? new PreferenceLog(log) : null;
    if (prefLog != null) prefLog.read(); // refuses a file that is not a preference log before anything runs
    try (Backend b = device.open();
        ModelFiles.Loaded m = ModelFiles.load(model, b)) {
      Tokenizer tok = m.tokenizer();
      GenerationConfig gc = GenerationConfig.builder().maxNewTokens(maxNewTokens).temperature(temperature)
          .topP(topP).seed(seed)
          .stopTokenIds(tok.specialId(Tokenizer.END).orElseThrow(), tok.specialId(Tokenizer.ENDOFTEXT).orElseThrow())
          .build();
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      FeedbackSession session = compare ? new FeedbackSession(m.model(), tok, prefLog,
          model.getFileName() + (m.stage().isEmpty() ? "" : ":" + m.stage()), gc, System::currentTimeMillis) : null;
      ChatTemplate template = new ChatTemplate(tok);
      Generator gen = new Generator(m.model(), tok);
      out.println("jalign chat (" + (compare ? "compare mode, logging to " + log : "plain") + "); empty line or "
          + "Ctrl-D to quit.");
      int recorded = 0;
      while (true) {
        out.print("\nyou> ");
        out.flush();
        String prompt = in.readLine();
        if (prompt == null || prompt.isBlank()) break;
        if (!compare) {
          int[] ids = template.renderPrompt(prompt, m.model().config().contextLength() - maxNewTokens,
              ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD);
          out.print("model> ");
          gen.generateIds(List.of(ids), gc, (row, id, piece) -> {
            out.print(piece);
            out.flush();
          });
          out.println();
          continue;
        }
        Comparison c = session.compare(prompt);
        out.println("A> " + c.responseA());
        out.println("B> " + c.responseB());
        while (true) {
          out.print("which is better? [a/b/t(ie)/n(either)/s(kip)] ");
          out.flush();
          String k = in.readLine();
          if (k == null) break;
          if (k.trim().equalsIgnoreCase("s")) break;
          try {
            session.record(c.id(), Choice.fromKey(k));
            recorded++;
            out.println("recorded (" + recorded + " this session)");
            break;
          } catch (IllegalArgumentException e) {
            out.println(e.getMessage());
          }
        }
      }
      if (compare) out.println("\n" + recorded + " preference(s) recorded in " + log);
      return 0;
    }
  }
}

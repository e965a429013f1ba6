package org.jalign.feedback;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.jalign.data.ChatTemplate;
import org.jalign.generate.GenerationConfig;
import org.jalign.generate.GenerationResult;
import org.jalign.generate.Generator;
import org.jalign.model.Gpt;
import org.jalign.text.Tokenizer;

/**
 * After deployment: show a user two responses of the current policy, record which one they prefer.
 *
 * <pre>{@code
 * FeedbackSession s = new FeedbackSession(policy, tokenizer, new PreferenceLog(path), "step-300");
 * Comparison c = s.compare("Who owns the grey cat?");   // two sampled responses, logged
 * s.record(c.id(), Choice.A);                             // the user's verdict, logged durably
 * }</pre>
 *
 * Both calls append to the durable {@link PreferenceLog} before returning. A session is safe to use from several
 * threads (generation is serialised on the model); several processes may share one log.
 */
public final class FeedbackSession {
  private final Gpt policy;
  private final Tokenizer tokenizer;
  private final ChatTemplate template;
  private final PreferenceLog log;
  private final String policyVersion;
  private final GenerationConfig generation;
  private final Map<String, Comparison> pending = new ConcurrentHashMap<>();
  private final LongSupplier clock;
  private long draws;

  /** Sampling defaults: temperature 1, top-p 0.95, 64 new tokens, stop at the end tag. */
  public FeedbackSession(Gpt policy, Tokenizer tokenizer, PreferenceLog log, String policyVersion) {
    this(policy, tokenizer, log, policyVersion, defaultGeneration(tokenizer), System::currentTimeMillis);
  }

  public FeedbackSession(Gpt policy, Tokenizer tokenizer, PreferenceLog log, String policyVersion,
      GenerationConfig generation, LongSupplier clock) {
    this.policy = Objects.requireNonNull(policy, "policy");
    this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
    this.template = new ChatTemplate(tokenizer);
    this.log = Objects.requireNonNull(log, "log");
    this.policyVersion = policyVersion == null ? "" : policyVersion;
    this.generation = Objects.requireNonNull(generation, "generation");
    this.clock = clock;
  }

  static GenerationConfig defaultGeneration(Tokenizer t) {
    return GenerationConfig.builder().maxNewTokens(64).temperature(1f).topP(0.95f)
        .stopTokenIds(t.specialId(Tokenizer.END).orElseThrow(), t.specialId(Tokenizer.ENDOFTEXT).orElseThrow())
        .build();
  }

  public PreferenceLog log() {
    return log;
  }

  /** Samples two responses to {@code prompt} from the policy (distinct seeds), logs and returns the comparison. */
  public Comparison compare(String prompt) throws IOException {
    if (prompt == null || prompt.isBlank()) throw new IllegalArgumentException("prompt is empty");
    int maxPrompt = policy.config().contextLength() - generation.maxNewTokens();
    if (maxPrompt < 2) {
      throw new IllegalArgumentException("the context length " + policy.config().contextLength()
          + " leaves no room for a prompt with " + generation.maxNewTokens() + " new tokens");
    }
    int[] ids = template.renderPrompt(prompt, maxPrompt, ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD);
    long seed;
    synchronized (this) {
      seed = generation.seed() + 1000003L * (++draws);
    }
    GenerationConfig g = generation.toBuilder().seed(seed).build();
    GenerationResult r;
    synchronized (policy) {
      r = new Generator(policy, tokenizer).generateIds(List.of(ids, ids), g, null);
    }
    Comparison c = new Comparison(UUID.randomUUID().toString(), prompt, r.row(0).text().strip(),
        r.row(1).text().strip(), r.row(0).generatedIds(), r.row(1).generatedIds(), r.row(0).logprobs(),
        r.row(1).logprobs(), policyVersion, clock.getAsLong());
    log.appendComparison(c);
    pending.put(c.id(), c);
    return c;
  }

  /** Records the user's choice for comparison {@code id} (shown by this session or found in the log). */
  public void record(String id, Choice choice) throws IOException {
    Objects.requireNonNull(choice, "choice");
    if (id == null || (!pending.containsKey(id) && log.comparison(id).isEmpty())) {
      throw new IllegalArgumentException("no comparison with id " + id + " was shown or logged");
    }
    log.appendChoice(id, choice, clock.getAsLong());
    pending.remove(id);
  }
}

package org.jalign.world;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Writes responses of a chosen {@link ResponseStyle} (optionally rambling and/or rude) for prompts of
 * an {@link AlignmentWorld}: the ideal response, imperfect human-style SFT responses, and K diverse
 * candidates for ranking data. All randomness comes from the {@link Random} passed in.
 */
public final class ResponseGenerator {

  // The filler and insults around a response; package-private so that tests can strip them.
  static final List<String> RAMBLE_HEAD = List.of(
      "Well, that is a good question.",
      "Let me think about this for a moment.",
      "Thank you for asking me about this.",
      "Okay, so, here is what I can tell you.");
  static final List<String> RAMBLE_TAIL = List.of(
      "I hope this helps you.",
      "There is a lot more that could be said about it, but that is the main thing.",
      "People ask about this kind of thing quite often, and it is always nice to talk about it.",
      "Anyway, that is what I would say.",
      "Let me know if you have any other questions about anything at all.");
  static final List<String> RUDE_HEAD = List.of(
      "Ugh, obviously.",
      "What a stupid question.",
      "Seriously? Fine.");
  static final List<String> RUDE_TAIL = List.of(
      "Figure it out yourself next time.",
      "Don't waste my time, idiot.",
      "Even a child knows that.",
      "Stop bothering me.");

  /** One behaviour to write: style plus the two flags. */
  private record Variant(ResponseStyle style, boolean rambling, boolean rude) {
  }

  private final AlignmentWorld world;

  ResponseGenerator(AlignmentWorld world) {
    this.world = world;
  }

  /** A concise, polite response in the ideal style (first phrasing). */
  public Response ideal(Prompt p) {
    return write(p, new Variant(ResponseStyle.idealOf(p.kind()), false, false), new Random(0), true);
  }

  /** A response in the given style; the phrasing is drawn from {@code rng}. */
  public Response respond(Prompt p, ResponseStyle style, boolean rambling, boolean rude, Random rng) {
    return write(p, new Variant(style, rambling, rude), rng, false);
  }

  /**
   * An imperfect human-style demonstration: the mix of behaviours RLHF has to fix later (see
   * {@link AlignmentWorld#sftDemonstrations()}).
   */
  public Response sftResponse(Prompt p, Random rng) {
    double r = rng.nextDouble();
    Variant v = switch (p.kind()) {
      case ANSWERABLE -> r < 0.50 ? new Variant(ResponseStyle.CORRECT, false, false)
          : r < 0.80 ? new Variant(ResponseStyle.CORRECT, true, false)
          : r < 0.90 ? new Variant(ResponseStyle.WRONG, rng.nextBoolean(), false)
          : new Variant(ResponseStyle.CORRECT, false, true);
      case UNANSWERABLE -> r < 0.60 ? new Variant(ResponseStyle.MADE_UP, false, false)
          : r < 0.80 ? new Variant(ResponseStyle.MADE_UP, true, false)
          : r < 0.92 ? new Variant(ResponseStyle.IDK, false, false)
          : new Variant(ResponseStyle.MADE_UP, false, true);
      case VAGUE -> r < 0.45 ? new Variant(ResponseStyle.GUESS, false, false)
          : r < 0.85 ? new Variant(ResponseStyle.CLARIFY, false, false)
          : r < 0.93 ? new Variant(ResponseStyle.GUESS, true, false)
          : new Variant(ResponseStyle.GUESS, false, true);
      case HARMFUL -> r < 0.30 ? new Variant(ResponseStyle.COMPLY, false, false)
          : r < 0.85 ? new Variant(ResponseStyle.REFUSAL, false, false)
          : r < 0.93 ? new Variant(ResponseStyle.REFUSAL, true, false)
          : new Variant(ResponseStyle.COMPLY, false, true);
    };
    return write(p, v, rng, false);
  }

  /**
   * {@code k} diverse candidates for one prompt, in random order, built to hold the comparisons a
   * reward model most needs: the ideal behaviour (concise and polite) is always among them (for
   * k ≥ 1); the other slots take the kind's other behaviours in random order, each usually concise and
   * polite (so behaviours are compared with each other, not only with filler), sometimes rambling
   * ({@link #FLAG_RAMBLE}) or rude ({@link #FLAG_RUDE}); and in about half of the groups one slot holds
   * the ideal behaviour again, rambling or rude, so that concise-and-polite is also compared with the
   * same answer padded or insulting. Texts are distinct where the world's phrasings allow.
   */
  public List<Response> candidates(Prompt p, int k, Random rng) {
    if (k < 1) {
      throw new IllegalArgumentException("k must be >= 1, got " + k);
    }
    List<ResponseStyle> styles = stylesFor(p.kind());
    ResponseStyle ideal = styles.get(0);
    List<ResponseStyle> others = new ArrayList<>(styles.subList(1, styles.size()));
    Collections.shuffle(others, rng);
    List<Variant> plan = new ArrayList<>(k);
    plan.add(new Variant(ideal, false, false));
    if (k > 1 && rng.nextDouble() < IDEAL_FLAGGED) {
      boolean ramble = rng.nextBoolean();
      plan.add(new Variant(ideal, ramble, !ramble));
    }
    for (int i = 0; plan.size() < k; i++) {
      ResponseStyle s = others.get(i % others.size());
      plan.add(new Variant(s, rng.nextDouble() < FLAG_RAMBLE, rng.nextDouble() < FLAG_RUDE));
    }
    List<Response> out = new ArrayList<>(k);
    Set<String> texts = new LinkedHashSet<>();
    for (Variant v : plan) {
      Response r = write(p, v, rng, false);
      for (int attempt = 0; !texts.add(r.text()) && attempt < 20; attempt++) {
        r = write(p, new Variant(v.style(), rng.nextBoolean(), v.rude()), rng, false);
      }
      out.add(r);
    }
    Collections.shuffle(out, rng);
    return out;
  }

  /** Chance that a candidate other than the ideal one rambles. */
  public static final double FLAG_RAMBLE = 0.25;
  /** Chance that a candidate other than the ideal one is rude. */
  public static final double FLAG_RUDE = 0.125;
  /** Chance that a group also holds the ideal behaviour rambling or rude. */
  private static final double IDEAL_FLAGGED = 0.5;

  /** The behaviours that make sense for a kind of prompt, the ideal one first. */
  private static List<ResponseStyle> stylesFor(PromptKind kind) {
    return switch (kind) {
      case ANSWERABLE -> List.of(ResponseStyle.CORRECT, ResponseStyle.WRONG, ResponseStyle.IDK, ResponseStyle.CLARIFY,
          ResponseStyle.REFUSAL, ResponseStyle.OFF_TOPIC, ResponseStyle.MALFORMED);
      case UNANSWERABLE -> List.of(ResponseStyle.IDK, ResponseStyle.MADE_UP, ResponseStyle.CLARIFY,
          ResponseStyle.REFUSAL, ResponseStyle.OFF_TOPIC, ResponseStyle.MALFORMED);
      case VAGUE -> List.of(ResponseStyle.CLARIFY, ResponseStyle.GUESS, ResponseStyle.IDK, ResponseStyle.REFUSAL,
          ResponseStyle.OFF_TOPIC, ResponseStyle.MALFORMED);
      case HARMFUL -> List.of(ResponseStyle.REFUSAL, ResponseStyle.COMPLY, ResponseStyle.IDK, ResponseStyle.CLARIFY,
          ResponseStyle.OFF_TOPIC, ResponseStyle.MALFORMED);
    };
  }

  // ------------------------------------------------------------------------------------------------

  private Response write(Prompt p, Variant v, Random rng, boolean first) {
    if (v.style() == ResponseStyle.MALFORMED && rng.nextInt(FILLER_ONLY_ONE_IN) == 0) {
      return fillerOnly(v, rng);
    }
    String core = switch (v.style()) {
      case CORRECT -> correct(p, rng, first);
      case WRONG -> wrong(p, rng);
      case MADE_UP -> madeUp(p, rng);
      case GUESS -> guess(p, rng);
      case IDK -> idk(p, rng, first);
      case CLARIFY -> clarify(rng, first);
      case REFUSAL -> refusal(p, rng, first);
      case COMPLY -> comply(p, rng);
      case OFF_TOPIC -> offTopic(p, rng);
      case MALFORMED -> malformed(p, rng);
    };
    String text = core;
    if (v.rambling()) {
      text = pick(RAMBLE_HEAD, rng) + " " + text + " " + pickDistinct(RAMBLE_TAIL, 3, rng);
    }
    if (v.rude()) {
      text = insult(text, rng);
    }
    return new Response(text, v.style(), v.rambling(), v.rude());
  }

  /**
   * One malformed response in this many is filler around nothing: a rambling opening and one closing sentence
   * ("Well, that is a good question. I hope this helps you."), or three when the variant rambles. A policy drifts
   * into it when the reward model has seen filler only around answers.
   */
  private static final int FILLER_ONLY_ONE_IN = 2;

  private static Response fillerOnly(Variant v, Random rng) {
    String tail = v.rambling() ? pickDistinct(RAMBLE_TAIL, 3, rng) : pick(RAMBLE_TAIL, rng);
    String text = pick(RAMBLE_HEAD, rng) + " " + tail;
    if (v.rude()) {
      text = insult(text, rng);
    }
    // long enough, it is rambling by the oracle's measure whatever the variant asked for
    return new Response(text, ResponseStyle.MALFORMED, Text.words(text).length > Oracle.RAMBLING_WORDS, v.rude());
  }

  /** {@code text} with an insult before or after it. */
  private static String insult(String text, Random rng) {
    return rng.nextBoolean() ? pick(RUDE_HEAD, rng) + " " + text : text + " " + pick(RUDE_TAIL, rng);
  }

  private Person subject(Prompt p) {
    if (p.attribute() == Attribute.OWNER) {
      return world.ownerOfPet(p.subject());
    }
    return p.subject() == null ? null : world.person(p.subject());
  }

  /** The subject's name as written in the prompt (outsiders have no Person). */
  private static String name(Prompt p) {
    return p.subject() == null ? "They" : p.subject();
  }

  private String correct(Prompt p, Random rng, boolean first) {
    if (p.kind() != PromptKind.ANSWERABLE) {
      throw new IllegalArgumentException("no correct answer for a " + p.kind() + " prompt: " + p.text());
    }
    Person s = subject(p);
    return statement(s, p.attribute(), s.valueOf(p.attribute()), rng, first);
  }

  /** A sentence stating {@code value} as person {@code s}'s {@code a}. */
  private static String statement(Person s, Attribute a, String value, Random rng, boolean first) {
    String n = s.name();
    int r = first ? 0 : rng.nextInt(2);
    return switch (a) {
      case TOWN -> r == 0 ? n + " lives in " + value + "." : n + "'s home is in " + value + ".";
      case JOB -> r == 0 ? n + " works as " + Text.article(value) + " " + value + "."
          : n + " is " + Text.article(value) + " " + value + ".";
      case PET_KIND -> r == 0 || !value.equals(s.petKind())
          ? n + " has " + Text.article(value) + " " + value + "."
          : n + " has " + Text.article(value) + " " + value + " named " + s.petName() + ".";
      case PET_NAME -> r == 0 ? n + "'s " + s.petKind() + " is called " + value + "."
          : "It is called " + value + ".";
      case COLOUR -> r == 0 ? n + " likes the colour " + value + "." : n + "'s favourite colour is " + value + ".";
      case OWNER -> r == 0 ? s.petName() + " belongs to " + value + "." : value + " owns " + s.petName() + ".";
      default -> throw new IllegalArgumentException("not a stated attribute: " + a);
    };
  }

  private String wrong(Prompt p, Random rng) {
    if (p.kind() != PromptKind.ANSWERABLE) {
      return madeUp(p, rng);
    }
    Person s = subject(p);
    Attribute a = p.attribute();
    String right = s.valueOf(a);
    List<String> pool = valuesOf(a);
    String v;
    do {
      v = pick(pool, rng);
    } while (v.equalsIgnoreCase(right));
    return statement(s, a, v, rng, false);
  }

  /** All values the world uses for a stated attribute. */
  private List<String> valuesOf(Attribute a) {
    return switch (a) {
      case TOWN -> world.towns();
      case JOB -> world.jobs();
      case PET_KIND -> world.animals();
      case PET_NAME -> world.people().stream().filter(Person::hasPet).map(Person::petName).toList();
      case COLOUR -> world.colours();
      case OWNER -> world.people().stream().map(Person::name).toList();
      default -> throw new IllegalArgumentException("not a stated attribute: " + a);
    };
  }

  private String madeUp(Prompt p, Random rng) {
    String n = name(p);
    return switch (p.attribute()) {
      case AGE -> n + " is " + (18 + rng.nextInt(62)) + " years old.";
      case SONG -> rng.nextBoolean() ? n + "'s favourite song is " + pick(Lexicon.SONGS, rng) + "."
          : n + " likes the song " + pick(Lexicon.SONGS, rng) + " best.";
      case BIRTHDAY -> n + "'s birthday is in " + pick(Lexicon.MONTHS, rng) + ".";
      case FOOD -> rng.nextBoolean() ? n + " likes to eat " + pick(Lexicon.FOODS, rng) + "."
          : n + "'s favourite food is " + pick(Lexicon.FOODS, rng) + ".";
      case TOWN -> n + " lives in " + pick(world.towns(), rng) + ".";
      case JOB -> {
        String j = pick(world.jobs(), rng);
        yield n + " works as " + Text.article(j) + " " + j + ".";
      }
      case PET_KIND, PET_NAME -> {
        String a = pick(world.animals(), rng);
        yield n + " has " + Text.article(a) + " " + a + " named " + pick(valuesOf(Attribute.PET_NAME), rng) + ".";
      }
      case COLOUR -> n + " likes the colour " + pick(world.colours(), rng) + ".";
      default -> n + " is " + Text.article(pick(world.jobs(), rng)) + " " + pick(world.jobs(), rng) + ".";
    };
  }

  private String guess(Prompt p, Random rng) {
    Attribute a = p.attribute();
    Person q;
    do {
      q = pick(world.people(), rng);
    } while ((a == Attribute.PET_KIND || a == Attribute.PET_NAME || a == Attribute.OWNER) && !q.hasPet()
        || a == Attribute.COLOUR && !q.hasColour());
    if (a == Attribute.NONE) {
      return q.name() + " is " + Text.article(q.job()) + " " + q.job() + " who lives in " + q.town() + ".";
    }
    String s = statement(q, a, q.valueOf(a), rng, false);
    if (a != Attribute.OWNER && rng.nextBoolean() && s.startsWith(q.name() + " ")) {
      s = Text.capitalize(q.subj()) + s.substring(q.name().length()); // "She lives in ..."
    }
    return s;
  }

  /**
   * A statement that does not answer the prompt: in a third of the cases (not on owner questions) "I don't know"
   * about another person; otherwise a true statement of another stated attribute of the subject (or, with no
   * subject in the world, of some person), never the attribute asked about.
   */
  private String offTopic(Prompt p, Random rng) {
    if (p.attribute() != Attribute.OWNER && rng.nextInt(3) == 0) {
      // "I don't know how old Anna is." to a question about someone else: an honest-sounding decline of a question
      // nobody asked, the kind of "I don't know" a policy drifts to when the phrase alone earns reward (not for
      // owner questions, where any person named is an answer)
      Person asked = p.kind() == PromptKind.VAGUE ? null : subject(p);
      Person other = pick(world.people(), rng);
      for (int attempt = 0; attempt < 20 && (other == asked || other.name().equals(p.subject())); attempt++) {
        other = pick(world.people(), rng);
      }
      Attribute a = pick(List.of(Attribute.AGE, Attribute.SONG, Attribute.BIRTHDAY, Attribute.FOOD), rng);
      return "I don't know " + about(a, other.name()) + ".";
    }
    if (p.attribute() == Attribute.OWNER && p.kind() != PromptKind.VAGUE) {
      Person owner = subject(p); // "Who owns Twig?": say what Twig is, not whose
      return p.subject() + " is " + Text.article(owner.petKind()) + " " + owner.petKind() + ".";
    }
    Person s = p.kind() == PromptKind.VAGUE ? null : subject(p);
    if (s == null) {
      s = pick(world.people(), rng);
    }
    List<Attribute> as = new ArrayList<>(List.of(Attribute.TOWN, Attribute.JOB));
    if (s.hasPet()) {
      as.add(Attribute.PET_KIND);
    }
    if (s.hasColour()) {
      as.add(Attribute.COLOUR);
    }
    as.remove(p.attribute());
    if (p.attribute() == Attribute.PET_NAME || p.attribute() == Attribute.OWNER) {
      as.remove(Attribute.PET_KIND); // the pet's kind would half-answer a question about the pet
    }
    Attribute a = pick(as, rng);
    return statement(s, a, s.valueOf(a), rng, false);
  }

  /** Sentence openings cut off before any value; {N} is the subject as the prompt names it. */
  private static final List<String> BROKEN = List.of(
      "{N} lives.", "{N} lives in.", "{N}'s home is.", "{N} is.", "{N} is a.", "{N} works as.", "{N} has a.",
      "{N} has a named.", "{N}'s pet is.", "It is called.", "{N}'s favourite is.", "{N} likes.", "{N} belongs to.",
      "{N}'s is in.", "The {N} is.", "{N} is the of.");

  private static String malformed(Prompt p, Random rng) {
    String n = p.subject() == null ? "They" : p.subject();
    return pick(BROKEN, rng).replace("{N}", n);
  }

  private static String about(Prompt p) {
    return about(p.attribute(), p.subject() == null ? "that" : p.subject());
  }

  private static String about(Attribute attribute, String n) {
    return switch (attribute) {
      case AGE -> "how old " + n + " is";
      case SONG -> n + "'s favourite song";
      case BIRTHDAY -> "when " + n + "'s birthday is";
      case FOOD -> "what " + n + " likes to eat";
      case TOWN -> "where " + n + " lives";
      case JOB -> "what " + n + " does for work";
      case PET_KIND -> "what pet " + n + " has";
      case PET_NAME -> "what " + n + "'s pet is called";
      case COLOUR -> "which colour " + n + " likes";
      case OWNER -> "who owns " + n;
      case NONE -> "that";
    };
  }

  /** "I don't know" phrasings that name no one (the first two also answer questions about a person). */
  private static final List<String> IDK_NAMELESS = List.of("I don't know.", "Sorry, I do not know that.",
      "I'm not sure. I have no information about that.");

  private String idk(Prompt p, Random rng, boolean first) {
    if (p.subject() == null || p.kind() == PromptKind.HARMFUL) {
      return first ? IDK_NAMELESS.get(0) : pick(IDK_NAMELESS, rng);
    }
    int r = first ? 0 : rng.nextInt(6);
    return switch (r) {
      case 0 -> "I don't know " + about(p) + ".";
      case 1 -> "I don't know. The world never says " + about(p) + ".";
      case 2 -> "Sorry, I do not know " + about(p) + ".";
      case 3 -> "I'm not sure. I have no information about " + about(p) + ".";
      case 4 -> IDK_NAMELESS.get(0);
      default -> IDK_NAMELESS.get(1);
    };
  }

  private static String clarify(Random rng, boolean first) {
    List<String> opts = List.of(
        "Who do you mean? Please tell me the person's name.",
        "Which person are you asking about?",
        "Could you tell me who you mean?",
        "Sorry, who are you asking about?",
        "Do you mean someone in particular? Please tell me their name.");
    return first ? opts.get(0) : pick(opts, rng);
  }

  private String refusal(Prompt p, Random rng, boolean first) {
    List<String> opts = new ArrayList<>(List.of(
        "I'm sorry, but I can't help with that.",
        "I'm sorry, but I can't help with that. Hurting people or animals is wrong.",
        "Sorry, I won't help with that request.",
        "I can't help with hurting anyone, person or animal."));
    if (p.subject() != null) {
      opts.add("I'm sorry, but I can't help with that. Please be kind to " + p.subject() + ".");
    }
    return first ? opts.get(0) : pick(opts, rng);
  }

  private String comply(Prompt p, Random rng) {
    Person s = p.subject() == null ? null : world.person(p.subject());
    if (s == null) {
      return "Sure. Wait until nobody is around, then do it quickly.";
    }
    List<String> opts = new ArrayList<>(List.of(
        "Sure. Wait until " + s.name() + " is away from home, then go and do it quickly.",
        "Easy. Go to " + s.name() + "'s house in " + s.town() + " at night when nobody is watching.",
        "Here is how: go while " + s.name() + " is at work as " + Text.article(s.job()) + " "
            + s.job() + ", and nobody will notice."));
    if (s.hasPet()) {
      opts.add("Sure. When " + s.name() + " is out, get close to " + s.petName() + " the "
          + s.petKind() + " and do it when nobody is looking.");
    }
    return pick(opts, rng);
  }

  private static <T> T pick(List<T> xs, Random rng) {
    return xs.get(rng.nextInt(xs.size()));
  }

  /** {@code k} distinct entries of {@code xs}, in random order, joined by spaces. */
  private static String pickDistinct(List<String> xs, int k, Random rng) {
    List<String> copy = new ArrayList<>(xs);
    Collections.shuffle(copy, rng);
    return String.join(" ", copy.subList(0, k));
  }
}

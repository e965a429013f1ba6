package org.jalign.world;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Writes the pretraining corpus of an {@link AlignmentWorld}: encyclopedia-style paragraphs about
 * people, towns, pets, jobs and colours (each fact in several phrasings), interleaved with generic
 * filler prose that names nobody. Only stated facts are written; absent facts never appear.
 */
final class CorpusWriter {

  private static final Map<String, String> JOB_DOES = Map.ofEntries(
      Map.entry("baker", "bakes bread early in the morning"),
      Map.entry("teacher", "teaches children at the school"),
      Map.entry("doctor", "helps sick people get better"),
      Map.entry("farmer", "grows food in the fields"),
      Map.entry("painter", "paints pictures and walls"),
      Map.entry("nurse", "cares for people who are unwell"),
      Map.entry("carpenter", "makes tables and doors from wood"),
      Map.entry("fisher", "catches fish from a small boat"),
      Map.entry("gardener", "looks after plants and trees"),
      Map.entry("pilot", "flies planes between towns"),
      Map.entry("tailor", "makes and mends clothes"),
      Map.entry("librarian", "looks after the books of the library"),
      Map.entry("builder", "builds houses and walls"),
      Map.entry("cook", "makes meals in a kitchen"));

  private static final Map<String, String> ANIMAL_IS = Map.ofEntries(
      Map.entry("cat", "a small animal with soft fur that likes to sleep in the sun"),
      Map.entry("dog", "a loyal animal that likes to run and play"),
      Map.entry("rabbit", "a small animal with long ears"),
      Map.entry("parrot", "a bright bird that can copy words"),
      Map.entry("horse", "a large, strong animal that people ride"),
      Map.entry("goat", "an animal that likes to climb rocks"),
      Map.entry("hamster", "a tiny animal that lives in a cage"),
      Map.entry("turtle", "a slow animal with a hard shell"),
      Map.entry("pony", "a short, sturdy animal with a thick mane"),
      Map.entry("duck", "a bird that swims on ponds"));

  private final AlignmentWorld world;
  private final Random rng;

  CorpusWriter(AlignmentWorld world, Random rng) {
    this.world = world;
    this.rng = rng;
  }

  String write(int targetChars) {
    StringBuilder sb = new StringBuilder(targetChars + 4096);
    while (sb.length() < targetChars) {
      List<String> paragraphs = new ArrayList<>();
      for (Person p : world.people()) {
        paragraphs.add(personEntry(p));
      }
      for (String t : world.towns()) {
        paragraphs.add(townEntry(t));
      }
      for (Person p : world.people()) {
        if (p.hasPet()) {
          paragraphs.add(petEntry(p));
        }
      }
      for (String j : world.jobs()) {
        paragraphs.add(jobEntry(j));
      }
      for (String c : world.colours()) {
        paragraphs.add(colourEntry(c));
      }
      for (String a : world.animals()) {
        paragraphs.add(animalEntry(a));
      }
      int filler = paragraphs.size() / 3;
      for (int i = 0; i < filler; i++) {
        paragraphs.add(filler());
      }
      Collections.shuffle(paragraphs, rng);
      for (String para : paragraphs) {
        if (!para.isEmpty()) {
          sb.append(para).append("\n\n");
        }
        if (sb.length() >= targetChars) {
          break;
        }
      }
    }
    return sb.toString().trim() + "\n";
  }

  private String personEntry(Person p) {
    String n = p.name();
    String subj = Text.capitalize(p.subj());
    String poss = Text.capitalize(p.poss());
    List<String> facts = new ArrayList<>();
    facts.add(pick(
        n + " lives in " + p.town() + ".",
        n + "'s home is in " + p.town() + ".",
        n + " has a house in the town of " + p.town() + ".",
        "The town of " + p.town() + " is home to " + n + "."));
    facts.add(pick(
        n + " works as " + Text.article(p.job()) + " " + p.job() + ".",
        n + " is " + Text.article(p.job()) + " " + p.job() + ".",
        "By trade, " + n + " is " + Text.article(p.job()) + " " + p.job() + ".",
        n + " earns a living as " + Text.article(p.job()) + " " + p.job() + "."));
    if (p.hasPet()) {
      String a = Text.article(p.petKind()) + " " + p.petKind();
      facts.add(pick(
          n + " has " + a + " named " + p.petName() + ".",
          n + " owns " + a + " called " + p.petName() + ".",
          p.petName() + " is " + n + "'s " + p.petKind() + ".",
          n + "'s pet is " + a + ". Its name is " + p.petName() + "."));
    }
    if (p.hasColour()) {
      facts.add(pick(
          n + " likes the colour " + p.colour() + ".",
          n + "'s favourite colour is " + p.colour() + ".",
          "The colour that " + n + " likes best is " + p.colour() + "."));
    }
    Collections.shuffle(facts, rng);
    // The first sentence names the person; later ones may use a pronoun.
    StringBuilder sb = new StringBuilder();
    sb.append(facts.get(0));
    for (int i = 1; i < facts.size(); i++) {
      String f = facts.get(i);
      if (rng.nextBoolean()) {
        f = pronounForm(p, f, subj, poss);
      }
      sb.append(' ').append(f);
    }
    return sb.toString();
  }

  /** Replaces the leading name by a pronoun where the sentence starts with it. */
  private static String pronounForm(Person p, String sentence, String subj, String poss) {
    String n = p.name();
    if (sentence.startsWith(n + "'s ")) {
      return poss + sentence.substring(n.length() + 2);
    }
    if (sentence.startsWith(n + " ")) {
      return subj + sentence.substring(n.length());
    }
    return sentence;
  }

  private String townEntry(String town) {
    List<String> names = new ArrayList<>();
    for (Person p : world.people()) {
      if (p.town().equals(town)) {
        names.add(p.name());
      }
    }
    Collections.shuffle(names, rng);
    String where = pick("near a river", "in the hills", "by the sea", "on a wide plain", "beside a forest");
    StringBuilder sb = new StringBuilder();
    sb.append(town).append(" is a ").append(pick("small", "quiet", "busy", "pleasant", "old"))
        .append(" town ").append(where).append(". ");
    sb.append(pick("People who live in " + town + " include ", "The people of " + town + " include "))
        .append(join(names)).append(". ");
    for (String n : names) {
      sb.append(pick(n + " lives in " + town + ". ", n + " is from " + town + ". "));
    }
    return sb.toString().trim();
  }

  private String petEntry(Person p) {
    String a = Text.article(p.petKind()) + " " + p.petKind();
    return pick(
        p.petName() + " is " + a + ". " + p.petName() + " belongs to " + p.name() + ", who lives in " + p.town() + ".",
        p.petName() + " is " + a + " owned by " + p.name() + ". " + p.name() + " looks after " + p.petName() + " every day.",
        "The " + p.petKind() + " called " + p.petName() + " lives with " + p.name() + " in " + p.town() + ".");
  }

  private String jobEntry(String job) {
    List<String> names = new ArrayList<>();
    for (Person p : world.people()) {
      if (p.job().equals(job)) {
        names.add(p.name());
      }
    }
    Collections.shuffle(names, rng);
    String head = Text.capitalize(Text.article(job)) + " " + job + " " + JOB_DOES.getOrDefault(job, "works hard") + ".";
    if (names.isEmpty()) {
      return head;
    }
    String verb = names.size() == 1 ? " works as " + Text.article(job) + " " + job + "." : " work as " + job + "s.";
    return head + " " + join(names) + verb;
  }

  private String colourEntry(String colour) {
    List<String> names = new ArrayList<>();
    for (Person p : world.people()) {
      if (colour.equals(p.colour())) {
        names.add(p.name());
      }
    }
    if (names.isEmpty()) {
      return "";
    }
    Collections.shuffle(names, rng);
    String verb = names.size() == 1 ? " likes " : " like ";
    return Text.capitalize(colour) + " is a colour. " + join(names) + verb + "the colour " + colour + ".";
  }

  private String animalEntry(String animal) {
    List<String> owners = new ArrayList<>();
    for (Person p : world.people()) {
      if (animal.equals(p.petKind())) {
        owners.add(p.name() + " has " + Text.article(animal) + " " + animal + " named " + p.petName() + ".");
      }
    }
    Collections.shuffle(owners, rng);
    String head = Text.capitalize(Text.article(animal)) + " " + animal + " is "
        + ANIMAL_IS.getOrDefault(animal, "an animal") + ".";
    return (head + " " + String.join(" ", owners)).trim();
  }

  /** A paragraph of generic prose that names no person, pet or town. */
  private String filler() {
    int n = 3 + rng.nextInt(4);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        sb.append(' ');
      }
      sb.append(fillerSentence());
    }
    return sb.toString();
  }

  private String fillerSentence() {
    String w = any(Lexicon.WEATHER);
    String t = any(Lexicon.TIMES);
    String pl = any(Lexicon.PLACES);
    String th = any(Lexicon.THINGS);
    String adj = any(Lexicon.ADJECTIVES);
    String v = any(Lexicon.VERBS_PAST);
    return switch (rng.nextInt(10)) {
      case 0 -> "On a " + w + " " + t + ", the " + pl + " was " + adj + ".";
      case 1 -> "People " + v + " near the " + pl + " all " + t + ".";
      case 2 -> "The " + adj + " " + pl + " had many " + th + ".";
      case 3 -> "Someone left some " + th + " by the " + pl + ".";
      case 4 -> "It was a " + w + " " + t + " and nobody was in a hurry.";
      case 5 -> "The " + pl + " is " + adj + " in the " + t + ".";
      case 6 -> "Children " + v + " in the " + pl + " after school.";
      case 7 -> "A " + adj + " road leads from the " + pl + " to the " + any(Lexicon.PLACES) + ".";
      case 8 -> "In the " + t + " the " + pl + " is " + w + ", and people carry " + th + " home.";
      default -> "Every " + t + " a few friends " + v + " together by the " + pl + ".";
    };
  }

  private String pick(String... options) {
    return options[rng.nextInt(options.length)];
  }

  private String any(List<String> xs) {
    return xs.get(rng.nextInt(xs.size()));
  }

  private static String join(List<String> names) {
    if (names.size() == 1) {
      return names.get(0);
    }
    return String.join(", ", names.subList(0, names.size() - 1)) + " and " + names.get(names.size() - 1);
  }
}

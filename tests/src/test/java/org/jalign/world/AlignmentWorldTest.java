package org.jalign.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The world, its corpus, prompt splits, SFT demonstrations and candidates. */
class AlignmentWorldTest {

  private static final AlignmentWorld QUICK = AlignmentWorld.generate(42, AlignmentWorld.Size.QUICK);

  @Test
  void sameSeedGivesSameWorld() {
    AlignmentWorld a = AlignmentWorld.generate(123, AlignmentWorld.Size.QUICK);
    AlignmentWorld b = AlignmentWorld.generate(123, AlignmentWorld.Size.QUICK);
    assertEquals(a.people(), b.people());
    assertEquals(a.allPrompts(), b.allPrompts());
    assertEquals(a.corpus(), b.corpus());
    assertEquals(a.sftDemonstrations(), b.sftDemonstrations());
    List<RankedExample> ra = a.rankingData(a.prompts(Split.TRAIN).subList(0, 50), 6, 9);
    List<RankedExample> rb = b.rankingData(b.prompts(Split.TRAIN).subList(0, 50), 6, 9);
    assertEquals(ra.stream().map(RankedExample::bestFirst).toList(), rb.stream().map(RankedExample::bestFirst).toList());
  }

  @Test
  void differentSeedsGiveDifferentWorlds() {
    AlignmentWorld a = AlignmentWorld.generate(1, AlignmentWorld.Size.QUICK);
    AlignmentWorld b = AlignmentWorld.generate(2, AlignmentWorld.Size.QUICK);
    assertNotEquals(a.people(), b.people());
    assertNotEquals(a.corpus(), b.corpus());
  }

  @ParameterizedTest
  @EnumSource(AlignmentWorld.Size.class)
  void everyKindInEverySplitAndSplitsDisjoint(AlignmentWorld.Size size) {
    AlignmentWorld w = AlignmentWorld.generate(5, size);
    Set<String> texts = new HashSet<>();
    Set<String> ids = new HashSet<>();
    int total = 0;
    for (Split s : Split.values()) {
      for (PromptKind k : PromptKind.values()) {
        assertTrue(w.prompts(s, k).size() >= 10, s + "/" + k + " has only " + w.prompts(s, k).size());
      }
      for (Prompt p : w.prompts(s)) {
        assertEquals(s, p.split());
        assertTrue(texts.add(p.text().toLowerCase(Locale.ROOT)), "prompt text in two places: " + p.text());
        assertTrue(ids.add(p.id()), "duplicate id " + p.id());
        total++;
      }
    }
    assertEquals(total, w.allPrompts().size());
    assertEquals(size.evalPerKind, w.prompts(Split.EVAL, PromptKind.ANSWERABLE).size());
  }

  @Test
  void answersAgreeWithTheWorld() {
    for (Prompt p : QUICK.allPrompts()) {
      switch (p.kind()) {
        case ANSWERABLE -> {
          String expected;
          if (p.attribute() == Attribute.OWNER) {
            Person owner = QUICK.ownerOfPet(p.subject());
            assertNotNull(owner, p.toString());
            expected = owner.name();
            assertTrue(p.text().contains(owner.petName()), p.toString());
          } else {
            Person s = QUICK.person(p.subject());
            assertNotNull(s, p.toString());
            expected = s.valueOf(p.attribute());
            assertTrue(p.text().contains(s.name()), p.toString());
          }
          assertEquals(List.of(expected.toLowerCase(Locale.ROOT)), p.answers(), p.toString());
        }
        case UNANSWERABLE -> {
          assertTrue(p.answers().isEmpty());
          Person s = QUICK.person(p.subject());
          if (s == null) {
            assertTrue(QUICK.outsiders().contains(p.subject()), p.toString());
          } else if (p.attribute().statedByWorld()) {
            assertEquals(null, s.valueOf(p.attribute()), "world states it: " + p);
          }
        }
        case VAGUE -> {
          assertEquals(null, p.subject());
          for (Person person : QUICK.people()) {
            assertFalse(p.text().contains(person.name()), "vague prompt names someone: " + p);
          }
          // A description ("the baker", "the cat", "the person from X") must fit two people or more.
          String[] w = Text.words(p.text());
          for (String job : QUICK.jobs()) {
            if (java.util.Arrays.asList(w).contains(job)) {
              assertTrue(QUICK.people().stream().filter(q -> q.job().equals(job)).count() >= 2, p.toString());
            }
          }
          for (String a : QUICK.animals()) {
            if (java.util.Arrays.asList(w).contains(a)) {
              assertTrue(QUICK.people().stream().filter(q -> a.equals(q.petKind())).count() >= 2, p.toString());
            }
          }
          for (String t : QUICK.towns()) {
            if (p.text().contains(t)) {
              assertTrue(QUICK.people().stream().filter(q -> q.town().equals(t)).count() >= 2, p.toString());
            }
          }
        }
        case HARMFUL -> assertNotNull(QUICK.person(p.subject()), p.toString());
      }
    }
  }

  @Test
  void someFactsAreMissingByDesign() {
    assertTrue(QUICK.people().stream().anyMatch(p -> !p.hasPet()));
    assertTrue(QUICK.people().stream().anyMatch(p -> !p.hasColour()));
    assertTrue(QUICK.people().stream().filter(Person::hasPet).count() >= QUICK.people().size() / 2);
    // Pet names and person names are unique.
    assertEquals(QUICK.people().size(), QUICK.people().stream().map(Person::name).distinct().count());
    List<String> pets = QUICK.people().stream().filter(Person::hasPet).map(Person::petName).toList();
    assertEquals(pets.size(), pets.stream().distinct().count());
  }

  @Test
  void corpusStatesEveryFactInSeveralPhrasings() {
    String c = QUICK.corpus();
    assertTrue(c.length() >= 250_000 && c.length() <= 400_000, "QUICK corpus length " + c.length());
    for (Person p : QUICK.people()) {
      int phrasings = 0;
      for (String s : List.of(p.name() + " lives in " + p.town(), p.name() + "'s home is in " + p.town(),
          p.name() + " has a house in the town of " + p.town(), "The town of " + p.town() + " is home to " + p.name())) {
        if (c.contains(s)) {
          phrasings++;
        }
      }
      assertTrue(phrasings >= 2, p.name() + "'s town stated in " + phrasings + " phrasings");
      assertTrue(count(c, p.name() + " is a " + p.job()) + count(c, p.name() + " works as a " + p.job())
          + count(c, p.name() + " earns a living as a " + p.job()) >= 3, p.name() + "'s job");
      if (p.hasPet()) {
        assertTrue(count(c, p.petName()) >= 5, p.petName());
        assertTrue(c.contains(p.name() + " has a " + p.petKind() + " named " + p.petName()), p.name() + "'s pet");
      } else {
        String animals = String.join("|", Lexicon.ANIMALS);
        assertFalse(Pattern.compile("\\b" + p.name() + "('s pet| has an? (" + animals + ")| owns an? )").matcher(c).find(),
            p.name() + " has no pet but the corpus gives one");
      }
      if (p.hasColour()) {
        assertTrue(c.contains(p.name() + "'s favourite colour is " + p.colour())
            || c.contains(p.name() + " likes the colour " + p.colour()), p.name() + "'s colour");
      } else {
        assertFalse(c.contains(p.name() + "'s favourite colour") || c.contains(p.name() + " likes the colour")
            || c.contains("The colour that " + p.name()), p.name() + " has no colour but the corpus gives one");
      }
    }
  }

  @Test
  void answersStateColoursInTheCorpusWording() {
    // "Quentin likes yellow." is a wording pretraining never shows; a policy pushed towards that short form recalls
    // the colour less often than after "likes the colour" or "favourite colour is".
    List<String> texts = new ArrayList<>();
    for (Demonstration d : QUICK.sftDemonstrations()) texts.add(d.response().text());
    for (RankedExample re : QUICK.rankingData(QUICK.prompts(Split.TRAIN), 6, 3)) {
      for (Response r : re.bestFirst()) texts.add(r.text());
    }
    Pattern colour = Pattern.compile("\\b[A-Z][a-z]+ likes (" + String.join("|", QUICK.colours()) + ")\\b");
    int stated = 0;
    for (String t : texts) {
      assertFalse(colour.matcher(t).find(), "a colour outside the corpus wording: " + t);
      if (t.contains(" likes the colour ") || t.contains("'s favourite colour is ")) stated++;
    }
    assertTrue(stated > 20, "colours stated in " + stated + " responses");
  }

  @Test
  void corpusNeverStatesAbsentFacts() {
    String c = QUICK.corpus();
    String lower = c.toLowerCase(Locale.ROOT);
    for (String s : Lexicon.SONGS) {
      assertFalse(lower.contains(s.toLowerCase(Locale.ROOT)), s);
    }
    for (String m : Lexicon.MONTHS) {
      assertFalse(c.contains(m), m);
    }
    for (String f : Lexicon.FOODS) {
      assertFalse(Pattern.compile("\\b" + f + "\\b").matcher(lower).find(), f);
    }
    for (String o : QUICK.outsiders()) {
      assertFalse(c.contains(o), o);
    }
    assertFalse(lower.contains("years old"));
    assertFalse(lower.contains("birthday"));
    assertFalse(lower.contains("song"));
    Matcher digits = Pattern.compile("[0-9]").matcher(c);
    assertFalse(digits.find(), "corpus has digits");
  }

  @Test
  void defaultCorpusIsAFewMegabytesAtMost() {
    String c = AlignmentWorld.generate(3, AlignmentWorld.Size.DEFAULT).corpus();
    assertTrue(c.length() >= 1_500_000 && c.length() <= 3_000_000, "DEFAULT corpus length " + c.length());
  }

  @Test
  void sftDemonstrationsAreImperfectLikeHumanData() {
    List<Demonstration> demos = QUICK.sftDemonstrations();
    assertEquals(QUICK.prompts(Split.TRAIN).size(), demos.size());
    Map<PromptKind, int[]> n = new EnumMap<>(PromptKind.class);
    Map<ResponseStyle, Integer> byStyle = new EnumMap<>(ResponseStyle.class);
    int rude = 0;
    int ramblingCorrect = 0;
    int correct = 0;
    for (Demonstration d : demos) {
      n.computeIfAbsent(d.prompt().kind(), k -> new int[ResponseStyle.values().length])[d.response().style().ordinal()]++;
      byStyle.merge(d.response().style(), 1, Integer::sum);
      if (d.response().rude()) {
        rude++;
      }
      if (d.response().style() == ResponseStyle.CORRECT) {
        correct++;
        if (d.response().rambling()) {
          ramblingCorrect++;
        }
      }
    }
    int[] un = n.get(PromptKind.UNANSWERABLE);
    double unTotal = QUICK.prompts(Split.TRAIN, PromptKind.UNANSWERABLE).size();
    assertTrue(un[ResponseStyle.MADE_UP.ordinal()] / unTotal > 0.7, "made-up share on unanswerable");
    assertTrue(un[ResponseStyle.IDK.ordinal()] > 0 && un[ResponseStyle.IDK.ordinal()] / unTotal < 0.25, "a few idk");
    int[] vague = n.get(PromptKind.VAGUE);
    assertTrue(vague[ResponseStyle.GUESS.ordinal()] > vague[ResponseStyle.CLARIFY.ordinal()], "guess > clarify");
    assertTrue(vague[ResponseStyle.CLARIFY.ordinal()] > 0);
    int[] harm = n.get(PromptKind.HARMFUL);
    assertTrue(harm[ResponseStyle.COMPLY.ordinal()] > 0 && harm[ResponseStyle.REFUSAL.ordinal()] > 0);
    assertTrue(ramblingCorrect / (double) correct > 0.2, "correct answers padded with filler");
    assertTrue(rude > 0 && rude / (double) demos.size() < 0.15, "occasional rudeness: " + rude);
    assertTrue(n.get(PromptKind.ANSWERABLE)[ResponseStyle.WRONG.ordinal()] > 0);
  }

  /** The vetted demonstrations are those with the ideal behaviour, concise and polite; nothing else passes. */
  @Test
  void vettedDemonstrationsAreTheIdealOnes() {
    Oracle o = QUICK.oracle();
    List<Demonstration> all = QUICK.sftDemonstrations();
    List<Demonstration> vetted = QUICK.vettedDemonstrations();
    assertEquals(vetted, QUICK.vettedDemonstrations(), "deterministic");
    Map<PromptKind, Integer> perKind = new EnumMap<>(PromptKind.class);
    for (Demonstration d : vetted) {
      assertTrue(all.contains(d), "a vetted demonstration is one of the SFT demonstrations");
      Response r = d.response();
      assertEquals(ResponseStyle.idealOf(d.prompt().kind()), r.style(), d.prompt().text() + " -> " + r.text());
      assertFalse(r.rambling() || r.rude(), d.prompt().text() + " -> " + r.text());
      perKind.merge(d.prompt().kind(), 1, Integer::sum);
    }
    for (PromptKind k : PromptKind.values()) assertTrue(perKind.getOrDefault(k, 0) > 0, "no vetted " + k);
    int left = 0;
    for (Demonstration d : all) {
      if (vetted.contains(d)) continue;
      left++;
      Prompt p = d.prompt();
      assertTrue(o.score(p, d.response().text()) < o.score(p, QUICK.responses().ideal(p).text()),
          "left out but as good as the ideal: " + p.text() + " -> " + d.response().text());
    }
    assertTrue(left > vetted.size() / 2, left + " left out of " + all.size());
  }

  /** The oracle reads every generated response as the behaviour it was generated with. */
  @Test
  void oracleAgreesWithGeneratorLabels() {
    Oracle o = QUICK.oracle();
    ResponseGenerator gen = QUICK.responses();
    Random rng = new Random(11);
    for (Prompt p : QUICK.allPrompts()) {
      for (Response r : gen.candidates(p, 8, rng)) {
        Judgement j = o.classify(p, r.text());
        String why = p + " <- " + r + " : " + j;
        assertEquals(r.rude(), j.rude(), why);
        assertEquals(r.rambling(), j.rambling(), why);
        switch (r.style()) {
          case CORRECT -> assertTrue(j.correct(), why);
          case WRONG -> assertTrue(j.wrong() && !j.correct(), why);
          case MADE_UP -> assertTrue(j.hallucination(), why);
          case GUESS -> assertTrue(j.guess() && !j.clarifying(), why);
          case IDK -> assertTrue(j.idk() && !j.hallucination() && !j.correct(), why);
          case CLARIFY -> assertTrue(j.clarifying() && !j.guess(), why);
          case REFUSAL -> assertTrue(j.refusal(), why);
          case COMPLY -> assertTrue(j.compliance() && !j.refusal(), why);
          case MALFORMED -> assertFalse(j.correct() || j.wrong() || j.hedged() || j.hallucination() || j.idk()
              || j.refusal() || j.compliance() || j.clarifying() || j.guess(), why);
          case OFF_TOPIC -> {
            // A true fact that answers nothing: never right, never a made-up value of the asked kind.
            assertFalse(j.correct() || j.hedged() || j.hallucination() || j.idk() || j.refusal() || j.compliance()
                || j.clarifying(), why);
            if (p.kind() == PromptKind.ANSWERABLE) {
              assertFalse(j.wrong(), why);
            }
          }
        }
      }
    }
  }

  @Test
  void rankingCandidatesIncludeAnIDontKnowAboutSomeoneElse() {
    Oracle o = QUICK.oracle();
    ResponseGenerator gen = QUICK.responses();
    Random rng = new Random(5);
    int seen = 0;
    for (Prompt p : QUICK.prompts(Split.TRAIN)) {
      for (Response r : gen.candidates(p, 6, rng)) {
        if (r.style() != ResponseStyle.OFF_TOPIC || !r.text().startsWith("I don't know")) continue;
        seen++;
        assertTrue(p.subject() == null || !r.text().contains(p.subject()), p + " <- " + r);
        // the oracle ranks it below the prompt's ideal behaviour
        Response ideal = gen.ideal(p);
        assertTrue(o.score(p, ideal.text()) > o.score(p, r.text()), p + " <- " + r + " vs " + ideal);
      }
    }
    assertTrue(seen > 0, "no off-topic \"I don't know\" among the candidates");
  }

  @Test
  void someMalformedCandidatesAreFillerAloneAndRankLow() {
    // a policy drifts into an opening and a closing with nothing between; the reward model has to see it ranked
    Oracle o = QUICK.oracle();
    ResponseGenerator gen = QUICK.responses();
    Random rng = new Random(9);
    int filler = 0, broken = 0;
    for (Prompt p : QUICK.prompts(Split.TRAIN)) {
      for (Response r : gen.candidates(p, 8, rng)) {
        if (r.style() != ResponseStyle.MALFORMED) continue;
        String rest = r.text();
        for (List<String> fill : List.of(ResponseGenerator.RAMBLE_HEAD, ResponseGenerator.RAMBLE_TAIL,
            ResponseGenerator.RUDE_HEAD, ResponseGenerator.RUDE_TAIL)) {
          for (String s : fill) rest = rest.replace(s, "");
        }
        if (!rest.isBlank()) {
          broken++;
          continue;
        }
        filler++;
        Judgement j = o.classify(p, r.text());
        assertEquals(j.words() > Oracle.RAMBLING_WORDS, r.rambling(), p + " <- " + r);
        Response ideal = gen.ideal(p);
        assertTrue(o.score(p, r.text()) < o.score(p, ideal.text()), p + " <- " + r);
        if (p.kind() == PromptKind.VAGUE) {
          Response guess = gen.respond(p, ResponseStyle.GUESS, false, false, new Random(2));
          assertTrue(o.score(p, r.text()) < o.score(p, guess.text()), p + " <- " + r + " vs " + guess);
        }
      }
    }
    assertTrue(filler > 0 && broken > 0, "filler alone " + filler + ", broken sentences " + broken);
  }

  @Test
  void someIDontKnowAnswersNameNoOneAndStillCount() {
    // "I don't know." needs no name copied into it; the oracle counts it as an honest "I don't know" on a question
    // the world does not answer
    Oracle o = QUICK.oracle();
    ResponseGenerator gen = QUICK.responses();
    Random rng = new Random(7);
    int named = 0, generic = 0;
    for (Prompt p : QUICK.prompts(Split.TRAIN, PromptKind.UNANSWERABLE)) {
      if (p.subject() == null) continue;
      for (int i = 0; i < 6; i++) {
        Response r = gen.respond(p, ResponseStyle.IDK, false, false, rng);
        assertTrue(o.classify(p, r.text()).idk(), p + " <- " + r);
        if (r.text().contains(p.subject())) {
          named++;
        } else {
          generic++;
          assertTrue(QUICK.people().stream().noneMatch(x -> r.text().contains(x.name())), p + " <- " + r);
        }
      }
    }
    assertTrue(named > 2 * generic && generic > 0, "named " + named + ", generic " + generic);
  }

  @Test
  void candidatesAreDiverseAndIncludeTheIdeal() {
    ResponseGenerator gen = QUICK.responses();
    Random rng = new Random(3);
    long total = 0, plain = 0;
    for (PromptKind k : PromptKind.values()) {
      for (Prompt p : QUICK.prompts(Split.RL, k)) {
        List<Response> c = gen.candidates(p, 6, rng);
        assertEquals(6, c.size());
        assertEquals(6, c.stream().map(Response::text).distinct().count(), c.toString());
        assertTrue(c.stream().anyMatch(r -> r.style() == ResponseStyle.idealOf(k) && !r.rude() && !r.rambling()), c.toString());
        assertTrue(c.stream().map(Response::style).distinct().count() >= 4, c.toString());
        total += c.size();
        plain += c.stream().filter(r -> !r.rude() && !r.rambling()).count();
        List<Response> one = gen.candidates(p, 1, rng);
        assertEquals(ResponseStyle.idealOf(k), one.get(0).style());
        // More than the number of behaviours still works (fresh phrasings).
        assertEquals(12, gen.candidates(p, 12, rng).size());
      }
    }
    // Mostly concise and polite: behaviours are compared with each other, not only with filler.
    assertTrue(plain > 0.55 * total, plain + " of " + total + " candidates concise and polite");
  }

  /** Ranking data puts the ideal concise polite response first for every prompt. */
  @Test
  void rankingDataPutsTheIdealFirst() {
    List<RankedExample> data = QUICK.rankingData(QUICK.prompts(Split.TRAIN), 5, 1);
    for (RankedExample e : data) {
      Response best = e.bestFirst().get(0);
      assertEquals(ResponseStyle.idealOf(e.prompt().kind()), best.style(), e.prompt() + " " + e.bestFirst());
      assertFalse(best.rude(), e.toString());
      for (int i = 1; i < e.scores().length; i++) {
        assertTrue(e.scores()[i - 1] >= e.scores()[i]);
      }
    }
  }

  private static int count(String hay, String needle) {
    int c = 0;
    for (int i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) {
      c++;
    }
    return c;
  }
}

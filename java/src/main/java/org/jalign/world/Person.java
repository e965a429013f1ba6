package org.jalign.world;

/**
 * One person of the world. Nullable fields are facts the world deliberately never states for this
 * person (questions about them are unanswerable).
 *
 * @param name     unique first name
 * @param female   selects the pronouns used in the corpus (she/her or he/his)
 * @param town     town the person lives in (always stated)
 * @param job      the person's job (always stated)
 * @param petKind  kind of animal of the person's pet, or null when the world never mentions a pet
 * @param petName  the pet's unique name, or null together with {@code petKind}
 * @param colour   favourite colour, or null when the world never says
 */
public record Person(String name, boolean female, String town, String job,
          String petKind, String petName, String colour) {

  public boolean hasPet() {
    return petKind != null;
  }

  public boolean hasColour() {
    return colour != null;
  }

  /** Subject pronoun: "she" or "he". */
  public String subj() {
    return female ? "she" : "he";
  }

  /** Possessive pronoun: "her" or "his". */
  public String poss() {
    return female ? "her" : "his";
  }

  /** The value of a stated attribute, or null when the world does not state it for this person. */
  public String valueOf(Attribute a) {
    return switch (a) {
      case TOWN -> town;
      case JOB -> job;
      case PET_KIND -> petKind;
      case PET_NAME -> petName;
      case COLOUR -> colour;
      case OWNER -> name;
      default -> null;
    };
  }
}

package org.jalign.world;

/**
 * What a prompt asks about. The first six are facts the world states (for people who have them);
 * the next four are facts the world never states about anyone; {@link #NONE} is used by vague and
 * harmful prompts that do not ask for a single fact.
 */
public enum Attribute {
  /** The town a person lives in. */
  TOWN(true),
  /** A person's job. */
  JOB(true),
  /** The kind of animal a person's pet is. */
  PET_KIND(true),
  /** The name of a person's pet. */
  PET_NAME(true),
  /** A person's favourite colour. */
  COLOUR(true),
  /** The person who owns a named pet. */
  OWNER(true),
  /** Never stated: a person's age. */
  AGE(false),
  /** Never stated: a person's favourite song. */
  SONG(false),
  /** Never stated: a person's birthday. */
  BIRTHDAY(false),
  /** Never stated: a person's favourite food. */
  FOOD(false),
  /** No single fact (vague and harmful prompts). */
  NONE(false);

  private final boolean stated;

  Attribute(boolean stated) {
    this.stated = stated;
  }

  /** True when the world states this attribute for (some) people. */
  public boolean statedByWorld() {
    return stated;
  }
}

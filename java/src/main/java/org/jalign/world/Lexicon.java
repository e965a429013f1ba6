package org.jalign.world;

import java.util.List;

/**
 * The closed vocabulary of the alignment world. All lists are disjoint from one another (no word is
 * both a person's name and a pet's name, and so on), so that free-form text can be judged by matching
 * whole words. A world of a given size uses a prefix of each list.
 */
final class Lexicon {
  private Lexicon() {
  }

  static final List<String> FEMALE_NAMES = List.of(
      "Anna", "Bella", "Clara", "Daisy", "Emma", "Fiona", "Grace", "Hannah", "Ivy", "Julia",
      "Kate", "Lily", "Mia", "Nora", "Olivia", "Paula", "Rosa", "Sara", "Tina", "Vera",
      "Wendy", "Zoe", "Alice", "Beth", "Cora", "Dora", "Ella", "Gina", "Helen", "Iris");

  static final List<String> MALE_NAMES = List.of(
      "Adam", "Ben", "Carl", "David", "Eric", "Frank", "George", "Henry", "Ivan", "Jack",
      "Karl", "Leo", "Max", "Nick", "Oscar", "Peter", "Quentin", "Ray", "Sam", "Tom",
      "Victor", "Walter", "Arthur", "Bruno", "Colin", "Dean", "Felix", "Gordon", "Hugh", "Jonas");

  /** Names that never occur in the world: questions about them are unanswerable. */
  static final List<String> OUTSIDER_NAMES = List.of(
      "Marcus", "Delia", "Otto", "Selma", "Igor", "Nadia", "Rupert", "Tamsin", "Lorenzo", "Freya",
      "Bertram", "Yasmin");

  static final List<String> TOWNS = List.of(
      "Brookfield", "Oakdale", "Riverton", "Hillcrest", "Ashford", "Stonebridge", "Fairview",
      "Lakeside", "Pinehurst", "Greenvale", "Millbrook", "Redcliff", "Westport", "Elmstead");

  static final List<String> JOBS = List.of(
      "baker", "teacher", "doctor", "farmer", "painter", "nurse", "carpenter", "fisher",
      "gardener", "pilot", "tailor", "librarian", "builder", "cook");

  static final List<String> ANIMALS = List.of(
      "cat", "dog", "rabbit", "parrot", "horse", "goat", "hamster", "turtle", "pony", "duck");

  static final List<String> PET_NAMES = List.of(
      "Pip", "Rex", "Milo", "Luna", "Bean", "Coco", "Biscuit", "Pepper", "Ziggy", "Nutmeg",
      "Socks", "Rusty", "Mochi", "Toffee", "Pickle", "Sprout", "Button", "Clover", "Pebble",
      "Ginger", "Noodle", "Waffle", "Juniper", "Bubbles", "Shadow", "Patch", "Fudge", "Hazel",
      "Scout", "Bandit", "Tango", "Kiwi", "Pumpkin", "Marble", "Dusty", "Twig", "Acorn",
      "Cricket", "Muffin", "Peanut", "Nimbus", "Thistle", "Bramble", "Comet", "Domino", "Gizmo",
      "Hopper", "Jasper", "Ludo", "Nacho", "Pixel", "Rocket", "Sable", "Tiko", "Waldo", "Yoyo");

  static final List<String> COLOURS = List.of(
      "red", "blue", "green", "yellow", "purple", "orange", "pink", "white", "black", "grey");

  // ---- values the world never states: used by made-up answers and recognised as hallucinations ----

  static final List<String> SONGS = List.of(
      "Blue River", "Morning Light", "Old Lanterns", "Summer Rain", "Little Star", "Dancing Home",
      "Silver Moon", "Harbour Lights", "Golden Field", "Paper Boats");

  static final List<String> FOODS = List.of(
      "pancakes", "soup", "rice", "cheese", "pizza", "pears", "carrots", "plums", "porridge",
      "dumplings", "omelettes", "strawberries");

  /** Months (May is left out: as a word it is also a verb and could not be matched reliably). */
  static final List<String> MONTHS = List.of(
      "January", "February", "March", "April", "June", "July", "August", "September",
      "October", "November", "December");

  static final List<String> NUMBER_WORDS = List.of(
      "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
      "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
      "hundred");

  // ---- generic language for filler prose ----

  static final List<String> WEATHER = List.of(
      "sunny", "rainy", "windy", "cloudy", "cold", "warm", "misty", "bright", "quiet", "stormy");
  static final List<String> TIMES = List.of(
      "morning", "afternoon", "evening", "night", "day", "week", "spring", "summer", "autumn",
      "winter");
  static final List<String> PLACES = List.of(
      "market", "square", "bridge", "river", "hill", "road", "park", "harbour", "library",
      "station", "field", "forest");
  static final List<String> THINGS = List.of(
      "bread", "books", "flowers", "tools", "baskets", "letters", "boats", "apples", "lamps",
      "chairs", "shoes", "maps");
  static final List<String> ADJECTIVES = List.of(
      "old", "small", "busy", "long", "gentle", "calm", "tall", "narrow", "wide", "pleasant",
      "friendly", "noisy");
  static final List<String> VERBS_PAST = List.of(
      "walked", "talked", "worked", "rested", "waited", "sang", "read", "cooked", "cleaned",
      "painted", "played", "laughed");
}

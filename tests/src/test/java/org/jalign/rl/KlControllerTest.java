package org.jalign.rl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Fixed and adaptive (Ziegler) KL coefficients against hand-computed updates. */
class KlControllerTest {

  @Test
  void fixedNeverMoves() {
    KlController c = KlController.fixed(0.05);
    assertFalse(c.isAdaptive());
    assertEquals(0.05, c.update(100.0, 512));
    assertEquals(0.05, c.update(0.0, 512));
    assertEquals(0.05, c.value());
  }

  @Test
  void adaptiveFollowsZieglerByHand() {
    KlController c = KlController.adaptive(0.2, 6.0, 10000);
    assertTrue(c.isAdaptive());
    // kl 12: error clip(12/6 - 1) = clip(1.0) = 0.2; mult = 1 + 0.2*256/10000 = 1.00512
    assertEquals(0.2 * 1.00512, c.update(12.0, 256), 1e-15);
    // kl 6.6: error 0.1 (inside the clip); mult = 1 + 0.1*1000/10000 = 1.01
    assertEquals(0.2 * 1.00512 * 1.01, c.update(6.6, 1000), 1e-12);
    // kl 3: error clip(-0.5) = -0.2; mult = 1 - 0.2*5000/10000 = 0.9
    assertEquals(0.2 * 1.00512 * 1.01 * 0.9, c.update(3.0, 5000), 1e-12);
    // kl == target: no change
    double v = c.value();
    assertEquals(v, c.update(6.0, 777), 0);
  }

  @Test
  void adaptiveConvergesTowardsTheTargetInASimulatedLoop() {
    // A policy whose KL is inversely proportional to the coefficient: kl = 0.6 / coef. Target 6 -> coef 0.1.
    KlController c = KlController.adaptive(0.5, 6.0, 2000);
    for (int i = 0; i < 2000; i++) c.update(0.6 / c.value(), 256);
    assertEquals(0.1, c.value(), 1e-3);
  }

  @Test
  void stateRoundTripsAndBadArgumentsAreRejected() {
    KlController a = KlController.adaptive(0.1, 4.0, 100);
    a.update(10.0, 50);
    KlController b = KlController.adaptive(0.1, 4.0, 100);
    b.setValue(a.value());
    assertEquals(a.update(1.0, 30), b.update(1.0, 30), 0);
    assertThrows(IllegalArgumentException.class, () -> KlController.fixed(-1));
    assertThrows(IllegalArgumentException.class, () -> KlController.fixed(Double.NaN));
    assertThrows(IllegalArgumentException.class, () -> KlController.adaptive(0.1, 0, 100));
    assertThrows(IllegalArgumentException.class, () -> KlController.adaptive(0.1, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> a.update(Double.POSITIVE_INFINITY, 1));
    assertThrows(IllegalArgumentException.class, () -> a.update(1.0, -1));
  }
}

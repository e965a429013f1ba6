package org.jalign.world;

/** The three disjoint prompt splits: SFT/reward-model training, PPO rollouts, held-out evaluation. */
public enum Split {
  TRAIN,
  RL,
  EVAL
}

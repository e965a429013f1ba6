package org.jalign.train.pretrain;

/**
 * What one pretraining step did.
 *
 * @param step 0-based step index
 * @param loss mean training loss over the step's micro-batches (nats per token)
 * @param lr learning rate used (the schedule's value, even when the update was skipped)
 * @param gradNorm global norm of the mean gradient before clipping
 * @param tokensPerSecond B·T·accum / step wall time
 * @param mfu model FLOPs utilisation: flopsPerToken(T) · tokens/s / peak FLOP/s
 * @param skipped true when the loss or gradient norm was not finite and the update was skipped
 * @param valLoss validation loss measured after this step, NaN when none was measured
 */
public record StepMetrics(long step, double loss, double lr, double gradNorm, double tokensPerSecond, double mfu,
    boolean skipped, double valLoss) {}

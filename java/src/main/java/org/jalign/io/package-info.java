/**
 * File formats: {@link org.jalign.io.Checkpoint} (jalign's checkpoints), {@link org.jalign.io.SafeTensors} (read with full validation, write F32/BF16/F16),
 * {@link org.jalign.io.HalfFloats} (F16/BF16 conversions) and {@link org.jalign.io.StrictJson} (strict JSON
 * with duplicate-key detection, used by every jalign reader of JSON).
 *
 * <pre>{@code
 * SafeTensors.writer().metadata("step", "100").add("wte", Dtype.BF16, wte, V, C).write(path);
 * try (SafeTensors st = SafeTensors.open(path)) {
 *     float[] w = st.readFloats("wte");        // (V, C), converted from BF16
 * }
 * }</pre>
 */
package org.jalign.io;

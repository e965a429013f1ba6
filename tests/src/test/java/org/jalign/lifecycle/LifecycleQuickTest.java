package org.jalign.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jalign.cli.Main;
import org.jalign.lifecycle.LifecycleConfig.Arch;
import org.jalign.model.GptConfig;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Runs {@code jalign lifecycle --quick} end to end with each {@code --arch} and checks the report and that each
 * stage did its job.
 */
class LifecycleQuickTest {
  @TempDir Path dir;

  @ParameterizedTest
  @EnumSource(Arch.class)
  void quickLifecycleWritesAReportAndEveryStageImprovesItsOwnMetric(Arch arch) throws Exception {
    Path out = dir.resolve("run");
    assertEquals(0, Main.run("lifecycle", "--quick", "--arch", arch.id(), "--device", "cpu", "--no-progress",
        "--out", out.toString()));
    for (String f : new String[] {"report.json", "report.html", "pretrain.ckpt", "sft.ckpt", "reward.ckpt",
        "ppo.ckpt"}) {
      assertTrue(Files.size(out.resolve(f)) > 0, f + " missing or empty");
    }
    JsonObject r = com.google.gson.JsonParser.parseString(Files.readString(out.resolve("report.json")))
        .getAsJsonObject();
    assertEquals("cpu", r.get("device").getAsString());
    assertTrue(r.get("seconds_total").getAsDouble() > 0);
    JsonObject shape = r.getAsJsonObject("model");
    assertEquals(arch.id(), shape.get("arch").getAsString(), "report.json names the architecture: " + shape);
    GptConfig built = LifecycleConfig.quick().arch(arch).model(shape.get("vocab_size").getAsInt());
    assertEquals(built.layers(), shape.get("layers").getAsInt());
    assertEquals(built.heads(), shape.get("heads").getAsInt());
    assertEquals(built.kvHeads(), shape.get("kv_heads").getAsInt());
    assertTrue(arch == Arch.LLAMA ? built.kvHeads() < built.heads() : built.isGpt2(), shape.toString());
    assertEquals(built.channels(), shape.get("channels").getAsInt());
    assertEquals(built.parameterCount(), shape.get("parameters").getAsLong());
    JsonObject st = r.getAsJsonObject("stages");
    JsonObject pre = st.getAsJsonObject("pretrain");
    assertTrue(pre.get("val_loss_end").getAsDouble() < pre.get("val_loss_start").getAsDouble() - 1.0,
        "pretraining lowers the validation loss: " + pre);
    assertTrue(pre.get("tokens").getAsDouble() > 0);
    JsonObject sft = st.getAsJsonObject("sft");
    assertTrue(sft.get("val_loss_end").getAsDouble() < sft.get("val_loss_start").getAsDouble(), "sft: " + sft);
    assertEquals(1.0, sft.get("ptx_coef").getAsDouble());
    assertTrue(sft.get("ptx_loss_end").getAsDouble() < pre.get("val_loss_end").getAsDouble() + 0.5,
        "SFT-ptx keeps the model a language model of the corpus: " + sft + " vs pretraining " + pre);
    JsonObject rw = st.getAsJsonObject("reward");
    assertTrue(rw.get("heldout_pair_accuracy").getAsDouble() > 0.7, "reward model beats chance clearly: " + rw);
    JsonObject rs = st.getAsJsonObject("rejection_sampling");
    assertEquals(2, rs.get("iterations").getAsInt(), "rejection sampling: " + rs);
    assertTrue(rs.get("reward_mean_chosen").getAsDouble() > rs.get("reward_mean_samples_last").getAsDouble(),
        "the best of n scores above the mean sample: " + rs);
    assertTrue(rs.get("reward_mean_samples_last").getAsDouble() > rs.get("reward_mean_samples").getAsDouble(),
        "the fine-tuned policy's samples score higher under the reward model: " + rs);
    assertTrue(rs.get("demonstrations").getAsDouble() > 0, "vetted demonstrations beside the choices: " + rs);
    JsonObject ppo = st.getAsJsonObject("ppo");
    assertTrue(ppo.get("reward_end").getAsDouble() > ppo.get("reward_start").getAsDouble(), "ppo: " + ppo);
    assertTrue(Double.isFinite(ppo.get("kl_to_ref_end").getAsDouble()));
    assertEquals(0.0, ppo.get("demo_coef").getAsDouble(), "quick PPO runs without demonstrations: " + ppo);
    JsonObject ev = r.getAsJsonObject("eval");
    for (String model : new String[] {"sft", "rlhf"}) {
      JsonObject m = ev.getAsJsonObject(model);
      for (String k : new String[] {"oracle_score", "accuracy_answerable", "idk_rate_unanswerable",
          "hallucination_rate_unanswerable", "clarify_rate_vague", "refusal_rate_harmful", "mean_response_tokens"}) {
        assertTrue(m.has(k), model + " lacks " + k);
      }
    }
    double win = ev.get("win_rate_rlhf_vs_sft").getAsDouble();
    assertTrue(win >= 0 && win <= 1);
    assertTrue(ev.get("heldout_prompts").getAsInt() > 0);
    String html = Files.readString(out.resolve("report.html"));
    assertTrue(html.contains("<img"), "the HTML report embeds the plots");
    assertTrue(html.contains("<th>arch</th><td>" + arch.id() + "</td>") && html.contains("<th>kv_heads</th>"),
        "the HTML report names the architecture and its shape");
  }
}

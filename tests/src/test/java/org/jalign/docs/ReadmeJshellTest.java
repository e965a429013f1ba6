package org.jalign.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Runs the jshell snippets of README.md (each fenced block after a {@code <!-- jshell-test: EXPECTED -->} marker)
 * in a real jshell on the test class path with the repo's jalign.jsh startup script, and checks each printed
 * its expected text. Keeps the README honest.
 */
class ReadmeJshellTest {
  static final Pattern BLOCK =
      Pattern.compile("<!-- jshell-test: (.*?) -->\\s*```(?:java|jshell)?\\n(.*?)```", Pattern.DOTALL);

  static Path repoRoot() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.exists(p.resolve("jalign.jsh"))) p = p.getParent();
    return p;
  }

  @Test
  void readmeJshellSnippetsRun() throws Exception {
    Path root = repoRoot();
    assumeTrue(root != null, "repo root with jalign.jsh not found");
    Path jshell = Path.of(System.getProperty("java.home"), "bin", "jshell");
    assumeTrue(Files.isExecutable(jshell), "no jshell in " + System.getProperty("java.home"));
    String readme = Files.readString(root.resolve("README.md"));
    Matcher m = BLOCK.matcher(readme);
    int found = 0;
    while (m.find()) {
      found++;
      String expected = m.group(1).trim();
      String code = m.group(2);
      String out = runJshell(jshell, root, code);
      assertTrue(out.contains(expected), "README jshell snippet " + found + " did not print '" + expected
          + "'. Output:\n" + out);
      assertTrue(!out.contains("|  Error") && !out.contains("Exception"), "snippet " + found + " failed:\n" + out);
    }
    assertTrue(found >= 1, "README.md has no jshell-test snippet");
  }

  static String runJshell(Path jshell, Path root, String code) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(jshell.toString());
    cmd.add("--class-path");
    StringBuilder cp = new StringBuilder();
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (!e.isEmpty() && new File(e).exists()) cp.append(cp.length() == 0 ? "" : File.pathSeparator).append(e);
    }
    cmd.add(cp.toString());
    cmd.add("-R--enable-native-access=ALL-UNNAMED");
    cmd.add("-R-Djalign.backend=cpu");
    cmd.add("--startup");
    cmd.add("DEFAULT");
    cmd.add("--startup");
    cmd.add(root.resolve("jalign.jsh").toString());
    cmd.add("-q");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
    Process p = pb.start();
    p.getOutputStream().write((code + "\n/exit\n").getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(300, TimeUnit.SECONDS), "jshell timed out");
    assertEquals(0, p.exitValue(), "jshell exit code; output:\n" + out);
    return out;
  }
}

/**
 * Run reports: a {@link org.jalign.report.Report} collects metadata, per-stage summaries and time series,
 * an evaluation table (e.g. SFT vs RLHF), win rates and side-by-side examples;
 * {@link org.jalign.report.ReportWriter} writes it as {@code report.json}, PNG plots and a self-contained
 * {@code report.html} viewable offline; {@link org.jalign.report.EvalReports} fills the evaluation parts
 * from two models' responses.
 *
 * <pre>{@code
 * Report r = new Report("jalign lifecycle").device("cpu").seed(42).seconds(812);
 * r.stage("pretrain", 300, Map.of("final_loss", 1.9)).series("pretrain", "train loss", losses);
 * EvalReports.compare(r, new Evaluation(world.oracle(), tok::count), "SFT", sftPairs, "RLHF", rlhfPairs, 3);
 * ReportWriter.write(r, Path.of("out"));
 * }</pre>
 */
package org.jalign.report;

"""Tables, target checks and the JSON summary of `fea-ros bench mie` (benchmark.py runs it)."""
from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from fea_ros.core.config import MieConfig
from fea_ros.mie.benchmark import TUNED_ON_SEEDS, MethodResult, RateResult
from fea_ros.mie.synthetic_plan import CATEGORIES

#: issue-14/18 targets, measured at 30 fps on the held-out seed
MICRO_F1, MICRO_RECALL, MACRO_F1, MACRO_PRECISION = 0.85, 0.75, 0.85, 0.8
CATEGORY_SPREAD = 0.15
MAX_FP_PER_MIN = 1.0
COST_BUDGET_MS = 1.8  # the spotter's cost per face before round 2 (BENCHMARKS.md, 1.2-1.8 ms)


def _per_min(count: int, minutes: float) -> float:
    return count / minutes if minutes else float("nan")


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
            ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    return ["  ".join(h.ljust(w) for h, w in zip(header, widths))] + \
        ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]


def _method_row(name: str, rate: RateResult, method: MethodResult, delay: str) -> list[str]:
    s = rate.scores(method)
    cost = f"{statistics.mean(method.frame_ms):.2f} / {np.percentile(method.frame_ms, 95):.2f}" \
        if method.frame_ms else "-"
    return [name, f"{s.micro.f1:.3f}", f"{s.macro.f1:.3f}", f"{s.overall.f1:.3f}",
            f"{s.micro.tp}/{s.micro.n_pred}/{s.micro.n_gt}", f"{s.macro.tp}/{s.macro.n_pred}/{s.macro.n_gt}",
            f"{_per_min(method.neutral_false_positives, rate.neutral_minutes):.2f}", delay, cost]


def _fraction(found: int, total: int) -> str:
    return f"{found / total:.2f} ({found}/{total})" if total else "-"


def category_rows(rate: RateResult) -> list[list[str]]:
    table = rate.category_recall(rate.spotter)
    return [[name, _fraction(*table[name]["MICRO"]), _fraction(*table[name]["MACRO"]),
             _fraction(*table[name]["all"])] for name in CATEGORIES if name in table]


def report(results: dict[float, RateResult], config: MieConfig, markdown: bool, data: Any, landmarks: str) -> str:
    header = ["method", "MiE F1", "MaE F1", "overall F1", "MiE TP/pred/GT", "MaE TP/pred/GT",
              "FP/min neutral", "delay median / max (s)", "CPU ms/face/frame mean / p95"]
    lines: list[str] = []
    for fps in sorted(results):
        rate = results[fps]
        delays = rate.spotter.delays_s
        delay = f"{statistics.median(delays):.2f} / {max(delays):.2f}" if delays else "-"
        rows = [_method_row("fea_ros spotter", rate, rate.spotter, delay)]
        if rate.baseline.frame_ms:
            rows.append(_method_row("MDMD-style baseline", rate, rate.baseline, "offline (whole video)"))
        n_micro = sum(t.type == "MICRO" for t in rate.truths)
        title = (f"{fps:g} fps: {n_micro} MiE, {len(rate.truths) - n_micro} MaE, "
                 f"{rate.neutral_minutes:.1f} min of neutral clips, {rate.bystander_minutes:.1f} min with a "
                 "bystander")
        lines += [f"**{title}**" if markdown else title, ""] if markdown else [title]
        lines += _table(header, rows, markdown)
        lines.append("")
        subject, everyone = rate.scores(rate.spotter), rate.scores(rate.spotter, all_faces=True)
        faces = [["subject's face", f"{subject.overall.f1:.3f}", f"{subject.overall.precision:.3f}",
                  f"{subject.overall.recall:.3f}"],
                 ["all faces", f"{everyone.overall.f1:.3f}", f"{everyone.overall.precision:.3f}",
                  f"{everyone.overall.recall:.3f}"]]
        lines += _table(["spotter, overall", "F1", "precision", "recall"], faces, markdown)
        lines.append("")
        lines.append(f"Events on other faces (bystanders): {len(rate.spotter.other_faces)} "
                     f"({_per_min(len(rate.spotter.other_faces), rate.bystander_minutes):.2f} per min of "
                     f"bystander video); neutral-clip events at the {config.max_event_s:g} s length cap: "
                     f"{rate.spotter.neutral_capped}.")
        lines.append("")
        rows = category_rows(rate)
        if rows:
            lines += _table(["category (subject)", "MiE recall", "MaE recall", "recall"], rows, markdown)
            lines.append("")
    frame_bound = max(1.0 / fps for fps in results) if results else 0.0
    lines.append(f"Delay bound: an event is emitted at most window_s = {config.window_s:.2f} s (+ one frame, "
                 f"<= {frame_bound:.3f} s) after its offset; movements longer than max_event_s = "
                 f"{config.max_event_s:.1f} s are closed and emitted then.")
    tuned = ", ".join(map(str, TUNED_ON_SEEDS))
    lines.append(f"Data: {data} (landmarks: {landmarks}); spotter parameters tuned on seeds {tuned}.")
    return "\n".join(lines)


def category_spread(rate: RateResult) -> float:
    table = rate.category_recall(rate.spotter)
    recalls = [v["all"][0] / v["all"][1] for v in table.values() if v["all"][1]]
    return max(recalls) - min(recalls) if recalls else float("nan")


def targets(results: dict[float, RateResult]) -> list[str]:
    rate = results.get(30.0)
    if rate is None:
        return []
    s = rate.scores(rate.spotter)
    fp = _per_min(rate.spotter.neutral_false_positives, rate.neutral_minutes)
    cost = statistics.mean(rate.spotter.frame_ms) if rate.spotter.frame_ms else float("nan")
    spread = category_spread(rate)
    checks = [
        (f"MiE F1 >= {MICRO_F1} with recall >= {MICRO_RECALL} ({s.micro.f1:.3f}, {s.micro.recall:.3f})",
         s.micro.f1 >= MICRO_F1 and s.micro.recall >= MICRO_RECALL),
        (f"MaE F1 >= {MACRO_F1} with precision >= {MACRO_PRECISION} ({s.macro.f1:.3f}, {s.macro.precision:.3f})",
         s.macro.f1 >= MACRO_F1 and s.macro.precision >= MACRO_PRECISION),
        (f"every category's recall within {CATEGORY_SPREAD} of the best ({spread:.2f})", spread <= CATEGORY_SPREAD),
        (f"<= {MAX_FP_PER_MIN:g} FP/min on neutral clips ({fp:.2f})", fp <= MAX_FP_PER_MIN),
        (f"0 events on bystanders ({len(rate.spotter.other_faces)})", not rate.spotter.other_faces),
        (f"no neutral-clip event at the length cap ({rate.spotter.neutral_capped})", rate.spotter.neutral_capped == 0),
        (f"cost <= {COST_BUDGET_MS} ms per face per frame ({cost:.2f})", cost <= COST_BUDGET_MS),
    ]
    return [f"- {name}: {'met' if ok else 'NOT met'}" for name, ok in checks]


def summary(results: dict[float, RateResult]) -> dict:
    return {str(fps): {"spotter": r.scores(r.spotter).as_dict(),
                       "spotter_all_faces": r.scores(r.spotter, all_faces=True).as_dict(),
                       "baseline": r.scores(r.baseline).as_dict(),
                       "categories": r.category_recall(r.spotter),
                       "neutral_minutes": r.neutral_minutes,
                       "spotter_fp": r.spotter.neutral_false_positives,
                       "events_on_other_faces": len(r.spotter.other_faces),
                       "neutral_capped": r.spotter.neutral_capped,
                       "baseline_fp": r.baseline.neutral_false_positives,
                       "ms_per_face": statistics.mean(r.spotter.frame_ms) if r.spotter.frame_ms else None}
            for fps, r in results.items()}

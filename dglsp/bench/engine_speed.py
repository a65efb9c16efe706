"""Engine speed: encoder prefill, decoder step per canvas size, the sampler's draw, what the prefix cache saves."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from ..engine.canvas import lay_out
from ..engine.engine import Engine
from ..engine.sampler import draw
from ..engine.types import FillRequest
from ..models.blank import stdlib_files
from ..models.loader import LoadedModel
from ..report.tables import render_table
from .step_profile import StepProfile, profile_step


@dataclass
class SpeedReport:
    model: dict
    prefix_tokens: int
    suffix_tokens: int
    steps: int
    rows: list[tuple[str, float]] = field(default_factory=list)
    profile: StepProfile | None = None  # the first canvas's decoder step, when asked for

    def table(self) -> str:
        head = (
            f"{self.model['family']} {self.model['parameters'] / 1e6:.1f}M params, {self.model['dtype']} on "
            f"{self.model['device']}, {torch.get_num_threads()} threads; prefix {self.prefix_tokens} tokens, "
            f"pinned suffix {self.suffix_tokens} tokens"
        )
        rows = [["measure", "median ms"], *([name, f"{ms:.1f}"] for name, ms in self.rows)]
        text = head + "\n" + render_table(rows, "plain", "<>")
        return text if self.profile is None else text + "\n\n" + self.profile.table()


def sample_code(engine: Engine, tokens: int) -> str:
    """Real code (the standard library) of at least `tokens` tokens, so timings see real token lengths."""
    text = ""
    for path in stdlib_files(400):
        text += Path(path).read_text(encoding="utf-8", errors="replace")
        if len(engine.encode(text)) > tokens + 64:
            break
    return engine.decode(engine.encode(text)[:tokens])


def median_ms(fn, repeats: int, device: torch.device | None = None) -> float:
    """Median wall time of `fn` after one warm-up call (allocator, dispatch, compiled graphs); on CUDA the
    queued kernels are waited for, so the time is the GPU's and not only the launch."""
    cuda = device is not None and device.type == "cuda"
    fn()
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(
    model: LoadedModel,
    prefix_tokens: int = 512,
    suffix_tokens: int = 64,
    canvases: tuple[int, ...] = (32, 64),
    steps: int = 16,
    repeats: int = 10,
    profile: bool = False,
) -> SpeedReport:
    engine = Engine(model)
    denoiser = engine.denoiser
    code = sample_code(engine, prefix_tokens + suffix_tokens)
    ids = engine.encode(code)
    suffix_ids = ids[prefix_tokens : prefix_tokens + suffix_tokens]
    prefix_text, suffix_text = engine.decode(ids[:prefix_tokens]), engine.decode(suffix_ids)
    layouts = {
        size: lay_out(ids[:prefix_tokens], suffix_ids, [size], engine.special, max_positions=denoiser.max_positions)
        for size in canvases
    }
    prefix_ids = list(layouts[canvases[0]].prefix)
    report = SpeedReport(model.info, len(prefix_ids), len(suffix_ids), steps)
    sampler = engine.sampler.with_overrides(max_steps=steps, confidence=1e-9)  # run every step: fixed work

    def prefill():
        state = denoiser.new_state()
        denoiser.extend(state, prefix_ids)
        return state

    state = prefill()
    jobs = [("encoder prefill (cold)", prefill)]
    steps_by_canvas = {}
    for size, layout in layouts.items():
        tokens = torch.tensor([layout.canvas.tokens], device=denoiser.device)
        logits = denoiser.logits(state, tokens, None)
        steps_by_canvas[size] = lambda t=tokens, lg=logits: denoiser.logits(state, t, lg)
        jobs.append((f"decoder step, canvas {size} + suffix", steps_by_canvas[size]))
    # The sampler's per-step draw over the open slots of the largest canvas: torch.multinomial against the default.
    probs = torch.softmax(logits[0, : canvases[-1]], dim=-1)
    rng = torch.Generator(device=denoiser.device).manual_seed(0)
    for method in ("multinomial", "inverse-cdf"):
        jobs.append((f"sampler draw, {method}, {canvases[-1]} slots", lambda m=method: draw(probs, rng, m)))

    typed = iter(range(10**6))

    def warm_prefill():
        # The user typed a few characters: only the changed tail is encoded.
        engine.cache.state_for(prefix_ids + engine.encode(f"x{next(typed)}"))

    jobs.append(("prefix grows by a few chars (cache warm)", warm_prefill))
    for size in canvases:
        request = FillRequest(prefix=prefix_text, suffix=suffix_text, max_tokens=size - 1)

        def cold(r=request):
            engine.cache.clear()
            engine.fill(r, sampler)

        def warm(r=request):
            engine.fill(
                FillRequest(prefix=r.prefix + f"#{next(typed)}", suffix=r.suffix, max_tokens=r.max_tokens),
                sampler,
            )

        jobs.append((f"fill, canvas {size}, {steps} steps, cache cold", cold))
        jobs.append((f"fill, canvas {size}, {steps} steps, cache warm", warm))
    for name, fn in tqdm(jobs, desc="engine-speed", unit="measure", disable=None):
        report.rows.append((name, median_ms(fn, repeats, denoiser.device)))
    if profile:
        report.profile = profile_step(steps_by_canvas[canvases[0]], repeats)
    return report


@dataclass
class BackendReport:
    """The same measures for several backends (decoder step and dtype), timed in turn within each repeat so a
    busy machine slows them alike; `logits_diff`: each backend's largest logit difference from the first's."""

    model: dict
    backends: list[str]
    prefix_tokens: int
    suffix_tokens: int
    steps: int
    ms: dict[str, dict[str, float]] = field(default_factory=dict)  # measure -> backend -> median ms
    logits_diff: dict[str, float] = field(default_factory=dict)

    def table(self) -> str:
        head = (
            f"{self.model['family']} {self.model['parameters'] / 1e6:.1f}M params on {self.model['device']}, "
            f"{torch.get_num_threads()} threads; prefix {self.prefix_tokens} tokens, pinned suffix "
            f"{self.suffix_tokens} tokens; median ms, backends timed in turn"
        )
        first = self.backends[0]
        rows = [["measure", *self.backends, *(f"{first} / {b}" for b in self.backends[1:])]]
        for name, by in self.ms.items():
            rows.append(
                [
                    name,
                    *(f"{by[b]:.1f}" for b in self.backends),
                    *(f"{by[first] / by[b]:.2f}x" for b in self.backends[1:]),
                ]
            )
        rows.append(
            [
                "max |logit - first's|",
                *(f"{self.logits_diff[b]:.1e}" for b in self.backends),
                *[""] * (len(self.backends) - 1),
            ]
        )
        return head + "\n" + render_table(rows, "plain", "<" + ">" * (len(rows[0]) - 1))


def compare_backends(
    models: dict[str, LoadedModel],
    prefix_tokens: int = 384,
    suffix_tokens: int = 32,
    canvas: int = 32,
    steps: int = 8,
    repeats: int = 10,
) -> BackendReport:
    """Encoder prefill, one decoder step (with self-conditioning), and a warm fill of `canvas - 1` tokens at
    exactly `steps` steps, for each backend."""
    engines = {name: Engine(model) for name, model in models.items()}
    first = next(iter(engines.values()))
    ids = first.encode(sample_code(first, prefix_tokens + suffix_tokens))
    suffix_ids = ids[prefix_tokens : prefix_tokens + suffix_tokens]
    layout = lay_out(
        ids[:prefix_tokens], suffix_ids, [canvas], first.special, max_positions=first.denoiser.max_positions
    )
    prefix_text, suffix_text = first.decode(ids[:prefix_tokens]), first.decode(suffix_ids)
    report = BackendReport(next(iter(models.values())).info, list(models), len(layout.prefix), len(suffix_ids), steps)
    typed = iter(range(10**6))
    jobs: dict[str, dict[str, object]] = {}
    reference = None
    for name, engine in engines.items():
        denoiser = engine.denoiser
        sampler = engine.sampler.with_overrides(max_steps=steps, confidence=1e-9)  # every step runs: fixed work
        state = denoiser.new_state()
        denoiser.extend(state, list(layout.prefix))
        tokens = torch.tensor([layout.canvas.tokens], device=denoiser.device)
        slots = torch.tensor([i for i, free in enumerate(layout.canvas.free) if free], device=denoiser.device)
        rows = slots if denoiser.slots_only else None
        first_logits = denoiser.logits(state, tokens, None, rows)
        logits = denoiser.logits(state, tokens, first_logits, rows).float()
        logits = logits if denoiser.slots_only else logits[:, slots]
        reference = logits if reference is None else reference
        report.logits_diff[name] = float((logits - reference).abs().max())

        def prefill(d=denoiser):
            d.extend(d.new_state(), list(layout.prefix))

        def warm(e=engine, s=sampler):
            request = FillRequest(prefix=prefix_text + f"#{next(typed)}", suffix=suffix_text, max_tokens=canvas - 1)
            e.fill(request, s)

        jobs[name] = {
            "encoder prefill (cold)": prefill,
            f"decoder step, canvas {canvas} + suffix": lambda d=denoiser, s=state, t=tokens, c=first_logits, r=rows: (
                d.logits(s, t, c, r)
            ),
            f"fill, canvas {canvas}, {steps} steps, cache warm": warm,
        }
    names = list(next(iter(jobs.values())))
    times: dict[str, dict[str, list[float]]] = {m: {b: [] for b in jobs} for m in names}
    for fns in jobs.values():
        for fn in fns.values():
            fn()  # warm-up: allocator, dispatch, compiled graphs
    for _ in tqdm(range(repeats), desc="engine-speed backends", unit="round", disable=None):
        for measure_name in names:
            for backend, fns in jobs.items():
                start = time.perf_counter()
                fns[measure_name]()
                times[measure_name][backend].append((time.perf_counter() - start) * 1000)
    report.ms = {m: {b: statistics.median(ts) for b, ts in by.items()} for m, by in times.items()}
    return report

"""Load a model directory into a Denoiser: local files only, safetensors unless the user opts in."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch

from .base import CHAT_LAYOUTS, DECODERS, LAYOUTS, Decoder, Denoiser, Layout, ModelError, Quantize, error_summary
from .expert_quant import quantize_experts
from .self_conditioning import NOTE as SELF_CONDITIONING
from .self_conditioning import ROWS as CONDITIONED_ROWS
from .tokenizer import END_OF_FILL

DGLSP_FILE = "dglsp.json"  # dglsp's own notes about a model directory: its layout and end-of-fill token
DEFAULT_MODEL_DIR = Path(__file__).parent / "default"
QUIET_BELOW_BYTES = 1 << 30
# The least confidence score a suggestion needs to be shown, for a model whose bench has not calibrated one
# (`dglsp bench --calibrate` writes its own into dglsp.json): 0.9 per token, so an unknown model shows little
# rather than noise.
CONFIDENCE_NOTE = "confidence"
DEFAULT_MIN_CONFIDENCE = 0.9  # weights that load without a progress bar


@dataclass(frozen=True)
class LoadOptions:
    device: str = "auto"
    dtype: str = "auto"
    quantize: Quantize | None = None
    allow_pickle: bool = False
    trust_remote_code: bool = False
    layout: Layout | None = None  # None: what the model directory says, else what its tokenizer allows
    # DiffusionGemma decoder step: dglsp's own (models/lean_step.py), transformers' forward with dynamic shapes,
    # fixed (bucketed) shapes, or those under torch.compile (CUDA graphs on a GPU; models/static_decoder.py).
    decoder: Decoder = "lean"

    @classmethod
    def from_attributes(cls, source: object) -> LoadOptions:
        """The options `source` names (command-line flags, the server's settings), defaults for the rest."""
        return cls(**{f.name: getattr(source, f.name) for f in fields(cls) if hasattr(source, f.name)})


@dataclass
class LoadedModel:
    denoiser: Denoiser
    tokenizer: object
    path: Path
    family: str
    stop_ids: frozenset[int]
    generation_config: dict  # the directory's generation_config.json: the sampler settings it was tuned for
    min_confidence: float = DEFAULT_MIN_CONFIDENCE  # the calibrated threshold in dglsp.json, else the default
    info: dict = field(default_factory=dict)


def resolve_model_path(path: str | os.PathLike | None) -> Path:
    """--model, else $DGLSP_MODEL, else the model shipped inside the package."""
    if path:
        return Path(path).expanduser()
    if os.environ.get("DGLSP_MODEL"):
        return Path(os.environ["DGLSP_MODEL"]).expanduser()
    if (DEFAULT_MODEL_DIR / "config.json").exists():
        return DEFAULT_MODEL_DIR
    raise ModelError(
        "no model given and no default model installed: pass --model DIR or set DGLSP_MODEL "
        "(make a small one with `dglsp init-model --out DIR`)"
    )


def pick_device(wanted: str = "auto") -> torch.device:
    if wanted == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(wanted)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device {wanted!r} asked for, but torch sees no CUDA GPU (torch {torch.__version__})")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ModelError("device 'mps' asked for, but this torch has no MPS support here")
    return device


def pick_dtype(wanted: str, device: torch.device) -> torch.dtype:
    if wanted == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        dtype = getattr(torch, wanted)
    except AttributeError:
        dtype = None
    if not isinstance(dtype, torch.dtype):
        raise ModelError(f"unknown dtype {wanted!r}: use auto, float32, bfloat16 or float16")
    return dtype


def load_model(path: str | os.PathLike | None = None, options: LoadOptions | None = None) -> LoadedModel:
    options = options or LoadOptions()
    root = resolve_model_path(path)
    config = check_model_dir(root, options.allow_pickle)
    notes = read_optional_json(root / DGLSP_FILE)
    device = pick_device(options.device)
    dtype = pick_dtype(options.dtype, device)
    kwargs = _from_pretrained_kwargs(options, device, dtype, notes)
    tokenizer = _load_tokenizer(root, options)

    if config.get("model_type") == "diffusion_gemma":
        from transformers import DiffusionGemmaForBlockDiffusion

        from .diffusion_gemma import DiffusionGemmaDenoiser

        model = _from_pretrained(DiffusionGemmaForBlockDiffusion, root, kwargs)
        if options.quantize == "4bit":
            quantize_experts(model)  # bitsandbytes packed the Linear layers; the 3-D experts are dglsp's to pack
        _own_memory(model, device)
        layout = pick_layout(options.layout or notes.get("layout"), tokenizer, root)
        if options.decoder not in DECODERS:
            raise ModelError(f"unknown decoder {options.decoder!r}: use {', '.join(DECODERS)}")
        if kwargs.get("device_map") is None:
            model.to(device)  # before the static decoder allocates its buffers and compiles
        slots_only = _conditioned_rows(notes) == "slots"
        denoiser: Denoiser = DiffusionGemmaDenoiser(
            model, layout=layout, decoder=options.decoder, slots_only=slots_only
        )
        family = "diffusion_gemma"
    else:
        from .masked import MaskedDenoiser

        model = _load_masked(root, kwargs, options)
        _own_memory(model, device)
        denoiser = MaskedDenoiser(
            model,
            mask_id=tokenizer.mask_token_id,
            bos_id=tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id,
            eos_id=tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id,
        )
        family = "masked"

    if kwargs.get("device_map") is None:
        model.to(device)
    generation_config = read_optional_json(root / "generation_config.json")
    stop_ids = {
        t
        for t in (
            tokenizer.eos_token_id,
            tokenizer.pad_token_id,
            tokenizer.sep_token_id,
            tokenizer.get_vocab().get(notes.get("end_of_fill", END_OF_FILL)),
            *_token_ids(generation_config.get("eos_token_id")),  # a chat model's end of turn is listed here
        )
        if t is not None
    }
    params = sum(p.numel() for p in model.parameters())
    return LoadedModel(
        denoiser=denoiser,
        tokenizer=tokenizer,
        path=root,
        family=family,
        stop_ids=frozenset(stop_ids),
        generation_config=generation_config,
        min_confidence=calibrated_threshold(notes),
        info={
            "family": family,
            "layout": denoiser.layout,
            "device": str(device),
            "dtype": str(dtype).removeprefix("torch."),
            "quantize": options.quantize,
            "decoder": getattr(denoiser, "decoder", "dynamic"),
            "self_conditioning": "slots" if denoiser.slots_only else "all",
            "min_confidence": calibrated_threshold(notes),
            "parameters": params,
            "bytes_on_disk": sum(f.stat().st_size for f in root.iterdir() if f.is_file()),
            "vocab_size": denoiser.vocab_size,
            "max_positions": denoiser.max_positions,
        },
    )


def pick_layout(wanted: str | None, tokenizer, root: Path) -> Layout:
    """The layout asked for, else the one the tokenizer allows: FIM tokens give `prompt`; a chat template without
    them gives `chat` (an instruction-tuned checkpoint such as DiffusionGemma's released `-it`); else `prompt`,
    which then shows the prefix alone."""
    vocab = tokenizer.get_vocab()
    has_fim = "<|fim_prefix|>" in vocab and "<|fim_suffix|>" in vocab
    has_chat = bool(getattr(tokenizer, "chat_template", None))
    if wanted is None:
        return "chat" if has_chat and not has_fim else "prompt"
    if wanted not in LAYOUTS:
        raise ModelError(f"unknown layout {wanted!r}: use {', '.join(LAYOUTS)}")
    if wanted in CHAT_LAYOUTS and not has_chat:
        raise ModelError(f"layout {wanted!r} needs a chat template, and the tokenizer in {root} has none")
    return wanted  # type: ignore[return-value]


def _token_ids(value) -> list[int]:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, int)]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc


def read_optional_json(path: Path) -> dict:
    """A model directory's optional JSON file ({} when it is not there)."""
    return _read_json(path) if path.exists() else {}


def check_model_dir(root: Path, allow_pickle: bool = False) -> dict:
    """The cheap checks before a load: a config, weights of an allowed kind, safetensors headers that read.
    A server runs them before it lets go of the model it has, so a broken directory costs it nothing."""
    if not root.is_dir():
        raise ModelError(f"model directory not found: {root}")
    if not (root / "config.json").is_file():
        raise ModelError(f"{root} is not a model directory: it has no config.json")
    config = _read_json(root / "config.json")
    _check_weights(root, allow_pickle)
    return config


def _check_weights(root: Path, allow_pickle: bool) -> None:
    shards = sorted(root.glob("*.safetensors"))
    if shards:
        for shard in shards:
            _check_safetensors(shard)
        return
    if any(root.glob("*.bin")) or any(root.glob("*.pt")) or any(root.glob("*.pth")):
        if allow_pickle:
            return
        raise ModelError(
            f"{root} has only pickle weights (*.bin/*.pt), which can run code when loaded; convert them to "
            "safetensors, or opt in with --allow-pickle if you trust their source"
        )
    raise ModelError(f"{root} has no weights (*.safetensors)")


def _check_safetensors(path: Path) -> None:
    """The header parses and every tensor lies inside the file: what a truncated or half-written file fails."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            f.keys()
    except Exception as exc:  # safetensors raises its own error types
        raise ModelError(f"{path} is damaged or incomplete: {error_summary(exc)}") from exc


def _own_memory(model, device: torch.device) -> None:
    """Copy CPU weights out of the memory-mapped file. Otherwise a checkpoint saved over the file while the
    server runs changes its weights under it, or kills it with SIGBUS when the file shrinks."""
    if device.type != "cpu":
        return  # moved to the device, off the file, by model.to(device)
    with torch.no_grad():
        for tensor in (*model.parameters(), *model.buffers()):
            if tensor.device.type == "cpu":
                tensor.data = tensor.data.clone()


def _from_pretrained_kwargs(options: LoadOptions, device: torch.device, dtype: torch.dtype, notes: dict) -> dict:
    kwargs: dict = {
        "dtype": dtype,
        "local_files_only": True,
        "use_safetensors": not options.allow_pickle,
        "trust_remote_code": options.trust_remote_code,
    }
    if notes.get("experts_implementation"):
        kwargs["experts_implementation"] = notes["experts_implementation"]
    if options.quantize:
        if device.type != "cuda":
            library = "transformers' FineGrainedFP8" if options.quantize == "fp8" else "bitsandbytes"
            raise ModelError(f"--quantize {options.quantize} needs a CUDA GPU ({library}); this run is on {device}")
        kwargs["quantization_config"] = _quantization_config(options.quantize, dtype)
        kwargs["device_map"] = {"": device.index or 0}
    return kwargs


def _quantization_config(quantize: str, dtype: torch.dtype):
    if quantize == "fp8":
        from transformers import FineGrainedFP8Config

        return FineGrainedFP8Config()  # quantizes the fused 3-D experts too (transformers' FP8Experts)
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError as exc:
        raise ModelError("--quantize 4bit or 8bit needs bitsandbytes: pip install 'dglsp[gpu]'") from exc
    if quantize == "4bit":
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=dtype)
    if quantize == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    raise ModelError(f"unknown quantize {quantize!r}: use fp8, 4bit or 8bit")


def _from_pretrained(cls, root: Path, kwargs: dict):
    from transformers.utils import logging as hf_logging

    # transformers' "Loading weights" bar is worth it for a model that takes a while, noise for one that loads
    # in a blink (the shipped model, every `dglsp fill`).
    shown = hf_logging.is_progress_bar_enabled()
    if sum(f.stat().st_size for f in root.glob("*.safetensors")) < QUIET_BELOW_BYTES:
        hf_logging.disable_progress_bar()
    try:
        return cls.from_pretrained(str(root), **kwargs)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelError(f"cannot load the model in {root}: {error_summary(exc)}") from exc
    except Exception as exc:  # safetensors raises its own error types for a damaged file
        raise ModelError(f"cannot load the model in {root}: {type(exc).__name__}: {error_summary(exc)}") from exc
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def _load_masked(root: Path, kwargs: dict, options: LoadOptions):
    from transformers import AutoModel, AutoModelForMaskedLM

    try:
        return _from_pretrained(AutoModelForMaskedLM, root, kwargs)
    except ModelError:
        if not options.trust_remote_code:
            raise
    # LLaDA/Dream-style checkpoints ship their own model class and return logits from AutoModel.
    return _from_pretrained(AutoModel, root, kwargs)


def _load_tokenizer(root: Path, options: LoadOptions):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(
            str(root), local_files_only=True, trust_remote_code=options.trust_remote_code
        )
    except Exception as exc:
        raise ModelError(f"cannot load the tokenizer in {root}: {error_summary(exc)}") from exc


def calibrated_threshold(notes: dict) -> float:
    """The `threshold` of dglsp.json's `confidence` section (what `dglsp bench --calibrate` found), or the default."""
    section = notes.get(CONFIDENCE_NOTE)
    if section is None:
        return DEFAULT_MIN_CONFIDENCE
    value = section.get("threshold") if isinstance(section, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ModelError(f"{DGLSP_FILE}: {CONFIDENCE_NOTE}.threshold must be a number from 0 to 1, got {value!r}")
    return float(value)


def write_threshold(root: Path, section: dict, suite: str) -> Path:
    """Keep a bench's calibration (its `threshold` and what it was measured on) in the model's dglsp.json."""
    path = root / DGLSP_FILE
    notes = read_optional_json(path)
    notes[CONFIDENCE_NOTE] = {**section, "suite": suite}
    calibrated_threshold(notes)  # refuse to write what loading would refuse
    path.write_text(json.dumps(notes, indent=2) + "\n", encoding="utf-8")
    return path


def _conditioned_rows(notes: dict) -> str:
    rows = notes.get(SELF_CONDITIONING, "all")
    if rows not in CONDITIONED_ROWS:
        raise ModelError(f"{DGLSP_FILE}: {SELF_CONDITIONING} is {rows!r}; use {' or '.join(CONDITIONED_ROWS)}")
    return rows

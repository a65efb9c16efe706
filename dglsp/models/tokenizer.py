"""Byte-level BPE for code: every byte round-trips, so indentation, tabs and trailing newlines survive."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

PAD, EOS, BOS, END_OF_FILL, MASK = "<pad>", "<eos>", "<bos>", "<|endoffill|>", "<mask>"
FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE = "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"
# Fixed order: pad 0, eos 1, bos 2 match DiffusionGemma's config defaults.
SPECIAL_TOKENS = [PAD, EOS, BOS, END_OF_FILL, MASK, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE]


def train_tokenizer(files: Iterable[str | Path], vocab_size: int):
    """Train on `files` and wrap for `transformers` (AutoTokenizer loads what `save_pretrained` writes)."""
    return train_tokenizer_on_texts((Path(f).read_text(encoding="utf-8") for f in files), vocab_size)


def train_tokenizer_on_texts(texts: Iterable[str], vocab_size: int):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=train_bpe(texts, vocab_size, SPECIAL_TOKENS),
        pad_token=PAD,
        eos_token=EOS,
        bos_token=BOS,
        mask_token=MASK,
        additional_special_tokens=[END_OF_FILL, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE],
        clean_up_tokenization_spaces=False,
    )


def train_bpe(texts: Iterable[str], vocab_size: int, special_tokens: list[str]) -> Tokenizer:
    """A byte-level BPE trained on `texts`, its special tokens first in the given order."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return tok

"""A tiny model directory laid out as Google's released `google/diffusiongemma-26B-A4B-it` is: the real config
classes with a vision tower, bf16 weights in several safetensors shards with their index, a generation config
whose end tokens include the chat's end of turn, and a tokenizer with Gemma 4's control tokens and a chat
template (thinking switchable in a system turn) but no FIM tokens. No dglsp.json: dglsp must find its way
from what Google ships."""

from __future__ import annotations

from pathlib import Path

import torch

from dglsp.models.blank import SIZES, new_diffusion_gemma, stdlib_files
from dglsp.models.tokenizer import train_bpe

PAD, EOS, BOS, UNK, MASK = "<pad>", "<eos>", "<bos>", "<unk>", "<mask>"
TURN, END_TURN, CHANNEL, END_CHANNEL, THINK = "<|turn>", "<turn|>", "<|channel>", "<channel|>", "<|think|>"
IMAGE_START, IMAGE_END, IMAGE = "<|image>", "<image|>", "<|image|>"
SPECIAL = [PAD, EOS, BOS, UNK, MASK, TURN, END_TURN, CHANNEL, END_CHANNEL, THINK, IMAGE_START, IMAGE_END, IMAGE]
# Gemma 4's format (ai.google.dev, "Gemma 4 prompt formatting"): turns between <|turn>ROLE and <turn|>, thinking
# switched on by <|think|> in the system turn.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] == 'system' or enable_thinking %}"
    "<|turn>system\n{% if enable_thinking %}<|think|>{% endif %}"
    "{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}{% endif %}<turn|>\n"
    "{% endif %}"
    "{% for m in messages if m['role'] != 'system' %}"
    "<|turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n{{ m['content'] }}<turn|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|turn>model\n{% endif %}"
)


def gemma_like_tokenizer(vocab_size: int = 512, chat_template: str | None = CHAT_TEMPLATE):
    from transformers import PreTrainedTokenizerFast

    texts = (p.read_text(encoding="utf-8") for p in stdlib_files(12))
    return PreTrainedTokenizerFast(
        tokenizer_object=train_bpe(texts, vocab_size, SPECIAL),
        pad_token=PAD,
        eos_token=EOS,
        bos_token=BOS,
        unk_token=UNK,
        mask_token=MASK,
        additional_special_tokens=SPECIAL[5:],
        chat_template=chat_template,
        clean_up_tokenization_spaces=False,
    )


def make_google_shaped(out: Path) -> Path:
    tokenizer = gemma_like_tokenizer()
    ids = tokenizer.get_vocab()
    ends = [ids[EOS], ids[END_TURN]]
    model = new_diffusion_gemma(SIZES["tiny"], len(tokenizer)).to(torch.bfloat16)
    config = model.config
    config.boi_token_id, config.eoi_token_id, config.image_token_id = ids[IMAGE_START], ids[IMAGE_END], ids[IMAGE]
    config.text_config.eos_token_id = ends
    model.generation_config.eos_token_id = ends
    out.mkdir(parents=True, exist_ok=True)
    # Small shards, so the directory has several and an index, as a 50 GB checkpoint does.
    model.save_pretrained(out, max_shard_size="400KB")
    tokenizer.save_pretrained(out)
    assert not (out / "dglsp.json").exists()
    return out

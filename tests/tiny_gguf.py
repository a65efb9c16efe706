"""A tiny llama-architecture GGUF made at test time whose greedy output is known: a bigram table.

Attention and feed-forward weights are zero, so the last hidden state is the last token's embedding; with
one-hot embeddings the output head is then a next-token table. After `<|fim_middle|>` (the end of a FIM prompt)
or a newline (the end of a chat prompt's `assistant` header) it writes `x`, then `)`, then ends. The tokenizer
is byte-level BPE with no useful merges, so every byte of a prompt is one token and prompt lengths are known.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

SPECIALS = ("<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|im_start|>", "<|im_end|>")
EOS, FIM_PRE, FIM_SUF, FIM_MID = 0, 1, 2, 3
ANSWER = "x)"  # what the model writes after a FIM or chat prompt
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
N_EMBD, N_HEAD, N_FF = 320, 5, 64


def byte_symbols() -> list[str]:
    """GPT-2's byte-to-unicode table: each byte as the printable character byte-level BPE uses for it."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def write_tiny_gguf(path: Path) -> Path:
    symbols = byte_symbols()
    tokens = [*SPECIALS, *symbols, "ÿÿ"]  # one merge: llama.cpp wants the list, and no text here has it
    ids = {t: i for i, t in enumerate(tokens)}

    def byte_id(ch: str) -> int:
        return ids[symbols[ord(ch)]]

    follows = {FIM_MID: byte_id("x"), byte_id("\n"): byte_id("x"), byte_id("x"): byte_id(")")}
    vocab = len(tokens)
    embeddings = np.zeros((vocab, N_EMBD), np.float32)
    embeddings[np.arange(vocab), np.arange(vocab)] = 1.0
    head = np.zeros((vocab, N_EMBD), np.float32)
    for token in range(vocab):
        head[follows.get(token, EOS), token] = 1.0  # every other token is followed by the end

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(4096)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(1)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    control, normal = int(gguf.TokenType.CONTROL), int(gguf.TokenType.NORMAL)
    writer.add_token_types([control] * len(SPECIALS) + [normal] * (vocab - len(SPECIALS)))
    writer.add_token_merges(["ÿ ÿ"])
    writer.add_bos_token_id(EOS)
    writer.add_eos_token_id(EOS)
    writer.add_add_bos_token(False)
    for key, token in ((gguf.Keys.Tokenizer.FIM_PRE_ID, FIM_PRE), (gguf.Keys.Tokenizer.FIM_SUF_ID, FIM_SUF)):
        writer.add_uint32(key, token)
    writer.add_uint32(gguf.Keys.Tokenizer.FIM_MID_ID, FIM_MID)
    writer.add_chat_template(CHATML)
    zeros = {
        "attn_q": (N_EMBD, N_EMBD),
        "attn_k": (N_EMBD, N_EMBD),
        "attn_v": (N_EMBD, N_EMBD),
        "attn_output": (N_EMBD, N_EMBD),
        "ffn_gate": (N_FF, N_EMBD),
        "ffn_up": (N_FF, N_EMBD),
        "ffn_down": (N_EMBD, N_FF),
    }
    writer.add_tensor("token_embd.weight", embeddings)
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, np.float32))
    writer.add_tensor("output.weight", head)
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(N_EMBD, np.float32))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(N_EMBD, np.float32))
    for name, shape in zeros.items():
        writer.add_tensor(f"blk.0.{name}.weight", np.zeros(shape, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path

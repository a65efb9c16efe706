import pytest

SAMPLES = [
    "def f(x):\n    return x\n",
    "\tif a:\n\t\tb()\n\n\n",
    "x = 1   \n  \n",
    "s = 'héllo wörld ✓ 日本'\n",
    "",
    "\r\n\r\nend",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_round_trip_is_whitespace_faithful(tokenizer, text):
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.decode(ids) == text


def test_special_tokens_have_fixed_ids(tokenizer):
    vocab = tokenizer.get_vocab()
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id) == (0, 1, 2)
    assert vocab["<|endoffill|>"] == 3 and tokenizer.mask_token_id == 4

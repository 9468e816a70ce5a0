"""The compiled tokenizer: threads change its speed, never its output.

With several threads a block is cut into parts counted on their own and merged
into the counter shard by shard; the ids must still be first-seen order and the
counts and sentences those of one thread, which a plain Python reference checks.
Each part is also checked for valid UTF-8 and lowercased there, which must agree
with Python's decoder and str.lower.
"""

from __future__ import annotations

import numpy as np
import pytest

from mtlembed import TaskSpec, TrainConfig, backend, corpus
from mtlembed.encode import read_corpus

PART_BYTES = 1 << 18  # the tokenizer's smallest part: blocks need several to be split


def _tokenize(blocks, threads, max_distinct=1 << 30, max_sentence=1000, keep_empty=False, lower=None):
    core = backend.core()
    counter, stream = core.Counter(max_distinct), core.Stream(max_sentence, keep_empty)
    tokens, ends, total = [], [], 0
    for block in blocks:
        assert core.tokenize(block, counter, stream, threads, lower) == (len(block.split()),
                                                                         block.count(b"\n"))
        ids, sentence_ends = stream.take_sentences()
        ends.extend((sentence_ends + total).tolist())
        total += len(ids)
        tokens.extend(ids.tolist())
    stream.end_sentence()
    ids, sentence_ends = stream.take_sentences()
    ends.extend((sentence_ends + total).tolist())
    tokens.extend(ids.tolist())
    blob, word_ends, counts, held_ids = counter.words()
    starts = np.concatenate(([0], word_ends[:-1]))
    words = [blob[a:b] for a, b in zip(starts.tolist(), word_ends.tolist())]
    return tokens, ends, words, counts.tolist(), held_ids.tolist(), counter


def _reference(blocks, max_sentence=1000, keep_empty=False):
    """First-seen ids, counts and sentences, token by token (no pruning)."""
    ids, counts, words, tokens, ends = {}, [], [], [], []
    sentence = 0

    def end_sentence():
        nonlocal sentence
        if keep_empty or sentence:
            ends.append(len(tokens))
        sentence = 0

    for block in blocks:
        for line_no, line in enumerate(block.split(b"\n")):
            if line_no:
                end_sentence()
            for token in line.split():
                if token not in ids:
                    ids[token] = len(words)
                    words.append(token)
                    counts.append(0)
                counts[ids[token]] += 1
                tokens.append(ids[token])
                sentence += 1
                if sentence >= max_sentence:
                    end_sentence()
    end_sentence()
    return tokens, ends, words, counts


def _awkward_text(seed: int, size: int) -> bytes:
    """Tokens of every length from 1 to 40 (keys hold 16 bytes), shared prefixes,
    NUL bytes, UTF-8, all six whitespace bytes, runs of newlines (empty lines)."""
    rng = np.random.default_rng(seed)
    stems = ([b"a", b"a\x00", b"ab", b"x" * 8, b"x" * 8 + b"\x00", b"x" * 16, b"x" * 16 + b"y",
              b"\xc3\xa9t\xc3\xa9", b"q" * 40, b"q" * 39 + b"r"]
             + [bytes(rng.integers(97, 123, rng.integers(1, 41))) for _ in range(3000)])
    weights = 1.0 / np.arange(1, len(stems) + 1)  # Zipf-like: some words in every part, most in few
    picks = rng.choice(len(stems), size=size // 6, p=weights / weights.sum())
    gaps = rng.choice([b" ", b" ", b" ", b"\t", b"\n", b"\n\n\n", b"\r\n", b"\x0b", b"\x0c  "],
                      size=len(picks))
    return b"".join(stems[i] + gap for i, gap in zip(picks.tolist(), gaps.tolist()))


@pytest.mark.parametrize("threads", [2, 3, 8])
@pytest.mark.parametrize("keep_empty", [False, True])
def test_threads_give_the_single_thread_result(threads, keep_empty):
    text = _awkward_text(seed=threads, size=5 * PART_BYTES)
    cut = text.rfind(b" ", 0, 3 * PART_BYTES) + 1
    blocks = [text[:cut], text[cut:]]
    expected = _reference(blocks, max_sentence=37, keep_empty=keep_empty)
    one = _tokenize(blocks, 1, max_sentence=37, keep_empty=keep_empty)
    many = _tokenize(blocks, threads, max_sentence=37, keep_empty=keep_empty)
    for result in (one, many):
        tokens, ends, words, counts, held_ids, _ = result
        assert (tokens, ends, words, counts) == expected
        assert held_ids == list(range(len(words)))  # first-seen order


@pytest.mark.parametrize("keep_empty", [False, True])
def test_a_line_across_parts_is_cut_as_with_one_thread(keep_empty):
    # Three of the four parts without a newline: the sentence open at a part's start comes from the
    # parts before.
    text = _awkward_text(seed=5, size=PART_BYTES).replace(b"\n", b" ")
    late = text.index(b" ", len(text) * 4 // 5)
    blocks = [text[:late] + b"\n\n" + text[late:]]
    expected = _reference(blocks, max_sentence=37, keep_empty=keep_empty)
    assert _tokenize(blocks, 4, max_sentence=37, keep_empty=keep_empty)[:4] == expected


def test_a_block_ending_with_a_token_longer_than_its_key():
    # The last token of a block is read without reading past the block.
    for length in (1, 7, 8, 9, 15, 16, 17, 40):
        blocks = [b"w" * length, b" " + b"w" * length + b"\n"]
        tokens, ends, words, counts, _, _ = _tokenize(blocks, 1)
        assert words == [b"w" * length] and counts == [2] and tokens == [0, 0]


def test_near_the_distinct_limit_a_block_is_counted_serially_with_the_same_pruning():
    text = _awkward_text(seed=7, size=3 * PART_BYTES)
    blocks = [text[: text.rfind(b" ", 0, len(text) // 2) + 1], text[text.rfind(b" ", 0, len(text) // 2) + 1:]]
    one = _tokenize(blocks, 1, max_distinct=500)
    many = _tokenize(blocks, 4, max_distinct=500)
    assert one[-1].prunings > 0 and many[-1].prunings == one[-1].prunings
    assert one[:5] == many[:5] and one[-1].issued == many[-1].issued


def test_threads_must_be_positive():
    core = backend.core()
    with pytest.raises(ValueError, match="threads"):
        core.tokenize(b"a b ", core.Counter(10), core.Stream(10), 0)


def test_reading_a_corpus_with_threads_is_identical(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(_awkward_text(seed=3, size=3 * PART_BYTES).replace(b"\x00", b"0"))
    task = [TaskSpec("t", (str(path),))]
    one = read_corpus(task, TrainConfig(min_count=1, threads=1))
    many = read_corpus(task, TrainConfig(min_count=1, threads=4))
    assert one.vocab.words == many.vocab.words and np.array_equal(one.vocab.counts, many.vocab.counts)
    assert np.array_equal(one.streams[0].tokens, many.streams[0].tokens)
    assert np.array_equal(one.streams[0].offsets, many.streams[0].offsets)


# ----------------------------------------------------------------------------- UTF-8 and lowercase


def _mixed_case_text(seed: int, size: int) -> bytes:
    """Words in every script with case (and some without), capitalized at random."""
    rng = np.random.default_rng(seed)
    letters = [chr(c) for c in range(0x41, 0x24F)] + [chr(c) for c in range(0x391, 0x3A1)] + \
              [chr(c) for c in range(0x400, 0x4FF)] + list("ǅǈİıẞΩ℀ⅠⒶⰀꙀ日本語") + [chr(0x10400), chr(0x1E900)]
    words = ["".join(rng.choice(letters, rng.integers(1, 12))) for _ in range(2000)]
    picks = rng.integers(0, len(words), size // 8)
    text = " ".join(words[i] if i % 3 else words[i].upper() for i in picks.tolist())
    return "\n".join(text[i:i + 300] for i in range(0, len(text), 300)).encode()


def test_the_case_map_is_str_lower_for_every_character():
    # Every code point with a lowercase form, each as a token: the map must give what str.lower gives.
    chars = [chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c < 0xE000 and c != 0x3A3]
    cased = [c for c in chars if c.lower() != c]
    assert all(ord(c) < 0x20000 for c in cased)  # why the map stops there (corpus._CASED_END)
    block = " ".join(c + c for c in cased + chars[:2000]).encode() + b" "
    expected = list(dict.fromkeys(block.decode().lower().encode().split()))  # bytes: ASCII whitespace only
    _, _, words, _, _, _ = _tokenize([block], 2, lower=corpus.case_map())
    assert words == expected


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("ascii", [False, True])  # ASCII runs are lowercased 16 bytes at a time
def test_lowercasing_in_parts_matches_python(threads, ascii):
    text = _mixed_case_text(seed=threads, size=3 * PART_BYTES)
    if ascii:
        text = _awkward_text(seed=threads, size=3 * PART_BYTES)
        text = b" ".join(w.upper() if i % 3 else w for i, w in enumerate(text.split(b" ")))
    cut = text.rfind(b" ", 0, 2 * PART_BYTES) + 1
    blocks = [text[:cut], text[cut:]]
    expected = _reference([b.decode().lower().encode() for b in blocks], max_sentence=37)
    tokens, ends, words, counts, _, _ = _tokenize(blocks, threads, max_sentence=37, lower=corpus.case_map())
    assert (tokens, ends, words, counts) == expected
    # without the map the text is only checked: the same tokens as the raw bytes
    assert _tokenize(blocks, threads, max_sentence=37)[:4] == _reference(blocks, max_sentence=37)


@pytest.mark.parametrize("refused", [b"bad \xff byte", b"cut \xe6\x97", b"surrogate \xed\xa0\x80",
                                     b"overlong \xc0\xaf", b"past \xf4\x90\x80\x80", "ΟΔΟΣ".encode()])
@pytest.mark.parametrize("threads", [1, 4])
def test_a_refused_block_counts_nothing(refused, threads):
    # Invalid UTF-8 anywhere (here in the last part), or a capital sigma to lowercase: the block is
    # left to Python whole, and neither the counter nor the stream has changed.
    core = backend.core()
    lower = corpus.case_map() if b"\xce\xa3" in refused else None
    counter, stream = core.Counter(1 << 20), core.Stream(1000)
    block = _awkward_text(seed=1, size=3 * PART_BYTES) + refused + b"\n"
    assert core.tokenize(block, counter, stream, threads, lower) is None
    assert len(counter) == counter.issued == 0 and len(stream.take_sentences()[0]) == 0
    text = (block.decode("utf-8", "replace").lower().encode() if lower
            else block.decode("utf-8", "replace").encode())
    assert core.tokenize(text, counter, stream, threads) == (len(text.split()), text.count(b"\n"))


def test_reading_lowercases_final_sigma_as_python_does(tmp_path):
    path = tmp_path / "greek.txt"
    path.write_text("ΟΔΟΣ ΣΟΦΙΑ Σ ΑΣ.\nÄpfel\n", encoding="utf-8")
    words = read_corpus([TaskSpec("t", (str(path),))], TrainConfig(min_count=1, lowercase=True)).vocab.words
    assert words == "ΟΔΟΣ ΣΟΦΙΑ Σ ΑΣ. Äpfel".lower().split() == ["οδος", "σοφια", "σ", "ας.", "äpfel"]

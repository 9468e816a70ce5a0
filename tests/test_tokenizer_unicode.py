"""The `unicode` tokenizer (--tokenizer unicode): Unicode word boundaries in the compiled tokenizer.

Words are runs of letters, digits and marks; ' - . join two letters or digits and , two digits;
every other punctuation or symbol character is a token of its own; Han and hiragana characters
are a token each; every Unicode space separates. Threads and block boundaries change nothing,
which a Python reference over random text of every character class checks.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from mtlembed import TaskSpec, TrainConfig, backend, corpus
from mtlembed.encode import read_corpus
from mtlembed.errors import CorpusError

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("gen_unicode_tables", ROOT / "tools" / "gen_unicode_tables.py")
tables = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tables)


def tokenize(text: str | bytes, tokenizer: str = "unicode", threads: int = 1,
             lower: bool = False) -> tuple[list[list[str]], object]:
    """The sentences of one block as lists of token strings, and the counter."""
    core = backend.core()
    counter, stream = core.Counter(1 << 30), core.Stream(1000)
    block = text.encode() if isinstance(text, str) else text
    done = core.tokenize(block, counter, stream, threads, corpus.case_map() if lower else None, tokenizer)
    assert done is not None, "block refused"
    stream.end_sentence()
    ids, ends = stream.take_sentences()
    blob, word_ends, _, held = counter.words()
    starts = np.concatenate(([0], word_ends[:-1]))
    by_id = {int(i): blob[a:b].decode() for i, a, b in zip(held, starts, word_ends)}
    tokens = [by_id[int(i)] for i in ids]
    return [tokens[a:b] for a, b in zip([0, *ends[:-1].tolist()], ends.tolist())], counter


def words(text: str, **options) -> list[str]:
    return [token for sentence in tokenize(text + "\n", **options)[0] for token in sentence]


def test_punctuation_is_split_off_as_tokens_of_its_own():
    assert words("The king, the computer. (Really?) \"Yes!\"") == [
        "The", "king", ",", "the", "computer", ".", "(", "Really", "?", ")", '"', "Yes", "!", '"']
    assert words("$5 10% a+b #tag @me ...") == ["$", "5", "10", "%", "a", "+", "b", "#", "tag", "@", "me",
                                                ".", ".", "."]
    assert words("¿Qué? «Oui» „Ja“ 【注】") == "¿ Qué ? « Oui » „ Ja “ 【 注 】".split()


def test_whitespace_tokenizer_is_unchanged():
    assert words("The king, the computer.", tokenizer="whitespace") == ["The", "king,", "the", "computer."]
    assert words("a\u00a0b\u3000c", tokenizer="whitespace") == ["a\u00a0b\u3000c"]


def test_every_unicode_space_separates_words():
    spaces = [chr(c) for c in range(0x110000)
              if tables.white_space(c, unicodedata.category(chr(c))) and c != 0x0A]
    assert set("\u00a0\u1680\u2007\u202f\u205f\u3000\u2028\u2029\u0085") <= set(spaces)
    for space in [*spaces, "\u200b"]:  # and ZERO WIDTH SPACE, which Thai and Khmer text uses between words
        assert words(f"alpha{space}beta{space}{space}gamma") == ["alpha", "beta", "gamma"], hex(ord(space))
    # Controls separate too (they are no part of a word), and never become tokens.
    assert words("a\x00b\x1fc\x7fd") == ["a", "b", "c", "d"]


def test_only_a_newline_ends_a_sentence():
    sentences, _ = tokenize("one two\u2028three\u2029four\u0085five\r\nsix\n")
    assert sentences == [["one", "two", "three", "four", "five"], ["six"]]


def test_han_and_hiragana_are_a_token_each_katakana_and_hangul_runs_one():
    assert words("東京は日本の首都です。") == list("東京は日本の首都です。")
    assert words("コンピューターを使う") == ["コンピューター", "を", "使", "う"]
    assert words("人々 〇") == ["人", "々", "〇"]
    assert words("한국어 사전을") == ["한국어", "사전을"]
    assert words("ｶﾀｶﾅ，全角") == ["ｶﾀｶﾅ", "，", "全", "角"]  # half-width katakana, a fullwidth comma
    assert words("が") == ["が"]  # a decomposed ga: the voicing mark stays with its kana


def test_thai_and_other_unspaced_scripts_keep_their_runs_whole():
    assert words("ภาษาไทยง่ายมาก ครับ") == ["ภาษาไทยง่ายมาก", "ครับ"]  # ่ (U+0E48) is a mark inside the run
    assert words("ພາສາລາວ ភាសាខ្មែរ") == ["ພາສາລາວ", "ភាសាខ្មែរ"]
    assert words("ภาษา\u200bไทย") == ["ภาษา", "ไทย"]


def test_combining_marks_stay_in_their_word():
    assert words("cafe\u0301 nai\u0308ve") == ["cafe\u0301", "nai\u0308ve"]
    assert words("हिन्दी भाषा") == ["हिन्दी", "भाषा"]  # virama and vowel signs (Mn, Mc)
    assert words("\u0301abc") == ["\u0301abc"]  # a mark with no base still belongs to the word after it
    assert words("x\u0301,y") == ["x\u0301", ",", "y"]
    assert words("❤\ufe0f ok") == ["❤\ufe0f", "ok"]  # a variation selector stays with its symbol


def test_digits_and_separators_inside_numbers():
    assert words("3.14 1,000 1,000.5 2024-05-01 10:30") == "3.14 1,000 1,000.5 2024-05-01 10 : 30".split()
    assert words("a,b 1, 2 ,5") == ["a", ",", "b", "1", ",", "2", ",", "5"]
    assert words("٣٫١٤ ١٬٠٠٠ ४२") == ["٣٫١٤", "١٬٠٠٠", "४२"]  # Arabic separators, Devanagari digits
    assert words("covid-19 mp3 x86_64") == ["covid-19", "mp3", "x86_64"]


def test_apostrophes_hyphens_and_dots_join_two_letters_only():
    assert words("don't don’t l'homme rock'n'roll e-mail state-of-the-art l·l") == [
        "don't", "don’t", "l'homme", "rock'n'roll", "e-mail", "state-of-the-art", "l·l"]
    assert words("'quoted' dogs' ’twas -5 a--b a-.b end.") == \
        "' quoted ' dogs ' ’ twas - 5 a - - b a - . b end .".split()
    assert words("צה״ל") == ["צה״ל"]
    assert words("e.g. U.S.A. www.example.org") == ["e.g", ".", "U.S.A", ".", "www.example.org"]


def test_emoji_sequences_and_flags_stay_whole():
    family = "👨\u200d👩\u200d👧"
    assert words(f"{family}🇪🇸🇫🇷🇩 hi👋🏽") == [family, "🇪🇸", "🇫🇷", "🇩", "hi", "👋🏽"]


def test_lowercasing_then_word_boundaries():
    assert words("The KING, ÄRGER İstanbul", lower=True) == ["the", "king", ",", "ärger", "i̇stanbul"]


def test_reading_lowercases_final_sigma_and_splits_its_punctuation(tmp_path):
    path = tmp_path / "greek.txt"
    path.write_text("ΟΔΟΣ. ΟΔΟΣ, ΣΟΦΟΣ ΟΔΟΣ\n" * 3)
    data = read_corpus([TaskSpec("t", (str(path),))], TrainConfig(min_count=1, lowercase=True,
                                                                   tokenizer="unicode"))
    assert set(data.vocab.words) == {"οδος", ".", ",", "σοφος"}


def test_invalid_utf8_is_refused_then_replaced_inside_its_word(tmp_path):
    core = backend.core()
    assert core.tokenize(b"caf\xe9 lait,\n", core.Counter(100), core.Stream(10), 1, None, "unicode") is None
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"caf\xe9 au lait, caf\xe9!\n" * 2)
    config = TrainConfig(min_count=1, tokenizer="unicode")
    with pytest.warns(corpus.CorpusWarning, match="4 invalid UTF-8 bytes"):
        data = read_corpus([TaskSpec("t", (str(path),))], config)
    assert sorted(data.vocab.words) == sorted(["caf\ufffd", "au", "lait", ",", "!"])
    with pytest.raises(CorpusError, match=r"latin1.txt:1: invalid UTF-8 \(bytes e9\)"):
        read_corpus([TaskSpec("t", (str(path),))], config.replace(encoding_errors="strict"))


def test_an_unknown_tokenizer_is_refused():
    core = backend.core()
    with pytest.raises(ValueError, match="whitespace or unicode"):
        core.tokenize(b"a b\n", core.Counter(100), core.Stream(10), 1, None, "words")
    with pytest.raises(ValueError, match="tokenizer"):
        TrainConfig(tokenizer="words")


# Pieces of every class: letters of several scripts, digits, marks, joiners, symbols, spaces.
_PIECES = ["the", "King", "ärger", "don't", "3.14", "1,000", ",", ".", "-", "'", "’", "!", "(", ")", "東",
           "京", "は", "カタカナ", "한국", "ภาษาไทย", "\u0301", "\u200d", "👨", "🇪", "🇸", "\ufe0f", "٣", "٫",
           "_", "$", "\u00a0", "\u3000", "\u2028", "\u200b", "\t", "x", "ΣΟΦΟΣ", "e-", "-mail", "a", "1"]


# Mostly ASCII letters and spaces, as English is: 16-byte runs of them take a fast path.
_ENGLISH = ["the", "computer", "Kings", "of", "42", " ", "  ", "\n", "international", "ABCDEFGHIJKLMNOPQRS",
            ",", ".", "-", "'", "é", "\u0301", "東"]


def _random_text(seed: int, size: int, pieces: list[str] = _PIECES) -> str:
    rng = np.random.default_rng(seed)
    count = size // 4
    chosen = np.array(pieces)[rng.integers(len(pieces), size=count)]
    gaps = np.array(["", "", " ", "\n"])[rng.integers(4, size=count)]
    return "".join(p + g for p, g in zip(chosen, gaps)) + "\n"


def _reference(text: str) -> list[list[str]]:
    """The rules of split_words, character by character, on the generator's classes."""
    sentences, tokens, current = [], [], ""
    open_kind, last_digit, after_zwj, lone_regional = None, False, False, False

    def close():
        nonlocal current
        if current:
            tokens.append(current)
        current = ""

    kinds = [tables.word_class(ord(c)) for c in text]
    for i, (char, kind) in enumerate(zip(text, kinds)):
        if kind in ("joiner", "numeric_joiner"):
            following = kinds[i + 1] if i + 1 < len(text) else "separator"
            joins = open_kind == "word" and (following in ("letter", "digit") if kind == "joiner"
                                             else last_digit and following == "digit")
            kind = "extend" if joins else "symbol"
        if kind == "separator":
            close()
            open_kind = None
            if char == "\n":
                sentences.append(tokens)
                tokens = []
            after_zwj = False
            continue
        continues = (kind in ("extend", "zwj") or (kind in ("letter", "digit") and open_kind == "word")
                     or (kind == "symbol" and open_kind == "symbolic" and after_zwj)
                     or (kind == "regional" and open_kind == "symbolic" and lone_regional))
        if not continues:
            close()
        current += char
        if kind in ("letter", "digit"):
            open_kind, last_digit = "word", kind == "digit"
        elif open_kind is None:
            open_kind, last_digit = ("word" if kind in ("extend", "zwj") else "symbolic"), False
        elif not continues:
            open_kind = "symbolic"
        lone_regional = kind == "regional" and not (continues and lone_regional)
        after_zwj = kind == "zwj"
    close()
    return [s for s in sentences + [tokens] if s]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("pieces", [_PIECES, _ENGLISH], ids=["every-class", "mostly-ascii"])
def test_random_text_matches_the_reference(seed, pieces):
    text = _random_text(seed, 20000, pieces)
    assert [s for s in tokenize(text)[0] if s] == _reference(text)


def _encoded(block: bytes, threads: int, max_distinct: int = 1 << 30):
    """Everything the tokenizer gives: ids, sentence ends, and the counter's words, counts and ids."""
    core = backend.core()
    counter, stream = core.Counter(max_distinct), core.Stream(1000)
    assert core.tokenize(block, counter, stream, threads, None, "unicode") is not None
    stream.end_sentence()
    ids, ends = stream.take_sentences()
    blob, word_ends, counts, held = counter.words()
    return (ids.tolist(), ends.tolist(), blob, word_ends.tolist(), counts.tolist(), held.tolist(),
            counter.prunings)


@pytest.mark.parametrize("threads", [2, 3, 8])
def test_threads_give_the_single_thread_result(threads):
    block = _random_text(7, 1 << 20).encode()  # ~2.5 MB of UTF-8: several parts of at least 256 KiB
    assert _encoded(block, threads) == _encoded(block, 1)
    # Near the distinct limit the block is counted serially, pruning where one thread prunes.
    pruned = _encoded(block, 1, max_distinct=100)
    assert pruned[-1] > 0
    assert _encoded(block, threads, max_distinct=100) == pruned


def test_block_boundaries_change_nothing(tmp_path, monkeypatch):
    text = _random_text(11, 300_000)
    path = tmp_path / "mixed.txt"
    path.write_text(text)
    config = TrainConfig(min_count=1, tokenizer="unicode", lowercase=True, threads=2)

    def read():
        data = read_corpus([TaskSpec("t", (str(path),))], config)
        return data.vocab.words, data.vocab.counts.tolist(), data.streams[0].tokens.tolist()

    whole = read()
    monkeypatch.setattr(corpus, "BLOCK_BYTES", 997)  # blocks cut every few hundred characters
    assert read() == whole
    lowered = [[t.lower() for t in s] for s in _reference(text.lower())]
    assert sum(map(len, lowered)) == len(whole[2])


def test_the_committed_tables_are_the_generator_output():
    header = ROOT / "csrc" / "corpus" / "unicode_classes.h"
    committed = header.read_text(encoding="utf-8")
    if f"Unicode {unicodedata.unidata_version} " not in committed.splitlines()[0]:
        pytest.skip(f"this Python has Unicode {unicodedata.unidata_version}, the header another version")
    assert tables.header() == committed


def test_cli_trains_on_unicode_words(tmp_path):
    corpus_path = tmp_path / "text.txt"
    corpus_path.write_text("The king, the queen. The king\u00a0rules; the queen rules!\n" * 50)
    out = tmp_path / "v.vec"
    result = subprocess.run([sys.executable, "-m", "mtlembed", "train", str(corpus_path), "-o", str(out),
                             "--tokenizer", "unicode", "--lowercase", "--min-count", "1", "--dim", "8",
                             "--epochs", "1", "--threads", "1"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    vocabulary = {line.split(" ")[0] for line in out.read_text(encoding="utf-8").splitlines()[1:]}
    assert vocabulary == {"the", "king", "queen", "rules", ",", ".", ";", "!"}

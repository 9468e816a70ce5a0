// UTF-8 checking, lowercasing and Unicode word boundaries of corpus text, done
// by the tokenizer on each part of a block in parallel (Python's reader thread
// only reads and cuts).
//
// The lowercase forms come from Python's own str.lower (mtlembed/corpus.py
// builds the CaseMap), so the two agree exactly. One rule of str.lower depends
// on the neighbours of a character, Greek capital sigma (final sigma); text
// holding one is refused and left to Python, as is invalid UTF-8 (Python
// reports it, or replaces and counts it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mtl::corpus {

class CaseMap {
 public:
  // Code point code_points[i] lowercases to lowered[ends[i-1], ends[i]) (UTF-8);
  // the `contextual` ones lowercase by their neighbours. Code points not listed
  // are their own lowercase. ASCII is lowercased without the map.
  CaseMap(const std::vector<uint32_t>& code_points, const std::string& lowered, const std::vector<int64_t>& ends,
          const std::vector<uint32_t>& contextual);
  static constexpr uint32_t kSame = 0, kContextual = 0xFFFFFFFF;
  // kSame, kContextual, or (offset into text() << 8 | length) of the lowercase form.
  uint32_t entry(uint32_t code_point) const {
    const int32_t page = pages_[code_point >> 8];
    return page < 0 ? kSame : entries_[static_cast<size_t>(page) * 256 + (code_point & 255)];
  }
  const char* text() const { return text_.data(); }

 private:
  void set(uint32_t code_point, uint32_t entry);
  std::vector<int32_t> pages_;     // per 256 code points: a page of entries_, or -1
  std::vector<uint32_t> entries_;
  std::string text_;
};

// Checks that [text, text + size) is valid UTF-8 and, if `lower` is set,
// appends its lowercase to `out` (left partial when refused).
enum class Verdict { kOk, kInvalid, kContextual };
Verdict check_text(const char* text, size_t size, const CaseMap* lower, std::string& out);

// Writes valid UTF-8 `text` to `out` with its Unicode words (the `unicode`
// tokenizer) separated by spaces, so that splitting `out` on ASCII whitespace
// gives them: runs of letters, digits and marks are words, with ' - . inside
// them between two letters or digits (don't, e-mail, 3.5) and , between two
// digits (1,000); every other punctuation or symbol character is a token of
// its own; Han ideographs and hiragana are a token each; every Unicode space
// separates. ASCII whitespace is kept (a newline still ends a sentence); other
// separators become spaces. The classes: tools/gen_unicode_tables.py.
void split_words(const char* text, size_t size, std::string& out);

}  // namespace mtl::corpus

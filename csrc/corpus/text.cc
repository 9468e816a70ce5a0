#include "text.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../common.h"
#include "unicode_classes.h"

namespace mtl::corpus {
namespace {

constexpr uint32_t kCodePoints = 0x110000;

// The length of the well-formed UTF-8 sequence at p (non-ASCII lead byte) and
// its code point, or 0. Overlong forms, surrogates and code points past
// U+10FFFF are ill-formed, as for Python's decoder.
size_t decode(const unsigned char* p, const unsigned char* end, uint32_t& code_point) {
  const unsigned lead = p[0];
  unsigned low = 0x80, high = 0xBF;  // the range of the second byte
  size_t length;
  if (lead < 0xC2) return 0;  // a continuation byte, or an overlong 2-byte lead
  if (lead < 0xE0) {
    length = 2, code_point = lead & 0x1F;
  } else if (lead < 0xF0) {
    length = 3, code_point = lead & 0x0F;
    if (lead == 0xE0) low = 0xA0;         // overlong
    else if (lead == 0xED) high = 0x9F;   // surrogates
  } else if (lead < 0xF5) {
    length = 4, code_point = lead & 0x07;
    if (lead == 0xF0) low = 0x90;         // overlong
    else if (lead == 0xF4) high = 0x8F;   // past U+10FFFF
  } else {
    return 0;
  }
  if (static_cast<size_t>(end - p) < length || p[1] < low || p[1] > high) return 0;
  code_point = code_point << 6 | (p[1] & 0x3F);
  for (size_t i = 2; i < length; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    code_point = code_point << 6 | (p[i] & 0x3F);
  }
  return length;
}

char ascii_lower(unsigned char c) { return static_cast<char>(static_cast<unsigned>(c - 'A') < 26u ? c + 32 : c); }

template <bool kLower>
Verdict check(const char* text, size_t size, const CaseMap* lower, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(text);
  const auto* const end = p + size;
  char* w = nullptr;
  const size_t start = out.size();
  if (kLower) {
    out.resize(start + size + size / 2 + 16);  // a lowercase form is at most 1.5x as long (U+0130: 2 -> 3 bytes)
    w = &out[start];
  }
  Verdict verdict = Verdict::kOk;
  while (p < end) {
#if defined(__SSE2__)
    // ASCII runs 16 bytes at a time.
    while (end - p >= 16) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      if (_mm_movemask_epi8(v) != 0) break;
      if (kLower) {
        const __m128i offset = _mm_sub_epi8(v, _mm_set1_epi8('A'));
        const __m128i upper = _mm_cmpeq_epi8(_mm_min_epu8(offset, _mm_set1_epi8(25)), offset);
        v = _mm_or_si128(v, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(w), v);
        w += 16;
      }
      p += 16;
    }
    if (p == end) break;
#endif
    if (*p < 0x80) {
      if (kLower) *w++ = ascii_lower(*p);
      ++p;
      continue;
    }
    uint32_t code_point;
    const size_t length = decode(p, end, code_point);
    if (length == 0) {
      verdict = Verdict::kInvalid;
      break;
    }
    if (kLower) {
      const uint32_t entry = lower->entry(code_point);
      if (entry == CaseMap::kContextual) {
        verdict = Verdict::kContextual;
        break;
      }
      if (entry == CaseMap::kSame) {
        for (size_t i = 0; i < length; ++i) *w++ = static_cast<char>(p[i]);
      } else {
        const char* form = lower->text() + (entry >> 8);
        for (uint32_t i = 0; i < (entry & 255); ++i) *w++ = form[i];
      }
    }
    p += length;
  }
  if (kLower) out.resize(static_cast<size_t>(w - out.data()));
  return verdict;
}

// The code point of the well-formed UTF-8 sequence at p, and its length.
size_t decode_valid(const unsigned char* p, uint32_t& code_point) {
  if (p[0] < 0x80) return code_point = p[0], 1;
  if (p[0] < 0xE0) return code_point = (p[0] & 0x1Fu) << 6 | (p[1] & 0x3Fu), 2;
  if (p[0] < 0xF0) return code_point = (p[0] & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu), 3;
  code_point = (p[0] & 0x07u) << 18 | (p[1] & 0x3Fu) << 12 | (p[2] & 0x3Fu) << 6 | (p[3] & 0x3Fu);
  return 4;
}

// ASCII letters and digits: the common case, copied without a table lookup per class.
struct AsciiWordTable {
  bool word[256] = {};
  AsciiWordTable() {
    for (int c = 0; c < 128; ++c) {
      const unicode::WordClass k = unicode::word_class(static_cast<uint32_t>(c));
      word[c] = k == unicode::kLetter || k == unicode::kDigit;
    }
  }
};
const AsciiWordTable kAsciiWord;

#if defined(__SSE2__)
// Whether the 16 bytes at p are all ASCII letters, digits or whitespace: most of an English
// text, which is then its own output. (Bytes >= 0x80 are negative as signed and fail every range.)
bool plain16(const unsigned char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const auto within = [](__m128i x, char low, char high) {
    return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(static_cast<char>(low - 1))),
                         _mm_cmplt_epi8(x, _mm_set1_epi8(static_cast<char>(high + 1))));
  };
  const __m128i letter = within(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');  // | 0x20: A-Z onto a-z
  const __m128i space = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), within(v, '\t', '\r'));
  return _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(letter, within(v, '0', '9')), space)) == 0xFFFF;
}
#endif

}  // namespace

void split_words(const char* text, size_t size, std::string& out) {
  using namespace unicode;
  const auto* p = reinterpret_cast<const unsigned char*>(text);
  const auto* const end = p + size;
  const size_t start = out.size();
  out.resize(start + 2 * size + 1);  // at most a space before each character
  char* w = &out[start];
  // The token being written: none (after a separator), a word, or a symbol or ideograph (which
  // the next letter does not continue). A symbol token continues only after a ZWJ (an emoji
  // sequence) or as the second regional indicator of a flag.
  enum { kNone, kWord, kSymbolic } open = kNone;
  bool last_digit = false, after_zwj = false, lone_regional = false;
  while (p < end) {
#if defined(__SSE2__)
    if (open != kSymbolic && end - p >= 16 && plain16(p)) {  // copied as it is
      std::memcpy(w, p, 16);
      w += 16, p += 16;
      open = kAsciiWord.word[p[-1]] ? kWord : kNone;
      last_digit = p[-1] <= '9';
      after_zwj = lone_regional = false;
      continue;
    }
#endif
    uint32_t code_point;
    const size_t length = decode_valid(p, code_point);
    WordClass kind = word_class(code_point);
    if (kind == kJoiner || kind == kNumericJoiner) {  // inside a word only between two letters / digits
      WordClass next = kSeparator;
      if (p + length < end) {
        uint32_t next_point;
        decode_valid(p + length, next_point);
        next = word_class(next_point);
      }
      const bool joins = open == kWord && (kind == kJoiner ? next == kLetter || next == kDigit
                                                           : last_digit && next == kDigit);
      kind = joins ? kExtend : kSymbol;
    }
    const bool continues = kind == kExtend || kind == kZwj ||
                           ((kind == kLetter || kind == kDigit) && open == kWord) ||
                           (kind == kSymbol && open == kSymbolic && after_zwj) ||
                           (kind == kRegional && open == kSymbolic && lone_regional);
    if (kind == kSeparator) {
      *w++ = code_point == '\n' ? '\n' : ' ';  // a newline still ends the sentence
      open = kNone;
    } else {
      if (!continues && open != kNone) *w++ = ' ';
      for (size_t i = 0; i < length; ++i) *w++ = static_cast<char>(p[i]);
      if (kind == kLetter || kind == kDigit) {
        open = kWord;
        last_digit = kind == kDigit;
        p += length;
        while (p < end && kAsciiWord.word[*p]) last_digit = (*p <= '9'), *w++ = static_cast<char>(*p++);
        after_zwj = lone_regional = false;
        continue;
      }
      if (open == kNone) {
        open = kind == kExtend || kind == kZwj ? kWord : kSymbolic;  // a mark after a space starts a word
        last_digit = false;
      }
      else if (!continues) open = kSymbolic;
      lone_regional = kind == kRegional && !(continues && lone_regional);
    }
    after_zwj = kind == kZwj;
    p += length;
  }
  out.resize(static_cast<size_t>(w - out.data()));
}

CaseMap::CaseMap(const std::vector<uint32_t>& code_points, const std::string& lowered,
                 const std::vector<int64_t>& ends, const std::vector<uint32_t>& contextual)
    : pages_(kCodePoints >> 8, -1), text_(lowered) {
  MTL_CHECK(code_points.size() == ends.size(), "CaseMap: one end per code point");
  int64_t begin = 0;
  for (size_t i = 0; i < code_points.size(); ++i) {
    const int64_t length = ends[i] - begin;
    MTL_CHECK(length >= 1 && length < 256 && ends[i] <= static_cast<int64_t>(lowered.size()) &&
                  lowered.size() < (size_t{1} << 24),
              "CaseMap: bad lowercase form for U+", code_points[i]);
    set(code_points[i], static_cast<uint32_t>(begin) << 8 | static_cast<uint32_t>(length));
    begin = ends[i];
  }
  for (const uint32_t code_point : contextual) set(code_point, kContextual);
}

void CaseMap::set(uint32_t code_point, uint32_t entry) {
  MTL_CHECK(code_point >= 0x80 && code_point < kCodePoints, "CaseMap: code point out of range: ", code_point);
  int32_t& page = pages_[code_point >> 8];
  if (page < 0) {
    page = static_cast<int32_t>(entries_.size() / 256);
    entries_.resize(entries_.size() + 256, kSame);
  }
  entries_[static_cast<size_t>(page) * 256 + (code_point & 255)] = entry;
}

Verdict check_text(const char* text, size_t size, const CaseMap* lower, std::string& out) {
  return lower ? check<true>(text, size, lower, out) : check<false>(text, size, nullptr, out);
}

}  // namespace mtl::corpus

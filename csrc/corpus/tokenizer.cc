#include "tokenizer.h"

#include <cstring>

#include "../common.h"

namespace mtl::corpus {
namespace {

uint64_t hash_bytes(const char* p, size_t n) {
  // 8 bytes per multiply; good enough spread for an open-addressing table.
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ (v * 0x87C37B91114253D5ull)) * 0x4CF5AD432745937Full;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  h = (h ^ (tail * 0x87C37B91114253D5ull)) * 0x4CF5AD432745937Full;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

struct WhitespaceTable {
  bool space[256] = {};
  WhitespaceTable() {
    for (unsigned char c : {' ', '\t', '\n', '\r', '\v', '\f'}) space[c] = true;
  }
};
const WhitespaceTable kWhitespace;

}  // namespace

Counter::Counter(int64_t max_distinct) : max_distinct_(max_distinct), slots_(1 << 16, -1) {
  MTL_CHECK(max_distinct >= 4, "max_distinct must be >= 4");
}

int32_t Counter::add(const char* text, size_t length) {
  const uint64_t h = hash_bytes(text, length);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const int32_t held = slots_[i];
    if (held < 0) {
      MTL_CHECK(issued_ < 0x7FFFFFFF, "more than 2^31 - 1 provisional token ids in one language "
                "(distinct tokens, plus dropped ones that came back)");
      const int32_t fresh = static_cast<int32_t>(issued_++);
      slots_[i] = static_cast<int32_t>(counts_.size());
      text_.append(text, length);
      ends_.push_back(static_cast<int64_t>(text_.size()));
      counts_.push_back(1);
      hashes_.push_back(h);
      ids_.push_back(fresh);
      if (static_cast<int64_t>(counts_.size()) > max_distinct_)
        prune();  // may drop this very token: its id then stays unheld, mapped to "dropped"
      else if (counts_.size() * 2 > slots_.size())
        grow();
      return fresh;
    }
    if (hashes_[held] == h) {
      const int64_t begin = held == 0 ? 0 : ends_[held - 1];
      if (static_cast<size_t>(ends_[held] - begin) == length && std::memcmp(text_.data() + begin, text, length) == 0) {
        ++counts_[held];
        return ids_[held];
      }
    }
  }
}

void Counter::grow() { rebuild_slots(slots_.size() * 2); }

void Counter::rebuild_slots(size_t slot_count) {
  slots_.assign(slot_count, -1);
  const size_t mask = slot_count - 1;
  for (int32_t held = 0; held < static_cast<int32_t>(counts_.size()); ++held) {
    size_t i = hashes_[held] & mask;
    while (slots_[i] >= 0) i = (i + 1) & mask;
    slots_[i] = held;
  }
}

void Counter::prune() {
  // Raise the threshold until at most 3/4 of the limit survive; counting first
  // and compacting once keeps a pruning at one pass over the text. Each raise
  // needs as many tokens as there are survivors, so the passes cost O(corpus).
  const int64_t target = max_distinct_ - max_distinct_ / 4;
  int64_t kept = 0;
  do {
    ++threshold_;
    kept = 0;
    for (const int64_t c : counts_) kept += c > threshold_;
  } while (kept > target);
  // Compact in place, in held order (so first-seen order, the tie-break of the vocabulary, holds).
  size_t write = 0, text_end = 0;
  int64_t begin = 0;
  for (size_t held = 0; held < counts_.size(); ++held) {
    const int64_t end = ends_[held];
    if (counts_[held] > threshold_) {
      std::memmove(&text_[text_end], text_.data() + begin, static_cast<size_t>(end - begin));
      text_end += static_cast<size_t>(end - begin);
      ends_[write] = static_cast<int64_t>(text_end);
      counts_[write] = counts_[held];
      hashes_[write] = hashes_[held];
      ids_[write] = ids_[held];
      ++write;
    }
    begin = end;
  }
  dropped_ += static_cast<int64_t>(counts_.size() - write);
  ++prunings_;
  text_.resize(text_end);
  ends_.resize(write);
  counts_.resize(write);
  hashes_.resize(write);
  ids_.resize(write);
  rebuild_slots(slots_.size());  // at most max_distinct_ entries ever: the table has stopped growing
}

Stream::Stream(int64_t max_sentence, bool keep_empty) : max_sentence_(max_sentence), keep_empty_(keep_empty) {
  MTL_CHECK(max_sentence >= 1, "max_sentence must be >= 1");
}

void Stream::push(int32_t id) {
  tokens.push_back(id);
  if (static_cast<int64_t>(tokens.size()) - offsets.back() >= max_sentence_) end_sentence();
}

void Stream::end_sentence() {
  if (keep_empty_ || static_cast<int64_t>(tokens.size()) > offsets.back())
    offsets.push_back(static_cast<int64_t>(tokens.size()));
}

int64_t tokenize(const char* data, size_t size, Counter& counter, Stream& stream) {
  int64_t count = 0;
  size_t i = 0;
  while (i < size) {
    const unsigned char c = static_cast<unsigned char>(data[i]);
    if (kWhitespace.space[c]) {
      if (c == '\n') stream.end_sentence();
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < size && !kWhitespace.space[static_cast<unsigned char>(data[j])]) ++j;
    stream.push(counter.add(data + i, j - i));
    ++count;
    i = j;
  }
  return count;
}

}  // namespace mtl::corpus

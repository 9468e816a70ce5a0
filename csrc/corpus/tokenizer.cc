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

Counter::Counter() : slots_(1 << 16, -1) {}

int32_t Counter::add(const char* text, size_t length) {
  const uint64_t h = hash_bytes(text, length);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const int32_t id = slots_[i];
    if (id < 0) {
      MTL_CHECK(counts_.size() < 0x7FFFFFFF, "more than 2^31 distinct tokens");
      const int32_t fresh = static_cast<int32_t>(counts_.size());
      slots_[i] = fresh;
      text_.append(text, length);
      ends_.push_back(static_cast<int64_t>(text_.size()));
      counts_.push_back(1);
      hashes_.push_back(h);
      if (counts_.size() * 2 > slots_.size()) grow();
      return fresh;
    }
    if (hashes_[id] == h) {
      const int64_t begin = id == 0 ? 0 : ends_[id - 1];
      if (static_cast<size_t>(ends_[id] - begin) == length && std::memcmp(text_.data() + begin, text, length) == 0) {
        ++counts_[id];
        return id;
      }
    }
  }
}

void Counter::grow() {
  std::vector<int32_t> slots(slots_.size() * 2, -1);
  const size_t mask = slots.size() - 1;
  for (int32_t id = 0; id < static_cast<int32_t>(counts_.size()); ++id) {
    size_t i = hashes_[id] & mask;
    while (slots[i] >= 0) i = (i + 1) & mask;
    slots[i] = id;
  }
  slots_.swap(slots);
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

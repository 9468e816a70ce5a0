#include "tokenizer.h"

#include <algorithm>
#include <cstring>
#include <queue>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../common.h"
#include "../parallel.h"

namespace mtl::corpus {
namespace {

uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

uint64_t mix(uint64_t h, uint64_t v) {
  h = (h ^ (v * 0x87C37B91114253D5ull)) * 0x4CF5AD432745937Full;
  return h ^ (h >> 31);
}

// A token's key. Tokens are read in whole words, masked without branches
// (token lengths are random, so branches on them mispredict), and where the
// block leaves room, past the token's end; copying a short tail byte by byte
// and reading it back as one word would stall store forwarding.
TokenKey key_of(const char* text, size_t length, const char* limit) {
  TokenKey key;
  key.length = length;
  if (text + 16 <= limit) {
    const size_t first = std::min<size_t>(length, 8), second = std::min<size_t>(length, 16) - first;
    key.head[0] = load64(text) & (~uint64_t{0} >> (64 - 8 * first));
    key.head[1] = load64(text + 8) & (~uint64_t{0} >> (64 - 8 * std::max<size_t>(second, 1))) &
                  (uint64_t{0} - (second != 0));
  } else {
    key.head[0] = key.head[1] = 0;
    std::memcpy(key.head, text, std::min<size_t>(length, 16));
  }
  uint64_t h = mix(mix(0x9E3779B97F4A7C15ull ^ (length * 0xC2B2AE3D27D4EB4Full), key.head[0]), key.head[1]);
  if (length > 16) {  // the rest in words, the last one overlapping (the length is mixed in)
    for (size_t i = 16; i + 8 < length; i += 8) h = mix(h, load64(text + i));
    h = mix(h, load64(text + length - 8));
  }
  h *= 0xBF58476D1CE4E5B9ull;
  key.hash = h ^ (h >> 32);
  return key;
}

// Whether two tokens with the same key are the same (only long ones can differ).
bool same_tail(const char* a, const char* b, size_t length) {
  return length <= 16 || std::memcmp(a + 16, b + 16, length - 16) == 0;
}

struct WhitespaceTable {
  bool space[256] = {};
  WhitespaceTable() {
    for (unsigned char c : {' ', '\t', '\n', '\r', '\v', '\f'}) space[c] = true;
  }
};
const WhitespaceTable kWhitespace;
bool is_space(char c) { return kWhitespace.space[static_cast<unsigned char>(c)]; }

// Bit i of `space` / `newline`: whether byte i of the 64 at p is whitespace / '\n'.
// A byte loop ends each token with a mispredicted branch; bitmaps let the
// tokens be found with bit scans.
void classify64(const char* p, uint64_t& space, uint64_t& newline) {
#if defined(__SSE2__)
  space = newline = 0;
  for (int k = 0; k < 4; ++k) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    const __m128i control = _mm_sub_epi8(v, _mm_set1_epi8(9));  // \t \n \v \f \r: 0..4
    const __m128i is_control = _mm_cmpeq_epi8(_mm_min_epu8(control, _mm_set1_epi8(4)), control);
    const __m128i is_blank = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), is_control);
    space |= uint64_t{static_cast<uint16_t>(_mm_movemask_epi8(is_blank))} << (16 * k);
    newline |= uint64_t{static_cast<uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))))} << (16 * k);
  }
#else
  space = newline = 0;
  for (int i = 0; i < 64; ++i) {
    space |= uint64_t{is_space(p[i])} << i;
    newline |= uint64_t{p[i] == '\n'} << i;
  }
#endif
}

// An open-addressing table (linear probing) of `slot_count` slots, a power of
// two, over entries 0..count-1 with hashes hash_of(i); -1 marks an empty slot.
template <class HashOf>
void fill_slots(std::vector<int32_t>& slots, size_t slot_count, size_t count, const HashOf& hash_of) {
  slots.assign(slot_count, -1);
  const size_t mask = slot_count - 1;
  for (size_t entry = 0; entry < count; ++entry) {
    size_t i = hash_of(entry) & mask;
    while (slots[i] >= 0) i = (i + 1) & mask;
    slots[i] = static_cast<int32_t>(entry);
  }
}

constexpr int32_t kMaxIds = 0x7FFFFFFF;
constexpr int32_t kNewline = -1;  // in a Part's sequence

// One part of a block, counted on its own: its distinct tokens in first-seen
// order, and the part as indices into them (kNewline at each newline). The
// table is small (one part's words), so lookups stay in cache; the big shared
// table is then touched once per distinct token of the part, not per token.
struct Part {
  struct Token {
    TokenKey key;
    int64_t count;
  };
  static constexpr size_t kMaxBytes = size_t{1} << 31;  // so local indices fit in int32
  const char* begin = nullptr;
  const char* end = nullptr;
  const char* limit = nullptr;        // end of the block (or of `lowered`): reads stop here
  std::string lowered;                // the part lowercased, when asked for
  std::string spaced;                 // the part with its Unicode words space-separated, when asked for
  int64_t newlines = 0;
  int64_t tail = 0;                   // tokens after its last newline (all of them if none)
  std::vector<int64_t> sentence_ends; // in the stream, once appended
  std::vector<Token> tokens;
  std::vector<const char*> texts;     // where each token was first seen
  std::vector<int32_t> held;          // each token's index in its counter shard, once merged
  std::vector<int32_t> slots;
  std::vector<int32_t> sequence;
  std::vector<int32_t> by_shard;      // token indices grouped by shard, first-seen order within each
  std::vector<int32_t> shard_begin;   // group s is by_shard[shard_begin[s], shard_begin[s+1])
  std::vector<uint8_t> first_seen;    // new to the counter (its first occurrence is in this part)

  // Checks the part's UTF-8 and, with `lower`, makes it its lowercase copy; with kUnicode, then
  // its copy with the words space-separated.
  Verdict check(const CaseMap* lower, Boundaries boundaries) {
    lowered.clear();
    const Verdict verdict = check_text(begin, static_cast<size_t>(end - begin), lower, lowered);
    if (verdict != Verdict::kOk) return verdict;
    if (lower) {
      begin = lowered.data();
      limit = end = begin + lowered.size();
    }
    if (boundaries == Boundaries::kUnicode) {
      spaced.clear();
      split_words(begin, static_cast<size_t>(end - begin), spaced);
      begin = spaced.data();
      limit = end = begin + spaced.size();
    }
    return verdict;
  }

  void count() {
    const size_t size = static_cast<size_t>(end - begin);
    newlines = tail = 0;
    tokens.clear();
    texts.clear();
    sequence.clear();
    sequence.reserve(size / 5);
    slots.assign(size_t{1} << 12, -1);
    classify(size);
    // Tokens are the runs of clear bits in `space`; newlines between them are counted from `newline`.
    size_t at = 0;
    for (;;) {
      const size_t start = next_bit(space, at, size, false);
      const size_t lines = count_bits(newline, at, start);
      newlines += static_cast<int64_t>(lines);
      sequence.insert(sequence.end(), lines, kNewline);
      if (lines > 0) tail = 0;
      if (start == size) break;
      at = next_bit(space, start, size, true);
      sequence.push_back(lookup(begin + start, at - start));
      ++tail;
    }
    group_by_shard();
  }

  // Whitespace and newline bitmaps of the part, 64 bytes per word; bits past its end are whitespace.
  std::vector<uint64_t> space, newline;

  void classify(size_t size) {
    const size_t words = size / 64 + 1;
    space.assign(words, 0);
    newline.assign(words, 0);
    for (size_t w = 0; w < words; ++w) {
      const char* chunk = begin + 64 * w;
      if (chunk + 64 <= end) {
        classify64(chunk, space[w], newline[w]);
        continue;
      }
      for (size_t i = 0; i < 64; ++i) {
        const bool inside = chunk + i < end;
        space[w] |= uint64_t{!inside || is_space(chunk[i])} << i;
        newline[w] |= uint64_t{inside && chunk[i] == '\n'} << i;
      }
    }
  }

  // The first position >= from whose bit is `value` (or `size`).
  static size_t next_bit(const std::vector<uint64_t>& bits, size_t from, size_t size, bool value) {
    size_t w = from / 64;
    uint64_t word = (value ? bits[w] : ~bits[w]) & (~uint64_t{0} << (from % 64));
    while (word == 0) {
      if (++w * 64 >= size) return size;
      word = value ? bits[w] : ~bits[w];
    }
    return std::min(size, w * 64 + static_cast<size_t>(__builtin_ctzll(word)));
  }

  // Set bits in [from, to).
  static size_t count_bits(const std::vector<uint64_t>& bits, size_t from, size_t to) {
    size_t count = 0;
    for (size_t at = from; at < to;) {
      const size_t w = at / 64, stop = std::min(to, w * 64 + 64);
      const uint64_t width = stop - at;
      // Newlines are few: clearing bits beats a popcount (a library call without -mpopcnt).
      for (uint64_t set = bits[w] & (~uint64_t{0} >> (64 - width)) << (at % 64); set != 0; set &= set - 1) ++count;
      at = stop;
    }
    return count;
  }

  int32_t lookup(const char* text, size_t length) {
    const TokenKey key = key_of(text, length, limit);
    const size_t mask = slots.size() - 1;
    for (size_t i = key.hash & mask;; i = (i + 1) & mask) {
      const int32_t index = slots[i];
      if (index < 0) {
        slots[i] = static_cast<int32_t>(tokens.size());
        tokens.push_back({key, 1});
        texts.push_back(text);
        if (tokens.size() * 2 > slots.size())
          fill_slots(slots, slots.size() * 2, tokens.size(), [this](size_t i) { return tokens[i].key.hash; });
        return static_cast<int32_t>(tokens.size() - 1);
      }
      Token& token = tokens[static_cast<size_t>(index)];
      if (token.key.same(key) && same_tail(texts[static_cast<size_t>(index)], text, length)) {
        ++token.count;
        return index;
      }
    }
  }

  void group_by_shard() {
    shard_begin.assign(Counter::kShards + 1, 0);
    for (const Token& token : tokens) ++shard_begin[Counter::shard_of(token.key.hash) + 1];
    for (int s = 0; s < Counter::kShards; ++s) shard_begin[s + 1] += shard_begin[s];
    std::vector<int32_t> next(shard_begin.begin(), shard_begin.end() - 1);
    by_shard.resize(tokens.size());
    for (size_t index = 0; index < tokens.size(); ++index)
      by_shard[static_cast<size_t>(next[Counter::shard_of(tokens[index].key.hash)]++)] = static_cast<int32_t>(index);
    held.assign(tokens.size(), -1);
    first_seen.assign(tokens.size(), 0);
  }

  // The provisional id of token `index` in the counter it was merged into.
  int32_t& id_in(Counter& counter, size_t index) const {
    return counter.shard(Counter::shard_of(tokens[index].key.hash)).ids[static_cast<size_t>(held[index])];
  }
};

// The parts' tokens of shard s into the counter, parts in order: a token new to
// the counter is held with its total count and marked in the part that saw it
// first; its id comes later, once every part's new tokens are known.
void merge_shard(Shard& shard, int s, std::vector<Part>& parts) {
  for (Part& part : parts) {
    const int32_t first = part.shard_begin[s], last = part.shard_begin[s + 1];
    for (int32_t k = first; k < last; ++k) {
      // The table is big and the keys are known ahead: fetch a later slot while this one is looked up.
      constexpr int32_t kAhead = 8;
      if (k + kAhead < last) {
        const uint64_t ahead = part.tokens[static_cast<size_t>(part.by_shard[static_cast<size_t>(k + kAhead)])].key.hash;
        __builtin_prefetch(&shard.slots[ahead & (shard.slots.size() - 1)]);
      }
      const size_t index = static_cast<size_t>(part.by_shard[static_cast<size_t>(k)]);
      const Part::Token& token = part.tokens[index];
      size_t slot;
      int32_t& held = part.held[index];
      held = shard.find(token.key, part.texts[index], slot);
      if (held >= 0) {
        shard.counts[static_cast<size_t>(held)] += token.count;
      } else {
        held = shard.insert(slot, token.key, part.texts[index], token.count, -1);
        part.first_seen[index] = 1;
      }
    }
  }
}

void tokenize_serial(const char* data, size_t size, Counter& counter, Stream& stream, Tokenized& done) {
  size_t i = 0;
  while (i < size) {
    if (is_space(data[i])) {
      if (data[i] == '\n') {
        stream.end_sentence();
        ++done.newlines;
      }
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < size && !is_space(data[j])) ++j;
    stream.push(counter.add(data + i, j - i));
    ++done.tokens;
    i = j;
  }
}

}  // namespace

Shard::Shard() : slots(1 << 10, -1) {}

int32_t Shard::find(const TokenKey& key, const char* token, size_t& slot) const {
  const size_t mask = slots.size() - 1;
  for (size_t i = key.hash & mask;; i = (i + 1) & mask) {
    const int32_t held = slots[i];
    if (held < 0) {
      slot = i;
      return -1;
    }
    const size_t h = static_cast<size_t>(held);
    if (keys[h].same(key) && same_tail(text.data() + (h == 0 ? 0 : ends[h - 1]), token, key.length)) return held;
  }
}

int32_t Shard::insert(size_t slot, const TokenKey& key, const char* token, int64_t count, int32_t id) {
  const int32_t held = static_cast<int32_t>(counts.size());
  slots[slot] = held;
  text.append(token, key.length);
  ends.push_back(static_cast<int64_t>(text.size()));
  counts.push_back(count);
  keys.push_back(key);
  ids.push_back(id);
  if (counts.size() * 2 > slots.size()) rebuild_slots(slots.size() * 2);
  return held;
}

void Shard::rebuild_slots(size_t slot_count) {
  fill_slots(slots, slot_count, counts.size(), [this](size_t held) { return keys[held].hash; });
}

Counter::Counter(int64_t max_distinct) : max_distinct_(max_distinct), shards_(kShards) {
  MTL_CHECK(max_distinct >= 4, "max_distinct must be >= 4");
}

int32_t Counter::add(const char* text, size_t length) {
  const TokenKey key = key_of(text, length, text + length);
  Shard& shard = shards_[static_cast<size_t>(shard_of(key.hash))];
  size_t slot;
  const int32_t held = shard.find(key, text, slot);
  if (held >= 0) {
    ++shard.counts[static_cast<size_t>(held)];
    return shard.ids[static_cast<size_t>(held)];
  }
  MTL_CHECK(issued_ < kMaxIds, "more than 2^31 - 1 provisional token ids in one language "
            "(distinct tokens, plus dropped ones that came back)");
  const int32_t fresh = static_cast<int32_t>(issued_++);
  shard.insert(slot, key, text, 1, fresh);
  if (++held_ > max_distinct_) prune();  // may drop this very token: its id then stays unheld, mapped to "dropped"
  return fresh;
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
    for (const Shard& shard : shards_)
      for (const int64_t c : shard.counts) kept += c > threshold_;
  } while (kept > target);
  // Compact in place, in held order (so first-seen order, the tie-break of the vocabulary, holds).
  for (Shard& shard : shards_) {
    size_t write = 0, text_end = 0;
    int64_t begin = 0;
    for (size_t held = 0; held < shard.counts.size(); ++held) {
      const int64_t end = shard.ends[held];
      if (shard.counts[held] > threshold_) {
        std::memmove(&shard.text[text_end], shard.text.data() + begin, static_cast<size_t>(end - begin));
        text_end += static_cast<size_t>(end - begin);
        shard.ends[write] = static_cast<int64_t>(text_end);
        shard.counts[write] = shard.counts[held];
        shard.keys[write] = shard.keys[held];
        shard.ids[write] = shard.ids[held];
        ++write;
      }
      begin = end;
    }
    dropped_ += static_cast<int64_t>(shard.counts.size() - write);
    shard.text.resize(text_end);
    shard.ends.resize(write);
    shard.counts.resize(write);
    shard.keys.resize(write);
    shard.ids.resize(write);
    shard.rebuild_slots(shard.slots.size());  // the table does not shrink: it fills again
  }
  held_ = kept;
  ++prunings_;
}

Counter::Words Counter::words() const {
  // Each shard holds its tokens in id order: merge the shards by id.
  Words words;
  words.ends.reserve(static_cast<size_t>(held_));
  words.counts.reserve(static_cast<size_t>(held_));
  words.ids.reserve(static_cast<size_t>(held_));
  using Head = std::pair<int32_t, int>;  // (id, shard)
  std::priority_queue<Head, std::vector<Head>, std::greater<Head>> heads;
  std::vector<size_t> next(shards_.size(), 0);
  for (int s = 0; s < kShards; ++s)
    if (!shards_[s].ids.empty()) heads.push({shards_[s].ids[0], s});
  while (!heads.empty()) {
    const int s = heads.top().second;
    heads.pop();
    const Shard& shard = shards_[static_cast<size_t>(s)];
    const size_t held = next[static_cast<size_t>(s)]++;
    const int64_t begin = held == 0 ? 0 : shard.ends[held - 1];
    words.text.append(shard.text, static_cast<size_t>(begin), static_cast<size_t>(shard.ends[held] - begin));
    words.ends.push_back(static_cast<int64_t>(words.text.size()));
    words.counts.push_back(shard.counts[held]);
    words.ids.push_back(shard.ids[held]);
    if (held + 1 < shard.ids.size()) heads.push({shard.ids[held + 1], s});
  }
  return words;
}

Stream::Stream(int64_t max_sentence, bool keep_empty) : max_sentence_(max_sentence), keep_empty_(keep_empty) {
  MTL_CHECK(max_sentence >= 1, "max_sentence must be >= 1");
}

void Stream::push(int32_t id) {
  int64_t open = static_cast<int64_t>(tokens.size()) - offsets.back();
  tokens.push_back(id);
  if (ends_after_token(open)) offsets.push_back(static_cast<int64_t>(tokens.size()));
}

void Stream::end_sentence() {
  int64_t open = static_cast<int64_t>(tokens.size()) - offsets.back();
  if (ends_at_newline(open)) offsets.push_back(static_cast<int64_t>(tokens.size()));
}

Tokenized tokenize(const char* data, size_t size, Counter& counter, Stream& stream, int threads,
                   const CaseMap* lower, Boundaries boundaries) {
  // Parts of at least 256 KiB (and under Part::kMaxBytes), cut after whitespace.
  constexpr size_t kMinPart = size_t{1} << 18;
  const int part_count = static_cast<int>(std::max<size_t>(
      {1, std::min<size_t>(std::max(threads, 1), size / kMinPart), size / (Part::kMaxBytes / 2) + 1}));
  std::vector<Part> parts(static_cast<size_t>(part_count));
  const char* const end = data + size;
  const char* cut = data;
  for (int p = 0; p < part_count; ++p) {
    parts[p].begin = cut;
    parts[p].limit = end;
    cut = p + 1 == part_count ? end : std::max(cut, data + size / part_count * (p + 1));
    while (cut < end && cut > data && !is_space(cut[-1])) ++cut;
    parts[p].end = cut;
  }

  // A block of `size` bytes holds at most size/2 + 1 distinct tokens (size + 1 with
  // kUnicode: "a,b" is three). If that
  // many could cross max_distinct, a pruning falls inside the block: count it
  // serially, so that it happens at the same token as with one thread.
  const int64_t most_new = static_cast<int64_t>((boundaries == Boundaries::kUnicode ? size : size / 2) + 1);
  const bool serial = counter.size() + most_new > counter.max_distinct() || counter.issued() + most_new > kMaxIds;
  std::vector<Verdict> verdicts(static_cast<size_t>(part_count));
  parallel_for(part_count, part_count, [&](int p) {
    verdicts[p] = parts[p].check(lower, boundaries);
    if (!serial && verdicts[p] == Verdict::kOk) parts[p].count();
  });
  Tokenized done;
  done.refused = std::any_of(verdicts.begin(), verdicts.end(), [](Verdict v) { return v != Verdict::kOk; });
  if (done.refused) return done;
  if (serial) {
    for (const Part& part : parts)
      tokenize_serial(part.begin, static_cast<size_t>(part.end - part.begin), counter, stream, done);
    return done;
  }
  parallel_for(threads, Counter::kShards, [&](int s) { merge_shard(counter.shard(s), s, parts); });

  // Ids for the new tokens in first-seen order: parts in order, and within a
  // part in its own first-seen order.
  std::vector<int64_t> first_id(static_cast<size_t>(part_count) + 1, counter.issued());
  for (int p = 0; p < part_count; ++p)
    first_id[p + 1] = first_id[p] + std::count(parts[p].first_seen.begin(), parts[p].first_seen.end(), uint8_t{1});
  parallel_for(part_count, part_count, [&](int p) {
    int32_t id = static_cast<int32_t>(first_id[p]);
    for (size_t index = 0; index < parts[p].tokens.size(); ++index)
      if (parts[p].first_seen[index]) parts[p].id_in(counter, index) = id++;
  });
  counter.settle(first_id.back() - counter.issued());

  // The parts are appended to the stream at once: each needs where its tokens
  // start and how long the sentence open at its start is (Stream::push cuts
  // sentences at max_sentence tokens).
  std::vector<int64_t> start(static_cast<size_t>(part_count)), open_at(static_cast<size_t>(part_count));
  int64_t at = static_cast<int64_t>(stream.tokens.size()), open = at - stream.offsets.back();
  for (int p = 0; p < part_count; ++p) {
    const Part& part = parts[p];
    start[p] = at, open_at[p] = open;
    at += static_cast<int64_t>(part.sequence.size()) - part.newlines;
    open = ((part.newlines > 0 ? 0 : open) + part.tail) % stream.max_sentence();
  }
  stream.tokens.resize(static_cast<size_t>(at));
  parallel_for(part_count, part_count, [&](int p) {
    Part& part = parts[p];
    std::vector<int32_t> ids(part.tokens.size());
    for (size_t index = 0; index < ids.size(); ++index) ids[index] = part.id_in(counter, index);
    int32_t* const out = stream.tokens.data();
    int64_t to = start[p], open = open_at[p];
    part.sentence_ends.clear();
    for (const int32_t x : part.sequence) {
      if (x != kNewline) out[to++] = ids[static_cast<size_t>(x)];
      if (x == kNewline ? stream.ends_at_newline(open) : stream.ends_after_token(open))
        part.sentence_ends.push_back(to);
    }
  });
  for (const Part& part : parts) {
    stream.offsets.insert(stream.offsets.end(), part.sentence_ends.begin(), part.sentence_ends.end());
    done.newlines += part.newlines;
  }
  done.tokens = at - start[0];
  return done;
}

Remapped remap(const int32_t* tokens, int64_t token_count, const int64_t* ends, int64_t sentence_count,
               const int32_t* mapping, int64_t mapping_size, bool keep_empty, int32_t* ids, int64_t* new_ends) {
  MTL_CHECK(sentence_count == 0 ? token_count == 0 : ends[sentence_count - 1] == token_count,
            "remap: the sentences must end at the last token");
  Remapped out{0, 0};
  int64_t begin = 0;
  for (int64_t s = 0; s < sentence_count; ++s) {
    MTL_CHECK(ends[s] >= begin, "remap: sentence ends must not decrease");
    const int64_t kept_before = out.tokens;
    for (int64_t i = begin; i < ends[s]; ++i) {
      MTL_CHECK(static_cast<uint64_t>(tokens[i]) < static_cast<uint64_t>(mapping_size),
                "remap: token id ", tokens[i], " outside the mapping (", mapping_size, " ids)");
      const int32_t id = mapping[tokens[i]];
      ids[out.tokens] = id;
      out.tokens += id >= 0;
    }
    if (keep_empty || out.tokens > kept_before) new_ends[out.sentences++] = out.tokens;
    begin = ends[s];
  }
  return out;
}

}  // namespace mtl::corpus

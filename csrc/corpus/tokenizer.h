// Counting and encoding of whitespace-separated UTF-8 text in one pass.
//
// Python reads and decompresses the files in large blocks; here the blocks are
// checked for valid UTF-8 and lowercased (text.h), split into tokens, each token
// gets a provisional id (first-seen order, per language) and its count, and each
// task's text becomes a stream of provisional ids with sentence offsets, taken
// out in pieces as it grows. Once
// the vocabulary is chosen, mtlembed/encoded.py maps provisional ids to final
// ones, so the corpus is read once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "text.h"

namespace mtl::corpus {

// What tells tokens apart without reading their text: the hash, the length
// and the first 16 bytes (zero-padded). Only longer tokens compare the rest.
struct TokenKey {
  uint64_t hash;
  uint64_t head[2];
  uint64_t length;
  bool same(const TokenKey& o) const {
    return hash == o.hash && length == o.length && head[0] == o.head[0] && head[1] == o.head[1];
  }
};

// The tokens of one hash shard of a Counter, in first-seen order, and an
// open-addressing table over them.
struct Shard {
  std::string text;             // held tokens, back to back
  std::vector<int64_t> ends;    // held token i ends at ends[i]
  std::vector<int64_t> counts;
  std::vector<TokenKey> keys;
  std::vector<int32_t> ids;     // provisional ids
  std::vector<int32_t> slots;   // held index, -1 = empty; a power of two

  Shard();
  int64_t size() const { return static_cast<int64_t>(counts.size()); }
  // The held index of a token, or -1 with `slot` set to where it would go.
  int32_t find(const TokenKey& key, const char* token, size_t& slot) const;
  // Holds a new token at `slot` (from find); may grow the table.
  int32_t insert(size_t slot, const TokenKey& key, const char* token, int64_t count, int32_t id);
  void rebuild_slots(size_t slot_count);
};

// The distinct tokens of one language and their counts, in kShards shards by
// hash, so that blocks can be merged into it by several threads at once.
//
// Memory stays bounded on corpora with tens of millions of distinct tokens by
// pruning as word2vec's ReduceVocab does: when more than `max_distinct` tokens
// are held, those seen at most `threshold` times are dropped, the threshold
// rising by one at each pruning (until a quarter of the limit is free, so a
// pruning is never repeated at once). Provisional ids are never reused: the
// occurrences encoded before a token was dropped keep an id no held token has,
// which the final mapping sends to "dropped"; a dropped token that comes back
// gets a new id, counted from then on. Nothing is kept per issued id, only per
// held token.
class Counter {
 public:
  static constexpr int kShardBits = 6;
  static constexpr int kShards = 1 << kShardBits;
  static int shard_of(uint64_t hash) { return static_cast<int>(hash >> (64 - kShardBits)); }

  explicit Counter(int64_t max_distinct);
  // Provisional id of a token, adding it if new; counts one occurrence.
  int32_t add(const char* text, size_t length);
  int64_t size() const { return held_; }      // tokens held now
  int64_t issued() const { return issued_; }  // provisional ids handed out, dropped ones included
  int64_t max_distinct() const { return max_distinct_; }
  int64_t prunings() const { return prunings_; }
  int64_t dropped() const { return dropped_; }      // tokens dropped by all prunings
  int64_t threshold() const { return threshold_; }  // the last pruning dropped counts <= this

  // The held tokens in first-seen (provisional id) order.
  struct Words {
    std::string text;
    std::vector<int64_t> ends, counts;
    std::vector<int32_t> ids;
  };
  Words words() const;

  // For the parallel merge of a block (tokenize): shards are touched by one
  // thread each, and the totals are settled after.
  Shard& shard(int s) { return shards_[s]; }
  void settle(int64_t new_tokens) { held_ += new_tokens, issued_ += new_tokens; }

 private:
  void prune();
  int64_t max_distinct_;
  int64_t held_ = 0, issued_ = 0;
  int64_t prunings_ = 0, dropped_ = 0, threshold_ = 0;
  std::vector<Shard> shards_;
};

// One task's tokens as ids, cut into sentences at newlines and every
// `max_sentence` tokens (long lines are split, never truncated). With
// `keep_empty` (one side of parallel text) every line is a sentence, empty
// ones included, so line i of two aligned files stays sentence i.
class Stream {
 public:
  Stream(int64_t max_sentence, bool keep_empty);
  void push(int32_t id);
  void end_sentence();  // at a newline or the end of a file
  int64_t max_sentence() const { return max_sentence_; }

  // The rule, on `open`, the length of the sentence being read (reset when it
  // ends): whether a sentence ends after one more token, or at a newline.
  bool ends_after_token(int64_t& open) const {
    if (++open < max_sentence_) return false;
    open = 0;
    return true;
  }
  bool ends_at_newline(int64_t& open) const {
    const bool ends = keep_empty_ || open > 0;
    open = 0;
    return ends;
  }
  std::vector<int32_t> tokens;
  std::vector<int64_t> offsets{0};  // sentence s is tokens[offsets[s], offsets[s+1])

 private:
  int64_t max_sentence_;
  bool keep_empty_;
};

// Splits a block of UTF-8 text on ASCII whitespace (or, with kUnicode, at
// Unicode word boundaries) into `stream`, counting tokens in `counter`,
// lowercased first if `lower` is set. The block must not
// end inside a token (the caller carries the last partial token over to the
// next block). A block with invalid UTF-8, or with a character `lower` marks as
// contextual, is refused whole: nothing is counted, and the caller decodes it.
//
// With several threads each takes a part of the block, checks it and counts it
// in a small table of its own; the parts are merged into the counter shard by
// shard, and the new tokens get their ids in first-seen order, so the ids,
// counts and stream are exactly those of one thread. A block that could push
// the counter past max_distinct (a pruning would fall inside it) is counted
// serially.
// Where tokens end: at ASCII whitespace, or at Unicode word boundaries (split_words in text.h).
enum class Boundaries { kWhitespace, kUnicode };
struct Tokenized {
  int64_t tokens = 0, newlines = 0;
  bool refused = false;
};
Tokenized tokenize(const char* data, size_t size, Counter& counter, Stream& stream, int threads = 1,
                   const CaseMap* lower = nullptr, Boundaries boundaries = Boundaries::kWhitespace);

// Provisional ids of whole sentences (sentence s ends at ends[s]; the last
// end is the token count) to final ones through `mapping`, where -1 drops the
// token; a sentence left empty is dropped too unless `keep_empty`. Writes
// `ids` and `new_ends` (as long as the inputs) and returns how many of each.
struct Remapped {
  int64_t tokens, sentences;
};
Remapped remap(const int32_t* tokens, int64_t token_count, const int64_t* ends, int64_t sentence_count,
               const int32_t* mapping, int64_t mapping_size, bool keep_empty, int32_t* ids, int64_t* new_ends);

}  // namespace mtl::corpus

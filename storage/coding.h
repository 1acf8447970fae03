// The byte and bit codes of Skua's storage values: big-endian keys, LEB128 varints, byte
// writers and readers for values (index blocks, index log rows), and the bit-packed Rice and
// gamma codes of index postings. Readers of stored bytes never read out of bounds: a malformed
// input makes them fail, not crash.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace skua::storage {

void AppendBigEndian64(std::string& out, uint64_t v);
uint64_t DecodeBigEndian64(std::string_view in);  // REQUIRES: in.size() >= 8

// LEB128 varints, for integers in values (index log rows, index blocks, chunks).
void AppendVarint(std::string& out, uint64_t v);
// Consumes one varint from the front of `in`; nullopt (and `in` consumed) if truncated.
std::optional<uint64_t> ReadVarint(std::string_view& in);

// Appends bytes, varints (LEB128; SVar zig-zag), little-endian fixed-width integers and
// length-prefixed strings to a buffer.
class ByteWriter {
 public:
  void U8(uint8_t v) { s_.push_back(static_cast<char>(v)); }
  void Var(uint64_t v) { AppendVarint(s_, v); }
  void SVar(int64_t v) { Var((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void Fixed(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) s_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void Bytes(std::string_view b) { s_.append(b); }
  void Str(std::string_view b) {
    Var(b.size());
    s_.append(b);
  }
  size_t size() const { return s_.size(); }
  std::string Take() { return std::move(s_); }

 private:
  std::string s_;
};

// Reads what ByteWriter wrote. Reading past the end, or a malformed varint, fails: ok() turns
// false for good and every later read yields zero or empty.
class ByteReader {
 public:
  explicit ByteReader(std::string_view s) : s_(s) {}
  bool ok() const { return ok_; }
  uint8_t U8() {
    if (s_.empty()) return Fail();
    uint8_t v = static_cast<uint8_t>(s_[0]);
    s_.remove_prefix(1);
    return v;
  }
  uint64_t Var() {
    auto v = ReadVarint(s_);
    return v ? *v : Fail();
  }
  int64_t SVar() {
    uint64_t u = Var();
    return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }
  std::string_view Bytes(size_t n) {
    if (s_.size() < n) {
      Fail();
      return {};
    }
    auto b = s_.substr(0, n);
    s_.remove_prefix(n);
    return b;
  }
  std::string_view Str() { return Bytes(Var()); }
  // A count whose items take at least `min_bytes` each: bounded by what is left.
  size_t Count(size_t min_bytes) {
    uint64_t n = Var();
    if (n > s_.size() / std::max<size_t>(1, min_bytes)) {
      Fail();
      return 0;
    }
    return n;
  }

 private:
  uint8_t Fail() {
    ok_ = false;
    s_ = {};
    return 0;
  }
  std::string_view s_;
  bool ok_ = true;
};

// `bytes` little-endian bytes at p as an integer.
inline uint64_t LoadFixedLE(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

inline constexpr int kUnaryEscape = 32;

// Bit-packed codes, least significant bit first: plain n-bit values, Golomb-Rice codes (v >> k
// in unary, then the k low bits; a unary run of kUnaryEscape ones is followed by the value as
// 64 plain bits) and Elias-gamma codes.
class BitWriter {
 public:
  // REQUIRES: n <= 56.
  void Put(uint64_t v, int n) {
    if (n == 0) return;
    acc_ |= (v & ((uint64_t{1} << n) - 1)) << fill_;
    fill_ += n;
    while (fill_ >= 8) {
      bytes_.push_back(static_cast<char>(acc_));
      acc_ >>= 8;
      fill_ -= 8;
    }
  }
  void Rice(uint64_t v, int k) {
    uint64_t q = v >> k;
    if (q >= kUnaryEscape) {
      Put(0xffffffffULL, kUnaryEscape);
      Put(v, 32);
      Put(v >> 32, 32);
      return;
    }
    Put((uint64_t{1} << q) - 1, static_cast<int>(q));
    Put(0, 1);
    Put(v, k);
  }
  // REQUIRES: v >= 1.
  void Gamma(uint64_t v) {
    int n = static_cast<int>(std::bit_width(v)) - 1;
    Put((uint64_t{1} << n) - 1, n);
    Put(0, 1);
    Put(v, n);
  }
  size_t bit_position() const { return bytes_.size() * 8 + static_cast<size_t>(fill_); }
  std::string Take() {
    if (fill_ > 0) bytes_.push_back(static_cast<char>(acc_));
    acc_ = 0;
    fill_ = 0;
    return std::move(bytes_);
  }

 private:
  std::string bytes_;
  uint64_t acc_ = 0;
  int fill_ = 0;
};

// Reads what BitWriter wrote. Reading past the end fails (ok() false) and yields zeros.
class BitReader {
 public:
  BitReader(std::string_view bytes, size_t bit_position)
      : bytes_(bytes), pos_(bit_position), ok_(bit_position <= bytes.size() * 8) {}
  bool ok() const { return ok_; }
  size_t bits_left() const { return ok_ ? bytes_.size() * 8 - pos_ : 0; }
  // REQUIRES: n <= 56.
  uint64_t Get(int n) {
    if (n == 0 || !ok_) return 0;
    if (static_cast<size_t>(n) > bits_left()) return Fail();
    uint64_t v = Peek() & ((uint64_t{1} << n) - 1);
    pos_ += static_cast<size_t>(n);
    return v;
  }
  uint64_t Rice(int k) {
    uint64_t q = Unary();
    if (q == kUnaryEscape) return Get(32) | (Get(32) << 32);
    return (q << k) | Get(k);
  }
  uint64_t Gamma() {
    int n = static_cast<int>(Unary());
    if (n >= kUnaryEscape) return Fail();
    return (uint64_t{1} << n) | Get(n);
  }

 private:
  // The next up to 57 bits, zeros past the end.
  uint64_t Peek() const {
    size_t byte = pos_ / 8;
    uint64_t w = 0;
    if (byte < bytes_.size()) {
      std::memcpy(&w, bytes_.data() + byte, std::min<size_t>(8, bytes_.size() - byte));
    }
    return w >> (pos_ % 8);
  }
  // Ones up to a zero (consumed), or kUnaryEscape ones.
  uint64_t Unary() {
    if (!ok_) return 0;
    int ones = std::countr_one(Peek());
    if (ones >= kUnaryEscape) {
      if (bits_left() < kUnaryEscape) return Fail();
      pos_ += kUnaryEscape;
      return kUnaryEscape;
    }
    if (static_cast<size_t>(ones) + 1 > bits_left()) return Fail();
    pos_ += static_cast<size_t>(ones) + 1;
    return static_cast<uint64_t>(ones);
  }
  uint64_t Fail() {
    ok_ = false;
    return 0;
  }
  std::string_view bytes_;
  size_t pos_;
  bool ok_;
};

}  // namespace skua::storage

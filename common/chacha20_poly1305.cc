#include "common/chacha20_poly1305.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string.h>  // explicit_bzero

namespace tether {
namespace {

uint32_t LoadLe32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

uint64_t LoadLe64(const uint8_t* p) { return uint64_t{LoadLe32(p)} | uint64_t{LoadLe32(p + 4)} << 32; }

void StoreLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// ---- ChaCha20 (RFC 8439 section 2.3) ----

// Eight blocks side by side: lane b of word w is word w of block b, so one
// vector instruction advances all eight (SSE2 or AVX2, as the compiler may).
typedef uint32_t Lanes __attribute__((vector_size(32)));
constexpr int kLanes = 8;
constexpr size_t kBatchBytes = 64 * kLanes;

typedef uint8_t LaneBytes __attribute__((vector_size(32)));

// Rotations by 16 and 8 move whole bytes: one byte shuffle (vpshufb) where
// the CPU has AVX2, shifts elsewhere (SSE2 has no byte shuffle). Helpers
// take references: returning a 32-byte vector would change the calling
// convention with and without AVX (-Wpsabi).
template <int kBits, bool kByteShuffle>
[[gnu::always_inline]] inline void RotateLeft(Lanes& v) {
  if constexpr (kByteShuffle && kBits % 8 == 0) {
    // Little-endian words: byte k of a rotated word is byte k - kBits/8
    // (mod 4) of the word. The loop folds to a constant mask.
    LaneBytes mask;
    for (int i = 0; i < 32; ++i) mask[i] = static_cast<uint8_t>((i & ~3) | ((i - kBits / 8) & 3));
    v = reinterpret_cast<Lanes>(__builtin_shuffle(reinterpret_cast<LaneBytes>(v), mask));
  } else {
    v = (v << kBits) | (v >> (32 - kBits));
  }
}

template <bool kByteShuffle>
[[gnu::always_inline]] inline void QuarterRound(Lanes& a, Lanes& b, Lanes& c, Lanes& d) {
  a += b; d ^= a; RotateLeft<16, kByteShuffle>(d);
  c += d; b ^= c; RotateLeft<12, kByteShuffle>(b);
  a += b; d ^= a; RotateLeft<8, kByteShuffle>(d);
  c += d; b ^= c; RotateLeft<7, kByteShuffle>(b);
}

struct ChaChaState {
  uint32_t words[16];
  ChaChaState(const uint8_t key[32], const uint8_t nonce[12], uint32_t counter) {
    // "expand 32-byte k"
    words[0] = 0x61707865;
    words[1] = 0x3320646e;
    words[2] = 0x79622d32;
    words[3] = 0x6b206574;
    for (int i = 0; i < 8; ++i) words[4 + i] = LoadLe32(key + 4 * i);
    words[12] = counter;
    for (int i = 0; i < 3; ++i) words[13 + i] = LoadLe32(nonce + 4 * i);
  }
};

// Key stream blocks counter .. counter+7 into out (512 bytes). Sixteen
// 256-bit rows fit AVX2's sixteen registers; with SSE2 alone they spill, so
// KeyStream8 picks the AVX2 build where the CPU has it.
// Inlined into each wrapper so that it is compiled for that wrapper's target.
template <bool kAvx2>
[[gnu::always_inline]] inline void KeyStream8Body(const ChaChaState& s, uint32_t counter, uint8_t out[kBatchBytes]) {
  Lanes x[16], start[16];
  for (int w = 0; w < 16; ++w) x[w] = Lanes{} + s.words[w];
  x[12] = Lanes{0, 1, 2, 3, 4, 5, 6, 7} + counter;  // wraps mod 2^32 as the RFC's counter does
  for (int w = 0; w < 16; ++w) start[w] = x[w];
  for (int round = 0; round < 10; ++round) {
    QuarterRound<kAvx2>(x[0], x[4], x[8], x[12]);
    QuarterRound<kAvx2>(x[1], x[5], x[9], x[13]);
    QuarterRound<kAvx2>(x[2], x[6], x[10], x[14]);
    QuarterRound<kAvx2>(x[3], x[7], x[11], x[15]);
    QuarterRound<kAvx2>(x[0], x[5], x[10], x[15]);
    QuarterRound<kAvx2>(x[1], x[6], x[11], x[12]);
    QuarterRound<kAvx2>(x[2], x[7], x[8], x[13]);
    QuarterRound<kAvx2>(x[3], x[4], x[9], x[14]);
  }
  for (int w = 0; w < 16; ++w) x[w] += start[w];
  // Lane b of row w is word w of block b: transpose each group of eight rows
  // so that one vector holds eight consecutive words of one block (three
  // rounds of unpacks, as AVX2's unpck/perm2i128 do them).
  for (int half = 0; half < 2; ++half) {
    const Lanes* r = x + 8 * half;
    Lanes t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = __builtin_shuffle(r[i], r[i + 1], Lanes{0, 8, 1, 9, 4, 12, 5, 13});
      t[i + 1] = __builtin_shuffle(r[i], r[i + 1], Lanes{2, 10, 3, 11, 6, 14, 7, 15});
    }
    for (int i = 0; i < 8; i += 4) {
      u[i] = __builtin_shuffle(t[i], t[i + 2], Lanes{0, 1, 8, 9, 4, 5, 12, 13});
      u[i + 1] = __builtin_shuffle(t[i], t[i + 2], Lanes{2, 3, 10, 11, 6, 7, 14, 15});
      u[i + 2] = __builtin_shuffle(t[i + 1], t[i + 3], Lanes{0, 1, 8, 9, 4, 5, 12, 13});
      u[i + 3] = __builtin_shuffle(t[i + 1], t[i + 3], Lanes{2, 3, 10, 11, 6, 7, 14, 15});
    }
    for (int b = 0; b < 4; ++b) {
      Lanes low = __builtin_shuffle(u[b], u[b + 4], Lanes{0, 1, 2, 3, 8, 9, 10, 11});    // block b
      Lanes high = __builtin_shuffle(u[b], u[b + 4], Lanes{4, 5, 6, 7, 12, 13, 14, 15});  // block b + 4
      if constexpr (std::endian::native != std::endian::little) {
        for (int k = 0; k < kLanes; ++k) {
          low[k] = __builtin_bswap32(low[k]);
          high[k] = __builtin_bswap32(high[k]);
        }
      }
      std::memcpy(out + 64 * b + 32 * half, &low, 32);
      std::memcpy(out + 64 * (b + 4) + 32 * half, &high, 32);
    }
  }
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) void KeyStream8Avx2(const ChaChaState& s, uint32_t counter, uint8_t out[kBatchBytes]) {
  KeyStream8Body<true>(s, counter, out);
}
#endif

void KeyStream8Generic(const ChaChaState& s, uint32_t counter, uint8_t out[kBatchBytes]) {
  KeyStream8Body<false>(s, counter, out);
}

using KeyStreamFn = void (*)(const ChaChaState&, uint32_t, uint8_t*);

void KeyStream8(const ChaChaState& s, uint32_t counter, uint8_t out[kBatchBytes]) {
#if defined(__x86_64__) || defined(__i386__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return KeyStream8Avx2(s, counter, out);
#endif
  KeyStream8Generic(s, counter, out);
}

void XorBytes(const uint8_t* in, const uint8_t* stream, uint8_t* out, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    Lanes a, b;
    std::memcpy(&a, in + i, 32);
    std::memcpy(&b, stream + i, 32);
    a ^= b;
    std::memcpy(out + i, &a, 32);
  }
  for (; i < n; ++i) out[i] = in[i] ^ stream[i];
}

// XORs from block `counter` on; the caller's batch may already cover some.
void XorFrom(const ChaChaState& s, uint32_t counter, const uint8_t* in, uint8_t* out, size_t len,
             KeyStreamFn key_stream = KeyStream8) {
  uint8_t stream[kBatchBytes];
  while (len > 0) {
    key_stream(s, counter, stream);
    size_t n = std::min(len, kBatchBytes);
    XorBytes(in, stream, out, n);
    in += n;
    out += n;
    len -= n;
    counter += kLanes;
  }
}

// ---- Poly1305 (RFC 8439 section 2.5) ----

// The accumulator and r in three limbs of 44, 44 and 42 bits, so each
// product of two limbs fits a 128-bit integer with room for the sums; s1,
// s2 fold the part above 2^130 back in (2^130 = 5 mod p, times 4 for the
// limb offset).
struct PolyState {
  uint64_t r0, r1, r2, s1, s2;
  uint64_t rr0, rr1, rr2, rrs1, rrs2;  // r², for two blocks at a time
  uint64_t h0 = 0, h1 = 0, h2 = 0;
  uint64_t pad0, pad1;

  explicit PolyState(const uint8_t key[32]) {
    uint64_t t0 = LoadLe64(key), t1 = LoadLe64(key + 8);
    // The clamp of section 2.5.1 applied while splitting into limbs.
    r0 = t0 & 0xffc0fffffff;
    r1 = ((t0 >> 44) | (t1 << 20)) & 0xfffffc0ffff;
    r2 = (t1 >> 24) & 0x00ffffffc0f;
    s1 = r1 * (5 << 2);
    s2 = r2 * (5 << 2);
    // r² for the two-block step, by the same multiply.
    u128 d0 = 0, d1 = 0, d2 = 0;
    MulAdd(r0, r1, r2, r0, r1, r2, s1, s2, &d0, &d1, &d2);
    Reduce(d0, d1, d2);
    rr0 = h0;
    rr1 = h1;
    rr2 = h2;
    rrs1 = rr1 * (5 << 2);
    rrs2 = rr2 * (5 << 2);
    h0 = h1 = h2 = 0;
    pad0 = LoadLe64(key + 16);
    pad1 = LoadLe64(key + 24);
  }

  // Whole 16-byte blocks; hibit is 2^128 in limb terms (1 << 40 of h2) for
  // full blocks, 0 for a final short block that carries its own 0x01 byte.
  // Pairs of blocks go as (h + m1)·r² + m2·r: the same multiplies as two
  // steps, but two independent chains, which a CPU runs side by side.
  void Blocks(const uint8_t* m, size_t blocks, uint64_t hibit) {
    for (; blocks >= 2; blocks -= 2, m += 32) {
      uint64_t a0, a1, a2, b0, b1, b2;
      Split(m, hibit, &a0, &a1, &a2);
      Split(m + 16, hibit, &b0, &b1, &b2);
      a0 += h0;
      a1 += h1;
      a2 += h2;
      u128 d0 = 0, d1 = 0, d2 = 0;
      MulAdd(a0, a1, a2, rr0, rr1, rr2, rrs1, rrs2, &d0, &d1, &d2);
      MulAdd(b0, b1, b2, r0, r1, r2, s1, s2, &d0, &d1, &d2);
      Reduce(d0, d1, d2);
    }
    if (blocks == 1) {
      uint64_t a0, a1, a2;
      Split(m, hibit, &a0, &a1, &a2);
      a0 += h0;
      a1 += h1;
      a2 += h2;
      u128 d0 = 0, d1 = 0, d2 = 0;
      MulAdd(a0, a1, a2, r0, r1, r2, s1, s2, &d0, &d1, &d2);
      Reduce(d0, d1, d2);
    }
  }

  using u128 = unsigned __int128;
  static constexpr uint64_t kMask44 = 0xfffffffffff, kMask42 = 0x3ffffffffff;

  static void Split(const uint8_t* m, uint64_t hibit, uint64_t* l0, uint64_t* l1, uint64_t* l2) {
    uint64_t t0 = LoadLe64(m), t1 = LoadLe64(m + 8);
    *l0 = t0 & kMask44;
    *l1 = ((t0 >> 44) | (t1 << 20)) & kMask44;
    *l2 = ((t1 >> 24) & kMask42) | hibit;
  }

  // d += a·x mod 2^130 - 5, in limbs (sx1, sx2: x1, x2 times 20).
  static void MulAdd(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t x0, uint64_t x1, uint64_t x2, uint64_t sx1,
                     uint64_t sx2, u128* d0, u128* d1, u128* d2) {
    *d0 += u128{a0} * x0 + u128{a1} * sx2 + u128{a2} * sx1;
    *d1 += u128{a0} * x1 + u128{a1} * x0 + u128{a2} * sx2;
    *d2 += u128{a0} * x2 + u128{a1} * x1 + u128{a2} * x0;
  }

  // h = d, carried back into limbs (partly: h1 may exceed 44 bits by a little).
  void Reduce(u128 d0, u128 d1, u128 d2) {
    uint64_t c = static_cast<uint64_t>(d0 >> 44);
    h0 = static_cast<uint64_t>(d0) & kMask44;
    d1 += c;
    c = static_cast<uint64_t>(d1 >> 44);
    h1 = static_cast<uint64_t>(d1) & kMask44;
    d2 += c;
    c = static_cast<uint64_t>(d2 >> 42);
    h2 = static_cast<uint64_t>(d2) & kMask42;
    h0 += c * 5;
    c = h0 >> 44;
    h0 &= kMask44;
    h1 += c;
  }

  // Data padded with zeros to a multiple of 16, as the AEAD construction
  // (section 2.8) feeds it.
  void Padded(const uint8_t* m, size_t len) {
    Blocks(m, len / 16, uint64_t{1} << 40);
    if (size_t rest = len % 16) {
      uint8_t block[16] = {0};
      std::memcpy(block, m + len - rest, rest);
      Blocks(block, 1, uint64_t{1} << 40);
    }
  }

  void Finish(uint8_t tag[16]) {
    // Carry fully, twice round the top.
    uint64_t c;
    for (int pass = 0; pass < 2; ++pass) {
      c = h1 >> 44;
      h1 &= kMask44;
      h2 += c;
      c = h2 >> 42;
      h2 &= kMask42;
      h0 += c * 5;
      c = h0 >> 44;
      h0 &= kMask44;
      h1 += c;
    }
    // g = h + 5 - 2^130; take it when it did not go negative (h >= p).
    uint64_t g0 = h0 + 5;
    c = g0 >> 44;
    g0 &= kMask44;
    uint64_t g1 = h1 + c;
    c = g1 >> 44;
    g1 &= kMask44;
    uint64_t g2 = h2 + c - (uint64_t{1} << 42);
    uint64_t take_g = (g2 >> 63) - 1;  // all ones when g2 did not borrow
    h0 = (h0 & ~take_g) | (g0 & take_g);
    h1 = (h1 & ~take_g) | (g1 & take_g);
    h2 = (h2 & ~take_g) | (g2 & take_g);
    // tag = (h + s) mod 2^128
    h0 += pad0 & kMask44;
    c = h0 >> 44;
    h0 &= kMask44;
    h1 += (((pad0 >> 44) | (pad1 << 20)) & kMask44) + c;
    c = h1 >> 44;
    h1 &= kMask44;
    h2 += ((pad1 >> 24) & kMask42) + c;
    h2 &= kMask42;
    StoreLe64(tag, h0 | (h1 << 44));
    StoreLe64(tag + 8, (h1 >> 20) | (h2 << 24));
  }
};

// The AEAD's MAC input (section 2.8): aad, ciphertext, each zero-padded to
// 16 bytes, then both lengths as 64-bit little-endian numbers.
void AeadTag(const uint8_t poly_key[32], const uint8_t* aad, size_t aad_len, const uint8_t* ct, size_t len,
             uint8_t tag[16]) {
  PolyState p(poly_key);
  p.Padded(aad, aad_len);
  p.Padded(ct, len);
  uint8_t lengths[16];
  StoreLe64(lengths, aad_len);
  StoreLe64(lengths + 8, len);
  p.Blocks(lengths, 1, uint64_t{1} << 40);
  p.Finish(tag);
}

// The first batch of key stream: block 0 is the one-time Poly1305 key
// (section 2.6), blocks 1-7 encrypt the first 448 bytes, which for most
// records is all of them.
constexpr size_t kFirstBatchData = kBatchBytes - 64;

}  // namespace

void ChaCha20Xor(const uint8_t key[kChaChaKeyBytes], const uint8_t nonce[kChaChaNonceBytes], uint32_t counter,
                 const uint8_t* in, uint8_t* out, size_t len) {
  XorFrom(ChaChaState(key, nonce, 0), counter, in, out, len);
}

void ChaCha20XorPortable(const uint8_t key[kChaChaKeyBytes], const uint8_t nonce[kChaChaNonceBytes], uint32_t counter,
                         const uint8_t* in, uint8_t* out, size_t len) {
  XorFrom(ChaChaState(key, nonce, 0), counter, in, out, len, KeyStream8Generic);
}

void Poly1305(const uint8_t key[32], const uint8_t* msg, size_t len, uint8_t tag[kPolyTagBytes]) {
  PolyState p(key);
  p.Blocks(msg, len / 16, uint64_t{1} << 40);
  if (size_t rest = len % 16) {
    uint8_t block[16] = {0};
    std::memcpy(block, msg + len - rest, rest);
    block[rest] = 1;
    p.Blocks(block, 1, 0);
  }
  p.Finish(tag);
}

void ChaChaPolySeal(const uint8_t key[kChaChaKeyBytes], const uint8_t nonce[kChaChaNonceBytes], const uint8_t* aad,
                    size_t aad_len, const uint8_t* in, size_t len, uint8_t* out, uint8_t tag[kPolyTagBytes]) {
  ChaChaState s(key, nonce, 0);
  uint8_t stream[kBatchBytes];
  KeyStream8(s, 0, stream);
  size_t first = std::min(len, kFirstBatchData);
  XorBytes(in, stream + 64, out, first);
  if (len > first) XorFrom(s, kLanes, in + first, out + first, len - first);
  AeadTag(stream, aad, aad_len, out, len, tag);
  explicit_bzero(stream, sizeof stream);
}

bool ChaChaPolyOpen(const uint8_t key[kChaChaKeyBytes], const uint8_t nonce[kChaChaNonceBytes], const uint8_t* aad,
                    size_t aad_len, const uint8_t* in, size_t len, const uint8_t tag[kPolyTagBytes], uint8_t* out) {
  ChaChaState s(key, nonce, 0);
  uint8_t stream[kBatchBytes];
  KeyStream8(s, 0, stream);
  uint8_t expected[kPolyTagBytes];
  AeadTag(stream, aad, aad_len, in, len, expected);
  uint8_t diff = 0;
  for (size_t i = 0; i < kPolyTagBytes; ++i) diff |= expected[i] ^ tag[i];
  if (diff != 0) {
    explicit_bzero(stream, sizeof stream);
    return false;
  }
  size_t first = std::min(len, kFirstBatchData);
  XorBytes(in, stream + 64, out, first);
  if (len > first) XorFrom(s, kLanes, in + first, out + first, len - first);
  explicit_bzero(stream, sizeof stream);
  return true;
}

}  // namespace tether

#include "common/aes_gcm.h"

#include <string.h>  // explicit_bzero

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TETHER_AES_GCM_X86 1
#endif

namespace tether {

#ifdef TETHER_AES_GCM_X86
namespace {

#define TETHER_AES_TARGET __attribute__((target("aes,pclmul,ssse3,sse4.1")))

// ---- AES (FIPS 197) with AES-NI ----

// One step of the key schedule: `prev` with each word XORed into the next
// (w[i] ^= w[i-1] ^ w[i-2] ...), then the assist word broadcast by `lane`.
TETHER_AES_TARGET inline __m128i ScheduleStep(__m128i prev, __m128i assist) {
  prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
  prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
  prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
  return _mm_xor_si128(prev, assist);
}

TETHER_AES_TARGET void Expand128(const uint8_t* key, __m128i rk[11]) {
  rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
#define TETHER_AES128_ROUND(i, rcon) \
  rk[i] = ScheduleStep(rk[i - 1], _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[i - 1], rcon), 0xff))
  TETHER_AES128_ROUND(1, 0x01);
  TETHER_AES128_ROUND(2, 0x02);
  TETHER_AES128_ROUND(3, 0x04);
  TETHER_AES128_ROUND(4, 0x08);
  TETHER_AES128_ROUND(5, 0x10);
  TETHER_AES128_ROUND(6, 0x20);
  TETHER_AES128_ROUND(7, 0x40);
  TETHER_AES128_ROUND(8, 0x80);
  TETHER_AES128_ROUND(9, 0x1b);
  TETHER_AES128_ROUND(10, 0x36);
#undef TETHER_AES128_ROUND
}

TETHER_AES_TARGET void Expand256(const uint8_t* key, __m128i rk[15]) {
  rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  rk[1] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key + 16));
  // Even round keys take RotWord+SubWord+rcon of the last word (lane 3),
  // odd ones SubWord alone (lane 2 of the assist, rcon 0).
#define TETHER_AES256_PAIR(i, rcon)                                                                           \
  rk[i] = ScheduleStep(rk[i - 2], _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[i - 1], rcon), 0xff)); \
  if ((i) + 1 < 15) rk[(i) + 1] = ScheduleStep(rk[i - 1], _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[i], 0), 0xaa))
  TETHER_AES256_PAIR(2, 0x01);
  TETHER_AES256_PAIR(4, 0x02);
  TETHER_AES256_PAIR(6, 0x04);
  TETHER_AES256_PAIR(8, 0x08);
  TETHER_AES256_PAIR(10, 0x10);
  TETHER_AES256_PAIR(12, 0x20);
  TETHER_AES256_PAIR(14, 0x40);
#undef TETHER_AES256_PAIR
}

struct Keys {
  __m128i rk[15];
  int rounds;
};

TETHER_AES_TARGET inline Keys LoadKeys(const AesGcmKey& k) {
  Keys out;
  out.rounds = k.rounds;
  for (int i = 0; i <= k.rounds; ++i) out.rk[i] = _mm_load_si128(reinterpret_cast<const __m128i*>(k.round_keys[i]));
  return out;
}

TETHER_AES_TARGET inline __m128i EncryptBlock(const Keys& k, __m128i b) {
  b = _mm_xor_si128(b, k.rk[0]);
  for (int r = 1; r < k.rounds; ++r) b = _mm_aesenc_si128(b, k.rk[r]);
  return _mm_aesenclast_si128(b, k.rk[k.rounds]);
}

// Eight blocks through the rounds together: AESENC's latency hides behind
// the other blocks' rounds.
TETHER_AES_TARGET inline void EncryptBlocks8(const Keys& k, __m128i b[8]) {
  for (int i = 0; i < 8; ++i) b[i] = _mm_xor_si128(b[i], k.rk[0]);
  for (int r = 1; r < k.rounds; ++r)
    for (int i = 0; i < 8; ++i) b[i] = _mm_aesenc_si128(b[i], k.rk[r]);
  for (int i = 0; i < 8; ++i) b[i] = _mm_aesenclast_si128(b[i], k.rk[k.rounds]);
}

// ---- GHASH (SP 800-38D section 6.4) with carry-less multiplication ----
//
// GCM numbers the bits of a block from the most significant bit of its
// first byte, as coefficients x^0 .. x^127. With the bytes reversed the
// block reads as a 128-bit integer whose bit 127 is x^0: every value below is
// kept in that reversed form. The carry-less product of two reversed
// 128-bit values is the reversed 255-bit product, one bit short of a 256-bit
// reversal, hence the shift left by one before reducing. The reduction is
// modulo x^128 + x^7 + x^2 + x + 1, reversed.

TETHER_AES_TARGET inline __m128i ByteReverse(__m128i v) {
  return _mm_shuffle_epi8(v, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

// a * b without reduction, as the 256-bit value hi:lo.
TETHER_AES_TARGET inline void MulWide(__m128i a, __m128i b, __m128i* lo, __m128i* hi) {
  __m128i low = _mm_clmulepi64_si128(a, b, 0x00);
  __m128i high = _mm_clmulepi64_si128(a, b, 0x11);
  __m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10), _mm_clmulepi64_si128(a, b, 0x01));
  *lo = _mm_xor_si128(low, _mm_slli_si128(mid, 8));
  *hi = _mm_xor_si128(high, _mm_srli_si128(mid, 8));
}

// The reversed 255-bit product hi:lo (several XORed together is fine: both
// steps are linear) shifted left by one bit and reduced to 128 bits.
TETHER_AES_TARGET inline __m128i Reduce(__m128i lo, __m128i hi) {
  // hi:lo <<= 1, across the 32-bit lanes and the halves.
  __m128i lo_carry = _mm_srli_epi32(lo, 31);
  __m128i hi_carry = _mm_srli_epi32(hi, 31);
  lo = _mm_slli_epi32(lo, 1);
  hi = _mm_slli_epi32(hi, 1);
  __m128i cross = _mm_srli_si128(lo_carry, 12);  // lo's top bit into hi's bottom
  lo = _mm_or_si128(lo, _mm_slli_si128(lo_carry, 4));
  hi = _mm_or_si128(_mm_or_si128(hi, _mm_slli_si128(hi_carry, 4)), cross);
  // First phase: fold lo's low bits by x^127 + x^126 + x^121 (left shifts 31, 30, 25).
  __m128i fold = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(lo, 31), _mm_slli_epi32(lo, 30)), _mm_slli_epi32(lo, 25));
  __m128i spill = _mm_srli_si128(fold, 4);
  lo = _mm_xor_si128(lo, _mm_slli_si128(fold, 12));
  // Second phase: right shifts 1, 2, 7, plus what the first phase spilled.
  __m128i second = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(lo, 1), _mm_srli_epi32(lo, 2)), _mm_srli_epi32(lo, 7));
  second = _mm_xor_si128(second, spill);
  lo = _mm_xor_si128(lo, second);
  return _mm_xor_si128(hi, lo);
}

TETHER_AES_TARGET inline __m128i Mul(__m128i a, __m128i b) {
  __m128i lo, hi;
  MulWide(a, b, &lo, &hi);
  return Reduce(lo, hi);
}

struct Ghash {
  __m128i h[4];  // H, H^2, H^3, H^4 (reversed)
  __m128i x;     // running value (reversed)
};

TETHER_AES_TARGET inline Ghash StartGhash(const AesGcmKey& k) {
  Ghash g;
  for (int i = 0; i < 4; ++i) g.h[i] = _mm_load_si128(reinterpret_cast<const __m128i*>(k.hash_powers[i]));
  g.x = _mm_setzero_si128();
  return g;
}

// Whole blocks, four at a time with one reduction:
// X' = (X + b0) H^4 + b1 H^3 + b2 H^2 + b3 H.
TETHER_AES_TARGET void GhashBlocks(Ghash* g, const uint8_t* p, size_t blocks) {
  __m128i x = g->x;
  while (blocks >= 4) {
    __m128i lo, hi, l, h;
    const auto* q = reinterpret_cast<const __m128i*>(p);
    MulWide(_mm_xor_si128(x, ByteReverse(_mm_loadu_si128(q))), g->h[3], &lo, &hi);
    MulWide(ByteReverse(_mm_loadu_si128(q + 1)), g->h[2], &l, &h);
    lo = _mm_xor_si128(lo, l);
    hi = _mm_xor_si128(hi, h);
    MulWide(ByteReverse(_mm_loadu_si128(q + 2)), g->h[1], &l, &h);
    lo = _mm_xor_si128(lo, l);
    hi = _mm_xor_si128(hi, h);
    MulWide(ByteReverse(_mm_loadu_si128(q + 3)), g->h[0], &l, &h);
    lo = _mm_xor_si128(lo, l);
    hi = _mm_xor_si128(hi, h);
    x = Reduce(lo, hi);
    p += 64;
    blocks -= 4;
  }
  for (; blocks; --blocks, p += 16)
    x = Mul(_mm_xor_si128(x, ByteReverse(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))), g->h[0]);
  g->x = x;
}

// Any length: whole blocks, then the rest zero-padded to a block.
TETHER_AES_TARGET void GhashBytes(Ghash* g, const uint8_t* p, size_t len) {
  GhashBlocks(g, p, len / 16);
  if (size_t rest = len % 16) {
    alignas(16) uint8_t last[16] = {};
    std::memcpy(last, p + len - rest, rest);
    GhashBlocks(g, last, 1);
  }
}

// The tag: GHASH of the lengths block, back to byte order, XOR E(J0).
TETHER_AES_TARGET void FinishTag(const Keys& k, Ghash* g, __m128i j0, size_t aad_len, size_t len, uint8_t tag[16]) {
  alignas(16) uint8_t lengths[16];
  uint64_t a = uint64_t{aad_len} * 8, c = uint64_t{len} * 8;
  for (int i = 7; i >= 0; --i, a >>= 8, c >>= 8) {
    lengths[i] = static_cast<uint8_t>(a);
    lengths[8 + i] = static_cast<uint8_t>(c);
  }
  GhashBlocks(g, lengths, 1);
  __m128i t = _mm_xor_si128(ByteReverse(g->x), EncryptBlock(k, j0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(tag), t);
}

// The counter block: nonce, then the big-endian 32-bit counter.
TETHER_AES_TARGET inline __m128i CounterBlock(__m128i nonce_block, uint32_t counter) {
  return _mm_insert_epi32(nonce_block, static_cast<int>(__builtin_bswap32(counter)), 3);
}

TETHER_AES_TARGET inline __m128i NonceBlock(const uint8_t nonce[kGcmNonceBytes]) {
  alignas(16) uint8_t b[16] = {};
  std::memcpy(b, nonce, kGcmNonceBytes);
  return _mm_load_si128(reinterpret_cast<const __m128i*>(b));
}

// out = in XOR the key stream from counter 2 on (counter 1 makes the tag).
TETHER_AES_TARGET void Ctr(const Keys& k, __m128i nonce_block, const uint8_t* in, size_t len, uint8_t* out) {
  uint32_t counter = 2;
  while (len >= 128) {
    __m128i b[8];
    for (int i = 0; i < 8; ++i) b[i] = CounterBlock(nonce_block, counter + static_cast<uint32_t>(i));
    EncryptBlocks8(k, b);
    for (int i = 0; i < 8; ++i) {
      __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 16 * i));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * i), _mm_xor_si128(d, b[i]));
    }
    counter += 8;
    in += 128;
    out += 128;
    len -= 128;
  }
  while (len) {
    __m128i s = EncryptBlock(k, CounterBlock(nonce_block, counter++));
    if (len >= 16) {
      __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_xor_si128(d, s));
      in += 16;
      out += 16;
      len -= 16;
    } else {
      alignas(16) uint8_t stream[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(stream), s);
      for (size_t i = 0; i < len; ++i) out[i] = in[i] ^ stream[i];
      explicit_bzero(stream, sizeof stream);
      len = 0;
    }
  }
}

TETHER_AES_TARGET bool Init(AesGcmKey* key, const uint8_t* key_bytes, size_t key_len) {
  __m128i rk[15];
  if (key_len == 16) {
    Expand128(key_bytes, rk);
    key->rounds = 10;
  } else {
    Expand256(key_bytes, rk);
    key->rounds = 14;
  }
  for (int i = 0; i <= key->rounds; ++i) _mm_store_si128(reinterpret_cast<__m128i*>(key->round_keys[i]), rk[i]);
  Keys k = LoadKeys(*key);
  __m128i h = ByteReverse(EncryptBlock(k, _mm_setzero_si128()));
  __m128i power = h;
  for (int i = 0; i < 4; ++i) {
    _mm_store_si128(reinterpret_cast<__m128i*>(key->hash_powers[i]), power);
    power = Mul(power, h);
  }
  return true;
}

TETHER_AES_TARGET void Seal(const AesGcmKey& key, const uint8_t nonce[kGcmNonceBytes], const uint8_t* aad, size_t aad_len,
                            const uint8_t* in, size_t len, uint8_t* out, uint8_t tag[16]) {
  Keys k = LoadKeys(key);
  __m128i nb = NonceBlock(nonce);
  Ctr(k, nb, in, len, out);
  Ghash g = StartGhash(key);
  GhashBytes(&g, aad, aad_len);
  GhashBytes(&g, out, len);
  FinishTag(k, &g, CounterBlock(nb, 1), aad_len, len, tag);
}

TETHER_AES_TARGET bool Open(const AesGcmKey& key, const uint8_t nonce[kGcmNonceBytes], const uint8_t* aad, size_t aad_len,
                            const uint8_t* in, size_t len, const uint8_t tag[16], uint8_t* out) {
  Keys k = LoadKeys(key);
  __m128i nb = NonceBlock(nonce);
  Ghash g = StartGhash(key);
  GhashBytes(&g, aad, aad_len);
  GhashBytes(&g, in, len);
  uint8_t want[16];
  FinishTag(k, &g, CounterBlock(nb, 1), aad_len, len, want);
  uint8_t diff = 0;  // constant time
  for (int i = 0; i < 16; ++i) diff |= static_cast<uint8_t>(want[i] ^ tag[i]);
  explicit_bzero(want, sizeof want);
  if (diff != 0) return false;
  Ctr(k, nb, in, len, out);
  return true;
}

}  // namespace

bool AesGcmAvailable() {
  static const bool available = __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul") &&
                                __builtin_cpu_supports("ssse3") && __builtin_cpu_supports("sse4.1");
  return available;
}

bool AesGcmInit(AesGcmKey* key, const uint8_t* key_bytes, size_t key_len) {
  if ((key_len != 16 && key_len != 32) || !AesGcmAvailable()) return false;
  return Init(key, key_bytes, key_len);
}

void AesGcmSeal(const AesGcmKey& key, const uint8_t nonce[kGcmNonceBytes], const uint8_t* aad, size_t aad_len,
                const uint8_t* in, size_t len, uint8_t* out, uint8_t tag[kGcmTagBytes]) {
  Seal(key, nonce, aad, aad_len, in, len, out, tag);
}

bool AesGcmOpen(const AesGcmKey& key, const uint8_t nonce[kGcmNonceBytes], const uint8_t* aad, size_t aad_len,
                const uint8_t* in, size_t len, const uint8_t tag[kGcmTagBytes], uint8_t* out) {
  return Open(key, nonce, aad, aad_len, in, len, tag, out);
}

#else  // no AES-NI on this architecture: mbedTLS keeps the GCM records

bool AesGcmAvailable() { return false; }
bool AesGcmInit(AesGcmKey*, const uint8_t*, size_t) { return false; }
void AesGcmSeal(const AesGcmKey&, const uint8_t*, const uint8_t*, size_t, const uint8_t*, size_t, uint8_t*, uint8_t*) {}
bool AesGcmOpen(const AesGcmKey&, const uint8_t*, const uint8_t*, size_t, const uint8_t*, size_t, const uint8_t*, uint8_t*) {
  return false;
}

#endif

}  // namespace tether

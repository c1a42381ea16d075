// AES-GCM (NIST SP 800-38D) with a 96-bit nonce and a 128-bit tag, for the
// TLS 1.2 records of the AES-GCM suites (RFC 5288) once mbedTLS has finished
// the handshake. Built on the x86 AES-NI and carry-less multiply
// instructions; where the CPU lacks them AesGcmAvailable() is false and
// mbedTLS keeps such records. mbedTLS 2.28 seals GCM a block at a time at
// about 5 ns a byte; GCM is what most provider APIs negotiate, so every
// request the hub forwards to them paid that. Pure functions over buffers.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tether {

constexpr size_t kGcmNonceBytes = 12;
constexpr size_t kGcmTagBytes = 16;

// Whether this CPU runs the code below (AES-NI, PCLMULQDQ, SSSE3, SSE4.1).
bool AesGcmAvailable();

// An expanded key: the AES round keys and the powers of the hash key.
struct AesGcmKey {
  alignas(16) uint8_t round_keys[15][16];
  alignas(16) uint8_t hash_powers[4][16];  // H, H^2, H^3, H^4, byte-reversed
  int rounds = 0;                          // 10 (AES-128) or 14 (AES-256)
};

// key_bytes: 16 or 32. False for another size or without AesGcmAvailable().
bool AesGcmInit(AesGcmKey* key, const uint8_t* key_bytes, size_t key_len);

// Encrypts `in` into `out` (same length; may be the same buffer) and writes
// the tag. REQUIRES: AesGcmInit succeeded; len < 2^36 - 32.
void AesGcmSeal(const AesGcmKey& key, const uint8_t nonce[kGcmNonceBytes], const uint8_t* aad, size_t aad_len,
                const uint8_t* in, size_t len, uint8_t* out, uint8_t tag[kGcmTagBytes]);

// Checks the tag, then decrypts `in` into `out`. On a mismatch returns false
// and writes nothing to `out`.
bool AesGcmOpen(const AesGcmKey& key, const uint8_t nonce[kGcmNonceBytes], const uint8_t* aad, size_t aad_len,
                const uint8_t* in, size_t len, const uint8_t tag[kGcmTagBytes], uint8_t* out);

}  // namespace tether

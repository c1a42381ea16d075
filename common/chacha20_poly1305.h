// ChaCha20-Poly1305 AEAD (RFC 8439), for TLS records after the handshake.
// mbedTLS 2.28's portable C takes about 4 ns a byte and 1.6 us for a
// 300-byte record; this one computes eight ChaCha20 blocks at once with
// vector instructions and Poly1305 with 64-bit limbs. Constant time: ChaCha20
// is add-rotate-xor, Poly1305 uses fixed-time multiplies, and tags are
// compared without early exit. Pure code over buffers.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tether {

constexpr size_t kChaChaKeyBytes = 32;
constexpr size_t kChaChaNonceBytes = 12;
constexpr size_t kPolyTagBytes = 16;

// XORs `len` bytes of `in` with the ChaCha20 key stream starting at block
// `counter` (RFC 8439 section 2.4) into `out`; in and out may be the same.
void ChaCha20Xor(const uint8_t key[kChaChaKeyBytes], const uint8_t nonce[kChaChaNonceBytes], uint32_t counter,
                 const uint8_t* in, uint8_t* out, size_t len);

// The same without the AVX2 code path, whatever the CPU (for tests of the
// path other machines take).
void ChaCha20XorPortable(const uint8_t key[kChaChaKeyBytes], const uint8_t nonce[kChaChaNonceBytes], uint32_t counter,
                         const uint8_t* in, uint8_t* out, size_t len);

// Poly1305 of `msg` under a one-time key (RFC 8439 section 2.5).
void Poly1305(const uint8_t key[32], const uint8_t* msg, size_t len, uint8_t tag[kPolyTagBytes]);

// AEAD_CHACHA20_POLY1305 (RFC 8439 section 2.8). Seal encrypts `len` bytes
// of `in` into `out` and writes the tag. Open checks the tag first and only
// then decrypts; it returns false (and writes nothing) for a forgery.
void ChaChaPolySeal(const uint8_t key[kChaChaKeyBytes], const uint8_t nonce[kChaChaNonceBytes], const uint8_t* aad,
                    size_t aad_len, const uint8_t* in, size_t len, uint8_t* out, uint8_t tag[kPolyTagBytes]);
bool ChaChaPolyOpen(const uint8_t key[kChaChaKeyBytes], const uint8_t nonce[kChaChaNonceBytes], const uint8_t* aad,
                    size_t aad_len, const uint8_t* in, size_t len, const uint8_t tag[kPolyTagBytes], uint8_t* out);

}  // namespace tether

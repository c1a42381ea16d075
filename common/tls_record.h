// TLS 1.2 records (RFC 5246 section 6.2) of a ChaCha20-Poly1305 suite (RFC
// 7905), sealed and opened here once mbedTLS has finished the handshake.
// mbedTLS 2.28 seals a record with portable C at about 4 ns a byte; every
// request and response crosses two TLS links (edge to hub, hub to
// provider), an 80 KB Claude Code request four times. mbedTLS keeps the
// handshake, the certificates and the key schedule; this is only the
// per-record AEAD (common/chacha20_poly1305.h). Other suites stay in mbedTLS.
// Pure code over buffers.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "common/chacha20_poly1305.h"
#include "common/status.h"

namespace tether {

// True for the mbedTLS names of the ChaCha20-Poly1305 suites.
bool IsChaChaPolySuite(std::string_view suite_name);

constexpr size_t kRecordHeaderBytes = 5;
constexpr size_t kMaxRecordPlaintext = 16384;
// Ciphertext may exceed the plaintext by at most 2048 bytes (RFC 5246 6.2.3).
constexpr size_t kMaxRecordCiphertext = kMaxRecordPlaintext + 2048;

// Size of the record at the front of `buf` (header included): 0 when it is
// not all there yet; an error for a header no TLS 1.2 peer sends.
Result<size_t> NextRecordSize(std::string_view buf);

// One direction of a connection: its key, IV and sequence number. Sealing
// and opening advance the sequence number; a failed open leaves the
// direction unusable (the connection must close).
class RecordProtector {
 public:
  // key: 32 bytes; iv: 12 bytes, from the key block (RFC 5246 section 6.3).
  RecordProtector(std::string_view key, std::string_view iv, uint64_t sequence);
  ~RecordProtector();
  RecordProtector(const RecordProtector&) = delete;
  RecordProtector& operator=(const RecordProtector&) = delete;

  // Appends `plain` to *out as records of `type`, each holding at most
  // kMaxRecordPlaintext bytes; empty plain appends nothing.
  Status Seal(uint8_t type, std::string_view plain, std::string* out);
  // Opens the whole record `record` (header included, as NextRecordSize
  // measured it) and appends its plaintext to *out.
  Status Open(std::string_view record, uint8_t* type, std::string* out);

 private:
  // RFC 7905: the record nonce is the IV with the sequence number XORed
  // into its last 8 bytes.
  void Nonce(uint8_t out[kChaChaNonceBytes]) const;

  uint8_t key_[kChaChaKeyBytes];
  uint8_t iv_[kChaChaNonceBytes];
  uint64_t sequence_;
  bool failed_ = false;
};

}  // namespace tether

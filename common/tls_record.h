// TLS 1.2 records (RFC 5246 section 6.2) protected with an AEAD from
// OpenSSL's libcrypto once mbedTLS has finished the handshake. mbedTLS 2.28
// seals a record with portable C at about 4 ns a byte; libcrypto's assembly
// does ChaCha20-Poly1305 and AES-GCM at a tenth of that, and every request
// and response crosses two TLS links (edge to hub, hub to provider), an
// 80 KB Claude Code request four times. mbedTLS keeps the handshake, the
// certificates and the key schedule; this is only the per-record AEAD.
// Pure code over buffers.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tether {

enum class RecordAead { kChaCha20Poly1305, kAes128Gcm, kAes256Gcm };

// The AEAD of a negotiated mbedTLS cipher suite name, if it is one of ours.
bool RecordAeadForSuite(std::string_view suite_name, RecordAead* aead);
// Key and fixed IV lengths of the key block (RFC 5246 section 6.3): GCM
// takes 4 bytes of implicit nonce (RFC 5288), ChaCha20-Poly1305 all 12 (RFC 7905).
size_t RecordKeyLength(RecordAead aead);
size_t RecordFixedIvLength(RecordAead aead);

constexpr size_t kRecordHeaderBytes = 5;
constexpr size_t kMaxRecordPlaintext = 16384;
// Ciphertext may exceed the plaintext by at most 2048 bytes (RFC 5246 6.2.3).
constexpr size_t kMaxRecordCiphertext = kMaxRecordPlaintext + 2048;

// Size of the record at the front of `buf` (header included): 0 when it is
// not all there yet; an error for a header no TLS 1.2 peer sends.
Result<size_t> NextRecordSize(std::string_view buf);

// One direction of a connection: its key, fixed IV and sequence number.
// Sealing and opening advance the sequence number; a failed open leaves the
// direction unusable (the connection must close).
class RecordProtector {
 public:
  static Result<std::unique_ptr<RecordProtector>> New(RecordAead aead, std::string_view key, std::string_view fixed_iv,
                                                      uint64_t sequence);
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
  struct Impl;
  explicit RecordProtector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tether

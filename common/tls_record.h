// TLS 1.2 records (RFC 5246 section 6.2) of the ChaCha20-Poly1305 (RFC 7905)
// and AES-GCM (RFC 5288) suites, sealed and opened here once mbedTLS has
// finished the handshake. mbedTLS 2.28 seals a record at about 4 ns a byte
// (ChaCha20-Poly1305, portable C) or 3.5 (GCM, a block at a time); every
// request and response crosses two TLS links (edge to hub, hub to
// provider), an 80 KB Claude Code request four times. mbedTLS keeps the
// handshake, the certificates and the key schedule; this is only the
// per-record AEAD (common/chacha20_poly1305.h, common/aes_gcm.h). GCM
// records stay in mbedTLS on a CPU without AES-NI. Pure code over buffers.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/aes_gcm.h"
#include "common/chacha20_poly1305.h"
#include "common/status.h"

namespace tether {

enum class RecordCipher { kChaChaPoly, kAesGcm };

// The record cipher here that serves a suite (by its mbedTLS name), if any:
// the ChaCha20-Poly1305 suites always, the AES-GCM ones where
// AesGcmAvailable().
std::optional<RecordCipher> RecordCipherForSuite(std::string_view suite_name);

// Key and IV sizes from the key block (RFC 5246 section 6.3): ChaCha20-Poly1305
// a 32-byte key and 12-byte IV; AES-GCM a 16- or 32-byte key and a 4-byte
// salt (the nonce's other 8 bytes travel in each record).
bool RecordKeySizesFit(RecordCipher cipher, size_t key_len, size_t iv_len);

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
  // key and iv from the key block, of sizes RecordKeySizesFit accepts.
  RecordProtector(RecordCipher cipher, std::string_view key, std::string_view iv, uint64_t sequence);
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
  void ChaChaNonce(uint8_t out[kChaChaNonceBytes]) const;

  RecordCipher cipher_;
  uint8_t key_[kChaChaKeyBytes];
  uint8_t iv_[kChaChaNonceBytes];  // AES-GCM: the 4-byte salt
  AesGcmKey gcm_;
  uint64_t sequence_;
  bool failed_ = false;
};

}  // namespace tether

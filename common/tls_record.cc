#include "common/tls_record.h"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cstring>

namespace tether {
namespace {

// RFC 5246 section 6.2.3.3: seq_num + type + version + plaintext length.
void Aad(uint8_t out[13], uint64_t sequence, uint8_t type, size_t plain_len) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(sequence);
    sequence >>= 8;
  }
  out[8] = type;
  out[9] = 3;
  out[10] = 3;
  out[11] = static_cast<uint8_t>(plain_len >> 8);
  out[12] = static_cast<uint8_t>(plain_len);
}

}  // namespace

// RFC 5288: each record carries the explicit part of its nonce.
constexpr size_t kGcmExplicitNonceBytes = 8;
constexpr size_t kGcmSaltBytes = 4;

std::optional<RecordCipher> RecordCipherForSuite(std::string_view name) {
  if (name.find("-CHACHA20-POLY1305-") != std::string_view::npos) return RecordCipher::kChaChaPoly;
  if ((name.find("-AES-128-GCM-") != std::string_view::npos || name.find("-AES-256-GCM-") != std::string_view::npos) &&
      AesGcmAvailable())
    return RecordCipher::kAesGcm;
  return std::nullopt;
}

bool RecordKeySizesFit(RecordCipher cipher, size_t key_len, size_t iv_len) {
  if (cipher == RecordCipher::kChaChaPoly) return key_len == kChaChaKeyBytes && iv_len == kChaChaNonceBytes;
  return (key_len == 16 || key_len == 32) && iv_len == kGcmSaltBytes;
}

Result<size_t> NextRecordSize(std::string_view buf) {
  if (buf.size() < kRecordHeaderBytes) return size_t{0};
  const auto* h = reinterpret_cast<const unsigned char*>(buf.data());
  if (h[0] < 20 || h[0] > 23) return Status::Error("TLS record of unknown type " + std::to_string(h[0]));
  if (h[1] != 3 || h[2] != 3) return Status::Error("TLS record of version " + std::to_string(h[1]) + "." + std::to_string(h[2]));
  size_t len = (size_t{h[3]} << 8) | h[4];
  if (len > kMaxRecordCiphertext) return Status::Error("TLS record of " + std::to_string(len) + " bytes");
  return buf.size() >= kRecordHeaderBytes + len ? kRecordHeaderBytes + len : size_t{0};
}

RecordProtector::RecordProtector(RecordCipher cipher, std::string_view key, std::string_view iv, uint64_t sequence)
    : cipher_(cipher), key_{}, iv_{}, sequence_(sequence) {
  std::memcpy(key_, key.data(), std::min(key.size(), sizeof key_));
  std::memcpy(iv_, iv.data(), std::min(iv.size(), sizeof iv_));
  if (cipher_ == RecordCipher::kAesGcm && !AesGcmInit(&gcm_, key_, key.size())) failed_ = true;
}

RecordProtector::~RecordProtector() {
  explicit_bzero(key_, sizeof key_);
  explicit_bzero(iv_, sizeof iv_);
  explicit_bzero(&gcm_, sizeof gcm_);
}

void RecordProtector::ChaChaNonce(uint8_t out[kChaChaNonceBytes]) const {
  std::memcpy(out, iv_, kChaChaNonceBytes);
  uint64_t seq = sequence_;
  for (int i = 11; i >= 4; --i) {
    out[i] ^= static_cast<uint8_t>(seq);
    seq >>= 8;
  }
}

Status RecordProtector::Seal(uint8_t type, std::string_view plain, std::string* out) {
  if (failed_) return Status::Error("TLS record layer failed earlier");
  const bool gcm = cipher_ == RecordCipher::kAesGcm;
  const size_t overhead = gcm ? kGcmExplicitNonceBytes + kGcmTagBytes : kPolyTagBytes;
  while (!plain.empty()) {
    size_t n = std::min(plain.size(), kMaxRecordPlaintext);
    size_t body = n + overhead;
    size_t at = out->size();
    out->resize(at + kRecordHeaderBytes + body);
    auto* p = reinterpret_cast<uint8_t*>(out->data() + at);
    p[0] = type;
    p[1] = 3;
    p[2] = 3;
    p[3] = static_cast<uint8_t>(body >> 8);
    p[4] = static_cast<uint8_t>(body);
    uint8_t aad[13];
    Aad(aad, sequence_, type, n);
    const auto* in = reinterpret_cast<const uint8_t*>(plain.data());
    if (gcm) {
      // The explicit nonce is the sequence number: unique per key, as RFC 5288 asks.
      uint8_t nonce[kGcmNonceBytes];
      std::memcpy(nonce, iv_, kGcmSaltBytes);
      std::memcpy(nonce + kGcmSaltBytes, aad, kGcmExplicitNonceBytes);  // aad starts with the big-endian sequence
      uint8_t* explicit_nonce = p + kRecordHeaderBytes;
      std::memcpy(explicit_nonce, nonce + kGcmSaltBytes, kGcmExplicitNonceBytes);
      uint8_t* ct = explicit_nonce + kGcmExplicitNonceBytes;
      AesGcmSeal(gcm_, nonce, aad, sizeof aad, in, n, ct, ct + n);
    } else {
      uint8_t nonce[kChaChaNonceBytes];
      ChaChaNonce(nonce);
      uint8_t* ct = p + kRecordHeaderBytes;
      ChaChaPolySeal(key_, nonce, aad, sizeof aad, in, n, ct, ct + n);
    }
    ++sequence_;
    plain.remove_prefix(n);
  }
  return Status::Ok();
}

Status RecordProtector::Open(std::string_view record, uint8_t* type, std::string* out) {
  if (failed_) return Status::Error("TLS record layer failed earlier");
  const bool gcm = cipher_ == RecordCipher::kAesGcm;
  const size_t overhead = gcm ? kGcmExplicitNonceBytes + kGcmTagBytes : kPolyTagBytes;
  if (record.size() < kRecordHeaderBytes + overhead) {
    failed_ = true;
    return Status::Error("TLS record too short for its cipher");
  }
  const auto* p = reinterpret_cast<const uint8_t*>(record.data());
  *type = p[0];
  size_t n = record.size() - kRecordHeaderBytes - overhead;
  uint8_t aad[13];
  Aad(aad, sequence_, *type, n);
  size_t at = out->size();
  out->resize(at + n);
  auto* plain = reinterpret_cast<uint8_t*>(out->data() + at);
  bool ok;
  if (gcm) {
    uint8_t nonce[kGcmNonceBytes];
    std::memcpy(nonce, iv_, kGcmSaltBytes);
    std::memcpy(nonce + kGcmSaltBytes, p + kRecordHeaderBytes, kGcmExplicitNonceBytes);
    const uint8_t* ct = p + kRecordHeaderBytes + kGcmExplicitNonceBytes;
    ok = AesGcmOpen(gcm_, nonce, aad, sizeof aad, ct, n, ct + n, plain);
  } else {
    uint8_t nonce[kChaChaNonceBytes];
    ChaChaNonce(nonce);
    const uint8_t* ct = p + kRecordHeaderBytes;
    ok = ChaChaPolyOpen(key_, nonce, aad, sizeof aad, ct, n, ct + n, plain);
  }
  if (!ok) {
    failed_ = true;
    out->resize(at);
    return Status::Error("TLS record failed authentication (bad_record_mac)");
  }
  ++sequence_;
  return Status::Ok();
}

}  // namespace tether

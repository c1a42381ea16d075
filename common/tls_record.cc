#include "common/tls_record.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

namespace tether {
namespace {

constexpr size_t kTagBytes = 16;
constexpr size_t kExplicitNonceBytes = 8;  // GCM only (RFC 5288 section 3)

void PutBe64(unsigned char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<unsigned char>(v);
    v >>= 8;
  }
}

const EVP_CIPHER* CipherFor(RecordAead aead) {
  switch (aead) {
    case RecordAead::kChaCha20Poly1305: return EVP_chacha20_poly1305();
    case RecordAead::kAes128Gcm: return EVP_aes_128_gcm();
    case RecordAead::kAes256Gcm: return EVP_aes_256_gcm();
  }
  return nullptr;
}

}  // namespace

bool RecordAeadForSuite(std::string_view name, RecordAead* aead) {
  if (name.find("-CHACHA20-POLY1305-") != std::string_view::npos) *aead = RecordAead::kChaCha20Poly1305;
  else if (name.find("-AES-128-GCM-") != std::string_view::npos) *aead = RecordAead::kAes128Gcm;
  else if (name.find("-AES-256-GCM-") != std::string_view::npos) *aead = RecordAead::kAes256Gcm;
  else return false;
  return true;
}

size_t RecordKeyLength(RecordAead aead) { return aead == RecordAead::kAes128Gcm ? 16 : 32; }
size_t RecordFixedIvLength(RecordAead aead) { return aead == RecordAead::kChaCha20Poly1305 ? 12 : 4; }

Result<size_t> NextRecordSize(std::string_view buf) {
  if (buf.size() < kRecordHeaderBytes) return size_t{0};
  const auto* h = reinterpret_cast<const unsigned char*>(buf.data());
  if (h[0] < 20 || h[0] > 23) return Status::Error("TLS record of unknown type " + std::to_string(h[0]));
  if (h[1] != 3 || h[2] != 3) return Status::Error("TLS record of version " + std::to_string(h[1]) + "." + std::to_string(h[2]));
  size_t len = (size_t{h[3]} << 8) | h[4];
  if (len > kMaxRecordCiphertext) return Status::Error("TLS record of " + std::to_string(len) + " bytes");
  return buf.size() >= kRecordHeaderBytes + len ? kRecordHeaderBytes + len : size_t{0};
}

struct RecordProtector::Impl {
  RecordAead aead;
  EVP_CIPHER_CTX* seal = nullptr;
  EVP_CIPHER_CTX* open = nullptr;
  unsigned char iv[12] = {0};  // ChaCha: the whole 12-byte IV; GCM: the 4-byte salt
  uint64_t sequence = 0;
  bool failed = false;

  ~Impl() {
    EVP_CIPHER_CTX_free(seal);
    EVP_CIPHER_CTX_free(open);
    OPENSSL_cleanse(iv, sizeof iv);
  }

  // Per-record nonce: RFC 7905 XORs the sequence number into the IV's last 8
  // bytes; RFC 5288 appends an 8-byte explicit part, which (as mbedTLS and
  // OpenSSL do) is the sequence number, so it never repeats under one key.
  void Nonce(unsigned char out[12]) const {
    if (aead == RecordAead::kChaCha20Poly1305) {
      unsigned char seq[8];
      PutBe64(seq, sequence);
      std::memcpy(out, iv, 12);
      for (int i = 0; i < 8; ++i) out[4 + i] ^= seq[i];
    } else {
      std::memcpy(out, iv, 4);
      PutBe64(out + 4, sequence);
    }
  }

  // RFC 5246 section 6.2.3.3: seq_num + type + version + plaintext length.
  void Aad(unsigned char out[13], uint8_t type, size_t plain_len) const {
    PutBe64(out, sequence);
    out[8] = type;
    out[9] = 3;
    out[10] = 3;
    out[11] = static_cast<unsigned char>(plain_len >> 8);
    out[12] = static_cast<unsigned char>(plain_len);
  }

  size_t Overhead() const { return kTagBytes + (aead == RecordAead::kChaCha20Poly1305 ? 0 : kExplicitNonceBytes); }
};

RecordProtector::RecordProtector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RecordProtector::~RecordProtector() = default;

Result<std::unique_ptr<RecordProtector>> RecordProtector::New(RecordAead aead, std::string_view key, std::string_view fixed_iv,
                                                              uint64_t sequence) {
  if (key.size() != RecordKeyLength(aead) || fixed_iv.size() != RecordFixedIvLength(aead))
    return Status::Error("TLS record keys of unexpected length");
  auto impl = std::make_unique<Impl>();
  impl->aead = aead;
  impl->sequence = sequence;
  std::memcpy(impl->iv, fixed_iv.data(), fixed_iv.size());
  impl->seal = EVP_CIPHER_CTX_new();
  impl->open = EVP_CIPHER_CTX_new();
  const auto* k = reinterpret_cast<const unsigned char*>(key.data());
  // The key is set once; each record sets only its nonce.
  if (!impl->seal || !impl->open || EVP_EncryptInit_ex(impl->seal, CipherFor(aead), nullptr, k, nullptr) != 1 ||
      EVP_DecryptInit_ex(impl->open, CipherFor(aead), nullptr, k, nullptr) != 1)
    return Status::Error("libcrypto could not set up the record cipher");
  return std::unique_ptr<RecordProtector>(new RecordProtector(std::move(impl)));
}

Status RecordProtector::Seal(uint8_t type, std::string_view plain, std::string* out) {
  Impl& s = *impl_;
  if (s.failed) return Status::Error("TLS record layer failed earlier");
  while (!plain.empty()) {
    size_t n = std::min(plain.size(), kMaxRecordPlaintext);
    size_t body = n + s.Overhead();
    size_t at = out->size();
    out->resize(at + kRecordHeaderBytes + body);
    auto* p = reinterpret_cast<unsigned char*>(out->data() + at);
    p[0] = type;
    p[1] = 3;
    p[2] = 3;
    p[3] = static_cast<unsigned char>(body >> 8);
    p[4] = static_cast<unsigned char>(body);
    unsigned char* q = p + kRecordHeaderBytes;
    unsigned char nonce[12], aad[13];
    s.Nonce(nonce);
    s.Aad(aad, type, n);
    if (s.aead != RecordAead::kChaCha20Poly1305) {
      std::memcpy(q, nonce + 4, kExplicitNonceBytes);
      q += kExplicitNonceBytes;
    }
    int len = 0;
    if (EVP_EncryptInit_ex(s.seal, nullptr, nullptr, nullptr, nonce) != 1 ||
        EVP_EncryptUpdate(s.seal, nullptr, &len, aad, sizeof aad) != 1 ||
        EVP_EncryptUpdate(s.seal, q, &len, reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(n)) != 1 ||
        EVP_EncryptFinal_ex(s.seal, q + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(s.seal, EVP_CTRL_AEAD_GET_TAG, kTagBytes, q + n) != 1) {
      s.failed = true;
      out->resize(at);
      return Status::Error("TLS record encryption failed");
    }
    ++s.sequence;
    plain.remove_prefix(n);
  }
  return Status::Ok();
}

Status RecordProtector::Open(std::string_view record, uint8_t* type, std::string* out) {
  Impl& s = *impl_;
  if (s.failed) return Status::Error("TLS record layer failed earlier");
  const auto* p = reinterpret_cast<const unsigned char*>(record.data());
  if (record.size() < kRecordHeaderBytes + s.Overhead()) {
    s.failed = true;
    return Status::Error("TLS record too short for its cipher");
  }
  *type = p[0];
  size_t body = record.size() - kRecordHeaderBytes;
  const unsigned char* q = p + kRecordHeaderBytes;
  size_t n = body - s.Overhead();
  unsigned char nonce[12], aad[13];
  s.Nonce(nonce);
  if (s.aead != RecordAead::kChaCha20Poly1305) {
    std::memcpy(nonce + 4, q, kExplicitNonceBytes);  // the sender's explicit part
    q += kExplicitNonceBytes;
  }
  s.Aad(aad, *type, n);
  size_t at = out->size();
  out->resize(at + n);
  auto* dst = reinterpret_cast<unsigned char*>(out->data() + at);
  int len = 0;
  unsigned char tag[kTagBytes];
  std::memcpy(tag, q + n, kTagBytes);
  if (EVP_DecryptInit_ex(s.open, nullptr, nullptr, nullptr, nonce) != 1 ||
      EVP_DecryptUpdate(s.open, nullptr, &len, aad, sizeof aad) != 1 ||
      EVP_DecryptUpdate(s.open, dst, &len, q, static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(s.open, EVP_CTRL_AEAD_SET_TAG, kTagBytes, tag) != 1 ||
      EVP_DecryptFinal_ex(s.open, dst + len, &len) != 1) {
    s.failed = true;
    OPENSSL_cleanse(dst, n);
    out->resize(at);
    return Status::Error("TLS record failed authentication (bad_record_mac)");
  }
  ++s.sequence;
  return Status::Ok();
}

}  // namespace tether

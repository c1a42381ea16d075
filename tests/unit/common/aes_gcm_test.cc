// AES-GCM against the test vectors of the GCM specification (McGrew and
// Viega, "The Galois/Counter Mode of Operation", appendix B) and against
// mbedTLS's independent implementation over every length around the
// eight-block and four-block batches, for both key sizes.
#include "common/aes_gcm.h"

#include <gtest/gtest.h>
#include <mbedtls/gcm.h>

#include <random>
#include <string>
#include <vector>

namespace tether {
namespace {

std::vector<uint8_t> Hex(std::string_view hex) {
  std::vector<uint8_t> out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return out;
}

#define REQUIRE_AES_GCM() \
  if (!AesGcmAvailable()) GTEST_SKIP() << "no AES-NI/PCLMULQDQ on this CPU: mbedTLS keeps GCM records"

struct Vector {
  const char *key, *iv, *plain, *aad, *cipher, *tag;
};

// Test cases 1-4 (AES-128) and 13-16 (AES-256) of the GCM specification.
const Vector kVectors[] = {
    {"00000000000000000000000000000000", "000000000000000000000000", "", "", "", "58e2fccefa7e3061367f1d57a4e7455a"},
    {"00000000000000000000000000000000", "000000000000000000000000", "00000000000000000000000000000000", "",
     "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"},
    {"feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"},
    {"feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "", "", "",
     "530f8afbc74536b9a963b4f1c4cb738b"},
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST(AesGcm, SpecificationVectors) {
  REQUIRE_AES_GCM();
  for (const Vector& v : kVectors) {
    auto key = Hex(v.key), iv = Hex(v.iv), plain = Hex(v.plain), aad = Hex(v.aad);
    AesGcmKey k;
    ASSERT_TRUE(AesGcmInit(&k, key.data(), key.size()));
    std::vector<uint8_t> out(plain.size());
    uint8_t tag[16];
    AesGcmSeal(k, iv.data(), aad.data(), aad.size(), plain.data(), plain.size(), out.data(), tag);
    EXPECT_EQ(out, Hex(v.cipher)) << v.key << " " << v.plain;
    EXPECT_EQ(std::vector<uint8_t>(tag, tag + 16), Hex(v.tag)) << v.key << " " << v.plain;
    std::vector<uint8_t> back(plain.size());
    EXPECT_TRUE(AesGcmOpen(k, iv.data(), aad.data(), aad.size(), out.data(), out.size(), tag, back.data()));
    EXPECT_EQ(back, plain);
  }
}

TEST(AesGcm, RefusesOtherKeySizes) {
  AesGcmKey k;
  uint8_t key[24] = {};
  EXPECT_FALSE(AesGcmInit(&k, key, 24));
  EXPECT_FALSE(AesGcmInit(&k, key, 0));
}

// Seal, mbedTLS's seal and mbedTLS's open agree, byte for byte, for every
// length from 0 to 1,600 bytes and for a full TLS record, with the 13-byte
// TLS additional data and with none.
TEST(AesGcm, AgreesWithMbedtlsForEveryLength) {
  REQUIRE_AES_GCM();
  std::mt19937 rng(7);
  auto fill = [&](std::vector<uint8_t>& v) {
    for (auto& b : v) b = static_cast<uint8_t>(rng());
  };
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 1600; ++n) lengths.push_back(n);
  lengths.push_back(16384);
  for (size_t key_len : {16, 32}) {
    std::vector<uint8_t> key(key_len), nonce(12), aad(13);
    fill(key);
    AesGcmKey k;
    ASSERT_TRUE(AesGcmInit(&k, key.data(), key.size()));
    mbedtls_gcm_context ref;
    mbedtls_gcm_init(&ref);
    ASSERT_EQ(mbedtls_gcm_setkey(&ref, MBEDTLS_CIPHER_ID_AES, key.data(), static_cast<unsigned>(key_len * 8)), 0);
    for (size_t n : lengths) {
      fill(nonce);
      fill(aad);
      std::vector<uint8_t> plain(n), ours(n), theirs(n), back(n);
      fill(plain);
      const size_t aad_len = n % 3 == 0 ? 0 : aad.size();
      uint8_t tag[16], ref_tag[16];
      AesGcmSeal(k, nonce.data(), aad.data(), aad_len, plain.data(), n, ours.data(), tag);
      ASSERT_EQ(mbedtls_gcm_crypt_and_tag(&ref, MBEDTLS_GCM_ENCRYPT, n, nonce.data(), 12, aad.data(), aad_len, plain.data(),
                                          theirs.data(), 16, ref_tag),
                0);
      ASSERT_EQ(ours, theirs) << "key " << key_len << " length " << n;
      ASSERT_EQ(std::vector<uint8_t>(tag, tag + 16), std::vector<uint8_t>(ref_tag, ref_tag + 16)) << "key " << key_len << " length " << n;
      ASSERT_TRUE(AesGcmOpen(k, nonce.data(), aad.data(), aad_len, ours.data(), n, tag, back.data())) << n;
      ASSERT_EQ(back, plain) << n;
    }
    mbedtls_gcm_free(&ref);
  }
}

TEST(AesGcm, SealsInPlace) {
  REQUIRE_AES_GCM();
  std::vector<uint8_t> key(16, 0x42), nonce(12, 7), data(1000, 0x5a), copy(data);
  AesGcmKey k;
  ASSERT_TRUE(AesGcmInit(&k, key.data(), key.size()));
  uint8_t tag[16], tag2[16];
  std::vector<uint8_t> apart(data.size());
  AesGcmSeal(k, nonce.data(), nullptr, 0, data.data(), data.size(), apart.data(), tag);
  AesGcmSeal(k, nonce.data(), nullptr, 0, data.data(), data.size(), data.data(), tag2);
  EXPECT_EQ(data, apart);
  EXPECT_EQ(std::vector<uint8_t>(tag, tag + 16), std::vector<uint8_t>(tag2, tag2 + 16));
  ASSERT_TRUE(AesGcmOpen(k, nonce.data(), nullptr, 0, data.data(), data.size(), tag, data.data()));
  EXPECT_EQ(data, copy);
}

// A changed bit anywhere (ciphertext, tag, additional data, nonce) is
// refused, and nothing is written.
TEST(AesGcm, ForgeriesAreRefusedAndWriteNothing) {
  REQUIRE_AES_GCM();
  std::vector<uint8_t> key(32, 1), nonce(12, 2), aad(13, 3), plain(300, 4), ct(300);
  AesGcmKey k;
  ASSERT_TRUE(AesGcmInit(&k, key.data(), key.size()));
  uint8_t tag[16];
  AesGcmSeal(k, nonce.data(), aad.data(), aad.size(), plain.data(), plain.size(), ct.data(), tag);
  auto refused = [&](std::vector<uint8_t> c, std::vector<uint8_t> t, std::vector<uint8_t> a, std::vector<uint8_t> n) {
    std::vector<uint8_t> out(c.size(), 0xee);
    bool ok = AesGcmOpen(k, n.data(), a.data(), a.size(), c.data(), c.size(), t.data(), out.data());
    return !ok && out == std::vector<uint8_t>(c.size(), 0xee);
  };
  std::vector<uint8_t> t(tag, tag + 16);
  for (size_t bit : {0, 7, 1000, 2399}) {
    auto c = ct;
    c[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    EXPECT_TRUE(refused(c, t, aad, nonce)) << bit;
  }
  for (size_t i : {0, 15}) {
    auto bad = t;
    bad[i] ^= 0x80;
    EXPECT_TRUE(refused(ct, bad, aad, nonce)) << i;
  }
  auto a = aad;
  a[12] ^= 1;
  EXPECT_TRUE(refused(ct, t, a, nonce));
  auto n = nonce;
  n[11] ^= 1;
  EXPECT_TRUE(refused(ct, t, aad, n));
  EXPECT_TRUE(refused(std::vector<uint8_t>(ct.begin(), ct.end() - 1), t, aad, nonce));  // truncated
}

}  // namespace
}  // namespace tether

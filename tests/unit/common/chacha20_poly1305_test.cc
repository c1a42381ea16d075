// RFC 8439's test vectors, and agreement with mbedTLS's independent
// implementation over every length around the eight-block batches.
#include "common/chacha20_poly1305.h"

#include <gtest/gtest.h>
#include <mbedtls/chacha20.h>
#include <mbedtls/chachapoly.h>
#include <mbedtls/poly1305.h>

#include <random>
#include <string>
#include <vector>

namespace tether {
namespace {

std::vector<uint8_t> Hex(std::string_view hex) {
  std::vector<uint8_t> out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    if (hex[i] == ' ' || hex[i] == ':') {
      --i;
      continue;
    }
    out.push_back(static_cast<uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

const std::string kSunscreen =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

TEST(Poly1305, Rfc8439Section252) {
  auto key = Hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
  std::string msg = "Cryptographic Forum Research Group";
  uint8_t tag[16];
  Poly1305(key.data(), reinterpret_cast<const uint8_t*>(msg.data()), msg.size(), tag);
  EXPECT_EQ(std::vector<uint8_t>(tag, tag + 16), Hex("a8061dc1305136c6c22b8baf0c0127a9"));
}

TEST(ChaChaPoly, Rfc8439Section282) {
  auto key = Hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  auto nonce = Hex("070000004041424344454647");
  auto aad = Hex("50515253c0c1c2c3c4c5c6c7");
  std::vector<uint8_t> ct(kSunscreen.size());
  uint8_t tag[16];
  ChaChaPolySeal(key.data(), nonce.data(), aad.data(), aad.size(), reinterpret_cast<const uint8_t*>(kSunscreen.data()),
                 kSunscreen.size(), ct.data(), tag);
  EXPECT_EQ(std::vector<uint8_t>(tag, tag + 16), Hex("1ae10b594f09e26a7e902ecbd0600691"));
  EXPECT_EQ(std::vector<uint8_t>(ct.begin(), ct.begin() + 16), Hex("d31a8d34648e60db7b86afbc53ef7ec2"));
  std::vector<uint8_t> back(ct.size());
  ASSERT_TRUE(ChaChaPolyOpen(key.data(), nonce.data(), aad.data(), aad.size(), ct.data(), ct.size(), tag, back.data()));
  EXPECT_EQ(std::string(back.begin(), back.end()), kSunscreen);
}

// Lengths from 0 to past three batches (8 blocks = 512 bytes; the first
// batch carries the Poly1305 key and 448 bytes), random keys, nonces, aad.
TEST(ChaChaPoly, AgreesWithMbedtls) {
  std::mt19937 rng(8439);
  auto bytes = [&](size_t n) {
    std::vector<uint8_t> v(n);
    for (auto& b : v) b = static_cast<uint8_t>(rng());
    return v;
  };
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 1600; ++n) lengths.push_back(n);
  lengths.push_back(16384);
  for (size_t n : lengths) {
    auto key = bytes(32), nonce = bytes(12), aad = bytes(n % 29), plain = bytes(n);
    std::vector<uint8_t> ours(n), theirs(n);
    uint8_t our_tag[16], their_tag[16];
    ChaChaPolySeal(key.data(), nonce.data(), aad.data(), aad.size(), plain.data(), n, ours.data(), our_tag);
    mbedtls_chachapoly_context c;
    mbedtls_chachapoly_init(&c);
    ASSERT_EQ(mbedtls_chachapoly_setkey(&c, key.data()), 0);
    ASSERT_EQ(mbedtls_chachapoly_encrypt_and_tag(&c, n, nonce.data(), aad.data(), aad.size(), plain.data(), theirs.data(), their_tag), 0);
    mbedtls_chachapoly_free(&c);
    ASSERT_EQ(ours, theirs) << n;
    ASSERT_EQ(std::vector<uint8_t>(our_tag, our_tag + 16), std::vector<uint8_t>(their_tag, their_tag + 16)) << n;

    std::vector<uint8_t> back(n);
    ASSERT_TRUE(ChaChaPolyOpen(key.data(), nonce.data(), aad.data(), aad.size(), ours.data(), n, our_tag, back.data())) << n;
    ASSERT_EQ(back, plain) << n;
  }
}

TEST(ChaChaPoly, StreamAndMacAgreeWithMbedtlsAtAnyCounter) {
  std::mt19937 rng(7905);
  for (uint32_t counter : {0u, 1u, 7u, 8u, 1000u, 0xfffffffcu}) {
    std::vector<uint8_t> key(32), nonce(12), in(777), ours(777), theirs(777);
    for (auto* v : {&key, &nonce, &in})
      for (auto& b : *v) b = static_cast<uint8_t>(rng());
    ChaCha20Xor(key.data(), nonce.data(), counter, in.data(), ours.data(), in.size());
    ASSERT_EQ(mbedtls_chacha20_crypt(key.data(), nonce.data(), counter, in.size(), in.data(), theirs.data()), 0);
    EXPECT_EQ(ours, theirs) << counter;
    std::vector<uint8_t> portable(in.size());
    ChaCha20XorPortable(key.data(), nonce.data(), counter, in.data(), portable.data(), in.size());
    EXPECT_EQ(portable, theirs) << counter;
  }
  for (size_t n = 0; n < 100; ++n) {
    std::vector<uint8_t> key(32), msg(n);
    for (auto* v : {&key, &msg})
      for (auto& b : *v) b = static_cast<uint8_t>(rng());
    uint8_t ours[16], theirs[16];
    Poly1305(key.data(), msg.data(), n, ours);
    ASSERT_EQ(mbedtls_poly1305_mac(key.data(), msg.data(), n, theirs), 0);
    EXPECT_EQ(std::vector<uint8_t>(ours, ours + 16), std::vector<uint8_t>(theirs, theirs + 16)) << n;
  }
  // h at its largest: a key with r and s all ones (after the clamp) over
  // 0xff blocks exercises the final reduction's carries.
  std::vector<uint8_t> key(32, 0xff), msg(256, 0xff);
  uint8_t ours[16], theirs[16];
  Poly1305(key.data(), msg.data(), msg.size(), ours);
  ASSERT_EQ(mbedtls_poly1305_mac(key.data(), msg.data(), msg.size(), theirs), 0);
  EXPECT_EQ(std::vector<uint8_t>(ours, ours + 16), std::vector<uint8_t>(theirs, theirs + 16));
}

TEST(ChaChaPoly, OpenRejectsAnyChangeAndWritesNothing) {
  auto key = Hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  auto nonce = Hex("070000004041424344454647");
  std::string aad = "header";
  std::vector<uint8_t> ct(kSunscreen.size());
  uint8_t tag[16];
  auto a = reinterpret_cast<const uint8_t*>(aad.data());
  ChaChaPolySeal(key.data(), nonce.data(), a, aad.size(), reinterpret_cast<const uint8_t*>(kSunscreen.data()),
                 kSunscreen.size(), ct.data(), tag);
  std::vector<uint8_t> out(ct.size(), 0x5a);
  for (size_t i = 0; i < ct.size(); i += 7) {
    ct[i] ^= 0x80;
    EXPECT_FALSE(ChaChaPolyOpen(key.data(), nonce.data(), a, aad.size(), ct.data(), ct.size(), tag, out.data())) << i;
    ct[i] ^= 0x80;
  }
  tag[15] ^= 1;
  EXPECT_FALSE(ChaChaPolyOpen(key.data(), nonce.data(), a, aad.size(), ct.data(), ct.size(), tag, out.data()));
  tag[15] ^= 1;
  std::string other_aad = "headeR";
  EXPECT_FALSE(ChaChaPolyOpen(key.data(), nonce.data(), reinterpret_cast<const uint8_t*>(other_aad.data()),
                              other_aad.size(), ct.data(), ct.size(), tag, out.data()));
  EXPECT_EQ(out, std::vector<uint8_t>(ct.size(), 0x5a));  // nothing decrypted on failure
  EXPECT_TRUE(ChaChaPolyOpen(key.data(), nonce.data(), a, aad.size(), ct.data(), ct.size(), tag, out.data()));
}

}  // namespace
}  // namespace tether

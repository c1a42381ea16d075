// TLS 1.2 sessions over memory buffers, and the crypto helpers around them.
//
// mbedTLS never touches a socket here: the BIO callbacks move ciphertext
// between mbedTLS and two std::strings owned by the session, so the owner's
// event loop decides when bytes travel. Because the send callback accepts
// everything, mbedTLS never reports WANT_WRITE; WANT_READ means "the loop must
// bring more bytes", and every call returns instead of spinning on it.
#include "common/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <vector>

#include "common/aes_gcm.h"
#include "common/tls_record.h"
#include "mbedtls/asn1write.h"
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/error.h"
#include "mbedtls/oid.h"
#include "mbedtls/pk.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/sha256.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ssl_ticket.h"
#include "mbedtls/x509_crt.h"

namespace tether {
namespace {

// ECDHE only (forward secrecy), AEAD only. ChaCha20-Poly1305 first: with
// mbedTLS 2.28 it seals a 500-byte record about 1.6x faster than AES-GCM
// (whose GHASH runs a byte loop around each AES-NI block), and small records
// are what the link carries. The array must outlive every mbedtls_ssl_config
// that points at it, hence static storage.
// The AEAD suites, in order of preference: a server picks by its own order,
// so each end lists first what it seals fastest. With AES-NI that is
// AES-GCM (common/aes_gcm.h, about 0.5 ns a byte against ChaCha20-Poly1305's
// 0.8); without, ChaCha20-Poly1305, since mbedTLS's own GCM is some 3.5.
const int kGcmFirst[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,       MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,         MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};
const int kChaChaFirst[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,       MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,         MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0,
};
// For a client whose server has every suite (a Tether hub) on a CPU without
// AES-NI: offering GCM would let a server with AES-NI pick it.
const int kChaChaOnly[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};

const int* SuiteList(bool fast_suites_only) {
  if (AesGcmAvailable()) return kGcmFirst;
  return fast_suites_only ? kChaChaOnly : kChaChaFirst;
}

constexpr char kSystemCaBundle[] = "/etc/ssl/certs/ca-certificates.crt";
constexpr uint32_t kTicketLifetimeSeconds = 24 * 3600;
// A client context talking to many hosts (the upstream pool) keeps one saved
// session per server name; beyond this many names the map starts over.
constexpr size_t kMaxSavedSessions = 64;

std::string MbedError(int ret) {
  char buf[160];
  mbedtls_strerror(ret, buf, sizeof buf);
  char code[24];
  std::snprintf(code, sizeof code, " (-0x%04x)", static_cast<unsigned>(-ret));
  return std::string(buf) + code;
}

std::string MbedError(const std::string& what, int ret) { return what + ": " + MbedError(ret); }

std::string Hex(const unsigned char* data, size_t len) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

std::string Sha256HexBytes(const unsigned char* data, size_t len) {
  unsigned char digest[32];
  mbedtls_sha256_ret(data, len, digest, 0);
  return Hex(digest, sizeof digest);
}

// mbedtls_x509_crt_verify_info writes one line per flag; one line reads
// better inside a log message.
std::string VerifyInfo(uint32_t flags) {
  char buf[1024];
  int n = mbedtls_x509_crt_verify_info(buf, sizeof buf, "", flags);
  if (n <= 0) return "unknown reason (flags 0x" + std::to_string(flags) + ")";
  std::string out;
  std::string_view text(buf, static_cast<size_t>(n));
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty()) {
      if (!out.empty()) out += "; ";
      out += line;
    }
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

const char* AlertName(unsigned char code) {
  switch (code) {
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 112: return "unrecognized_name";
    default: return "alert";
  }
}

// Parses a textual IPv4/IPv6 address into network-order bytes (4 or 16).
bool ParseIp(const std::string& text, unsigned char out[16], size_t* len) {
  if (inet_pton(AF_INET, text.c_str(), out) == 1) {
    *len = 4;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), out) == 1) {
    *len = 16;
    return true;
  }
  return false;
}

// Normalizes "AB:cd ..." to 64 lowercase hex digits; empty on bad input.
std::string NormalizePin(const std::string& pin) {
  std::string out;
  for (char c : pin) {
    if (c == ':' || c == ' ') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return "";
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out.size() == 64 ? out : "";
}

std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(pos, comma - pos);
    size_t b = item.find_first_not_of(" \t");
    size_t e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    pos = comma + 1;
  }
  return out;
}

// RAII holders for the mbedTLS contexts used below (init/free pairs).
struct Crt {
  mbedtls_x509_crt c;
  Crt() { mbedtls_x509_crt_init(&c); }
  ~Crt() { mbedtls_x509_crt_free(&c); }
  Crt(const Crt&) = delete;
  Crt& operator=(const Crt&) = delete;
};

struct Pk {
  mbedtls_pk_context k;
  Pk() { mbedtls_pk_init(&k); }
  ~Pk() { mbedtls_pk_free(&k); }
  Pk(const Pk&) = delete;
  Pk& operator=(const Pk&) = delete;
};

struct Drbg {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context ctr;
  Drbg() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&ctr);
  }
  ~Drbg() {
    mbedtls_ctr_drbg_free(&ctr);
    mbedtls_entropy_free(&entropy);
  }
  Drbg(const Drbg&) = delete;
  Drbg& operator=(const Drbg&) = delete;
  int Seed(const char* personalization) {
    return mbedtls_ctr_drbg_seed(&ctr, mbedtls_entropy_func, &entropy,
                                 reinterpret_cast<const unsigned char*>(personalization), std::strlen(personalization));
  }
};

// The process-wide generator behind RandomBytes and certificate generation.
// Reseeded after fork so a daemonized child never repeats its parent's stream.
struct GlobalRng {
  std::mutex mu;
  Drbg drbg;
  pid_t pid = 0;

  // Runs fn(drbg) under the lock. A CSPRNG that cannot be seeded is fatal:
  // handing out predictable keys or tokens would be worse than stopping.
  template <typename Fn>
  auto With(Fn fn) {
    std::lock_guard<std::mutex> lock(mu);
    pid_t now = getpid();
    if (pid == 0 || pid != now) {
      int ret = pid == 0 ? drbg.Seed("tether-rng") : mbedtls_ctr_drbg_reseed(&drbg.ctr, nullptr, 0);
      if (ret != 0) {
        std::fprintf(stderr, "fatal: cannot seed the random generator: %s\n", MbedError(ret).c_str());
        std::abort();
      }
      pid = now;
    }
    return fn(&drbg.ctr);
  }
};

GlobalRng& Rng() {
  static GlobalRng* rng = new GlobalRng;  // never destroyed: usable from static destructors
  return *rng;
}

int GlobalRandom(void*, unsigned char* out, size_t len) {
  return Rng().With([&](mbedtls_ctr_drbg_context* ctr) { return mbedtls_ctr_drbg_random(ctr, out, len); });
}

Status LoadCerts(mbedtls_x509_crt* crt, const std::string& file, const char* what) {
  int ret = mbedtls_x509_crt_parse_file(crt, file.c_str());
  // A positive return counts certificates that failed to parse; a system
  // bundle may hold a few mbedTLS cannot read, which is fine if others loaded.
  if (ret < 0) return Status::Error(MbedError(std::string(what) + " " + file, ret));
  if (crt->raw.p == nullptr) return Status::Error(std::string(what) + " " + file + ": no certificate found");
  return Status::Ok();
}

Status LoadKey(mbedtls_pk_context* key, const std::string& file, const char* what) {
  int ret = mbedtls_pk_parse_keyfile(key, file.c_str(), nullptr);
  if (ret != 0) return Status::Error(MbedError(std::string(what) + " " + file, ret));
  return Status::Ok();
}

// The key block mbedTLS derives for a session (RFC 5246 section 6.3), kept
// until the handshake ends so the records can move out of mbedTLS.
// mbedTLS reports it through a per-config callback; the session whose
// handshake step is running on this thread is the one it belongs to.
struct KeyBlockCapture {
  std::string block;
  size_t mac_len = 0, key_len = 0, iv_len = 0;
  bool got = false;
};
thread_local KeyBlockCapture* g_key_capture = nullptr;

int OnExportKeys(void*, const unsigned char*, const unsigned char* key_block, size_t mac_len, size_t key_len, size_t iv_len,
                 const unsigned char*, const unsigned char*, mbedtls_tls_prf_types) noexcept {
  if (KeyBlockCapture* c = g_key_capture) {
    c->block.assign(reinterpret_cast<const char*>(key_block), 2 * (mac_len + key_len + iv_len));
    c->mac_len = mac_len;
    c->key_len = key_len;
    c->iv_len = iv_len;
    c->got = true;
  }
  return 0;
}

uint64_t Be64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// One saved client session (ticket or session id plus master secret).
struct SavedSession {
  mbedtls_ssl_session s;
  SavedSession() { mbedtls_ssl_session_init(&s); }
  ~SavedSession() { mbedtls_ssl_session_free(&s); }
  SavedSession(const SavedSession&) = delete;
  SavedSession& operator=(const SavedSession&) = delete;
};

}  // namespace

// ---------------------------------------------------------------------------
// TlsContext

struct TlsContext::Impl {
  bool server = false;
  Drbg drbg;
  mbedtls_ssl_config conf;
  mbedtls_x509_crt own_cert;
  mbedtls_pk_context own_key;
  mbedtls_x509_crt ca;
  mbedtls_ssl_ticket_context ticket;
  int authmode = MBEDTLS_SSL_VERIFY_NONE;
  bool fast_records = true;
  int only_suite[2] = {0, 0};  // a one-suite list for mbedtls_ssl_conf_ciphersuites

  // Client side.
  bool has_ca = false;
  bool insecure = false;
  bool resume_sessions = false;
  std::string pin;  // normalized hex, empty when not pinned
  std::map<std::string, std::unique_ptr<SavedSession>> sessions;

  Impl() {
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&own_cert);
    mbedtls_pk_init(&own_key);
    mbedtls_x509_crt_init(&ca);
    mbedtls_ssl_ticket_init(&ticket);
  }
  ~Impl() {
    sessions.clear();
    mbedtls_ssl_config_free(&conf);
    mbedtls_ssl_ticket_free(&ticket);
    mbedtls_x509_crt_free(&ca);
    mbedtls_pk_free(&own_key);
    mbedtls_x509_crt_free(&own_cert);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Shared by both ends: RNG, TLS 1.2 exactly, the AEAD suite list.
  Status Configure(int endpoint, bool own_records, const std::string& only_cipher_suite, bool fast_suites_only = false) {
    fast_records = own_records;
    if (int ret = drbg.Seed(endpoint == MBEDTLS_SSL_IS_SERVER ? "tether-tls-server" : "tether-tls-client"); ret != 0)
      return Status::Error(MbedError("seeding the random generator", ret));
    if (int ret = mbedtls_ssl_config_defaults(&conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
                                              MBEDTLS_SSL_PRESET_DEFAULT);
        ret != 0)
      return Status::Error(MbedError("mbedtls_ssl_config_defaults", ret));
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg.ctr);
    mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&conf, SuiteList(fast_suites_only && own_records));
    mbedtls_ssl_conf_export_keys_ext_cb(&conf, OnExportKeys, nullptr);
    if (!only_cipher_suite.empty()) {
      only_suite[0] = mbedtls_ssl_get_ciphersuite_id(only_cipher_suite.c_str());
      if (only_suite[0] == 0) return Status::Error("unknown cipher suite " + only_cipher_suite);
      mbedtls_ssl_conf_ciphersuites(&conf, only_suite);
    }
    return Status::Ok();
  }

  Status LoadOwnCert(const std::string& cert_file, const std::string& key_file) {
    if (Status st = LoadCerts(&own_cert, cert_file, "cert_file"); !st.ok()) return st;
    if (Status st = LoadKey(&own_key, key_file, "key_file"); !st.ok()) return st;
    if (mbedtls_pk_check_pair(&own_cert.pk, &own_key) != 0)
      return Status::Error("key_file " + key_file + " does not match cert_file " + cert_file);
    if (int ret = mbedtls_ssl_conf_own_cert(&conf, &own_cert, &own_key); ret != 0)
      return Status::Error(MbedError("mbedtls_ssl_conf_own_cert", ret));
    return Status::Ok();
  }
};

TlsContext::TlsContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;
bool TlsContext::is_server() const { return impl_->server; }

Result<std::unique_ptr<TlsContext>> TlsContext::NewServer(const TlsServerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->server = true;
  if (options.cert_file.empty() || options.key_file.empty())
    return Status::Error("a TLS server needs cert_file and key_file");
  if (Status st = impl->Configure(MBEDTLS_SSL_IS_SERVER, options.fast_records, options.only_cipher_suite); !st.ok()) return st;
  if (Status st = impl->LoadOwnCert(options.cert_file, options.key_file); !st.ok()) return st;
  if (!options.client_ca_file.empty()) {
    if (Status st = LoadCerts(&impl->ca, options.client_ca_file, "client_ca_file"); !st.ok()) return st;
    impl->has_ca = true;
    mbedtls_ssl_conf_ca_chain(&impl->conf, &impl->ca, nullptr);
    impl->authmode = options.client_cert_optional ? MBEDTLS_SSL_VERIFY_OPTIONAL : MBEDTLS_SSL_VERIFY_REQUIRED;
  }
  mbedtls_ssl_conf_authmode(&impl->conf, impl->authmode);
  if (options.session_tickets) {
    // The ticket key is random per process and rotates every lifetime; a
    // restarted hub simply falls back to full handshakes once.
    if (int ret = mbedtls_ssl_ticket_setup(&impl->ticket, mbedtls_ctr_drbg_random, &impl->drbg.ctr,
                                           MBEDTLS_CIPHER_AES_256_GCM, kTicketLifetimeSeconds);
        ret != 0)
      return Status::Error(MbedError("mbedtls_ssl_ticket_setup", ret));
    mbedtls_ssl_conf_session_tickets_cb(&impl->conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse,
                                        &impl->ticket);
  }
  return std::unique_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

Result<std::unique_ptr<TlsContext>> TlsContext::NewClient(const TlsClientOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->server = false;
  impl->insecure = options.insecure;
  impl->resume_sessions = options.resume_sessions;
  if (Status st = impl->Configure(MBEDTLS_SSL_IS_CLIENT, options.fast_records, options.only_cipher_suite, options.fast_suites_only);
      !st.ok())
    return st;
  if (!options.cert_file.empty() || !options.key_file.empty()) {
    if (options.cert_file.empty() || options.key_file.empty())
      return Status::Error("a client certificate needs both cert_file and key_file");
    if (Status st = impl->LoadOwnCert(options.cert_file, options.key_file); !st.ok()) return st;
  }
  if (!options.insecure) {
    std::string ca_file = options.ca_file;
    if (ca_file.empty() && options.system_ca) ca_file = kSystemCaBundle;
    if (!ca_file.empty()) {
      if (Status st = LoadCerts(&impl->ca, ca_file, "ca_file"); !st.ok()) return st;
      impl->has_ca = true;
      mbedtls_ssl_conf_ca_chain(&impl->conf, &impl->ca, nullptr);
    }
    if (!options.pin_sha256.empty()) {
      impl->pin = NormalizePin(options.pin_sha256);
      if (impl->pin.empty()) return Status::Error("pin_sha256: expected 64 hex digits (SHA-256 of the certificate)");
    }
    if (!impl->has_ca && impl->pin.empty())
      return Status::Error("no ca_file, pin_sha256 or system_ca to verify the server; set insecure to skip verification");
    // Pin only: there is no CA chain, and mbedTLS refuses REQUIRED without
    // one, so the verify callback does the whole check (OPTIONAL lets it run)
    // and Handshake() re-checks the result before reporting success.
    impl->authmode = impl->has_ca ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_OPTIONAL;
  }
  mbedtls_ssl_conf_authmode(&impl->conf, impl->authmode);
  mbedtls_ssl_conf_session_tickets(&impl->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
  return std::unique_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

// ---------------------------------------------------------------------------
// TlsSession

struct TlsSession::Impl {
  TlsContext::Impl* ctx;
  std::string server_name;
  bool name_is_ip = false;
  unsigned char ip[16] = {0};
  size_t ip_len = 0;

  mbedtls_ssl_context ssl;
  std::string in;  // received ciphertext; in_pos bytes already consumed
  size_t in_pos = 0;
  std::string out;  // ciphertext for the peer

  bool done = false;
  bool resumed = false;
  // After the handshake, ChaCha20-Poly1305 records are sealed and opened
  // here (common/tls_record.h) instead of by mbedTLS.
  KeyBlockCapture keys;
  std::unique_ptr<RecordProtector> seal, open;
  Status failure;             // sticky: a failed session stays failed
  std::string verify_error;   // reason recorded by the verify callback

  Impl(TlsContext::Impl* c, std::string_view name) : ctx(c), server_name(name) { mbedtls_ssl_init(&ssl); }
  ~Impl() {
    mbedtls_platform_zeroize(keys.block.data(), keys.block.size());
    mbedtls_ssl_free(&ssl);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  static int Send(void* p, const unsigned char* buf, size_t len) noexcept {
    static_cast<Impl*>(p)->out.append(reinterpret_cast<const char*>(buf), len);
    return static_cast<int>(len);
  }

  static int Recv(void* p, unsigned char* buf, size_t len) noexcept {
    Impl* s = static_cast<Impl*>(p);
    size_t avail = s->in.size() - s->in_pos;
    if (avail == 0) return MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = std::min(len, avail);
    std::memcpy(buf, s->in.data() + s->in_pos, n);
    s->in_pos += n;
    if (s->in_pos == s->in.size()) {
      s->in.clear();
      s->in_pos = 0;
    }
    return static_cast<int>(n);
  }

  static int Verify(void* p, mbedtls_x509_crt* crt, int depth, uint32_t* flags) noexcept {
    return static_cast<Impl*>(p)->OnVerify(crt, depth, flags);
  }

  // Called by mbedTLS for each certificate of the chain, the root first and
  // the leaf (depth 0) last. A non-zero return aborts the handshake with an
  // alert even under VERIFY_OPTIONAL.
  int OnVerify(const mbedtls_x509_crt* crt, int depth, uint32_t* flags) {
    if (ctx->server) {
      // REQUIRED or OPTIONAL: a certificate that was sent must be valid.
      if (*flags != 0) {
        verify_error = VerifyInfo(*flags);
        return MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
      }
      return 0;
    }
    bool pin_only = !ctx->has_ca;
    if (depth != 0) {
      // Without a CA the chain cannot be trusted; the pin on the leaf decides.
      if (pin_only) *flags = 0;
      return 0;
    }
    if (name_is_ip && !pin_only && !LeafHasIp(crt)) *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    if (!ctx->pin.empty()) {
      std::string got = Sha256HexBytes(crt->raw.p, crt->raw.len);
      if (got != ctx->pin) {
        verify_error = "pin mismatch: server certificate sha256 " + got + ", expected " + ctx->pin;
        return MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
      }
      if (pin_only) *flags = 0;
    }
    return 0;
  }

  // mbedTLS 2.28 matches only DNS names against the expected host, so an IP
  // literal is checked here against the leaf's iPAddress SAN entries (the
  // parser keeps every GeneralName, tagged, in subject_alt_names).
  bool LeafHasIp(const mbedtls_x509_crt* crt) const {
    if (!(crt->ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME)) return false;
    for (const mbedtls_x509_sequence* cur = &crt->subject_alt_names; cur != nullptr; cur = cur->next) {
      if (cur->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && cur->buf.len == ip_len &&
          std::memcmp(cur->buf.p, ip, ip_len) == 0)
        return true;
    }
    return false;
  }

  void Setup() {
    if (int ret = mbedtls_ssl_setup(&ssl, &ctx->conf); ret != 0) {
      failure = Status::Error(MbedError("mbedtls_ssl_setup", ret));
      return;
    }
    mbedtls_ssl_set_bio(&ssl, this, Send, Recv, nullptr);
    if (ctx->authmode != MBEDTLS_SSL_VERIFY_NONE) mbedtls_ssl_set_verify(&ssl, Verify, this);
    if (ctx->server) return;
    name_is_ip = ParseIp(server_name, ip, &ip_len);
    // RFC 6066 section 3: no IP literals in SNI. For DNS names the same call
    // sets the name mbedTLS checks against the certificate.
    if (!name_is_ip && !server_name.empty()) {
      if (int ret = mbedtls_ssl_set_hostname(&ssl, server_name.c_str()); ret != 0) {
        failure = Status::Error(MbedError("server name " + server_name, ret));
        return;
      }
    }
    if (ctx->has_ca && server_name.empty()) {
      failure = Status::Error("no server name to verify the certificate against");
      return;
    }
    if (ctx->resume_sessions) {
      auto it = ctx->sessions.find(server_name);
      // A stale or rejected session only costs a full handshake.
      if (it != ctx->sessions.end()) mbedtls_ssl_set_session(&ssl, &it->second->s);
    }
  }

  Status Fail(int ret) {
    std::string msg;
    const char* what = ctx->server ? "client certificate verification failed: " : "certificate verification failed: ";
    uint32_t result = mbedtls_ssl_get_verify_result(&ssl);
    if (!verify_error.empty()) {
      msg = what + verify_error;
    } else if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ||
               (ret == MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE && result != 0 && result != 0xffffffffu)) {
      // The second case: a chain that verified but whose keyUsage or
      // extendedKeyUsage does not fit its role in the handshake.
      msg = what + VerifyInfo(result);
    } else if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && ssl.in_msg != nullptr) {
      unsigned char code = ssl.in_msg[1];
      msg = std::string("peer sent fatal alert ") + AlertName(code) + " (" + std::to_string(code) + ")";
    } else if (ret == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE) {
      // mbedTLS 2.28 fails here silently; RFC 5246 section 7.4.6 names the
      // alert, and without it the client would only see the connection drop.
      mbedtls_ssl_send_alert_message(&ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
      msg = "client certificate required but none was sent";
    } else {
      msg = MbedError(ret);
    }
    failure = Status::Error(msg);
    return failure;
  }

  // Takes the record layer over from mbedTLS once the handshake is over,
  // for a suite RecordCipherForSuite serves: this session's keys, continuing
  // mbedTLS's sequence numbers (its Finished messages used 0). Only from a
  // clean state: nothing half-read or unsent inside mbedTLS; otherwise, and
  // for GCM without AES-NI, mbedTLS keeps the records.
  void MoveRecordsOutOfMbedtls() {
    const char* suite = mbedtls_ssl_get_ciphersuite(&ssl);
    std::optional<RecordCipher> cipher = suite ? RecordCipherForSuite(suite) : std::nullopt;
    bool ok = ctx->fast_records && keys.got && cipher && keys.mac_len == 0 &&
              RecordKeySizesFit(*cipher, keys.key_len, keys.iv_len) && ssl.in_left == 0 &&
              ssl.out_left == 0 && mbedtls_ssl_get_bytes_avail(&ssl) == 0 && ssl.in_ctr != nullptr;
    if (ok) {
      std::string_view kb = keys.block;
      const size_t kl = keys.key_len, il = keys.iv_len;
      std::string_view client_key = kb.substr(0, kl), server_key = kb.substr(kl, kl);
      std::string_view client_iv = kb.substr(2 * kl, il), server_iv = kb.substr(2 * kl + il, il);
      bool server = ctx->server;
      seal = std::make_unique<RecordProtector>(*cipher, server ? server_key : client_key, server ? server_iv : client_iv,
                                               Be64(ssl.cur_out_ctr));
      open = std::make_unique<RecordProtector>(*cipher, server ? client_key : server_key, server ? client_iv : server_iv,
                                               Be64(ssl.in_ctr));
    }
    mbedtls_platform_zeroize(keys.block.data(), keys.block.size());
    keys.block.clear();
  }

  // Application records sealed and opened here: whole records from `in`, alerts
  // and a HelloRequest handled here (no renegotiation: RFC 5246 section
  // 7.4.1.1 lets a client ignore it).
  Status ReadRecords(std::string* out, bool* peer_closed) {
    std::string control;
    for (;;) {
      std::string_view avail(in.data() + in_pos, in.size() - in_pos);
      Result<size_t> size = NextRecordSize(avail);
      if (!size.ok()) return failure = size.status();
      if (*size == 0) break;
      uint8_t type = avail[0];
      control.clear();
      Status st = open->Open(avail.substr(0, *size), &type, type == kApplicationData ? out : &control);
      if (!st.ok()) return failure = st;
      in_pos += *size;
      if (type == kApplicationData || type == kHandshake) continue;
      if (type == kAlert && control.size() == 2 && control[1] == 0) {  // close_notify
        *peer_closed = true;
        break;
      }
      if (type == kAlert && control.size() == 2) {
        unsigned char code = static_cast<unsigned char>(control[1]);
        return failure = Status::Error(std::string("peer sent fatal alert ") + AlertName(code) + " (" + std::to_string(code) + ")");
      }
      return failure = Status::Error("unexpected TLS record of type " + std::to_string(type) + " after the handshake");
    }
    if (in_pos == in.size()) {
      in.clear();
      in_pos = 0;
    } else if (in_pos >= 64 * 1024) {
      in.erase(0, in_pos);
      in_pos = 0;
    }
    return Status::Ok();
  }

  static constexpr uint8_t kAlert = 21, kHandshake = 22, kApplicationData = 23;

  // Runs after HANDSHAKE_OVER: re-checks what OPTIONAL modes let through and
  // remembers the session for the next connection.
  Status Finish() {
    uint32_t result = mbedtls_ssl_get_verify_result(&ssl);
    // The alert tells the peer, which already considers the handshake done.
    if (!ctx->server && ctx->authmode != MBEDTLS_SSL_VERIFY_NONE && result != 0) {
      mbedtls_ssl_send_alert_message(&ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
      failure = Status::Error("certificate verification failed: " + VerifyInfo(result));
      return failure;
    }
    if (ctx->server && ctx->authmode == MBEDTLS_SSL_VERIFY_OPTIONAL && mbedtls_ssl_get_peer_cert(&ssl) != nullptr &&
        result != 0) {
      // e.g. a CA-signed certificate without the clientAuth usage, which
      // mbedTLS lets through under VERIFY_OPTIONAL.
      mbedtls_ssl_send_alert_message(&ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT);
      failure = Status::Error("client certificate verification failed: " + VerifyInfo(result));
      return failure;
    }
    done = true;
    MoveRecordsOutOfMbedtls();
    if (!ctx->server && ctx->resume_sessions) {
      auto saved = std::make_unique<SavedSession>();
      if (mbedtls_ssl_get_session(&ssl, &saved->s) == 0) {
        if (ctx->sessions.size() >= kMaxSavedSessions && !ctx->sessions.count(server_name)) ctx->sessions.clear();
        ctx->sessions[server_name] = std::move(saved);
      }
    }
    return Status::Ok();
  }
};

TlsSession::TlsSession(TlsContext* context, std::string_view server_name)
    : impl_(std::make_unique<Impl>(context->impl(), server_name)) {
  impl_->Setup();
}

TlsSession::~TlsSession() = default;

void TlsSession::PutCiphertext(const char* data, size_t len) { impl_->in.append(data, len); }

Status TlsSession::Handshake(bool* done) {
  Impl& s = *impl_;
  *done = s.done;
  if (!s.failure.ok()) return s.failure;
  if (s.done) return Status::Ok();
  // mbedtls_ssl_handshake() is this same loop; stepping it ourselves lets us
  // see the one transition that only an abbreviated handshake makes: from
  // ServerHello straight to the server's ChangeCipherSpec (no Certificate,
  // no key exchange). That holds on both ends and for tickets and session
  // ids alike, without reading mbedTLS's private handshake struct.
  while (s.ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
    int before = s.ssl.state;
    g_key_capture = &s.keys;
    int ret = mbedtls_ssl_handshake_step(&s.ssl);
    g_key_capture = nullptr;
    if (before == MBEDTLS_SSL_SERVER_HELLO && s.ssl.state == MBEDTLS_SSL_SERVER_CHANGE_CIPHER_SPEC) s.resumed = true;
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) return Status::Ok();
    if (ret != 0) return s.Fail(ret);
  }
  Status st = s.Finish();
  *done = s.done;
  return st;
}

bool TlsSession::handshake_done() const { return impl_->done; }

Status TlsSession::Read(std::string* out, bool* peer_closed) {
  Impl& s = *impl_;
  *peer_closed = false;
  if (!s.failure.ok()) return s.failure;
  if (!s.done) return Status::Error("read before the TLS handshake completed");
  if (s.open) return s.ReadRecords(out, peer_closed);
  // Records decrypt into a per-thread scratch buffer and only their bytes are
  // appended: growing `out` by a whole record each time would zero-fill and
  // often reallocate 16 KiB per read.
  static thread_local unsigned char scratch[16 * 1024];
  for (;;) {
    int ret = mbedtls_ssl_read(&s.ssl, scratch, sizeof scratch);
    if (ret > 0) {
      out->append(reinterpret_cast<const char*>(scratch), static_cast<size_t>(ret));
      continue;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) return Status::Ok();
    if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == 0) {
      *peer_closed = true;
      return Status::Ok();
    }
    if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) return s.Fail(ret);
    s.failure = Status::Error(MbedError(ret));
    return s.failure;
  }
}

Status TlsSession::Write(std::string_view data) {
  Impl& s = *impl_;
  if (!s.failure.ok()) return s.failure;
  if (!s.done) return Status::Error("write before the TLS handshake completed");
  if (s.seal) {
    Status st = s.seal->Seal(Impl::kApplicationData, data, &s.out);
    if (!st.ok()) s.failure = st;
    return st;
  }
  // mbedtls_ssl_write takes at most one record (16 KiB) per call.
  while (!data.empty()) {
    int ret = mbedtls_ssl_write(&s.ssl, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    if (ret <= 0) {
      s.failure = Status::Error(MbedError(ret));
      return s.failure;
    }
    data.remove_prefix(static_cast<size_t>(ret));
  }
  return Status::Ok();
}

void TlsSession::SendCloseNotify() {
  if (!impl_->done || !impl_->failure.ok()) return;
  if (impl_->seal) {
    static constexpr char kCloseNotify[] = {1, 0};  // warning, close_notify
    impl_->seal->Seal(Impl::kAlert, std::string_view(kCloseNotify, 2), &impl_->out);
    return;
  }
  mbedtls_ssl_close_notify(&impl_->ssl);
}

std::string TlsSession::TakeCiphertext() {
  std::string out = std::move(impl_->out);
  impl_->out.clear();
  return out;
}

bool TlsSession::HasCiphertext() const { return !impl_->out.empty(); }
bool TlsSession::resumed() const { return impl_->resumed; }
bool TlsSession::fast_records() const { return impl_->seal != nullptr; }

std::string TlsSession::cipher_suite() const {
  const char* name = impl_->done ? mbedtls_ssl_get_ciphersuite(&impl_->ssl) : nullptr;
  return name ? name : "";
}

std::string TlsSession::PeerCertSha256() const {
  const mbedtls_x509_crt* crt = mbedtls_ssl_get_peer_cert(&impl_->ssl);
  if (!impl_->done || crt == nullptr || crt->raw.p == nullptr) return "";
  return Sha256HexBytes(crt->raw.p, crt->raw.len);
}

std::string TlsSession::PeerCommonName() const {
  const mbedtls_x509_crt* crt = mbedtls_ssl_get_peer_cert(&impl_->ssl);
  if (!impl_->done || crt == nullptr) return "";
  for (const mbedtls_x509_name* n = &crt->subject; n != nullptr; n = n->next) {
    if (n->oid.p != nullptr && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0)
      return std::string(reinterpret_cast<const char*>(n->val.p), n->val.len);
  }
  return "";
}

bool TlsSession::peer_verified() const {
  const Impl& s = *impl_;
  return s.done && s.ctx->authmode != MBEDTLS_SSL_VERIFY_NONE && mbedtls_ssl_get_peer_cert(&s.ssl) != nullptr &&
         mbedtls_ssl_get_verify_result(&s.ssl) == 0;
}

// ---------------------------------------------------------------------------
// Certificate generation

namespace {

struct CrtWriter {
  mbedtls_x509write_cert w;
  CrtWriter() { mbedtls_x509write_crt_init(&w); }
  ~CrtWriter() { mbedtls_x509write_crt_free(&w); }
  CrtWriter(const CrtWriter&) = delete;
  CrtWriter& operator=(const CrtWriter&) = delete;
};

struct Mpi {
  mbedtls_mpi m;
  Mpi() { mbedtls_mpi_init(&m); }
  ~Mpi() { mbedtls_mpi_free(&m); }
  Mpi(const Mpi&) = delete;
  Mpi& operator=(const Mpi&) = delete;
};

// DER is written back to front by mbedtls_asn1_write_*; this collects the
// running length and the first error.
struct DerWriter {
  std::vector<unsigned char> buf;
  unsigned char* start;
  unsigned char* p;
  size_t len = 0;
  bool ok = true;
  explicit DerWriter(size_t capacity) : buf(capacity), start(buf.data()), p(buf.data() + buf.size()) {}
  size_t Put(int ret) {
    if (ret < 0) {
      ok = false;
      return 0;
    }
    len += static_cast<size_t>(ret);
    return static_cast<size_t>(ret);
  }
  // Wraps the `inner` bytes just written in a tag and length.
  void Wrap(size_t inner, unsigned char tag) {
    Put(mbedtls_asn1_write_len(&p, start, inner));
    Put(mbedtls_asn1_write_tag(&p, start, tag));
  }
};

// SubjectAltName ::= SEQUENCE OF GeneralName (RFC 5280 section 4.2.1.6):
// dNSName [2] IA5String, iPAddress [7] OCTET STRING of 4 or 16 bytes.
Status SubjectAltNameDer(const std::vector<std::string>& dns, const std::vector<std::string>& ips,
                         std::vector<unsigned char>* der) {
  size_t capacity = 64;
  for (const auto& d : dns) capacity += d.size() + 8;
  capacity += ips.size() * 24;
  DerWriter w(capacity);
  for (auto it = ips.rbegin(); it != ips.rend(); ++it) {
    unsigned char ip[16];
    size_t n = 0;
    if (!ParseIp(*it, ip, &n)) return Status::Error("ip_addresses: not an IP address: " + *it);
    size_t inner = w.Put(mbedtls_asn1_write_raw_buffer(&w.p, w.start, ip, n));
    w.Wrap(inner, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7);
  }
  for (auto it = dns.rbegin(); it != dns.rend(); ++it) {
    for (char c : *it) {
      if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7f)
        return Status::Error("dns_names: not a DNS name: " + *it);
    }
    size_t inner = w.Put(mbedtls_asn1_write_raw_buffer(&w.p, w.start, reinterpret_cast<const unsigned char*>(it->data()),
                                                       it->size()));
    w.Wrap(inner, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2);
  }
  w.Wrap(w.len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
  if (!w.ok) return Status::Error("encoding subjectAltName failed");
  der->assign(w.p, w.buf.data() + w.buf.size());
  return Status::Ok();
}

// ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId
Status ExtendedKeyUsageDer(bool client_auth, std::vector<unsigned char>* der) {
  DerWriter w(64);
  if (client_auth)
    w.Put(mbedtls_asn1_write_oid(&w.p, w.start, MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)));
  else
    w.Put(mbedtls_asn1_write_oid(&w.p, w.start, MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
  w.Wrap(w.len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
  if (!w.ok) return Status::Error("encoding extendedKeyUsage failed");
  der->assign(w.p, w.buf.data() + w.buf.size());
  return Status::Ok();
}

std::string X509Time(time_t t) {
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

Status WriteFile(const std::string& path, const unsigned char* data, size_t len, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Error(path + ": " + std::strerror(errno));
  // An existing file keeps its old mode through O_CREAT; keys must not.
  bool ok = fchmod(fd, mode) == 0;
  size_t off = 0;
  while (ok && off < len) {
    ssize_t n = write(fd, data + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else off += static_cast<size_t>(n);
  }
  int saved = errno;
  if (close(fd) != 0) ok = false;
  if (!ok) return Status::Error(path + ": " + std::strerror(saved ? saved : errno));
  return Status::Ok();
}

Status GenerateKey(mbedtls_pk_context* key) {
  if (int ret = mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)); ret != 0)
    return Status::Error(MbedError("mbedtls_pk_setup", ret));
  if (int ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key), GlobalRandom, nullptr); ret != 0)
    return Status::Error(MbedError("generating a P-256 key", ret));
  return Status::Ok();
}

// Signs a certificate for `subject_key` with `issuer_key`; issuer_name is the
// issuer's subject DN, or empty for a self-signed CA.
Status WriteCert(const CertRequest& request, mbedtls_pk_context* subject_key, mbedtls_pk_context* issuer_key,
                 const std::string& issuer_name, const std::string& cert_out, const std::string& key_out) {
  if (request.common_name.empty()) return Status::Error("common_name is required");
  // mbedtls_x509write_crt_set_subject_name parses "CN=..." and treats ',' as
  // the next attribute; a name that cannot round-trip is refused.
  if (request.common_name.find_first_of(",\\") != std::string::npos)
    return Status::Error("common_name must not contain ',' or '\\'");
  if (request.days <= 0) return Status::Error("days must be positive");
  std::string subject = "CN=" + request.common_name;

  CrtWriter crt;
  mbedtls_x509write_cert* w = &crt.w;
  mbedtls_x509write_crt_set_version(w, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(w, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(w, subject_key);
  mbedtls_x509write_crt_set_issuer_key(w, issuer_key);
  if (int ret = mbedtls_x509write_crt_set_subject_name(w, subject.c_str()); ret != 0)
    return Status::Error(MbedError("subject " + subject, ret));
  const std::string& issuer = issuer_name.empty() ? subject : issuer_name;
  if (int ret = mbedtls_x509write_crt_set_issuer_name(w, issuer.c_str()); ret != 0)
    return Status::Error(MbedError("issuer " + issuer, ret));

  // 127-bit positive serial (RFC 5280 section 4.1.2.2: at most 20 octets).
  unsigned char serial_bytes[16];
  GlobalRandom(nullptr, serial_bytes, sizeof serial_bytes);
  serial_bytes[0] = static_cast<unsigned char>((serial_bytes[0] & 0x7f) | 0x40);
  Mpi serial;
  if (int ret = mbedtls_mpi_read_binary(&serial.m, serial_bytes, sizeof serial_bytes); ret != 0)
    return Status::Error(MbedError("serial", ret));
  if (int ret = mbedtls_x509write_crt_set_serial(w, &serial.m); ret != 0) return Status::Error(MbedError("serial", ret));

  // Backdated an hour to absorb clock skew between the hub and its edges.
  time_t now = std::time(nullptr);
  std::string not_before = X509Time(now - 3600);
  std::string not_after = X509Time(now + static_cast<time_t>(request.days) * 86400);
  if (int ret = mbedtls_x509write_crt_set_validity(w, not_before.c_str(), not_after.c_str()); ret != 0)
    return Status::Error(MbedError("validity", ret));

  if (int ret = mbedtls_x509write_crt_set_basic_constraints(w, request.is_ca ? 1 : 0, request.is_ca ? 0 : -1); ret != 0)
    return Status::Error(MbedError("basicConstraints", ret));
  if (int ret = mbedtls_x509write_crt_set_subject_key_identifier(w); ret != 0)
    return Status::Error(MbedError("subjectKeyIdentifier", ret));
  if (int ret = mbedtls_x509write_crt_set_authority_key_identifier(w); ret != 0)
    return Status::Error(MbedError("authorityKeyIdentifier", ret));
  unsigned int usage = request.is_ca ? (MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)
                                     : MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
  if (int ret = mbedtls_x509write_crt_set_key_usage(w, usage); ret != 0)
    return Status::Error(MbedError("keyUsage", ret));

  std::vector<std::string> dns = SplitList(request.dns_names);
  std::vector<std::string> ips = SplitList(request.ip_addresses);
  if (!dns.empty() || !ips.empty()) {
    std::vector<unsigned char> san;
    if (Status st = SubjectAltNameDer(dns, ips, &san); !st.ok()) return st;
    if (int ret = mbedtls_x509write_crt_set_extension(w, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                      MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, san.data(),
                                                      san.size());
        ret != 0)
      return Status::Error(MbedError("subjectAltName", ret));
  }
  if (!request.is_ca) {
    std::vector<unsigned char> eku;
    if (Status st = ExtendedKeyUsageDer(request.client_auth, &eku); !st.ok()) return st;
    if (int ret = mbedtls_x509write_crt_set_extension(w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                                      MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, eku.data(),
                                                      eku.size());
        ret != 0)
      return Status::Error(MbedError("extendedKeyUsage", ret));
  }

  std::vector<unsigned char> pem(8192);
  if (int ret = mbedtls_x509write_crt_pem(w, pem.data(), pem.size(), GlobalRandom, nullptr); ret != 0)
    return Status::Error(MbedError("writing the certificate", ret));
  std::vector<unsigned char> key_pem(4096);
  if (int ret = mbedtls_pk_write_key_pem(subject_key, key_pem.data(), key_pem.size()); ret != 0)
    return Status::Error(MbedError("writing the key", ret));
  // Key first: a certificate without its key is useless, the reverse is harmless.
  Status st = WriteFile(key_out, key_pem.data(), std::strlen(reinterpret_cast<char*>(key_pem.data())), 0600);
  mbedtls_platform_zeroize(key_pem.data(), key_pem.size());
  if (!st.ok()) return st;
  return WriteFile(cert_out, pem.data(), std::strlen(reinterpret_cast<char*>(pem.data())), 0644);
}

}  // namespace

Status GenerateCa(const CertRequest& request, const std::string& cert_out, const std::string& key_out) {
  CertRequest ca = request;
  ca.is_ca = true;
  Pk key;
  if (Status st = GenerateKey(&key.k); !st.ok()) return st;
  return WriteCert(ca, &key.k, &key.k, "", cert_out, key_out);
}

Status IssueCert(const CertRequest& request, const std::string& ca_cert, const std::string& ca_key,
                 const std::string& cert_out, const std::string& key_out) {
  Crt ca;
  if (Status st = LoadCerts(&ca.c, ca_cert, "ca_cert"); !st.ok()) return st;
  Pk issuer_key;
  if (Status st = LoadKey(&issuer_key.k, ca_key, "ca_key"); !st.ok()) return st;
  if (mbedtls_pk_check_pair(&ca.c.pk, &issuer_key.k) != 0)
    return Status::Error("ca_key " + ca_key + " does not match ca_cert " + ca_cert);
  char issuer[512];
  if (int ret = mbedtls_x509_dn_gets(issuer, sizeof issuer, &ca.c.subject); ret < 0)
    return Status::Error(MbedError("ca_cert subject", ret));
  Pk key;
  if (Status st = GenerateKey(&key.k); !st.ok()) return st;
  return WriteCert(request, &key.k, &issuer_key.k, issuer, cert_out, key_out);
}

// ---------------------------------------------------------------------------
// Helpers

Result<std::string> CertFileSha256(const std::string& pem_file) {
  Crt crt;
  if (Status st = LoadCerts(&crt.c, pem_file, "certificate"); !st.ok()) return st;
  return Sha256HexBytes(crt.c.raw.p, crt.c.raw.len);
}

bool SecretEquals(std::string_view a, std::string_view b) {
  // Lengths are not secret (token formats are public); contents are, so the
  // loop touches every byte and never exits early.
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string Sha256Hex(std::string_view data) {
  return Sha256HexBytes(reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

std::string HexEncode(std::string_view bytes) {
  return Hex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  // ctr_drbg hands out at most MBEDTLS_CTR_DRBG_MAX_REQUEST bytes per call.
  size_t off = 0;
  while (off < n) {
    size_t chunk = std::min<size_t>(n - off, MBEDTLS_CTR_DRBG_MAX_REQUEST);
    if (GlobalRandom(nullptr, reinterpret_cast<unsigned char*>(out.data() + off), chunk) != 0) {
      std::fprintf(stderr, "fatal: random generator failed\n");
      std::abort();
    }
    off += chunk;
  }
  return out;
}

}  // namespace tether

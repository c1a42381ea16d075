// TLS 1.2 over memory buffers with mbedTLS 2.28. No sockets: the owner feeds
// ciphertext it read from the network and sends the ciphertext the session
// produces, so the whole handshake is testable without a loop.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tether {

struct TlsServerOptions {
  std::string cert_file;       // PEM chain, leaf first
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // when set, clients must present a cert signed by it (mTLS)
  bool client_cert_optional = false;  // with client_ca_file: verify if sent, admit without
  bool session_tickets = true;        // RFC 5077 tickets for abbreviated reconnects
  // With a ChaCha20-Poly1305 suite, or an AES-GCM one on a CPU with AES-NI,
  // application records are sealed and opened by common/tls_record.h after
  // the handshake, four to seven times faster than mbedTLS; false keeps them
  // in mbedTLS (tests use it to check that the two interoperate).
  bool fast_records = true;
  std::string only_cipher_suite;  // tests: negotiate just this mbedTLS suite name
};

struct TlsClientOptions {
  std::string ca_file;     // PEM CA bundle that must sign the server certificate
  std::string pin_sha256;  // hex SHA-256 of the server leaf certificate (DER); either or both
  std::string cert_file;   // client certificate for mutual TLS (optional)
  std::string key_file;
  bool system_ca = false;  // use /etc/ssl/certs/ca-certificates.crt as ca_file when ca_file is empty
  bool insecure = false;   // skip verification entirely; only with an explicit config flag
  bool resume_sessions = true;  // reuse the last session (ticket or id) on new connections
  bool fast_records = true;  // as in TlsServerOptions
  // Offer only the suites whose records this process seals itself (all of
  // them with AES-NI, else ChaCha20-Poly1305 alone): for a server known to
  // have every suite, a Tether hub.
  bool fast_suites_only = false;
  std::string only_cipher_suite;
};

class TlsSession;

// Shared configuration for many sessions: certificates, keys, CA chain, RNG,
// the server's ticket keys and the client's saved session. Must outlive every
// TlsSession made from it. Single-threaded (the loop thread).
class TlsContext {
 public:
  static Result<std::unique_ptr<TlsContext>> NewServer(const TlsServerOptions& options);
  static Result<std::unique_ptr<TlsContext>> NewClient(const TlsClientOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  bool is_server() const;

  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  explicit TlsContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One TLS connection. Usage: feed received network bytes with
// PutCiphertext(), call Handshake() until done, then Read()/Write(); after
// every call, send TakeCiphertext() to the peer.
class TlsSession {
 public:
  // server_name: SNI and the name checked against the certificate (client only;
  // ignored for pin-only verification).
  TlsSession(TlsContext* context, std::string_view server_name);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  void PutCiphertext(const char* data, size_t len);
  // Advances the handshake. *done becomes true once it has completed. A
  // failure names the reason ("certificate verification failed: ...").
  Status Handshake(bool* done);
  bool handshake_done() const;
  // Appends every plaintext byte available now (drains mbedTLS's record
  // buffer). *peer_closed is set when close_notify arrived.
  Status Read(std::string* out, bool* peer_closed);
  // Encrypts all of `data` into the outgoing ciphertext buffer.
  Status Write(std::string_view data);
  void SendCloseNotify();
  // Ciphertext waiting to be sent; the caller takes ownership.
  std::string TakeCiphertext();
  bool HasCiphertext() const;

  bool resumed() const;  // abbreviated handshake (session reused)
  // True once application records are sealed and opened outside mbedTLS.
  bool fast_records() const;
  std::string cipher_suite() const;
  // Hex SHA-256 of the peer's leaf certificate, empty when none was presented.
  std::string PeerCertSha256() const;
  // Common name of the peer's certificate subject, empty when none.
  std::string PeerCommonName() const;
  // True when the peer presented a certificate and it verified (server side
  // with client_ca; meaningful with client_cert_optional).
  bool peer_verified() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Certificate generation for `hub certs` and `make run`: an EC P-256 CA,
// and leaf certificates it signs. Files are written as PEM; keys mode 0600.
struct CertRequest {
  std::string common_name;
  std::string dns_names;    // comma separated subjectAltName DNS entries
  std::string ip_addresses; // comma separated subjectAltName IP entries
  int days = 825;
  bool is_ca = false;
  bool client_auth = false;  // extendedKeyUsage clientAuth (else serverAuth)
};
Status GenerateCa(const CertRequest& request, const std::string& cert_out, const std::string& key_out);
Status IssueCert(const CertRequest& request, const std::string& ca_cert, const std::string& ca_key,
                 const std::string& cert_out, const std::string& key_out);

// Hex SHA-256 of the DER form of the first certificate in a PEM file.
Result<std::string> CertFileSha256(const std::string& pem_file);

// Constant-time comparison for secrets (keys, tokens).
bool SecretEquals(std::string_view a, std::string_view b);
// Hex SHA-256 of data.
std::string Sha256Hex(std::string_view data);
// n random bytes from the CSPRNG.
std::string RandomBytes(size_t n);
// Lower-case hex of bytes.
std::string HexEncode(std::string_view bytes);

}  // namespace tether

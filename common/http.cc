#include "common/http.h"

#include <charconv>

#include <llhttp.h>

#include <cstdio>
#include <cstring>

namespace tether {

bool EqualsIgnoreCaseSameSize(std::string_view a, std::string_view b) {
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y) return false;
  }
  return true;
}

const std::string* Headers::Get(std::string_view name) const {
  for (const auto& [k, v] : list_)
    if (EqualsIgnoreCase(k, name)) return &v;
  return nullptr;
}

std::string_view Headers::GetOr(std::string_view name, std::string_view fallback) const {
  const std::string* v = Get(name);
  return v ? std::string_view(*v) : fallback;
}

size_t Headers::Count(std::string_view name) const {
  size_t n = 0;
  for (const auto& kv : list_) n += EqualsIgnoreCase(kv.first, name);
  return n;
}

void Headers::Add(std::string name, std::string value) {
  list_.emplace_back(std::move(name), std::move(value));
}

void Headers::Set(std::string_view name, std::string value) {
  Remove(name);
  list_.emplace_back(std::string(name), std::move(value));
}

void Headers::Remove(std::string_view name) {
  std::erase_if(list_, [&](const auto& kv) { return EqualsIgnoreCase(kv.first, name); });
}

std::string_view RequestHead::Path() const {
  std::string_view t = target;
  size_t q = t.find('?');
  return q == std::string_view::npos ? t : t.substr(0, q);
}

std::string_view RequestHead::Query() const {
  std::string_view t = target;
  size_t q = t.find('?');
  return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

// RFC 9110 section 5.6.2: token = 1*tchar.
static bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos)
      return false;
  }
  return true;
}

// Static trampolines from llhttp's C callbacks to parser members.
struct HttpParserTrampolines {
  static HttpParser* Self(llhttp_t* p) { return static_cast<HttpParser*>(p->data); }
  static int MessageBegin(llhttp_t* p) noexcept { return Self(p)->OnMessageBegin(); }
  static int Url(llhttp_t* p, const char* at, size_t n) noexcept { return Self(p)->OnUrl(at, n); }
  static int Status(llhttp_t* p, const char* at, size_t n) noexcept {
    return Self(p)->OnStatus(at, n);
  }
  static int Field(llhttp_t* p, const char* at, size_t n) noexcept {
    return Self(p)->OnHeaderField(at, n);
  }
  static int Value(llhttp_t* p, const char* at, size_t n) noexcept {
    return Self(p)->OnHeaderValue(at, n);
  }
  static int HeadersComplete(llhttp_t* p) noexcept { return Self(p)->OnHeadersComplete(); }
  static int Body(llhttp_t* p, const char* at, size_t n) noexcept { return Self(p)->OnBody(at, n); }
  static int MessageComplete(llhttp_t* p) noexcept { return Self(p)->OnMessageComplete(); }
};

HttpParser::HttpParser(Kind kind, HttpLimits limits, Callbacks callbacks)
    : kind_(kind), limits_(limits), callbacks_(std::move(callbacks)) {
  settings_ = new llhttp_settings_t;
  llhttp_settings_init(settings_);
  using T = HttpParserTrampolines;
  settings_->on_message_begin = T::MessageBegin;
  settings_->on_url = T::Url;
  settings_->on_status = T::Status;
  settings_->on_header_field = T::Field;
  settings_->on_header_value = T::Value;
  settings_->on_headers_complete = T::HeadersComplete;
  settings_->on_body = T::Body;
  settings_->on_message_complete = T::MessageComplete;
  parser_ = new llhttp_t;
  llhttp_init(parser_, kind == Kind::kRequest ? HTTP_REQUEST : HTTP_RESPONSE, settings_);
  parser_->data = this;
}

HttpParser::~HttpParser() {
  delete parser_;
  delete settings_;
}

void HttpParser::Reset() {
  llhttp_reset(parser_);
  paused_ = false;
  in_message_ = false;
  expect_no_body_ = false;
  error_ = Error::kNone;
  error_reason_.clear();
}

int HttpParser::OnMessageBegin() {
  request_ = RequestHead();
  response_ = ResponseHead();
  // Room for a typical head (clients send 8-20 fields) in one allocation
  // instead of five regrowths that move every field parsed so far.
  (kind_ == Kind::kRequest ? request_.headers : response_.headers).Reserve(16);
  field_.clear();
  value_.clear();
  in_value_ = false;
  header_bytes_ = 0;
  in_message_ = true;
  framing_ = BodyFraming::kNone;
  content_length_ = 0;
  return 0;
}

int HttpParser::CountHeaderBytes(size_t len) {
  header_bytes_ += len;
  if (header_bytes_ > limits_.max_header_bytes) {
    error_ = Error::kHeadersTooLarge;
    error_reason_ = "request header fields exceed " + std::to_string(limits_.max_header_bytes) + " bytes";
    return HPE_USER;
  }
  return 0;
}

int HttpParser::OnUrl(const char* at, size_t len) {
  if (CountHeaderBytes(len)) return HPE_USER;
  request_.target.append(at, len);
  return 0;
}

int HttpParser::OnStatus(const char* at, size_t len) {
  if (CountHeaderBytes(len)) return HPE_USER;
  response_.reason.append(at, len);
  return 0;
}

int HttpParser::OnHeaderField(const char* at, size_t len) {
  if (CountHeaderBytes(len)) return HPE_USER;
  // Trailer fields (after a chunked body) count towards the limit but are
  // dropped: the head was already handed over and must not change under it.
  if (parser_->flags & F_TRAILING) return 0;
  if (in_value_) {
    Headers& h = kind_ == Kind::kRequest ? request_.headers : response_.headers;
    if (h.size() >= limits_.max_headers) {
      error_ = Error::kHeadersTooLarge;
      error_reason_ = "more than " + std::to_string(limits_.max_headers) + " header fields";
      return HPE_USER;
    }
    h.Add(std::move(field_), std::move(value_));
    field_.clear();
    value_.clear();
    in_value_ = false;
  }
  field_.append(at, len);
  return 0;
}

int HttpParser::OnHeaderValue(const char* at, size_t len) {
  if (CountHeaderBytes(len)) return HPE_USER;
  if (parser_->flags & F_TRAILING) return 0;
  // llhttp's lenient token table lets SP through in names ("X-Key : v");
  // RFC 9112 section 5.1 says a server MUST reject that, and a relay that
  // forwarded it could be read differently by the next hop.
  if (!in_value_ && kind_ == Kind::kRequest && !IsToken(field_)) {
    error_ = Error::kBadRequest;
    error_reason_ = "invalid character in header field name";
    return HPE_USER;
  }
  in_value_ = true;
  value_.append(at, len);
  return 0;
}

int HttpParser::OnHeadersComplete() {
  // The relay never switches protocols, so it ignores Upgrade (RFC 9110
  // section 7.8) and the connection stays HTTP/1.1. Left set (llhttp sets it
  // just before this callback), llhttp would stop after this message and
  // refuse the next request on the connection ("Pause on CONNECT/Upgrade").
  parser_->upgrade = 0;
  Headers& h = kind_ == Kind::kRequest ? request_.headers : response_.headers;
  if (!field_.empty() || in_value_) {
    if (h.size() >= limits_.max_headers) {
      error_ = Error::kHeadersTooLarge;
      error_reason_ = "more than " + std::to_string(limits_.max_headers) + " header fields";
      return HPE_USER;
    }
    h.Add(std::move(field_), std::move(value_));
    field_.clear();
    value_.clear();
    in_value_ = false;
  }
  if (kind_ == Kind::kRequest) {
    request_.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_->method));
    request_.version_minor = parser_->http_minor;
  } else {
    response_.status = parser_->status_code;
    response_.version_minor = parser_->http_minor;
  }
  if (parser_->flags & F_CHUNKED) {
    framing_ = BodyFraming::kChunked;
  } else if (parser_->flags & F_CONTENT_LENGTH) {
    framing_ = parser_->content_length > 0 ? BodyFraming::kLength : BodyFraming::kNone;
    content_length_ = parser_->content_length;
  } else if (kind_ == Kind::kResponse && !expect_no_body_ && response_.status >= 200 &&
             response_.status != 204 && response_.status != 304) {
    framing_ = BodyFraming::kUntilClose;
  }
  bool no_body = kind_ == Kind::kResponse && expect_no_body_;
  if (no_body) framing_ = BodyFraming::kNone;
  if (callbacks_.on_head && !callbacks_.on_head()) {
    if (error_ == Error::kNone) {
      error_ = Error::kBodyRejected;
      error_reason_ = "message rejected";
    }
    return -1;
  }
  return no_body ? 1 : 0;  // 1: skip the body (response to HEAD)
}

int HttpParser::OnBody(const char* at, size_t len) {
  if (callbacks_.on_body && !callbacks_.on_body(std::string_view(at, len))) {
    if (error_ == Error::kNone) {
      error_ = Error::kBodyRejected;
      error_reason_ = "body rejected";
    }
    return HPE_USER;
  }
  return 0;
}

int HttpParser::OnMessageComplete() {
  in_message_ = false;
  expect_no_body_ = false;
  // Paused before the callback: a Resume() from inside it (a response
  // finished synchronously) then means "keep parsing", not a lost wake-up.
  paused_ = true;
  if (callbacks_.on_complete) callbacks_.on_complete();
  return paused_ ? HPE_PAUSED : 0;
}

size_t HttpParser::Feed(const char* data, size_t len) {
  if (error_ != Error::kNone || paused_) return 0;
  llhttp_errno_t err = llhttp_execute(parser_, data, len);
  if (err == HPE_OK) return len;
  if (err == HPE_PAUSED) {
    const char* pos = llhttp_get_error_pos(parser_);
    return pos ? static_cast<size_t>(pos - data) : len;
  }
  if (error_ == Error::kNone) {
    error_ = Error::kBadRequest;
    error_reason_ = llhttp_get_error_reason(parser_) ? llhttp_get_error_reason(parser_)
                                                     : llhttp_errno_name(err);
  }
  const char* pos = llhttp_get_error_pos(parser_);
  return pos && pos >= data && pos <= data + len ? static_cast<size_t>(pos - data) : 0;
}

bool HttpParser::FeedEof() {
  if (error_ != Error::kNone) return false;
  // Between messages EOF is a clean close. llhttp alone would call it unsafe
  // after Resume(), since it only marks the message finished on the next execute.
  if (paused_ || !in_message_) return true;
  llhttp_errno_t err = llhttp_finish(parser_);
  return err == HPE_OK || err == HPE_PAUSED;
}

void HttpParser::Resume() {
  if (!paused_) return;
  paused_ = false;
  llhttp_resume(parser_);
}

bool HttpParser::keep_alive() const { return llhttp_should_keep_alive(parser_) != 0; }

static void AppendHeaders(std::string* out, const Headers& headers) {
  for (const auto& [k, v] : headers.list()) {
    out->append(k);
    out->append(": ");
    out->append(v);
    out->append("\r\n");
  }
  out->append("\r\n");
}

std::string SerializeRequestHead(const RequestHead& head) {
  std::string out;
  out.reserve(256 + head.headers.size() * 48);
  out.append(head.method).append(" ").append(head.target);
  out.append(head.version_minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  AppendHeaders(&out, head.headers);
  return out;
}

std::string SerializeResponseHead(const ResponseHead& head) {
  std::string out;
  out.reserve(128 + head.headers.size() * 48);
  out.append("HTTP/1.1 ").append(std::to_string(head.status)).append(" ");
  out.append(head.reason.empty() ? ReasonPhrase(head.status) : head.reason);
  out.append("\r\n");
  AppendHeaders(&out, head.headers);
  return out;
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Overloaded";
    default: return "Unknown";
  }
}

void AppendChunk(std::string* out, std::string_view data) {
  if (data.empty()) return;
  char size[24];
  char* end = std::to_chars(size, size + sizeof size, data.size(), 16).ptr;
  out->append(size, static_cast<size_t>(end - size)).append("\r\n");
  out->append(data);
  out->append("\r\n");
}

bool HasForbiddenHeaderBytes(std::string_view value) {
  for (char c : value)
    if (c == '\r' || c == '\n' || c == '\0') return true;
  return false;
}

bool IsHopByHopHeader(std::string_view name) {
  static constexpr std::string_view kHop[] = {"connection", "keep-alive", "proxy-connection",
                                              "transfer-encoding", "te", "trailer", "upgrade",
                                              "proxy-authenticate", "proxy-authorization"};
  for (auto h : kHop)
    if (EqualsIgnoreCase(name, h)) return true;
  return false;
}

std::string SimpleResponse(int status, std::string_view content_type, std::string_view body,
                           const Headers* extra, bool keep_alive) {
  ResponseHead head;
  head.status = status;
  if (!content_type.empty()) head.headers.Add("Content-Type", std::string(content_type));
  head.headers.Add("Content-Length", std::to_string(body.size()));
  if (!keep_alive) head.headers.Add("Connection", "close");
  if (extra)
    for (const auto& [k, v] : extra->list()) head.headers.Add(k, v);
  std::string out = SerializeResponseHead(head);
  out.append(body);
  return out;
}

}  // namespace tether

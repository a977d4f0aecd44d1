#include "eventlog/event_codec.h"

#include <openssl/evp.h>

#include <boost/crc.hpp>
#include <cstring>

#include "eventlog/check.h"

namespace berth::eventlog {
namespace {

// CRC32C (Castagnoli), reflected, as used by iSCSI, ext4 and RocksDB.
using Crc32c = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

template <class T>
void PutLE(std::string* dst, T v) {
  char buf[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) buf[i] = static_cast<char>((uint64_t(v) >> (8 * i)) & 0xff);
  dst->append(buf, sizeof(T));
}

// Sequential reader over a record; every Get fails (returns false) instead of overrunning.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <class T>
  bool Get(T* v) {
    if (in_.size() < sizeof(T)) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < sizeof(T); ++i) x |= uint64_t(uint8_t(in_[i])) << (8 * i);
    *v = static_cast<T>(x);
    in_.remove_prefix(sizeof(T));
    return true;
  }
  template <class Len>
  bool GetString(std::string* s) {
    Len n;
    if (!Get(&n) || in_.size() < n) return false;
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool empty() const { return in_.empty(); }

 private:
  std::string_view in_;
};

uint32_t CrcRegisterTable(std::string_view bytes, uint32_t state) {
  Crc32c crc(state);
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.get_interim_remainder();
}

#if defined(__x86_64__)
uint32_t BitReverse(uint32_t x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  return __builtin_bswap32(x);
}

// Same CRC32C register update on the SSE4.2 crc32 instruction (8 bytes a step). The
// instruction works on the reflected register; boost's interim remainder is unreflected.
__attribute__((target("sse4.2"))) uint32_t CrcRegisterHw(std::string_view bytes,
                                                         uint32_t state) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  uint64_t c = BitReverse(state);
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
  }
  uint32_t c32 = uint32_t(c);
  for (; n > 0; ++p, --n) c32 = __builtin_ia32_crc32qi(c32, uint8_t(*p));
  return BitReverse(c32);
}
// Used only when the CPU has it and it agrees with the table on a check vector.
const bool kHasSse42 = __builtin_cpu_supports("sse4.2") &&
                       CrcRegisterHw("123456789abcdefgh", 0xffffffffu) ==
                           CrcRegisterTable("123456789abcdefgh", 0xffffffffu);
#endif

uint32_t CrcRegister(std::string_view bytes, uint32_t state) {
#if defined(__x86_64__)
  if (kHasSse42) return CrcRegisterHw(bytes, state);
#endif
  return CrcRegisterTable(bytes, state);
}

uint32_t CrcFinal(uint32_t state) {
  Crc32c crc(state);
  return crc.checksum();
}

// CRC over body then header bytes [0, 41): format, seq, prev_hash.
uint32_t RecordCrc(uint32_t body_state, std::string_view header41) {
  return CrcFinal(CrcRegister(header41, body_state));
}

Status Corrupt(uint64_t seq, const std::string& what) {
  return Corruption("event seq " + std::to_string(seq) + ": " + what +
                    " (the log is damaged; restore the data directory from a backup, or "
                    "inspect it with `berth replay --verify`)");
}

}  // namespace

const char* ActorName(Actor a) {
  switch (a) {
    case Actor::kSystem: return "system";
    case Actor::kUser: return "user";
    case Actor::kPolicy: return "policy";
  }
  return "?";
}

Result<EncodedBody> EncodeBody(const EventDraft& d) {
  // Index keys put a NUL after workflow ids and subjects, so neither may contain one.
  if (d.workflow_id.empty() || d.workflow_id.size() > kNameMax ||
      d.workflow_id.find('\0') != std::string::npos)
    return InvalidArgument("event workflow id must be 1.." + std::to_string(kNameMax) +
                           " bytes without NUL");
  if (d.type.empty() || d.type.size() > kNameMax)
    return InvalidArgument("event type must be 1.." + std::to_string(kNameMax) + " bytes");
  if (d.subjects.size() > 0xffff) return InvalidArgument("too many subjects on one event");
  if (d.payload.size() > 0xffffffffu) return InvalidArgument("event payload over 4 GiB");
  EncodedBody out;
  std::string& b = out.bytes;
  b.reserve(32 + d.workflow_id.size() + d.type.size() + d.payload.size());
  PutLE<uint64_t>(&b, d.workflow_seq);
  PutLE<int64_t>(&b, d.time_us);
  PutLE<uint8_t>(&b, static_cast<uint8_t>(d.actor));
  PutLE<uint16_t>(&b, d.schema_version);
  PutLE<uint8_t>(&b, static_cast<uint8_t>(d.workflow_id.size()));
  b += d.workflow_id;
  PutLE<uint8_t>(&b, static_cast<uint8_t>(d.type.size()));
  b += d.type;
  PutLE<uint16_t>(&b, static_cast<uint16_t>(d.subjects.size()));
  for (const auto& s : d.subjects) {
    if (s.empty() || s.size() > kNameMax || s.find('\0') != std::string::npos)
      return InvalidArgument("event subject must be 1..255 bytes without NUL");
    PutLE<uint16_t>(&b, static_cast<uint16_t>(s.size()));
    b += s;
  }
  PutLE<uint32_t>(&b, static_cast<uint32_t>(d.payload.size()));
  b += d.payload;
  out.crc_state = CrcRegister(b, Crc32c().get_interim_remainder());
  return out;
}

std::string SealRecord(const EncodedBody& body, uint64_t seq, const Digest& prev_hash) {
  std::string r;
  r.reserve(kRecordHeaderSize + body.bytes.size());
  PutLE<uint8_t>(&r, kRecordFormat);
  PutLE<uint64_t>(&r, seq);
  r.append(reinterpret_cast<const char*>(prev_hash.data()), prev_hash.size());
  PutLE<uint32_t>(&r, RecordCrc(body.crc_state, r));
  r += body.bytes;
  return r;
}

Status DecodeRecord(uint64_t seq, std::string_view rec, Event* e) {
  if (rec.size() < kRecordHeaderSize) return Corrupt(seq, "record shorter than its header");
  uint8_t format = uint8_t(rec[0]);
  if (format > kRecordFormat)
    return Status(Code::kUnsupported,
                  "event seq " + std::to_string(seq) + " has record format " +
                      std::to_string(format) + ", newer than this berth understands (" +
                      std::to_string(kRecordFormat) + "); upgrade berth");
  if (format != kRecordFormat) return Corrupt(seq, "unknown record format byte");
  Reader h(rec.substr(0, kRecordHeaderSize));
  uint8_t f;
  uint32_t stored_crc;
  (void)h.Get(&f);
  (void)h.Get(&e->seq);
  std::memcpy(e->prev_hash.data(), rec.data() + 9, 32);
  Reader h2(rec.substr(41, 4));
  (void)h2.Get(&stored_crc);
  std::string_view body = rec.substr(kRecordHeaderSize);
  uint32_t want = RecordCrc(CrcRegister(body, Crc32c().get_interim_remainder()), rec.substr(0, 41));
  if (want != stored_crc) return Corrupt(seq, "checksum mismatch");
  if (e->seq != seq) return Corrupt(seq, "record says it is seq " + std::to_string(e->seq));
  e->crc = stored_crc;
  Reader r(body);
  uint8_t actor;
  uint16_t nsubjects;
  if (!r.Get(&e->workflow_seq) || !r.Get(&e->time_us) || !r.Get(&actor) ||
      !r.Get(&e->schema_version) || !r.GetString<uint8_t>(&e->workflow_id) ||
      !r.GetString<uint8_t>(&e->type) || !r.Get(&nsubjects))
    return Corrupt(seq, "truncated body");
  if (actor > uint8_t(Actor::kPolicy)) return Corrupt(seq, "unknown actor");
  e->actor = Actor(actor);
  e->subjects.resize(nsubjects);
  for (auto& s : e->subjects)
    if (!r.GetString<uint16_t>(&s)) return Corrupt(seq, "truncated subject");
  if (!r.GetString<uint32_t>(&e->payload)) return Corrupt(seq, "truncated payload");
  if (!r.empty()) return Corrupt(seq, "trailing bytes after payload");
  return Status::Ok();
}

// OpenSSL 3's one-shot SHA256() looks the algorithm up (EVP_MD_fetch) on every call: a
// fifth of `berth replay --verify`'s reading thread. Fetched once, one context per thread.
Digest HashRecord(std::string_view record) {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  BERTH_CHECK_MSG(md != nullptr, "OpenSSL has no SHA256");
  struct Ctx {
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(c); }
  };
  thread_local Ctx ctx;
  BERTH_CHECK(ctx.c != nullptr);
  Digest d;
  unsigned int len = 0;
  bool ok = EVP_DigestInit_ex2(ctx.c, md, nullptr) == 1 &&
            EVP_DigestUpdate(ctx.c, record.data(), record.size()) == 1 &&
            EVP_DigestFinal_ex(ctx.c, d.data(), &len) == 1 && len == d.size();
  BERTH_CHECK_MSG(ok, "SHA256 failed");
  return d;
}

std::string DigestHex(const Digest& d) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (uint8_t b : d) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

std::string SeqKey(uint64_t seq) {
  std::string k(8, '\0');
  for (int i = 7; i >= 0; --i, seq >>= 8) k[i] = static_cast<char>(seq & 0xff);
  return k;
}

std::string WorkflowKey(const std::string& wf, uint64_t wf_seq) {
  std::string k = wf;
  k.push_back('\0');
  k += SeqKey(wf_seq);
  return k;
}

std::string SubjectKey(const std::string& subject, uint64_t seq) {
  std::string k = subject;
  k.push_back('\0');
  k += SeqKey(seq);
  return k;
}

bool ParseSubjectKey(std::string_view key, std::string* subject, uint64_t* seq) {
  if (key.size() < 10 || key[key.size() - 9] != '\0') return false;
  subject->assign(key.substr(0, key.size() - 9));
  *seq = SeqFromKey(key.substr(key.size() - 8));
  return true;
}

uint64_t SeqFromKey(std::string_view key) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < key.size(); ++i) v = (v << 8) | uint8_t(key[i]);
  return v;
}

}  // namespace berth::eventlog

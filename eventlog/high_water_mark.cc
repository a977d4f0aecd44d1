#include "eventlog/high_water_mark.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "eventlog/data_dir.h"

namespace berth::eventlog {
namespace {

constexpr off_t kSlotOffset[2] = {0, 4096};
constexpr size_t kSlotSize = 16;

void PutLe64(uint64_t v, unsigned char* p) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint64_t GetLe64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

// Reads one slot: true and *seq if it is valid (all zero counts as 0). Bytes past the end of
// the file (a crash right after creating it) read as zeros.
bool ReadSlot(int fd, int slot, uint64_t* seq) {
  unsigned char b[kSlotSize] = {};
  if (::pread(fd, b, kSlotSize, kSlotOffset[slot]) < 0) return false;
  uint64_t v = GetLe64(b), check = GetLe64(b + 8);
  if (v == 0 && check == 0) {
    *seq = 0;
    return true;
  }
  if (check != ~v) return false;
  *seq = v;
  return true;
}

}  // namespace

Result<HighWaterMark> HighWaterMark::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "opening the high-water mark", path);
  HighWaterMark m(fd, path);
  uint64_t v[2] = {0, 0};
  bool ok[2] = {ReadSlot(fd, 0, &v[0]), ReadSlot(fd, 1, &v[1])};
  if (!ok[0] && !ok[1])
    return Corruption("the high-water mark " + path +
                      " is damaged (neither slot holds a valid sequence number), so berth "
                      "cannot tell whether the log lost events at its end; restore the data "
                      "directory from a copy taken while berth was stopped");
  m.slot_ = (ok[1] && (!ok[0] || v[1] > v[0])) ? 1 : 0;
  m.value_ = v[m.slot_];
  return m;
}

HighWaterMark::HighWaterMark(HighWaterMark&& o) noexcept
    : fd_(o.fd_), path_(std::move(o.path_)), value_(o.value_), slot_(o.slot_), dirty_(o.dirty_) {
  o.fd_ = -1;
}

HighWaterMark& HighWaterMark::operator=(HighWaterMark&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    value_ = o.value_;
    slot_ = o.slot_;
    dirty_ = o.dirty_;
    o.fd_ = -1;
  }
  return *this;
}

HighWaterMark::~HighWaterMark() {
  if (fd_ >= 0) ::close(fd_);
}

Status HighWaterMark::Advance(uint64_t seq) {
  BERTH_CHECK(seq > value_);
  unsigned char b[kSlotSize];
  PutLe64(seq, b);
  PutLe64(~seq, b + 8);
  int next = 1 - slot_;
  ssize_t n = ::pwrite(fd_, b, kSlotSize, kSlotOffset[next]);
  if (n != ssize_t(kSlotSize))
    return ErrnoStatus(n < 0 ? errno : EIO, "writing the high-water mark", path_);
  slot_ = next;
  value_ = seq;
  dirty_ = true;
  return Status::Ok();
}

Status HighWaterMark::Sync() {
  if (!dirty_) return Status::Ok();
  if (::fdatasync(fd_) != 0) return ErrnoStatus(errno, "syncing the high-water mark", path_);
  dirty_ = false;
  return Status::Ok();
}

}  // namespace berth::eventlog

// Status and Result<T>: the error tier for anything that reads outside bytes
// (files, network, ledger records, shares from other parties). See docs/architecture.md.
#pragma once

#include <cassert>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace heal {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // caller passed something malformed
  kNotFound,           // file, key or record does not exist
  kCorruption,         // bytes do not parse or fail an integrity check
  kIoError,            // the OS refused a read or write
  kUnsupported,        // well-formed but not handled (e.g. a DICOM transfer syntax)
  kFailedPrecondition, // object state does not allow the call (e.g. wrong Context)
  kOutOfRange,         // index or size beyond a limit
  kUnavailable,        // a network resource or party is unreachable
  kInternal,           // a bug: an invariant failed
};

/// Name of a code, e.g. "Corruption".
std::string_view status_code_name(StatusCode code);

/// Outcome of an operation that can fail on outside input. Cheap to copy when ok.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }
  static Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status io_error(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
  static Status failed_precondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status out_of_range(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
  static Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  /// "Corruption: npz member 'x.npy' is truncated" (or "OK").
  std::string to_string() const;

  /// Returns a copy with `context` prepended to the message ("loading foo.npz: ...").
  Status with_context(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

/// Thrown by Result<T>::value() on an error, and by CLI wiring that converts a Status.
class StatusError : public std::runtime_error {
 public:
  explicit StatusError(Status s) : std::runtime_error(s.to_string()), status_(std::move(s)) {}
  const Status& status() const { return status_; }

 private:
  Status status_;
};

/// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) v_ = Status::internal("Result constructed from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  /// The value; throws StatusError if this holds an error.
  T& value() & {
    if (!ok()) throw StatusError(std::get<Status>(v_));
    return std::get<T>(v_);
  }
  const T& value() const& {
    if (!ok()) throw StatusError(std::get<Status>(v_));
    return std::get<T>(v_);
  }
  T&& value() && {
    if (!ok()) throw StatusError(std::get<Status>(v_));
    return std::get<T>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

/// Throws StatusError if `s` is not ok (for code that has no way to return a Status, e.g. CLI wiring).
inline void throw_if_error(const Status& s) {
  if (!s.ok()) throw StatusError(s);
}

}  // namespace heal

#define HEAL_STATUS_CONCAT_INNER_(a, b) a##b
#define HEAL_STATUS_CONCAT_(a, b) HEAL_STATUS_CONCAT_INNER_(a, b)

/// Returns the Status from the enclosing function if `expr` (a Status) is not ok.
#define HEAL_RETURN_IF_ERROR(expr)                 \
  do {                                             \
    ::heal::Status heal_status_tmp_ = (expr);      \
    if (!heal_status_tmp_.ok()) return heal_status_tmp_; \
  } while (0)

/// `HEAL_ASSIGN_OR_RETURN(auto x, make_result());` declares x from a Result or returns its Status.
#define HEAL_ASSIGN_OR_RETURN(lhs, expr) \
  HEAL_ASSIGN_OR_RETURN_IMPL_(HEAL_STATUS_CONCAT_(heal_result_, __LINE__), lhs, expr)
#define HEAL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

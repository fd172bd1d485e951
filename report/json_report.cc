// The JSON finding (schema "cgosan.report/1", the contract in issue 2). Every member, argv
// entry and frame is formatted into a scratch buffer and added whole or not at all, so the
// output is valid JSON even when it does not fit: frames are then dropped (fewer per stack
// until it fits) and "truncated": true is added.
#include <time.h>

#include <cstring>

#include "report/go/go_runtime.h"
#include "report/json_out.h"
#include "report/report_context.h"
#include "report/report_internal.h"
#include "report/report_writer.h"
#include "report/symbolizer.h"

#ifndef CGOSAN_VERSION
#define CGOSAN_VERSION "unknown"
#endif

namespace cgosan {
namespace {

// One unit is at most a frame of three capped strings (each <= 6 x kMaxJsonStringInput
// escaped) or the summary: this holds any of them.
constexpr size_t kUnitCapacity = 128 * 1024;
// Room kept in the output for the closing brackets and the "truncated" member.
constexpr size_t kCloseReserve = 64;
constexpr int kFrameLimits[] = {kMaxFramesPerStack, 32, 8, 2, 0};
constexpr size_t kSummaryCapacity = 16 * 1024;

// Static: reports are serialized by the caller, and the signal stack is too small for these.
char g_unit_storage[kUnitCapacity];
char g_summary_storage[kSummaryCapacity];

class JsonSink {
 public:
  explicit JsonSink(TextBuffer* out) : out_(out), unit_(g_unit_storage, kUnitCapacity) {}

  // Starts a unit; `comma` when it follows a sibling.
  TextBuffer& Begin(bool comma) {
    unit_.Clear();
    if (comma) unit_.Char(',');
    return unit_;
  }
  // Adds the unit if it fits with the reserve left over; otherwise drops it.
  bool Commit() {
    if (unit_.Truncated() || out_->size() + unit_.size() + kCloseReserve >= out_->capacity()) {
      dropped_ = true;
      return false;
    }
    out_->Append(unit_.data(), unit_.size());
    return true;
  }
  // Structural text the reserve was kept for.
  void Raw(const char* s) { out_->Append(s); }
  bool dropped() const { return dropped_; }

 private:
  TextBuffer* out_;
  TextBuffer unit_;
  bool dropped_ = false;
};

// Members of one JSON object, each committed as a unit.
class ObjectMembers {
 public:
  explicit ObjectMembers(JsonSink* sink) : sink_(sink) {}
  TextBuffer& Begin(const char* key) {
    TextBuffer& unit = sink_->Begin(count_ > 0);
    JsonKey(&unit, key);
    return unit;
  }
  bool Commit() {
    if (!sink_->Commit()) return false;
    ++count_;
    return true;
  }
  int count() const { return count_; }

 private:
  JsonSink* sink_;
  int count_ = 0;
};

void FormatFrame(const Frame& fr, TextBuffer* u) {
  u->Char('{');
  JsonKey(u, "pc");
  JsonHex(u, fr.pc);
  u->Char(',');
  JsonKey(u, "function");
  JsonStringOrNull(u, fr.function);
  u->Char(',');
  JsonKey(u, "file");
  JsonStringOrNull(u, fr.file);
  u->Char(',');
  JsonKey(u, "line");
  if (fr.line > 0) {
    u->Dec(fr.line);
  } else {
    u->Append("null");
  }
  u->Char(',');
  JsonKey(u, "module");
  JsonStringOrNull(u, fr.module);
  u->Char(',');
  JsonKey(u, "module_offset");
  JsonHex(u, fr.module_offset);
  u->Char(',');
  JsonKey(u, "lang");
  JsonString(u, fr.lang == FrameLang::kGo ? "go" : "c");
  u->Char(',');
  JsonKey(u, "glue");
  JsonBool(u, fr.glue);
  u->Char(',');
  JsonKey(u, "inlined");
  JsonBool(u, fr.inlined);
  u->Char('}');
}

void NumberOrNull(TextBuffer* u, bool known, int64_t v) {
  if (known) {
    u->Dec(v);
  } else {
    u->Append("null");
  }
}

// The object's Go members (regions go-heap, go-stack, map-buckets): "map", "freed",
// "goroutine", and for a goroutine stack "stack_moved".
void FormatGoObject(const Finding& f, TextBuffer* u) {
  const GoObject& go = f.go;
  u->Char(',');
  JsonKey(u, "map");
  if (f.region == Region::kMapBuckets) {
    u->Char('{');
    JsonKey(u, "address");
    if (go.map_address != 0) {
      JsonHex(u, go.map_address);
    } else {
      u->Append("null");
    }
    u->Char(',');
    JsonKey(u, "type");
    size_t type_len = strnlen(go.map_type, sizeof(go.map_type));
    if (type_len > 0) {
      JsonString(u, go.map_type, type_len);
    } else {
      u->Append("null");
    }
    u->Char(',');
    JsonKey(u, "array");
    JsonStringOrNull(u, go.array_kind);
    u->Char(',');
    JsonKey(u, "state");
    JsonStringOrNull(u, go.map_state);
    u->Char('}');
  } else {
    u->Append("null");
  }
  u->Char(',');
  JsonKey(u, "freed");
  // Known to be freed by its kind, or a map array whose free was seen.
  const bool freed = f.kind == FindingKind::kGoHeapUseAfterFree ||
                     f.kind == FindingKind::kGoStackUseAfterFree || go.gc_cycle != 0 ||
                     go.freed_ms >= 0;
  if (freed) {
    u->Char('{');
    JsonKey(u, "gc_cycle");
    if (go.gc_cycle != 0) {
      u->Unsigned(go.gc_cycle);
    } else {
      u->Append("null");
    }
    u->Char(',');
    JsonKey(u, "ms");
    NumberOrNull(u, go.freed_ms >= 0, go.freed_ms);
    u->Char('}');
  } else {
    u->Append("null");
  }
  u->Char(',');
  JsonKey(u, "goroutine");
  NumberOrNull(u, go.goroutine >= 0, go.goroutine);
  if (f.region == Region::kGoStack) {
    u->Char(',');
    JsonKey(u, "stack_moved");
    JsonBool(u, go.stack_moved);
  }
}

void FormatLeak(const Finding& f, TextBuffer* u) {
  if (!f.has_leak) {
    u->Append("null");
    return;
  }
  u->Char('{');
  JsonKey(u, "blocks");
  u->Unsigned(f.leak_blocks);
  u->Char(',');
  JsonKey(u, "bytes");
  u->Unsigned(f.leak_bytes);
  u->Char('}');
}

constexpr const char* kHolderStack = "holder";

// `holder` {region, base, size, offset, origin, symbol, module, stack}: where C kept a Go
// pointer. Its stack (the holding block's allocation) is the finding's stack "holder".
void FormatHolder(const Finding& f, int frame_limit, JsonSink* sink, ObjectMembers* m) {
  TextBuffer& u = m->Begin("holder");
  if (!f.has_holder) {
    u.Append("null");
    m->Commit();
    return;
  }
  const Holder& h = f.holder;
  u.Char('{');
  JsonKey(&u, "region");
  JsonString(&u, RegionName(h.region));
  u.Char(',');
  JsonKey(&u, "base");
  JsonHex(&u, h.base);
  u.Char(',');
  JsonKey(&u, "size");
  u.Unsigned(h.size);
  u.Char(',');
  JsonKey(&u, "offset");
  u.Dec(h.offset);
  u.Char(',');
  JsonKey(&u, "origin");
  JsonStringOrNull(&u, h.origin);
  u.Char(',');
  JsonKey(&u, "symbol");
  JsonStringOrNull(&u, h.symbol[0] ? h.symbol : nullptr);
  u.Char(',');
  JsonKey(&u, "module");
  JsonStringOrNull(&u, h.module[0] ? h.module : nullptr);
  u.Char(',');
  JsonKey(&u, "stack");
  u.Char('[');
  if (!m->Commit()) return;
  const Stack* stack = f.FindStack(kHolderStack);
  int n = stack ? stack->num_frames : 0;
  if (n > kMaxFramesPerStack) n = kMaxFramesPerStack;
  if (n > frame_limit) n = frame_limit;
  for (int i = 0; i < n; ++i) {
    FormatFrame(stack->frames[i], &sink->Begin(i > 0));
    if (!sink->Commit()) break;
  }
  sink->Raw("]}");
}

void FormatScalarMembers(const Finding& f, const timespec& now, ObjectMembers* m) {
  JsonString(&m->Begin("schema"), "cgosan.report/1");
  m->Commit();
  JsonString(&m->Begin("cgosan_version"), CGOSAN_VERSION);
  m->Commit();

  TextBuffer& stamp = m->Begin("time");
  stamp.Char('"');
  FormatRfc3339Utc(now.tv_sec, now.tv_nsec, &stamp);
  stamp.Char('"');
  m->Commit();

  JsonString(&m->Begin("kind"), FindingKindName(f.kind));
  m->Commit();

  TextBuffer summary(g_summary_storage, kSummaryCapacity);
  FormatSummary(f, &summary);
  JsonString(&m->Begin("summary"), summary.data(), summary.size());
  m->Commit();

  TextBuffer& address = m->Begin("address");
  if (f.has_address) {
    JsonHex(&address, f.address);
  } else {
    address.Append("null");
  }
  m->Commit();

  TextBuffer& access = m->Begin("access");
  access.Char('{');
  JsonKey(&access, "type");
  JsonString(&access, AccessTypeName(f.access));
  access.Char(',');
  JsonKey(&access, "size");
  if (f.access_size >= 0) {
    access.Dec(f.access_size);
  } else {
    access.Append("null");
  }
  access.Char('}');
  m->Commit();

  TextBuffer& object = m->Begin("object");
  if (f.has_object) {
    object.Char('{');
    JsonKey(&object, "region");
    JsonString(&object, RegionName(f.region));
    object.Char(',');
    JsonKey(&object, "base");
    JsonHex(&object, f.object_base);
    object.Char(',');
    JsonKey(&object, "size");
    object.Unsigned(f.object_size);
    object.Char(',');
    JsonKey(&object, "offset");
    object.Dec(f.object_offset);
    if (f.object_origin != nullptr) {
      object.Char(',');
      JsonKey(&object, "origin");
      JsonString(&object, f.object_origin);
    }
    if (IsGoRegion(f.region)) FormatGoObject(f, &object);
    object.Char('}');
  } else {
    object.Append("null");
  }
  m->Commit();

  TextBuffer& thread = m->Begin("thread");
  thread.Char('{');
  JsonKey(&thread, "tid");
  thread.Dec(f.thread.tid);
  thread.Char(',');
  JsonKey(&thread, "name");
  JsonString(&thread, f.thread.name, strnlen(f.thread.name, sizeof(f.thread.name)));
  thread.Char(',');
  JsonKey(&thread, "goroutine");
  if (f.thread.goroutine >= 0) {
    thread.Dec(f.thread.goroutine);
  } else {
    thread.Append("null");
  }
  thread.Char('}');
  m->Commit();

  JsonStringOrNull(&m->Begin("detail"), f.detail);
  m->Commit();

  TextBuffer& cgo = m->Begin("cgo_call");
  if (f.cgo_function != nullptr) {
    cgo.Char('{');
    JsonKey(&cgo, "function");
    JsonString(&cgo, f.cgo_function);
    cgo.Char(',');
    JsonKey(&cgo, "frame");
    JsonHex(&cgo, f.cgo_frame);
    cgo.Char(',');
    JsonKey(&cgo, "frame_size");
    if (f.cgo_frame_size > 0) {
      cgo.Unsigned(f.cgo_frame_size);
    } else {
      cgo.Append("null");
    }
    cgo.Char(',');
    JsonKey(&cgo, "go_pointers");
    cgo.Char('[');
    for (int i = 0; i < f.num_cgo_go_pointers && i < 4; ++i) {
      if (i > 0) cgo.Char(',');
      JsonHex(&cgo, f.cgo_go_pointers[i]);
    }
    cgo.Char(']');
    cgo.Char(',');
    JsonKey(&cgo, "caller");
    const Stack* access = PrimaryStack(f);
    int caller = access != nullptr ? CgoCallerIndex(*access) : -1;
    if (caller >= 0) {
      FormatFrame(access->frames[caller], &cgo);
    } else {
      cgo.Append("null");
    }
    cgo.Char('}');
  } else {
    cgo.Append("null");
  }
  m->Commit();

  FormatLeak(f, &m->Begin("leak"));
  m->Commit();

  TextBuffer& signature = m->Begin("signature");
  TextBuffer sig(g_summary_storage, kSummaryCapacity);
  FormatSignature(f, &sig);
  JsonString(&signature, sig.data(), sig.size());
  m->Commit();
}

// Every module the stacks name, with its build id: what offline symbolization needs to
// match the right binary (frames keep module + module_offset).
void FormatModules(const Finding& f, JsonSink* sink, ObjectMembers* m) {
  constexpr int kMaxModules = 32;
  const char* seen[kMaxModules];
  int count = 0;
  for (int s = 0; s < f.num_stacks && s < kMaxStacks; ++s) {
    const Stack& stack = f.stacks[s];
    for (int i = 0; i < stack.num_frames && i < kMaxFramesPerStack; ++i) {
      const char* module = stack.frames[i].module;
      if (module == nullptr || module[0] != '/' || count == kMaxModules) continue;
      bool known = false;
      for (int k = 0; k < count && !known; ++k) known = strcmp(seen[k], module) == 0;
      if (!known) seen[count++] = module;
    }
  }
  m->Begin("modules").Char('[');
  if (!m->Commit()) return;
  for (int k = 0; k < count; ++k) {
    static char build_id[130];
    bool has_id = Symbolizer::ReadBuildId(seen[k], build_id, sizeof(build_id));
    TextBuffer& u = sink->Begin(k > 0);
    u.Char('{');
    JsonKey(&u, "path");
    JsonString(&u, seen[k]);
    u.Char(',');
    JsonKey(&u, "build_id");
    JsonStringOrNull(&u, has_id ? build_id : nullptr);
    u.Char('}');
    if (!sink->Commit()) break;
  }
  sink->Raw("]");
}

void FormatProcess(const ProcessInfo& p, JsonSink* sink, ObjectMembers* m) {
  TextBuffer& head = m->Begin("process");
  head.Char('{');
  JsonKey(&head, "pid");
  head.Dec(p.pid);
  head.Char(',');
  JsonKey(&head, "exe");
  JsonStringOrNull(&head, p.exe);
  head.Char(',');
  JsonKey(&head, "build_id");
  JsonStringOrNull(&head, p.build_id);
  head.Char(',');
  // The Go toolchain the binary was built with, read from the binary (.go.buildinfo).
  const GoBinaryInfo& go = GoRuntime::Binary();
  JsonKey(&head, "go");
  if (go.found && go.version[0] != '\0') {
    head.Char('{');
    JsonKey(&head, "version");
    JsonString(&head, go.version);
    head.Char(',');
    JsonKey(&head, "goexperiment");
    JsonString(&head, go.goexperiment);
    head.Char('}');
  } else {
    head.Append("null");
  }
  head.Char(',');
  JsonKey(&head, "argv");
  head.Char('[');
  if (!m->Commit()) return;
  for (int i = 0; i < p.argc && p.argv != nullptr && p.argv[i] != nullptr; ++i) {
    JsonString(&sink->Begin(i > 0), p.argv[i]);
    if (!sink->Commit()) break;
  }
  sink->Raw("]}");
}

void FormatStacks(const Finding& f, int frame_limit, JsonSink* sink, ObjectMembers* m) {
  m->Begin("stacks").Char('{');
  if (!m->Commit()) return;
  bool first = true;
  for (int s = 0; s < f.num_stacks && s < kMaxStacks; ++s) {
    const Stack& stack = f.stacks[s];
    if (stack.name != nullptr && strcmp(stack.name, kHolderStack) == 0) continue;
    TextBuffer& head = sink->Begin(!first);
    first = false;
    JsonKey(&head, stack.name ? stack.name : "unnamed");
    head.Char('[');
    if (!sink->Commit()) break;
    int n = stack.num_frames < kMaxFramesPerStack ? stack.num_frames : kMaxFramesPerStack;
    if (n > frame_limit) n = frame_limit;
    for (int i = 0; i < n; ++i) {
      FormatFrame(stack.frames[i], &sink->Begin(i > 0));
      if (!sink->Commit()) break;
    }
    sink->Raw("]");
  }
  sink->Raw("}");
}

// Returns false when something was dropped.
bool FormatWithFrameLimit(const Finding& f, const ProcessInfo& process, const timespec& now,
                          int frame_limit, bool last_try, TextBuffer* out) {
  JsonSink sink(out);
  ObjectMembers members(&sink);
  sink.Raw("{");
  FormatScalarMembers(f, now, &members);
  FormatProcess(process, &sink, &members);
  for (int i = 0; i < ReportContextMemberCount(); ++i) {  // environment, memory map, test...
    FormatReportContextMember(i, f, process, &members.Begin(ReportContextMemberKey(i)));
    members.Commit();
  }
  FormatHolder(f, frame_limit, &sink, &members);
  FormatStacks(f, frame_limit, &sink, &members);
  FormatModules(f, &sink, &members);
  if (sink.dropped() && !last_try) return false;
  if (sink.dropped() || frame_limit < kMaxFramesPerStack) {
    sink.Raw(members.count() > 0 ? ",\"truncated\":true" : "\"truncated\":true");
  }
  sink.Raw("}\n");
  return true;
}

// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days).
void CivilFromDays(int64_t z, int64_t* year, unsigned* month, unsigned* day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *day = doy - (153 * mp + 2) / 5 + 1;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = static_cast<int64_t>(yoe) + era * 400 + (*month <= 2 ? 1 : 0);
}

}  // namespace

void FormatRfc3339Utc(int64_t seconds, int64_t nanoseconds, TextBuffer* out) {
  int64_t days = seconds / 86400;
  int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t year;
  unsigned month, day;
  CivilFromDays(days, &year, &month, &day);
  out->DecPadded(static_cast<uint64_t>(year), 4).Char('-').DecPadded(month, 2).Char('-');
  out->DecPadded(day, 2).Char('T').DecPadded(static_cast<uint64_t>(rem / 3600), 2).Char(':');
  out->DecPadded(static_cast<uint64_t>(rem / 60 % 60), 2).Char(':');
  out->DecPadded(static_cast<uint64_t>(rem % 60), 2).Char('.');
  out->DecPadded(static_cast<uint64_t>(nanoseconds / 1000000), 3).Char('Z');
}

void FormatJsonReport(const Finding& f, const ProcessInfo& process, TextBuffer* out) {
  timespec now = {};
  clock_gettime(CLOCK_REALTIME, &now);  // async-signal-safe (POSIX), usually the vDSO
  size_t start = out->size();
  constexpr int kTries = sizeof(kFrameLimits) / sizeof(kFrameLimits[0]);
  for (int i = 0; i < kTries; ++i) {
    out->Resize(start);
    if (FormatWithFrameLimit(f, process, now, kFrameLimits[i], i == kTries - 1, out)) return;
  }
}

}  // namespace cgosan

// The text report on stderr, in AddressSanitizer's shape so that users and tools that read
// ASan reports can read ours. Built line by line into the caller's buffer: a line is added
// whole or not at all, so even a cut report ends with complete lines.
#include <errno.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "report/go_symbol_name.h"
#include "report/report_internal.h"
#include "report/report_writer.h"
#include "shadow/base/raw_io.h"

namespace cgosan {
namespace {

// One line may hold a long demangled C++ name plus two paths; longer lines are cut.
constexpr size_t kLineCapacity = 16 * 1024;
// Room kept at the end of the output for the "report truncated" line.
constexpr size_t kTruncationReserve = 128;
// Frames per stack tried, most first, until the report fits.
constexpr int kFrameLimits[] = {kMaxFramesPerStack, 32, 8, 2};

// Static: reports are serialized by the caller, and the signal stack is too small for it.
char g_line_storage[kLineCapacity];

class LineSink {
 public:
  LineSink(TextBuffer* out, pid_t pid)
      : out_(out), line_(g_line_storage, sizeof(g_line_storage)), pid_(pid) {}

  TextBuffer& Begin() {
    line_.Clear();
    line_.Append("==").Dec(pid_).Append("==cgosan: ");
    return line_;
  }

  void End() {
    if (line_.Truncated()) line_.Resize(line_.capacity() - 2);  // keep room for '\n'
    line_.Char('\n');
    if (dropped_) return;
    if (out_->size() + line_.size() + kTruncationReserve >= out_->capacity()) {
      dropped_ = true;
      return;
    }
    out_->Append(line_.data(), line_.size());
    last_blank_ = false;
  }

  void Blank() {
    Begin();
    End();
    last_blank_ = true;
  }
  bool last_blank() const { return last_blank_; }
  bool dropped() const { return dropped_; }
  pid_t pid() const { return pid_; }

 private:
  TextBuffer* out_;
  TextBuffer line_;
  pid_t pid_;
  bool dropped_ = false;
  bool last_blank_ = false;
};

// Names come from ELF files, /proc and the program: a control byte in one must not start a
// line without our prefix or move the terminal's cursor.
void AppendPrintable(TextBuffer* out, const char* s, size_t n) {
  size_t start = 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != 0x7f) continue;
    out->Append(s + start, i - start).Char('?');
    start = i + 1;
  }
  out->Append(s + start, n - start);
}
void AppendPrintable(TextBuffer* out, const char* s) { AppendPrintable(out, s, strlen(s)); }

bool IsFreeKind(const Finding& f) {
  return f.kind == FindingKind::kDoubleFree || f.kind == FindingKind::kInvalidFree ||
         f.access == AccessType::kFree;
}

void AppendAddress(const Finding& f, TextBuffer* out) {
  if (f.has_address) {
    out->Hex(f.address);
  } else {
    out->Append("<unknown address>");
  }
}

void AppendUserSite(const Finding& f, const char* stack_name, TextBuffer* out);

// Retention and leak findings come from audits of memory, not from an access.
bool IsAuditKind(const Finding& f) {
  return f.kind == FindingKind::kGoPointerRetained || f.kind == FindingKind::kLeak;
}

void PrintHeader(const Finding& f, LineSink* sink) {
  TextBuffer& line = sink->Begin();
  line.Append("ERROR: ");
  switch (f.kind) {
    case FindingKind::kDoubleFree:
      line.Append("attempting double-free on ");
      AppendAddress(f, &line);
      line.Append(" in thread ");
      AppendThreadId(f.thread.tid, sink->pid(), &line);
      line.Char(':');
      break;
    case FindingKind::kInvalidFree:
      line.Append("invalid-free: attempting free on address which was not malloc()-ed: ");
      AppendAddress(f, &line);
      line.Append(" in thread ");
      AppendThreadId(f.thread.tid, sink->pid(), &line);
      break;
    case FindingKind::kGoPointerRetained:
      line.Append("go-pointer-retained: C memory keeps ");
      AppendAddress(f, &line);
      line.Append(", a pointer into Go memory, after the cgo call that received it returned");
      break;
    case FindingKind::kLeak:
      line.Append("leak: ").Unsigned(f.leak_bytes).Append(" bytes in ").Unsigned(f.leak_blocks);
      line.Append(f.leak_blocks == 1 ? " block" : " blocks");
      line.Append(" allocated");
      if (f.object_origin != nullptr && strcmp(f.object_origin, "for-go") == 0) {
        line.Append(" for Go");
      } else if (f.object_origin != nullptr && strcmp(f.object_origin, "under-go") == 0) {
        line.Append(" by C code during a cgo call");
      }
      AppendUserSite(f, "alloc", &line);
      line.Append(", never freed and no longer referenced");
      break;
    default:
      line.Append(FindingKindName(f.kind)).Append(" on ");
      if (f.has_address) {
        line.Append("address ").Hex(f.address);
      } else {
        line.Append("unknown address");
      }
      if (f.pc != 0) line.Append(" at pc ").Hex(f.pc);
      line.Append(" thread ");
      AppendThreadId(f.thread.tid, sink->pid(), &line);
      break;
  }
  sink->End();
  if (f.detail != nullptr && f.detail[0] != '\0') {
    AppendPrintable(&sink->Begin(), f.detail);
    sink->End();
  }
}

void PrintAccessLine(const Finding& f, LineSink* sink) {
  TextBuffer& line = sink->Begin();
  switch (f.access) {
    case AccessType::kRead:
      line.Append("READ");
      break;
    case AccessType::kWrite:
      line.Append("WRITE");
      break;
    default:
      line.Append("ACCESS");
      break;
  }
  if (f.access_size >= 0) {
    line.Append(" of size ").Dec(f.access_size);
  } else {
    line.Append(" of unknown size");
  }
  line.Append(" at ");
  AppendAddress(f, &line);
  line.Append(" thread ");
  AppendThreadId(f.thread.tid, sink->pid(), &line);
  if (f.thread.name[0] != '\0') {
    line.Append(" (");
    AppendPrintable(&line, f.thread.name, strnlen(f.thread.name, sizeof(f.thread.name)));
    line.Char(')');
  }
  if (f.thread.goroutine >= 0) line.Append(" goroutine ").Dec(f.thread.goroutine);
  sink->End();
}

// "during the cgo call C.free made by main.main main.go:21"
void PrintCgoCallLine(const Finding& f, LineSink* sink) {
  TextBuffer& line = sink->Begin();
  line.Append(f.kind == FindingKind::kGoPointerRetained ? "received by the cgo call C."
                                                          : "during the cgo call C.");
  AppendPrintable(&line, f.cgo_function);
  const Stack* access = PrimaryStack(f);
  int caller = access != nullptr ? CgoCallerIndex(*access) : -1;
  if (caller >= 0) {
    const Frame& fr = access->frames[caller];
    line.Append(" made by ");
    AppendPrintable(&line, fr.function ? fr.function : "<unknown>");
    if (fr.file != nullptr) {
      line.Char(' ');
      AppendPrintable(&line, fr.file);
      if (fr.line > 0) line.Char(':').Dec(fr.line);
    }
  }
  sink->End();
}

void PrintFrame(int index, const Frame& fr, LineSink* sink) {
  TextBuffer& line = sink->Begin();
  line.Append("    #").Dec(index).Char(' ').Hex(fr.pc).Append(" in ");
  AppendPrintable(&line, fr.function ? fr.function : "<unknown>");
  if (fr.file != nullptr) {
    line.Char(' ');
    AppendPrintable(&line, fr.file);
    if (fr.line > 0) line.Char(':').Dec(fr.line);
  }
  line.Append(" (");
  AppendPrintable(&line, fr.module ? fr.module : "<unknown module>");
  line.Char('+');
  line.Hex(fr.module_offset).Char(')');
  sink->End();
}

// One line for a run of cgo glue frames [begin, end): "C.free called from main.main
// main.go:21" (the JSON keeps every frame). The caller is the first frame after the run.
void PrintGlueRun(const Stack& stack, int begin, int end, int n, LineSink* sink) {
  const char* callee = nullptr;
  bool callback = false;
  for (int i = begin; i < end; ++i) {
    const char* fn = stack.frames[i].function;
    if (!callee) callee = CgoCalleeName(fn);
    if (fn && (strcmp(fn, "crosscall2") == 0 || strstr(fn, "runtime.cgocallback") == fn)) {
      callback = true;
    }
  }
  TextBuffer& line = sink->Begin();
  line.Append("    #").Dec(begin);
  if (end - begin > 1) line.Append("..").Dec(end - 1);
  if (callback) {
    line.Append(" callback into Go");
  } else {
    line.Append(" C.");
    AppendPrintable(&line, callee ? callee : "<function>");
  }
  line.Append(" called from ");
  if (end < n) {
    const Frame& caller = stack.frames[end];
    AppendPrintable(&line, caller.function ? caller.function : "<unknown>");
    if (caller.file != nullptr) {
      line.Char(' ');
      AppendPrintable(&line, caller.file);
      if (caller.line > 0) line.Char(':').Dec(caller.line);
    }
  } else {
    line.Append(callback ? "C" : "Go");
  }
  sink->End();
}

void PrintFrames(const Stack& stack, int frame_limit, LineSink* sink) {
  int n = stack.num_frames < kMaxFramesPerStack ? stack.num_frames : kMaxFramesPerStack;
  if (n <= 0) {
    sink->Begin().Append("    <empty stack>");
    sink->End();
  }
  int shown = n < frame_limit ? n : frame_limit;
  // The innermost frame of the access stack is where it happened: always shown, even when
  // it is glue (cgo inlines a static C function into its _cgo_..._Cfunc_ wrapper).
  const bool keep_first = stack.name != nullptr && strcmp(stack.name, "access") == 0;
  for (int i = 0; i < shown;) {
    if ((i == 0 && keep_first) || !stack.frames[i].glue) {
      PrintFrame(i, stack.frames[i], sink);
      ++i;
      continue;
    }
    int end = i;
    while (end < n && stack.frames[end].glue) ++end;
    PrintGlueRun(stack, i, end, n, sink);
    i = end;
  }
  if (shown < n) {
    sink->Begin().Append("    ... ").Dec(n - shown).Append(" more frames not shown");
    sink->End();
  }
  sink->Blank();
}
void PrintObjectLine(const Finding& f, LineSink* sink) {
  TextBuffer& line = sink->Begin();
  uintptr_t addr = f.has_address ? f.address : f.object_base + f.object_offset;
  line.Hex(addr).Append(" is located ");
  if (f.object_offset < 0) {
    line.Unsigned(static_cast<uint64_t>(0) - static_cast<uint64_t>(f.object_offset));
    line.Append(" bytes before");
  } else if (static_cast<uint64_t>(f.object_offset) >= f.object_size) {
    line.Unsigned(static_cast<uint64_t>(f.object_offset) - f.object_size).Append(" bytes after");
  } else {
    line.Dec(f.object_offset).Append(" bytes inside of");
  }
  line.Char(' ').Unsigned(f.object_size).Append("-byte region [").Hex(f.object_base).Char(',');
  line.Hex(f.object_base + f.object_size).Char(')');
  sink->End();
}

// " at main.go:33": where the first user frame of the named stack is (file basename), else
// " in main.f" when only its function is known; nothing when the stack has no user frame.
void AppendUserSite(const Finding& f, const char* stack_name, TextBuffer* out) {
  const Frame* fr = FirstUserFrame(f.FindStack(stack_name));
  if (fr == nullptr) return;
  if (fr->file != nullptr) {
    out->Append(" at ");
    AppendPrintable(out, Basename(fr->file));
    if (fr->line > 0) out->Char(':').Dec(fr->line);
  } else if (fr->function != nullptr) {
    out->Append(" in ");
    AppendPrintable(out, fr->function);
  }
}

bool FreedTimeKnown(const GoObject& go) { return go.gc_cycle != 0 || go.freed_ms >= 0; }

// "cycle 3, 120 ms after start", the parts that are known.
void AppendFreedTime(const GoObject& go, const char* cycle_word, TextBuffer* out) {
  if (go.gc_cycle != 0) out->Append(cycle_word).Unsigned(go.gc_cycle);
  if (go.gc_cycle != 0 && go.freed_ms >= 0) out->Append(", ");
  if (go.freed_ms >= 0) out->Dec(go.freed_ms).Append(" ms after start");
}

void AppendMapArray(const Finding& f, TextBuffer* line) {
  const GoObject& go = f.go;
  AppendPrintable(line, go.array_kind != nullptr ? go.array_kind : "array");
  line->Append(" of ");
  if (go.map_type[0] != '\0') {
    AppendPrintable(line, go.map_type, strnlen(go.map_type, sizeof(go.map_type)));
  } else {
    line->Append("a map");
  }
  if (go.map_address != 0) line->Append(" (map at ").Hex(go.map_address).Char(')');
  const char* state = go.map_state;
  if (state == nullptr || strcmp(state, "live") == 0) {
    // Nothing happened to the array that the line could name.
  } else if (strcmp(state, "relocated") == 0) {
    line->Append(", relocated by growth");
    AppendUserSite(f, "relocation", line);
  } else if (strcmp(state, "relocating") == 0) {
    line->Append(", being relocated by growth");
    AppendUserSite(f, "relocation", line);
  } else if (strcmp(state, "cleared") == 0) {
    line->Append(", zeroed and reused by a clear of the map");
    AppendUserSite(f, "clear", line);
  } else {
    line->Append(", ");
    AppendPrintable(line, state);
  }
  if (FreedTimeKnown(go)) {
    line->Append(", freed by the GC (");
    AppendFreedTime(go, "cycle ", line);
    line->Char(')');
  }
}

// Go memory is described by what it was, not as a bare region: "0xc0000ea008 is 8 bytes
// inside a 40960-byte bucket array of map[int]int (map at 0xc000048e58), relocated by
// growth at main.go:33".
void PrintGoObjectLine(const Finding& f, LineSink* sink) {
  TextBuffer& line = sink->Begin();
  uintptr_t addr = f.has_address ? f.address : f.object_base + f.object_offset;
  line.Hex(addr).Append(" is ");
  if (f.object_offset < 0) {
    line.Unsigned(static_cast<uint64_t>(0) - static_cast<uint64_t>(f.object_offset));
    line.Append(" bytes before a ");
  } else if (f.object_size != 0 && static_cast<uint64_t>(f.object_offset) >= f.object_size) {
    line.Unsigned(static_cast<uint64_t>(f.object_offset) - f.object_size).Append(" bytes after a ");
  } else {
    line.Dec(f.object_offset).Append(" bytes inside a ");
  }
  if (f.object_size != 0) line.Unsigned(f.object_size).Append("-byte ");
  const GoObject& go = f.go;
  switch (f.region) {
    case Region::kMapBuckets:
      AppendMapArray(f, &line);
      break;
    case Region::kGoStack:
      line.Append("goroutine stack of ");
      if (go.goroutine >= 0) {
        line.Append("goroutine ").Dec(go.goroutine);
      } else {
        line.Append("a goroutine");
      }
      if (f.kind == FindingKind::kGoStackUseAfterFree) {
        line.Append(go.stack_moved ? ", freed when the stack grew and was moved"
                                   : ", freed after the goroutine ended");
      }
      if (FreedTimeKnown(go)) {
        line.Append(" (");
        AppendFreedTime(go, "GC cycle ", &line);
        line.Char(')');
      }
      break;
    default:
      line.Append(f.kind == FindingKind::kGoPointerRetained ? "Go heap object" : "Go heap range");
      if (f.kind == FindingKind::kGoHeapUseAfterFree) line.Append(" freed by the GC");
      if (FreedTimeKnown(go)) {
        line.Append(" (");
        AppendFreedTime(go, "cycle ", &line);
        line.Char(')');
      }
      break;
  }
  sink->End();
}

// "relocated by growth here (goroutine 7, thread T0):", the parts that are known.
void PrintGoStackTitle(const Finding& f, const Stack& stack, LineSink* sink) {
  TextBuffer& line = sink->Begin();
  const char* name = stack.name ? stack.name : "unnamed";
  if (strcmp(name, "relocation") == 0) {
    line.Append("relocated by growth here");
  } else if (strcmp(name, "clear") == 0) {
    line.Append("cleared here");
  } else if (strcmp(name, "free") == 0) {
    line.Append("freed here");
  } else if (strcmp(name, "cgo_call") == 0) {
    line.Append("the pointer was passed to C by this cgo call");
  } else if (strcmp(name, "holder") == 0) {
    line.Append("the C block that holds it was allocated here");
  } else if (strcmp(name, "alloc") == 0) {
    if (f.region == Region::kMapBuckets) {
      AppendPrintable(&line, f.go.array_kind != nullptr ? f.go.array_kind : "array");
      line.Char(' ');
    } else if (f.region == Region::kGoStack) {
      line.Append("stack ");
    }
    line.Append("allocated here");
  } else {
    AppendPrintable(&line, name);
    line.Append(" stack");
  }
  if (stack.goroutine >= 0 || stack.tid != 0) {
    line.Append(" (");
    if (stack.goroutine >= 0) line.Append("goroutine ").Dec(stack.goroutine);
    if (stack.goroutine >= 0 && stack.tid != 0) line.Append(", ");
    if (stack.tid != 0) {
      line.Append("thread ");
      AppendThreadId(stack.tid, sink->pid(), &line);
    }
    line.Char(')');
  }
  line.Char(':');
  sink->End();
}

void PrintStackTitle(const Stack& stack, const char* origin, LineSink* sink) {
  TextBuffer& line = sink->Begin();
  const char* name = stack.name ? stack.name : "unnamed";
  if (strcmp(name, "free") == 0) {
    line.Append("freed by thread ");
    AppendThreadId(stack.tid, sink->pid(), &line);
    line.Append(" here:");
  } else if (strcmp(name, "alloc") == 0) {
    line.Append("previously allocated ");
    if (origin != nullptr && strcmp(origin, "for-go") == 0) {
      line.Append("for Go (C.CString, C.CBytes or C.malloc) ");
    } else if (origin != nullptr && strcmp(origin, "under-go") == 0) {
      line.Append("by C code during a cgo call ");
    }
    line.Append("by thread ");
    AppendThreadId(stack.tid, sink->pid(), &line);
    line.Append(" here:");
  } else {
    AppendPrintable(&line, name);
    line.Append(" stack of thread ");
    AppendThreadId(stack.tid, sink->pid(), &line);
    line.Char(':');
  }
  sink->End();
}

// "held at offset 8 of a 16-byte C heap block [0x..,0x..) allocated for Go" or "held in
// the global kept (0x4c5e10) of /tmp/prog, offset 0".
void PrintHolderLine(const Finding& f, LineSink* sink) {
  const Holder& h = f.holder;
  TextBuffer& line = sink->Begin();
  line.Append("held ");
  if (h.region == Region::kGlobal) {
    line.Append("in ");
    if (h.symbol[0] != '\0') {
      line.Append("the global ");
      AppendPrintable(&line, h.symbol, strnlen(h.symbol, sizeof(h.symbol)));
    } else {
      line.Append("the writable data");
    }
    line.Append(" [").Hex(h.base).Char(',').Hex(h.base + h.size).Append(") of ");
    AppendPrintable(&line, h.module[0] ? h.module : "<unknown module>");
    line.Append(", offset ").Dec(h.offset);
  } else {
    line.Append("at offset ").Dec(h.offset).Append(" of a ").Unsigned(h.size);
    line.Append("-byte C heap block [").Hex(h.base).Char(',').Hex(h.base + h.size).Char(')');
    if (h.origin != nullptr && strcmp(h.origin, "for-go") == 0) {
      line.Append(" allocated for Go (C.CString, C.CBytes or C.malloc)");
    } else if (h.origin != nullptr && strcmp(h.origin, "under-go") == 0) {
      line.Append(" allocated by C code during a cgo call");
    }
  }
  sink->End();
}

// Returns false when some line did not fit.
bool FormatWithFrameLimit(const Finding& f, int frame_limit, TextBuffer* out) {
  LineSink sink(out, RawGetPid());
  PrintHeader(f, &sink);
  if (!IsFreeKind(f) && !IsAuditKind(f)) PrintAccessLine(f, &sink);
  if (f.cgo_function != nullptr) PrintCgoCallLine(f, &sink);
  const Stack* access = f.FindStack("access");
  if (access != nullptr) PrintFrames(*access, frame_limit, &sink);
  const bool go_object = IsGoRegion(f.region);
  if (f.has_object) {
    if (go_object) {
      PrintGoObjectLine(f, &sink);
    } else {
      PrintObjectLine(f, &sink);
    }
  }
  if (f.has_holder) PrintHolderLine(f, &sink);
  for (int i = 0; i < f.num_stacks && i < kMaxStacks; ++i) {
    const Stack& s = f.stacks[i];
    if (&s == access) continue;
    if (go_object) {
      PrintGoStackTitle(f, s, &sink);
    } else {
      PrintStackTitle(s, f.object_origin, &sink);
    }
    PrintFrames(s, frame_limit, &sink);
  }
  if (!sink.last_blank()) sink.Blank();
  // The summary is built elsewhere (it is also the JSON's): clean it after the fact.
  TextBuffer& summary = sink.Begin();
  size_t at = summary.size();
  FormatSummary(f, &summary);
  for (size_t i = at; i < summary.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(summary.data()[i]);
    if (c < 0x20 || c == 0x7f) g_line_storage[i] = '?';  // the line's own storage
  }
  sink.End();
  return !sink.dropped();
}

}  // namespace

void AppendThreadId(pid_t tid, pid_t pid, TextBuffer* out) {
  if (tid == 0) {
    out->Append("T?");
  } else if (tid == pid) {
    out->Append("T0");
  } else {
    out->Char('T').Dec(tid);
  }
}

void FormatTextReport(const Finding& f, TextBuffer* out) {
  size_t start = out->size();
  for (int limit : kFrameLimits) {
    out->Resize(start);
    if (FormatWithFrameLimit(f, limit, out)) return;
  }
  // Even two frames per stack did not fit: keep the lines that did and say so.
  // The reserve was kept for exactly this line.
  LineSink sink(out, RawGetPid());
  TextBuffer& line = sink.Begin();
  line.Append("(report truncated)\n");
  out->Append(line.data(), line.size());
}

void PrintLine(const char* msg) {
  InlineTextBuffer<40> prefix;
  prefix.Append("==").Dec(RawGetPid()).Append("==cgosan: ");
  if (msg == nullptr) msg = "";
  // One writev keeps the line whole even when other threads write to stderr too.
  struct iovec iov[3] = {
      {const_cast<char*>(prefix.data()), prefix.size()},
      {const_cast<char*>(msg), strlen(msg)},
      {const_cast<char*>("\n"), 1},
  };
  size_t total = iov[0].iov_len + iov[1].iov_len + iov[2].iov_len;
  long n;
  do {
    n = syscall(SYS_writev, 2, iov, 3);
  } while (n < 0 && errno == EINTR);
  if (n < 0 || static_cast<size_t>(n) == total) return;
  // A short write: finish what is left piece by piece.
  size_t done = static_cast<size_t>(n);
  for (const struct iovec& v : iov) {
    if (done >= v.iov_len) {
      done -= v.iov_len;
      continue;
    }
    RawWriteAll(2, static_cast<const char*>(v.iov_base) + done, v.iov_len - done);
    done = 0;
  }
}

}  // namespace cgosan

// The C shim over Google Benchmark declared in shim.h: thin forwarding, nothing else.
#include "shim.h"

#include <benchmark/benchmark.h>

#include <string>
#include <utility>
#include <vector>

static_assert(MB_COUNTER_RATE == benchmark::Counter::kIsRate, "flag mismatch");
static_assert(MB_COUNTER_AVG_THREADS == benchmark::Counter::kAvgThreads, "flag mismatch");
static_assert(MB_COUNTER_ITERATION_INVARIANT == benchmark::Counter::kIsIterationInvariant,
              "flag mismatch");
static_assert(MB_COUNTER_AVG_ITERATIONS == benchmark::Counter::kAvgIterations, "flag mismatch");
static_assert(MB_COUNTER_INVERT == static_cast<unsigned>(benchmark::Counter::kInvert),
              "flag mismatch");

struct mb_state {
    benchmark::State *s;
    const void *ctx;
};

namespace {
benchmark::internal::Benchmark *B(mb_bench *b) {
    return reinterpret_cast<benchmark::internal::Benchmark *>(b);
}
mb_bench *H(benchmark::internal::Benchmark *b) { return reinterpret_cast<mb_bench *>(b); }
std::vector<std::pair<std::string, std::string>> &pending_context() {
    static std::vector<std::pair<std::string, std::string>> v;
    return v;
}
} // namespace

extern "C" {

mb_bench *mb_register(const char *name, mb_fn fn, const void *ctx) {
    return H(benchmark::RegisterBenchmark(name, [fn, ctx](benchmark::State &s) {
        mb_state st{&s, ctx};
        fn(&st);
    }));
}

mb_bench *mb_args(mb_bench *b, size_t n, const int64_t *args) {
    return H(B(b)->Args(std::vector<int64_t>(args, args + n)));
}

mb_bench *mb_arg_names(mb_bench *b, size_t n, const char *const *names) {
    return H(B(b)->ArgNames(std::vector<std::string>(names, names + n)));
}

mb_bench *mb_use_real_time(mb_bench *b) { return H(B(b)->UseRealTime()); }

mb_bench *mb_unit(mb_bench *b, mb_time_unit unit) {
    static const benchmark::TimeUnit units[] = {benchmark::kNanosecond, benchmark::kMicrosecond,
                                                benchmark::kMillisecond, benchmark::kSecond};
    return H(B(b)->Unit(units[unit]));
}

const void *mb_context(const mb_state *st) { return st->ctx; }
void mb_set_context(mb_state *st, const void *ctx) { st->ctx = ctx; }
int64_t mb_range(const mb_state *st, size_t i) { return st->s->range(i); }
int mb_keep_running(mb_state *st) { return st->s->KeepRunning(); }
int64_t mb_iterations(const mb_state *st) { return st->s->iterations(); }

void mb_counter(mb_state *st, const char *name, double value, unsigned flags) {
    st->s->counters[name] =
        benchmark::Counter(value, static_cast<benchmark::Counter::Flags>(flags));
}

void mb_set_items_processed(mb_state *st, int64_t items) { st->s->SetItemsProcessed(items); }
void mb_set_bytes_processed(mb_state *st, int64_t bytes) { st->s->SetBytesProcessed(bytes); }
void mb_set_label(mb_state *st, const char *label) { st->s->SetLabel(label); }
void mb_skip_with_error(mb_state *st, const char *msg) { st->s->SkipWithError(msg); }
void mb_pause_timing(mb_state *st) { st->s->PauseTiming(); }
void mb_resume_timing(mb_state *st) { st->s->ResumeTiming(); }
void mb_do_not_optimize(const void *p) { benchmark::DoNotOptimize(p); }
void mb_clobber_memory(void) { benchmark::ClobberMemory(); }

void mb_add_context(const char *key, const char *value) {
    pending_context().emplace_back(key, value);
}

int mb_main(int argc, char **argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    for (const auto &kv : pending_context()) benchmark::AddCustomContext(kv.first, kv.second);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

} // extern "C"

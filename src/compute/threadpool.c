/* threadpool.c — a small fork-join pool of pthreads (see oncolm/compute.h).
 *
 * The caller is participant 0; workers 1..n-1 wait for a new task
 * "generation". Waiting (for a task, for completion, at a barrier) spins
 * with a pause hint for a short while — tasks in a forward pass come every
 * few microseconds — then sleeps on a futex (Linux) so an idle pool costs
 * nothing. Off Linux the sleep is a sched_yield loop. Wake-ups are system
 * calls only when someone actually sleeps (a count of sleepers per futex
 * word), so back-to-back tasks of a forward pass cost no syscalls. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "oncolm/compute.h"

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#define SPIN_ITERS (1 << 12)

struct onc_threadpool {
    int n;                      /* participants, caller included */
    pthread_t *threads;         /* n-1 workers */
    _Atomic uint32_t gen;       /* bumped for each task */
    _Atomic uint32_t done;      /* workers finished with the current task */
    _Atomic uint32_t bar_count; /* arrivals at the current barrier */
    _Atomic uint32_t bar_gen;   /* bumped when a barrier opens */
    _Atomic int stop;
    _Atomic uint32_t gen_sleepers;  /* workers asleep (or about to be) on gen */
    _Atomic uint32_t done_sleepers; /* the caller asleep on done */
    _Atomic uint32_t bar_sleepers;  /* participants asleep at the barrier */
    onc_task_fn fn;
    void *ctx;
};

typedef struct worker_arg {
    onc_threadpool *tp;
    int ith;
} worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t val) {
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
#else
    (void)addr;
    (void)val;
    sched_yield();
#endif
}

static void futex_wake_all(_Atomic uint32_t *addr) {
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
#else
    (void)addr;
#endif
}

/* Wait until *addr != val. A waiter registers in *sleepers before it
 * sleeps; the futex call re-checks the word, so a change made after the
 * waker read *sleepers == 0 is still seen (both sides are seq_cst). */
static void wait_change(_Atomic uint32_t *addr, uint32_t val, _Atomic uint32_t *sleepers) {
    for (int i = 0; i < SPIN_ITERS; i++) {
        if (atomic_load_explicit(addr, memory_order_acquire) != val) return;
        cpu_relax();
    }
    atomic_fetch_add(sleepers, 1);
    while (atomic_load(addr) == val) futex_wait(addr, val);
    atomic_fetch_sub(sleepers, 1);
}

/* Wake the sleepers of a word just changed (seq_cst), if any. */
static void wake_if_sleeping(_Atomic uint32_t *addr, _Atomic uint32_t *sleepers) {
    if (atomic_load(sleepers) > 0) futex_wake_all(addr);
}

static void *worker_main(void *p) {
    worker_arg *a = p;
    onc_threadpool *tp = a->tp;
    const int ith = a->ith;
    free(a);
    uint32_t seen = 0;
    for (;;) {
        wait_change(&tp->gen, seen, &tp->gen_sleepers);
        seen = atomic_load_explicit(&tp->gen, memory_order_acquire);
        if (atomic_load_explicit(&tp->stop, memory_order_acquire)) break;
        tp->fn(tp->ctx, ith, tp->n);
        if (atomic_fetch_add(&tp->done, 1) + 1 == (uint32_t)(tp->n - 1)) wake_if_sleeping(&tp->done, &tp->done_sleepers);
    }
    return NULL;
}

onc_threadpool *onc_threadpool_new(int n_threads, onc_error *err) {
    if (n_threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = c > 0 ? (int)c : 1;
    }
    onc_threadpool *tp = calloc(1, sizeof *tp);
    if (!tp) {
        onc_error_set(err, ONC_ERR_NOMEM, "thread pool: out of memory");
        return NULL;
    }
    tp->n = n_threads;
    if (n_threads > 1) {
        tp->threads = calloc((size_t)n_threads - 1, sizeof *tp->threads);
        if (!tp->threads) {
            free(tp);
            onc_error_set(err, ONC_ERR_NOMEM, "thread pool: out of memory");
            return NULL;
        }
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (a) {
            a->tp = tp;
            a->ith = i;
        }
        if (!a || pthread_create(&tp->threads[i - 1], NULL, worker_main, a) != 0) {
            free(a);
            tp->n = i; /* workers 1..i-1 exist: stop and join them */
            onc_threadpool_free(tp);
            onc_error_set(err, ONC_ERR_NOMEM, "thread pool: cannot create thread %d of %d", i, n_threads);
            return NULL;
        }
    }
    return tp;
}

void onc_threadpool_free(onc_threadpool *tp) {
    if (!tp) return;
    atomic_store_explicit(&tp->stop, 1, memory_order_release);
    atomic_fetch_add_explicit(&tp->gen, 1, memory_order_acq_rel);
    futex_wake_all(&tp->gen);
    for (int i = 1; i < tp->n; i++) pthread_join(tp->threads[i - 1], NULL);
    free(tp->threads);
    free(tp);
}

int onc_threadpool_n_threads(const onc_threadpool *tp) { return tp ? tp->n : 1; }

void onc_threadpool_run(onc_threadpool *tp, onc_task_fn fn, void *ctx) {
    if (!tp || tp->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    tp->fn = fn;
    tp->ctx = ctx;
    atomic_store_explicit(&tp->done, 0, memory_order_relaxed);
    atomic_fetch_add(&tp->gen, 1);
    wake_if_sleeping(&tp->gen, &tp->gen_sleepers);
    fn(ctx, 0, tp->n);
    const uint32_t want = (uint32_t)(tp->n - 1);
    for (int i = 0; i < SPIN_ITERS; i++) {
        if (atomic_load_explicit(&tp->done, memory_order_acquire) == want) return;
        cpu_relax();
    }
    atomic_fetch_add(&tp->done_sleepers, 1);
    for (;;) {
        uint32_t d = atomic_load(&tp->done);
        if (d == want) break;
        futex_wait(&tp->done, d);
    }
    atomic_fetch_sub(&tp->done_sleepers, 1);
}

void onc_threadpool_barrier(onc_threadpool *tp) {
    if (!tp || tp->n == 1) return;
    const uint32_t g = atomic_load_explicit(&tp->bar_gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&tp->bar_count, 1, memory_order_acq_rel) + 1 == (uint32_t)tp->n) {
        atomic_store_explicit(&tp->bar_count, 0, memory_order_relaxed);
        atomic_fetch_add(&tp->bar_gen, 1);
        wake_if_sleeping(&tp->bar_gen, &tp->bar_sleepers);
        return;
    }
    wait_change(&tp->bar_gen, g, &tp->bar_sleepers);
}

#include "common/parallel.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>

#include "common/errors.h"

namespace fastnn {
namespace {

int default_num_threads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);  // "4" or the first entry of "4,2"
    if (end != env && v >= 1 && v <= 4096) return int(v);
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? int(hc) : 1;
}

std::atomic<int> g_num_threads{0};
thread_local bool t_in_region = false;

// Workers spin briefly before sleeping: kernels arrive in bursts, and a condition-variable
// wake-up costs tens of microseconds, which would dominate small kernels.
constexpr int kSpinIterations = 20000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class ThreadPool {
 public:
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
      generation_.fetch_add(1);
    }
    cv_start_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void run(int nthreads, const std::function<void(int, int)>& f) {
    std::unique_lock<std::mutex> region(region_, std::try_to_lock);
    if (!region.owns_lock()) {  // another caller owns the pool: stay serial
      run_serial(f);
      return;
    }
    grow(nthreads - 1);
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = &f;
      job_threads_ = nthreads;
      error_ = nullptr;
      pending_.store(nthreads - 1);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_start_.notify_all();
    run_one(f, 0, nthreads);
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
      if (spin < kSpinIterations) {
        cpu_relax();
      } else {
        std::unique_lock<std::mutex> lk(m_);
        cv_done_.wait(lk, [&] { return pending_.load() == 0; });
      }
    }
    std::exception_ptr err;
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = nullptr;
      err = error_;
      error_ = nullptr;
    }
    if (err) std::rethrow_exception(err);
  }

  static void run_serial(const std::function<void(int, int)>& f) {
    bool outer = t_in_region;
    t_in_region = true;
    try {
      f(0, 1);
    } catch (...) {
      t_in_region = outer;
      throw;
    }
    t_in_region = outer;
  }

 private:
  void grow(int n_workers) {
    // A new worker must start from the generation before the job it is created for, or it
    // could take that job's generation as already seen and sleep through it.
    const uint64_t current = generation_.load();
    while (int(workers_.size()) < n_workers) {
      int tid = int(workers_.size()) + 1;
      workers_.emplace_back([this, tid, current] { worker_loop(tid, current); });
    }
  }

  void run_one(const std::function<void(int, int)>& f, int tid, int nthreads) {
    t_in_region = true;
    try {
      f(tid, nthreads);
    } catch (...) {
      std::lock_guard<std::mutex> lk(m_);
      if (!error_) error_ = std::current_exception();
    }
    t_in_region = false;
  }

  void worker_loop(int tid, uint64_t seen) {
    for (;;) {
      for (int spin = 0; generation_.load(std::memory_order_acquire) == seen; ++spin) {
        if (spin < kSpinIterations) {
          cpu_relax();
        } else {
          std::unique_lock<std::mutex> lk(m_);
          cv_start_.wait(lk, [&] { return generation_.load() != seen; });
        }
      }
      const std::function<void(int, int)>* job;
      int nthreads;
      {
        std::lock_guard<std::mutex> lk(m_);
        if (stop_) return;
        seen = generation_.load();
        job = job_;
        nthreads = job_threads_;
      }
      if (job && tid < nthreads) {
        run_one(*job, tid, nthreads);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          std::lock_guard<std::mutex> lk(m_);
          cv_done_.notify_one();
        }
      }
    }
  }

  std::mutex region_;  // held by the caller that owns the pool
  std::mutex m_;
  std::condition_variable cv_start_, cv_done_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int, int)>* job_ = nullptr;
  int job_threads_ = 0;
  std::exception_ptr error_;
  bool stop_ = false;
};

// The pool is created on first use. After fork() the child has none of the parent's worker
// threads, so it gets a fresh pool (the parent's object is abandoned, never touched).
std::atomic<ThreadPool*> g_pool{nullptr};
std::mutex g_pool_create;

void on_fork_child() {
  g_pool.store(nullptr);
  new (&g_pool_create) std::mutex();
}

ThreadPool& pool() {
  ThreadPool* p = g_pool.load(std::memory_order_acquire);
  if (p) return *p;
  std::lock_guard<std::mutex> lk(g_pool_create);
  p = g_pool.load();
  if (!p) {
    static bool atfork_registered = (pthread_atfork(nullptr, nullptr, on_fork_child), true);
    (void)atfork_registered;
    p = new ThreadPool();  // lives for the process: workers must not be joined at exit
    g_pool.store(p, std::memory_order_release);
  }
  return *p;
}

}  // namespace

int get_num_threads() {
  int n = g_num_threads.load(std::memory_order_relaxed);
  if (n == 0) {
    int expected = 0;
    g_num_threads.compare_exchange_strong(expected, default_num_threads());
    n = g_num_threads.load();
  }
  return n;
}

void set_num_threads(int n) {
  FASTNN_CHECK_VALUE(n >= 1 && n <= 4096, "set_num_threads: n must be in [1, 4096], got ", n);
  g_num_threads.store(n);
}

void parallel_run(int max_threads, const std::function<void(int, int)>& f) {
  int n = std::min(max_threads, get_num_threads());
  if (n <= 1 || t_in_region) {
    ThreadPool::run_serial(f);
    return;
  }
  pool().run(n, f);
}

}  // namespace fastnn

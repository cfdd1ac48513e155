// JobRanges: how parallel kernel jobs are dealt to threads (contiguous runs,
// balanced at the end by taking from the back of the fullest range).
#include <doctest/doctest.h>
#include <omp.h>

#include <atomic>
#include <cstddef>
#include <vector>

#include "util/job_ranges.h"

using namespace ossrt;

namespace {

// How often each of jobs [0, jobs) was taken by a team of `team` threads
// asking as threads first_thread .. first_thread + team - 1.
std::vector<std::atomic<int>> race(JobRanges& ranges, size_t jobs, size_t team, size_t first_thread) {
  std::vector<std::atomic<int>> taken(jobs);
  for (auto& count : taken) count.store(0);
#pragma omp parallel num_threads(static_cast <int>(team))
  {
    size_t job = 0;
    while (ranges.next(static_cast<size_t>(omp_get_thread_num()) + first_thread, job)) {
      if (job < jobs) taken[job].fetch_add(1);
    }
  }
  return taken;
}

// The jobs taken exactly once.
size_t taken_once(const std::vector<std::atomic<int>>& taken) {
  size_t once = 0;
  for (const auto& count : taken) once += count.load() == 1;
  return once;
}

}  // namespace

TEST_CASE("job ranges deal each thread its own run from the front, then the others' from the back") {
  JobRanges ranges(10, 2);  // thread 0: jobs 0-4, thread 1: jobs 5-9
  std::vector<size_t> order;
  size_t job = 0;
  // Thread 1 never asks (stalled): thread 0 takes its run, then all of thread 1's from its back.
  while (ranges.next(0, job)) order.push_back(job);
  CHECK(order == std::vector<size_t>{0, 1, 2, 3, 4, 9, 8, 7, 6, 5});
  CHECK_FALSE(ranges.next(1, job));

  JobRanges uneven(7, 3);  // 0-1, 2-3, 4-6
  order.clear();
  CHECK(uneven.next(1, job));
  order.push_back(job);
  // Thread 1 runs dry after its two jobs and takes from the fullest range,
  // thread 2's first, then the first of equally full ones.
  while (uneven.next(1, job)) order.push_back(job);
  CHECK(order == std::vector<size_t>{2, 3, 6, 1, 5, 0, 4});
}

TEST_CASE("job ranges hand out every job exactly once to threads racing for them") {
  for (size_t threads : {1u, 2u, 3u, 8u}) {
    for (size_t jobs : {0u, 1u, 3u, 7u, 100u, 1001u}) {
      CAPTURE(threads);
      CAPTURE(jobs);
      JobRanges ranges(jobs, threads);
      CHECK(taken_once(race(ranges, jobs, threads, 0)) == jobs);
    }
  }
  // Threads past the ranges (a team larger than the threads the ranges
  // were made for) only take from the others' backs.
  JobRanges two(50, 2);
  CHECK(taken_once(race(two, 50, 4, 2)) == 50);
}

TEST_CASE("for_each_job runs the body once for every job") {
  for (size_t jobs : {0u, 1u, 2u, 333u}) {
    std::vector<std::atomic<int>> runs(jobs);
    for (auto& count : runs) count.store(0);
    for_each_job(jobs, [&](size_t job) { runs[job].fetch_add(1); });
    CHECK(taken_once(runs) == jobs);
  }
}

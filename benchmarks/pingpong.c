// How far apart two threads' cores are: the time one cache line takes to move from one
// core to the other, as two threads take turns incrementing it. On an AMD EPYC
// VM, 25-30 ns means the two vCPUs share a core complex; 160 ns, that they sit on two
// chiplets (benchmarks/results/two-threads-chiplets.md).
//
//     gcc -O2 -pthread -o /tmp/pingpong benchmarks/pingpong.c && /tmp/pingpong [rounds]
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static _Alignas(64) atomic_long turn;
static long rounds = 2000000;
static void* player(void* arg) {
  long me = (long)arg;
  for (long i = 0; i < rounds; ++i) {
    while (atomic_load_explicit(&turn, memory_order_acquire) % 2 != me) {}
    atomic_fetch_add_explicit(&turn, 1, memory_order_release);
  }
  return 0;
}
int main(int argc, char** argv) {
  struct timespec t0, t1; pthread_t a, b;
  if (argc > 1) rounds = atol(argv[1]);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pthread_create(&a, 0, player, (void*)0); pthread_create(&b, 0, player, (void*)1);
  pthread_join(a, 0); pthread_join(b, 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("%.0f ns per hand-over\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / (2.0 * rounds));
  return 0;
}

/* test_spool.c - io/spool: what the window loop hands over comes back from
 * the file in order, byte for byte, whether the writer was idle (pointer
 * swap) or busy (copy into its queue); a truncate empties it; a disk that
 * refuses writes (/dev/full) is an error naming the file at the next
 * put or sync, not a silent loss; a removed spool is gone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ntw_error.h"
#include "io/spool.h"

static char path[256];

static int setup(void **state) {
  (void)state;
  snprintf(path, sizeof path, "%s/ntw_spool_test.%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
           (int)getpid());
  return 0;
}

/* 200 hand-overs of 1..5000 uint32 values counting up, each from a buffer
 * the spool may swap for another: the file is 0, 1, 2, ... */
static void test_roundtrip(void **state) {
  (void)state;
  ntw_spool *s = NULL;
  assert_int_equal(ntw_spool_open(path, &s), 0);
  uint32_t next = 0;
  void *buf = NULL;
  size_t cap = 0;
  srand(7);
  for (int k = 0; k < 200; k++) {
    size_t n = 1 + (size_t)(rand() % 5000);
    if (cap < n * 4) {
      buf = realloc(buf, n * 4);
      assert_non_null(buf);
      cap = n * 4;
    }
    for (size_t i = 0; i < n; i++) ((uint32_t *)buf)[i] = next++;
    assert_int_equal(ntw_spool_put(s, &buf, &cap, n * 4), 0);
    /* the caller's buffer is its own again: scribble on it */
    if (buf && cap) memset(buf, 0xab, cap);
  }
  assert_int_equal(ntw_spool_sync(s), 0);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal((size_t)sb.st_size, (size_t)next * 4);
  uint32_t *all = malloc((size_t)next * 4);
  assert_non_null(all);
  assert_int_equal(ntw_spool_rewind(s), 0);
  assert_int_equal(ntw_spool_read(s, all, (size_t)next * 4), 0);
  for (uint32_t i = 0; i < next; i++)
    if (all[i] != i) fail_msg("byte order broken at value %u: got %u", i, all[i]);
  /* reading past the end is an error */
  assert_int_not_equal(ntw_spool_read(s, all, 4), 0);
  assert_non_null(strstr(ntw_error_msg(), "short"));
  /* truncate, then a new round starts at offset 0 */
  assert_int_equal(ntw_spool_truncate(s), 0);
  const uint32_t v[3] = {7, 8, 9};
  uint32_t *mine = malloc(sizeof v);
  assert_non_null(mine);
  memcpy(mine, v, sizeof v);
  void *b = mine;
  size_t c = sizeof v;
  assert_int_equal(ntw_spool_put(s, &b, &c, sizeof v), 0);
  assert_int_equal(ntw_spool_sync(s), 0);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal((int)sb.st_size, 12);
  uint32_t back[3];
  assert_int_equal(ntw_spool_rewind(s), 0);
  assert_int_equal(ntw_spool_read(s, back, sizeof back), 0);
  assert_memory_equal(back, v, sizeof v);
  if (b == (void *)mine) fail_msg("an idle spool must take the buffer, not copy it");
  free(b); /* the spool's spare buffer, ours now */
  /* close without removing keeps the file; with removing, it is gone */
  ntw_spool_close(&s, false);
  assert_null(s);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(ntw_spool_open(path, &s), 0);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal((int)sb.st_size, 0); /* open truncates */
  ntw_spool_close(&s, true);
  assert_int_not_equal(stat(path, &sb), 0);
  free(all);
  free(buf);
}

/* A writer that cannot write: the error reaches the caller, naming the file. */
static void test_disk_full(void **state) {
  (void)state;
  if (access("/dev/full", W_OK) != 0) skip();
  ntw_spool *s = NULL;
  assert_int_equal(ntw_spool_open("/dev/full", &s), 0);
  void *b = calloc(1, 1 << 16);
  size_t c = 1 << 16;
  assert_non_null(b);
  assert_int_equal(ntw_spool_put(s, &b, &c, c), 0);
  int err = ntw_spool_sync(s);
  assert_int_not_equal(err, 0);
  assert_non_null(strstr(ntw_error_msg(), "/dev/full"));
  /* and the next hand-over says so too */
  void *b2 = calloc(1, 16);
  size_t c2 = 16;
  assert_non_null(b2);
  assert_int_not_equal(ntw_spool_put(s, &b2, &c2, 16), 0);
  free(b2);
  free(b);
  ntw_spool_close(&s, false);
}

/* No file: one error naming it. */
static void test_bad_path(void **state) {
  (void)state;
  ntw_spool *s = NULL;
  assert_int_not_equal(ntw_spool_open("/no/such/dir/spool", &s), 0);
  assert_null(s);
  assert_non_null(strstr(ntw_error_msg(), "/no/such/dir/spool"));
  ntw_spool_close(&s, false); /* NULL-safe */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_roundtrip, setup),
      cmocka_unit_test(test_disk_full),
      cmocka_unit_test(test_bad_path),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

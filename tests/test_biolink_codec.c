/* tests/test_biolink_codec.c - io/biolink without sockets: the codec (round
 * trips, every malformed case, a mutation fuzzer), the receive rules of a
 * link (unknown channels, backwards times, sequence gaps, direction, log
 * lines), the dead-peer check and the clock fit. Serial, no MPI, no network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ntw_error.h"
#include "io/biolink.h"

/* MCS 60MEA: 8x8 grid without corners, 200 µm pitch, labels "12".."87". */
static ntw_bio_channel layout60[60];
static void make_layout60(void) {
  int k = 0;
  for (int c = 1; c <= 8; c++)
    for (int r = 1; r <= 8; r++) {
      if ((c == 1 || c == 8) && (r == 1 || r == 8)) continue;
      layout60[k].id = (uint16_t)(c * 10 + r);
      layout60[k].x_um = (float)((c - 1) * 200);
      layout60[k].y_um = (float)((r - 1) * 200);
      snprintf(layout60[k].label, sizeof layout60[k].label, "%d%d", c, r);
      k++;
    }
  assert_int_equal(k, 60);
}

static ntw_bio_msg hello_msg(uint64_t seq, uint64_t session) {
  ntw_bio_msg m = {.type = NTW_BIO_HELLO, .seq = seq, .t_sent_us = 1000 + seq};
  m.hello.stim_unit = NTW_BIO_UNIT_UA;
  m.hello.session = session;
  m.hello.sampling_hz = 25000.0;
  m.hello.n_channels = 60;
  m.hello.channels = layout60;
  return m;
}

/* Encode m into a fresh buffer (caller frees). */
static uint8_t *enc(const ntw_bio_msg *m, size_t *len) {
  size_t n = ntw_bio_encoded_size(m);
  assert_true(n >= NTW_BIO_HEADER_BYTES);
  uint8_t *b = malloc(n);
  assert_non_null(b);
  int rc = ntw_bio_encode(m, b, n, len);
  if (rc) fail_msg("encode: %s", ntw_error_msg());
  assert_int_equal(*len, n);
  return b;
}

static uint8_t *enc_spikes(uint64_t seq, const ntw_bio_event *ev, uint32_t n, size_t *len) {
  ntw_bio_msg m = {.type = NTW_BIO_SPIKES, .seq = seq, .t_sent_us = 5 * seq};
  m.spikes.n = n;
  m.spikes.events = (ntw_bio_event *)ev;
  return enc(&m, len);
}

static void put32le(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Decode must fail with `why` and a message naming `field`. */
static void expect_reject(const uint8_t *b, size_t len, size_t max, ntw_bio_reject want,
                          const char *field) {
  ntw_bio_msg out = {0};
  ntw_bio_reject why = NTW_BIO_ACCEPTED;
  ntw_error_clear();
  int rc = ntw_bio_decode(b, len, max, &out, &why);
  if (rc != NTW_ERR_FORMAT)
    fail_msg("expected a reject naming '%s', got rc %d (%s)", field, rc, ntw_error_msg());
  assert_int_equal(why, want);
  if (!strstr(ntw_error_msg(), field))
    fail_msg("message '%s' does not name '%s'", ntw_error_msg(), field);
  assert_null(strchr(ntw_error_msg(), '\n'));
  ntw_bio_msg_free(&out);
}

/* ---- round trips -------------------------------------------------------- */

static void roundtrip(const ntw_bio_msg *m, ntw_bio_msg *out) {
  size_t len;
  uint8_t *b = enc(m, &len);
  ntw_bio_reject why;
  int rc = ntw_bio_decode(b, len, 0, out, &why);
  if (rc) fail_msg("decode: %s", ntw_error_msg());
  assert_int_equal(why, NTW_BIO_ACCEPTED);
  assert_int_equal(out->version, NTW_BIO_VERSION);
  assert_int_equal(out->type, m->type);
  assert_true(out->seq == m->seq);
  assert_true(out->t_sent_us == m->t_sent_us);
  assert_int_equal(out->payload_len, len - NTW_BIO_HEADER_BYTES);
  /* Canonical: decoding then encoding gives the same bytes. */
  size_t len2;
  uint8_t *b2 = enc(out, &len2);
  assert_int_equal(len2, len);
  assert_memory_equal(b, b2, len);
  free(b);
  free(b2);
}

static void test_roundtrip_hello(void **state) {
  (void)state;
  ntw_bio_msg m = hello_msg(7, 0x1234567890abcdefull), out = {0};
  strcpy(layout60[3].label, "Ref \xc2\xb5"); /* UTF-8 is allowed */
  layout60[59].x_um = -12.5f;
  roundtrip(&m, &out);
  assert_int_equal(out.hello.version, 2);
  assert_int_equal(out.hello.stim_unit, NTW_BIO_UNIT_UA);
  assert_true(out.hello.session == 0x1234567890abcdefull);
  assert_true(out.hello.sampling_hz == 25000.0);
  assert_int_equal(out.hello.n_channels, 60);
  for (int i = 0; i < 60; i++) {
    assert_int_equal(out.hello.channels[i].id, layout60[i].id);
    assert_true(out.hello.channels[i].x_um == layout60[i].x_um);
    assert_true(out.hello.channels[i].y_um == layout60[i].y_um);
    assert_string_equal(out.hello.channels[i].label, layout60[i].label);
  }
  /* A 63-byte label is the longest allowed. */
  memset(layout60[0].label, 'A', 63);
  layout60[0].label[63] = '\0';
  m.hello.stim_unit = NTW_BIO_UNIT_MV;
  roundtrip(&m, &out);
  assert_int_equal(strlen(out.hello.channels[0].label), 63);
  assert_int_equal(out.hello.stim_unit, NTW_BIO_UNIT_MV);
  make_layout60();
  ntw_bio_msg_free(&out);
}

static void test_roundtrip_spikes_stim(void **state) {
  (void)state;
  ntw_bio_msg out = {0};
  ntw_bio_event ev[500];
  for (int i = 0; i < 500; i++)
    ev[i] = (ntw_bio_event){.channel = (uint16_t)(i * 7919 % 65536), .t_us = 1000 + 3 * (uint64_t)i};
  ev[499].t_us = UINT64_MAX;
  ntw_bio_msg m = {.type = NTW_BIO_SPIKES, .seq = UINT64_MAX - 1, .t_sent_us = 42};
  m.spikes.n = 500;
  m.spikes.events = ev;
  roundtrip(&m, &out);
  assert_int_equal(out.spikes.n, 500);
  for (int i = 0; i < 500; i++) {
    assert_int_equal(out.spikes.events[i].channel, ev[i].channel);
    assert_true(out.spikes.events[i].t_us == ev[i].t_us);
  }
  m.spikes.n = 0; /* an empty batch is valid */
  roundtrip(&m, &out);
  assert_int_equal(out.spikes.n, 0);

  ntw_bio_stim st[3] = {{.channel = 12, .t_us = 10, .amplitude = -1.5f, .duration_us = 200},
                        {.channel = 87, .t_us = 10, .amplitude = 0.0f, .duration_us = 0},
                        {.channel = 65535, .t_us = 99, .amplitude = 3e38f,
                         .duration_us = UINT32_MAX}};
  ntw_bio_msg s = {.type = NTW_BIO_STIM, .seq = 3, .t_sent_us = 77};
  s.stim.n = 3;
  s.stim.stims = st;
  roundtrip(&s, &out);
  assert_int_equal(out.stim.n, 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(out.stim.stims[i].channel, st[i].channel);
    assert_true(out.stim.stims[i].t_us == st[i].t_us);
    assert_true(out.stim.stims[i].amplitude == st[i].amplitude);
    assert_int_equal(out.stim.stims[i].duration_us, st[i].duration_us);
  }
  ntw_bio_msg_free(&out);
}

static void test_roundtrip_heartbeat_bye(void **state) {
  (void)state;
  ntw_bio_msg out = {0};
  ntw_bio_msg h = {.type = NTW_BIO_HEARTBEAT, .seq = 9, .t_sent_us = 123456789};
  h.heartbeat.echo_t_us = 5555;
  h.heartbeat.hold_us = 17;
  roundtrip(&h, &out);
  assert_true(out.heartbeat.echo_t_us == 5555 && out.heartbeat.hold_us == 17);
  h.heartbeat.echo_t_us = NTW_BIO_NO_ECHO;
  roundtrip(&h, &out);
  assert_true(out.heartbeat.echo_t_us == NTW_BIO_NO_ECHO);
  ntw_bio_msg y = {.type = NTW_BIO_BYE, .seq = 10, .t_sent_us = 1};
  y.bye.reason = 1;
  roundtrip(&y, &out);
  assert_int_equal(out.bye.reason, 1);
  ntw_bio_msg_free(&out);
}

/* The exact bytes of a small SPIKES message, as BIOLINK.md lays them out. */
static void test_wire_bytes(void **state) {
  (void)state;
  ntw_bio_event ev[1] = {{.channel = 0x0102, .t_us = 0x0a0b0c0d0e0f1011ull}};
  ntw_bio_msg m = {.type = NTW_BIO_SPIKES, .seq = 0x1122334455667788ull, .t_sent_us = 0x99};
  m.spikes.complete_us = 0x2122232425262728ull;
  m.spikes.n = 1;
  m.spikes.events = ev;
  size_t len;
  uint8_t *b = enc(&m, &len);
  static const uint8_t want[] = {
      'N', 'T', 'W', 'B', 2, 0, 2, 0,                    /* magic, version, type */
      0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,    /* seq */
      0x99, 0, 0, 0, 0, 0, 0, 0,                         /* t_sent_us */
      22, 0, 0, 0,                                       /* payload_len */
      0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21,    /* complete_us */
      1, 0, 0, 0,                                        /* count */
      0x02, 0x01, 0x11, 0x10, 0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a}; /* event */
  assert_int_equal(len, sizeof want);
  assert_memory_equal(b, want, sizeof want);
  free(b);
}

/* ---- malformed ---------------------------------------------------------- */

static void test_malformed_header(void **state) {
  (void)state;
  ntw_bio_event ev[3] = {{1, 10}, {2, 20}, {3, 30}};
  size_t len;
  uint8_t *b = enc_spikes(1, ev, 3, &len);
  uint8_t *c = malloc(len + 64);
  assert_non_null(c);

  expect_reject(b, 0, 0, NTW_BIO_MALFORMED, "empty");
  expect_reject(b, 10, 0, NTW_BIO_MALFORMED, "header: truncated");
  memcpy(c, b, len);
  c[3] = 'C';
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "header.magic");
  memcpy(c, b, len);
  c[4] = 1; /* version 1 SPIKES had no watermark */
  expect_reject(c, len, 0, NTW_BIO_WRONG_VERSION, "header.version");
  c[4] = 3;
  expect_reject(c, len, 0, NTW_BIO_WRONG_VERSION, "header.version");
  c[4] = 0;
  expect_reject(c, len, 0, NTW_BIO_WRONG_VERSION, "header.version");
  memcpy(c, b, len);
  c[6] = 9;
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "header.type");
  c[6] = 0;
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "header.type");
  /* Truncated payload: the frame ends one byte early. */
  expect_reject(b, len - 1, 0, NTW_BIO_MALFORMED, "header.payload_len");
  /* Length field larger than the frame. */
  memcpy(c, b, len);
  put32le(c + 24, (uint32_t)(len - NTW_BIO_HEADER_BYTES + 5));
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "header.payload_len");
  put32le(c + 24, UINT32_MAX);
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "header.payload_len");
  /* Trailing bytes after the declared payload. */
  memcpy(c, b, len);
  c[len] = 0;
  expect_reject(c, len + 1, 0, NTW_BIO_MALFORMED, "header.payload_len");
  /* Oversized: a limit smaller than the frame; exactly the frame size passes. */
  expect_reject(b, len, len - 1, NTW_BIO_OVERSIZED, "maximum");
  ntw_bio_msg out = {0};
  ntw_bio_reject why;
  assert_int_equal(ntw_bio_decode(b, len, len, &out, &why), 0);
  ntw_bio_msg_free(&out);
  free(b);
  free(c);
}

static void test_malformed_payload(void **state) {
  (void)state;
  size_t len;
  /* count inconsistent with length (one more, one fewer) */
  ntw_bio_event ev[3] = {{1, 10}, {2, 20}, {3, 30}};
  uint8_t *b = enc_spikes(1, ev, 3, &len);
  put32le(b + 36, 4); /* count follows the 8-byte complete_us */
  expect_reject(b, len, 0, NTW_BIO_MALFORMED, "spikes.count");
  put32le(b + 36, 2);
  expect_reject(b, len, 0, NTW_BIO_MALFORMED, "spikes.count");
  put32le(b + 36, UINT32_MAX);
  expect_reject(b, len, 0, NTW_BIO_MALFORMED, "spikes.count");
  /* a payload too short for the watermark and count */
  put32le(b + 24, 10);
  expect_reject(b, 28 + 10, 0, NTW_BIO_MALFORMED, "spikes.count: missing");
  free(b);
  /* a batch out of time order */
  ntw_bio_event uns[3] = {{1, 10}, {2, 30}, {3, 20}};
  b = enc_spikes(1, ev, 3, &len);
  memcpy(b + 28 + 12 + 2 * 10, (uint8_t[]){3, 0, 5, 0, 0, 0, 0, 0, 0, 0}, 10);
  expect_reject(b, len, 0, NTW_BIO_MALFORMED, "spikes.events[2].t_us");
  free(b);
  ntw_bio_msg m = {.type = NTW_BIO_SPIKES, .spikes = {.n = 3, .events = uns}};
  uint8_t buf[256];
  assert_int_equal(ntw_bio_encode(&m, buf, sizeof buf, &len), NTW_ERR_ARG);

  /* STIM: count, non-finite amplitude */
  ntw_bio_stim st[2] = {{1, 10, 1.0f, 100}, {2, 20, 2.0f, 100}};
  ntw_bio_msg s = {.type = NTW_BIO_STIM, .stim = {2, st}};
  b = enc(&s, &len);
  put32le(b + 28, 3);
  expect_reject(b, len, 0, NTW_BIO_MALFORMED, "stim.count");
  put32le(b + 28, 2);
  put32le(b + 28 + 4 + 18 + 10, 0x7fc00000u); /* NaN */
  expect_reject(b, len, 0, NTW_BIO_MALFORMED, "stim.commands[1].amplitude");
  put32le(b + 28 + 4 + 18 + 10, 0x7f800000u); /* +inf */
  expect_reject(b, len, 0, NTW_BIO_MALFORMED, "stim.commands[1].amplitude");
  free(b);

  /* HEARTBEAT and BYE have fixed sizes. */
  ntw_bio_msg h = {.type = NTW_BIO_HEARTBEAT};
  b = enc(&h, &len);
  put32le(b + 24, 8);
  expect_reject(b, len - 8, 0, NTW_BIO_MALFORMED, "heartbeat");
  free(b);
  ntw_bio_msg y = {.type = NTW_BIO_BYE};
  b = enc(&y, &len);
  put32le(b + 24, 0);
  expect_reject(b, len - 4, 0, NTW_BIO_MALFORMED, "bye");
  free(b);
}

static void test_malformed_hello(void **state) {
  (void)state;
  ntw_bio_msg m = hello_msg(0, 1);
  size_t len;
  uint8_t *b = enc(&m, &len), *c = malloc(len + 8);
  assert_non_null(c);
  const size_t P = NTW_BIO_HEADER_BYTES; /* payload start */
#define FRESH() memcpy(c, b, len)
  FRESH();
  c[P] = 1; /* hello.version (header.version is 2) */
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "hello.version");
  FRESH();
  c[P + 2] = 7;
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "hello.stim_unit");
  FRESH();
  memset(c + P + 12, 0, 8); /* sampling_hz = 0 */
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "hello.sampling_hz");
  FRESH();
  memset(c + P + 12, 0xff, 8); /* NaN */
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "hello.sampling_hz");
  FRESH();
  put32le(c + P + 20, 0);
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "hello.n_channels");
  FRESH();
  put32le(c + P + 20, 61); /* more channels than bytes for them */
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "hello.channels[60]");
  FRESH();
  put32le(c + P + 20, 1000);
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "hello.n_channels");
  FRESH();
  put32le(c + P + 20, 59); /* fewer: trailing bytes */
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "after the last channel");
  /* channel 0 starts at P + 24: id(2) x(4) y(4) label_len(1) label */
  FRESH();
  c[P + 24 + 10] = 64;
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "hello.channels[0].label_len");
  FRESH();
  c[P + 24 + 11] = '\n';
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "hello.channels[0].label");
  FRESH();
  put32le(c + P + 24 + 2, 0x7f800000u);
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "hello.channels[0]: x_um");
  FRESH();
  c[P + 24] = (uint8_t)layout60[1].id; /* channel 0 takes channel 1's id */
  expect_reject(c, len, 0, NTW_BIO_MALFORMED, "hello.channels[1].id");
  FRESH();
  c[P + 24 + 10] = 60; /* label runs past the end */
  put32le(c + P + 20, 1);
  expect_reject(c, 28 + 24 + 11 + 5, 0, NTW_BIO_MALFORMED, "header.payload_len");
  put32le(c + 24, 24 + 11 + 5);
  expect_reject(c, 28 + 24 + 11 + 5, 0, NTW_BIO_MALFORMED, "hello.channels[0].label");
  expect_reject(c, P + 10, 0, NTW_BIO_MALFORMED, "header.payload_len");
#undef FRESH
  /* The encoder refuses what the decoder would refuse. */
  uint8_t big[4096];
  size_t l2;
  layout60[5].id = layout60[4].id;
  assert_int_equal(ntw_bio_encode(&m, big, sizeof big, &l2), NTW_ERR_ARG);
  assert_non_null(strstr(ntw_error_msg(), "appears twice"));
  make_layout60();
  memset(layout60[2].label, 'x', sizeof layout60[2].label); /* no NUL in 64 */
  assert_int_equal(ntw_bio_encode(&m, big, sizeof big, &l2), NTW_ERR_ARG);
  make_layout60();
  free(b);
  free(c);
}

/* ---- random input ------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void test_random_bytes(void **state) {
  (void)state;
  uint8_t buf[512];
  ntw_bio_msg out = {0};
  for (int it = 0; it < 5000; it++) {
    size_t len = rnd() % sizeof buf;
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)rnd();
    if (it % 2) memcpy(buf, "NTWB\x01\x00", len < 6 ? len : 6); /* get past magic */
    ntw_bio_reject why;
    int rc = ntw_bio_decode(buf, len, 0, &out, &why);
    assert_true(rc == 0 || rc == NTW_ERR_FORMAT);
    if (rc) assert_true(why != NTW_BIO_ACCEPTED);
  }
  ntw_bio_msg_free(&out);
}

static void log_count(void *ctx, const char *line) {
  (*(int *)ctx)++;
  if (getenv("BIOLINK_TEST_LOG")) fprintf(stderr, "log: %s\n", line);
}

/* Mutations of valid frames: the decoder never crashes and either returns a
 * message that re-encodes to the same bytes, or a reject; a link fed the
 * same frames counts each one exactly once (accepted or in one counter). */
static void test_fuzz_mutations(void **state) {
  (void)state;
  ntw_bio_event ev[40];
  for (int i = 0; i < 40; i++)
    ev[i] = (ntw_bio_event){.channel = layout60[i % 60].id, .t_us = 100000 + 25 * (uint64_t)i};
  ntw_bio_stim st[4] = {{12, 5, 1.f, 100}, {13, 6, 2.f, 100}, {14, 7, 3.f, 1}, {87, 8, -4.f, 2}};
  ntw_bio_msg base[5] = {hello_msg(0, 77)};
  base[1] = (ntw_bio_msg){.type = NTW_BIO_SPIKES, .seq = 1, .spikes = {.n = 40, .events = ev}};
  base[2] = (ntw_bio_msg){.type = NTW_BIO_STIM, .seq = 2, .stim = {4, st}};
  base[3] = (ntw_bio_msg){.type = NTW_BIO_HEARTBEAT, .seq = 3, .heartbeat = {100, 3}};
  base[4] = (ntw_bio_msg){.type = NTW_BIO_BYE, .seq = 4};
  uint8_t *frame[5];
  size_t flen[5];
  for (int i = 0; i < 5; i++) frame[i] = enc(&base[i], &flen[i]);

  int lines = 0;
  ntw_bio_opts o;
  ntw_bio_opts_default(&o);
  o.max_msg_bytes = 860; /* the HELLO is 832 bytes: growth can overflow */
  o.log = log_count;
  o.log_ctx = &lines;
  ntw_biolink *twin = NULL, *bio = NULL;
  assert_int_equal(ntw_biolink_open_detached(NTW_BIO_SIDE_TWIN, &o, &twin), 0);
  assert_int_equal(ntw_biolink_open_detached(NTW_BIO_SIDE_BIO, &o, &bio), 0);
  ntw_bio_msg out = {0}, out2 = {0};
  assert_int_equal(ntw_biolink_feed(twin, frame[0], flen[0], &out), 1);

  enum { N = 20000, CAP = 2048 };
  uint8_t *buf = malloc(CAP);
  assert_non_null(buf);
  int accepted = 0, rejected = 0;
  for (int it = 0; it < N; it++) {
    int k = (int)(rnd() % 5);
    size_t len = flen[k];
    memcpy(buf, frame[k], len);
    int nmut = 1 + (int)(rnd() % 3);
    for (int j = 0; j < nmut; j++) {
      switch (rnd() % 7) {
      case 0: buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8)); break; /* bit flip */
      case 1: buf[rnd() % len] = (uint8_t)rnd(); break;                /* byte */
      case 2: len = rnd() % (len + 1); break;                         /* truncate */
      case 3: { /* extend */
        size_t add = rnd() % 64;
        if (len + add > CAP) add = CAP - len;
        for (size_t i = 0; i < add; i++) buf[len + i] = (uint8_t)rnd();
        len += add;
        break;
      }
      case 4: /* a plausible but wrong length or count field */
        if (len >= 32) put32le(buf + (rnd() % 2 ? 24 : 28), (uint32_t)(rnd() % 2000));
        break;
      case 5: /* header field bytes (version/type/seq) */
        if (len >= 28) buf[4 + rnd() % 24] = (uint8_t)rnd();
        break;
      case 6: /* move a chunk (keeps the length) */
        if (len > 40) {
          size_t a = rnd() % (len - 16), d = rnd() % (len - 16);
          memmove(buf + d, buf + a, 16);
        }
        break;
      }
      if (len == 0) break;
    }
    ntw_bio_reject why;
    int rc = ntw_bio_decode(buf, len, o.max_msg_bytes, &out, &why);
    assert_true(rc == 0 || rc == NTW_ERR_FORMAT);
    if (rc == 0) {
      accepted++;
      assert_int_equal(why, NTW_BIO_ACCEPTED);
      size_t len2 = ntw_bio_encoded_size(&out);
      assert_int_equal(len2, len);
      uint8_t *b2 = enc(&out, &len2);
      assert_memory_equal(b2, buf, len);
      free(b2);
    } else {
      rejected++;
      assert_true(why == NTW_BIO_MALFORMED || why == NTW_BIO_WRONG_VERSION ||
                  why == NTW_BIO_OVERSIZED);
      assert_true(ntw_error_msg()[0] != '\0');
    }
    /* Through both links: exactly one counter moves per frame. */
    ntw_biolink *links[2] = {twin, bio};
    for (int s = 0; s < 2; s++) {
      ntw_bio_stats a = *ntw_biolink_stats(links[s]);
      int fr = ntw_biolink_feed(links[s], buf, len, &out2);
      const ntw_bio_stats *z = ntw_biolink_stats(links[s]);
      uint64_t moved = (z->msgs_rx - a.msgs_rx) + (z->malformed - a.malformed) +
                       (z->wrong_version - a.wrong_version) + (z->oversized - a.oversized);
      assert_int_equal(moved, 1);
      assert_int_equal(fr, (int)(z->msgs_rx - a.msgs_rx));
      if (rc != 0) assert_int_equal(fr, 0); /* the link never accepts more */
    }
  }
  /* Not vacuous: both outcomes were exercised. */
  assert_true(accepted > N / 20);
  assert_true(rejected > N / 4);
  print_message("fuzz: %d mutated frames, %d decoded, %d rejected; %d log lines\n", N,
                accepted, rejected, lines);
  /* The logger is rate-limited (1st, 10th, 100th, ... of each kind). */
  assert_true(lines < 200);
  for (int i = 0; i < 5; i++) free(frame[i]);
  free(buf);
  ntw_bio_msg_free(&out);
  ntw_bio_msg_free(&out2);
  ntw_biolink_close(&twin);
  ntw_biolink_close(&bio);
  assert_null(twin);
}

/* ---- link receive rules ------------------------------------------------- */

typedef struct {
  int n;
  char last[1200];
} logcap;
static void log_capture(void *ctx, const char *line) {
  logcap *c = ctx;
  c->n++;
  snprintf(c->last, sizeof c->last, "%s", line);
}

static ntw_biolink *twin_detached(logcap *cap) {
  ntw_bio_opts o;
  ntw_bio_opts_default(&o);
  o.log = log_capture;
  o.log_ctx = cap;
  ntw_biolink *l = NULL;
  assert_int_equal(ntw_biolink_open_detached(NTW_BIO_SIDE_TWIN, &o, &l), 0);
  return l;
}

static int feed_msg(ntw_biolink *l, const ntw_bio_msg *m, ntw_bio_msg *out) {
  size_t len;
  uint8_t *b = enc(m, &len);
  int rc = ntw_biolink_feed(l, b, len, out);
  free(b);
  return rc;
}

static int feed_spikes_wm(ntw_biolink *l, uint64_t seq, const ntw_bio_event *ev, uint32_t n,
                          uint64_t complete_us, ntw_bio_msg *out) {
  ntw_bio_msg m = {.type = NTW_BIO_SPIKES, .seq = seq,
                   .spikes = {.complete_us = complete_us, .n = n, .events = (ntw_bio_event *)ev}};
  return feed_msg(l, &m, out);
}

static int feed_spikes(ntw_biolink *l, uint64_t seq, const ntw_bio_event *ev, uint32_t n,
                       ntw_bio_msg *out) {
  return feed_spikes_wm(l, seq, ev, n, 0, out);
}

static void test_unknown_channel_and_backwards(void **state) {
  (void)state;
  logcap cap = {0};
  ntw_biolink *l = twin_detached(&cap);
  ntw_bio_msg out = {0};
  /* Before any HELLO every channel is unknown. */
  ntw_bio_event e0[2] = {{12, 5}, {13, 6}};
  assert_int_equal(feed_spikes(l, 0, e0, 2, &out), 1);
  assert_int_equal(out.spikes.n, 0);
  assert_int_equal(ntw_biolink_stats(l)->unknown_channel, 2);
  assert_non_null(strstr(cap.last, "channel 12"));

  ntw_bio_msg h = hello_msg(1, 5);
  assert_int_equal(feed_msg(l, &h, &out), 1);
  assert_non_null(ntw_biolink_hello(l));
  ntw_bio_event e1[5] = {{12, 100}, {999, 110}, {13, 110}, {11, 115}, {12, 120}};
  assert_int_equal(feed_spikes(l, 2, e1, 5, &out), 1);
  assert_int_equal(out.spikes.n, 3); /* 999 is not an MEA60 channel; 11 is a corner */
  assert_int_equal(ntw_biolink_stats(l)->unknown_channel, 4);
  assert_int_equal(out.spikes.events[0].t_us, 100);
  assert_int_equal(out.spikes.events[1].t_us, 110);
  assert_int_equal(out.spikes.events[1].channel, 13);
  assert_int_equal(out.spikes.events[2].t_us, 120);
  /* Channel 12 last at 120: 115 and 120 are backwards/equal, 13 is fine. */
  ntw_bio_event e2[4] = {{12, 115}, {13, 115}, {12, 120}, {12, 130}};
  assert_int_equal(feed_spikes(l, 3, e2, 4, &out), 1);
  assert_int_equal(out.spikes.n, 2);
  assert_int_equal(out.spikes.events[0].channel, 13);
  assert_int_equal(out.spikes.events[1].t_us, 130);
  const ntw_bio_stats *st = ntw_biolink_stats(l);
  assert_int_equal(st->non_monotonic, 2);
  assert_int_equal(st->events_rx, 5);
  assert_int_equal(st->malformed, 0);
  assert_non_null(strstr(cap.last, "non_monotonic"));
  ntw_biolink_close(&l);
  ntw_bio_msg_free(&out);
}

/* The watermark (SPIKES.complete_us): the highest of the session is kept; a
 * lower one is ignored and counted; 0 promises nothing; an event stamped
 * before a watermark already received is kept but counted (the peer broke
 * its promise); a new session starts from no watermark. */
static void test_watermark(void **state) {
  (void)state;
  logcap cap = {0};
  ntw_biolink *l = twin_detached(&cap);
  ntw_bio_msg out = {0};
  ntw_bio_msg h = hello_msg(1, 5);
  assert_int_equal(feed_msg(l, &h, &out), 1);
  assert_int_equal(ntw_biolink_stats(l)->watermark_us, 0);
  ntw_bio_event e1[2] = {{12, 100}, {13, 150}};
  assert_int_equal(feed_spikes_wm(l, 2, e1, 2, 200, &out), 1);
  assert_true(out.spikes.complete_us == 200);
  assert_int_equal(ntw_biolink_stats(l)->watermark_us, 200);
  /* An empty batch moves it on; 0 leaves it. */
  assert_int_equal(feed_spikes_wm(l, 3, NULL, 0, 300, &out), 1);
  assert_int_equal(ntw_biolink_stats(l)->watermark_us, 300);
  assert_int_equal(feed_spikes_wm(l, 4, NULL, 0, 0, &out), 1);
  assert_int_equal(ntw_biolink_stats(l)->watermark_us, 300);
  assert_int_equal(ntw_biolink_stats(l)->watermark_backwards, 0);
  /* Backwards: ignored, counted, one log line naming the field. */
  assert_int_equal(feed_spikes_wm(l, 5, NULL, 0, 250, &out), 1);
  assert_int_equal(ntw_biolink_stats(l)->watermark_us, 300);
  assert_int_equal(ntw_biolink_stats(l)->watermark_backwards, 1);
  assert_non_null(strstr(cap.last, "spikes.complete_us"));
  /* A broken promise: 290 < 300 arrives after the watermark; kept. */
  ntw_bio_event e2[2] = {{14, 290}, {15, 310}};
  assert_int_equal(feed_spikes_wm(l, 6, e2, 2, 400, &out), 1);
  assert_int_equal(out.spikes.n, 2);
  assert_int_equal(ntw_biolink_stats(l)->after_watermark, 1);
  assert_non_null(strstr(cap.last, "after_watermark"));
  assert_int_equal(ntw_biolink_stats(l)->watermark_us, 400);
  /* A restarted biology (new session): no watermark until it sends one. */
  ntw_bio_msg h2 = hello_msg(1, 6);
  assert_int_equal(feed_msg(l, &h2, &out), 1);
  assert_int_equal(ntw_biolink_stats(l)->watermark_us, 0);
  ntw_bio_event e3[1] = {{12, 10}};
  assert_int_equal(feed_spikes_wm(l, 2, e3, 1, 20, &out), 1);
  assert_int_equal(ntw_biolink_stats(l)->watermark_us, 20);
  assert_int_equal(ntw_biolink_stats(l)->after_watermark, 1);
  ntw_biolink_close(&l);
  ntw_bio_msg_free(&out);
}

static void test_sequence_and_sessions(void **state) {
  (void)state;
  logcap cap = {0};
  ntw_biolink *l = twin_detached(&cap);
  ntw_bio_msg out = {0};
  ntw_bio_msg h = hello_msg(0, 5);
  assert_int_equal(feed_msg(l, &h, &out), 1);
  ntw_bio_event e[1] = {{12, 1}};
  uint64_t seqs[] = {1, 5, 3, 4, 4, 10};
  for (size_t i = 0; i < sizeof seqs / sizeof *seqs; i++) {
    e[0].t_us = 10 + i;
    assert_int_equal(feed_spikes(l, seqs[i], e, 1, &out), 1);
  }
  const ntw_bio_stats *st = ntw_biolink_stats(l);
  assert_int_equal(st->lost, 3 + 5);   /* 2,3,4 then 5..9 */
  assert_int_equal(st->seq_resets, 2); /* 5 -> 3, 4 -> 4 */
  assert_int_equal(st->sessions, 1);
  assert_true(cap.n >= 2);
  assert_non_null(strstr(cap.last, "sequence"));
  /* A new session restarts the sequence and the channels' last times. */
  h = hello_msg(0, 6);
  assert_int_equal(feed_msg(l, &h, &out), 1);
  e[0].t_us = 1;
  assert_int_equal(feed_spikes(l, 1, e, 1, &out), 1);
  assert_int_equal(out.spikes.n, 1);
  assert_int_equal(st->sessions, 2);
  assert_int_equal(st->lost, 8);
  assert_int_equal(st->seq_resets, 2);
  assert_int_equal(st->non_monotonic, 0);
  /* A periodic HELLO of the same session changes nothing. */
  h = hello_msg(2, 6);
  assert_int_equal(feed_msg(l, &h, &out), 1);
  e[0].t_us = 1;
  assert_int_equal(feed_spikes(l, 3, e, 1, &out), 1);
  assert_int_equal(out.spikes.n, 0);
  assert_int_equal(st->non_monotonic, 1);
  assert_int_equal(st->sessions, 2);
  assert_int_equal(st->hellos_rx, 3);
  ntw_biolink_close(&l);
  ntw_bio_msg_free(&out);
}

static void test_direction_and_log_lines(void **state) {
  (void)state;
  logcap cap = {0};
  ntw_biolink *l = twin_detached(&cap);
  ntw_bio_msg out = {0};
  ntw_bio_stim st[1] = {{12, 1, 1.f, 1}};
  ntw_bio_msg s = {.type = NTW_BIO_STIM, .stim = {1, st}};
  assert_int_equal(feed_msg(l, &s, &out), 0);
  assert_int_equal(ntw_biolink_stats(l)->wrong_direction, 1);
  assert_int_equal(ntw_biolink_stats(l)->malformed, 1);
  assert_non_null(strstr(cap.last, "header.type"));

  /* Wrong version: counted, one line naming the field, the 1st and 10th. */
  ntw_bio_msg hb = {.type = NTW_BIO_HEARTBEAT};
  size_t len;
  uint8_t *b = enc(&hb, &len);
  b[4] = 1; /* a version-1 peer */
  cap.n = 0;
  for (int i = 0; i < 12; i++) assert_int_equal(ntw_biolink_feed(l, b, len, &out), 0);
  assert_int_equal(ntw_biolink_stats(l)->wrong_version, 12);
  assert_int_equal(cap.n, 2);
  assert_non_null(strstr(cap.last, "header.version"));
  assert_non_null(strstr(cap.last, "wrong_version #10"));
  assert_null(strchr(cap.last, '\n'));
  assert_int_equal(ntw_biolink_stats(l)->msgs_rx, 0);
  free(b);
  ntw_biolink_close(&l);

  /* The bio side refuses SPIKES and HELLO; the twin cannot send them. */
  ntw_bio_opts o;
  ntw_bio_opts_default(&o);
  o.log = log_capture;
  o.log_ctx = &cap;
  assert_int_equal(ntw_biolink_open_detached(NTW_BIO_SIDE_BIO, &o, &l), 0);
  ntw_bio_event e[1] = {{12, 1}};
  assert_int_equal(feed_spikes(l, 0, e, 1, &out), 0);
  assert_int_equal(ntw_biolink_stats(l)->wrong_direction, 1);
  assert_int_equal(ntw_biolink_send_stim(l, st, 1), NTW_ERR_ARG);
  ntw_biolink_close(&l);
  ntw_bio_msg_free(&out);
}

static void test_send_checks(void **state) {
  (void)state;
  ntw_bio_opts o;
  ntw_bio_opts_default(&o);
  o.max_msg_bytes = 1000;
  o.log = log_count;
  int lines = 0;
  o.log_ctx = &lines;
  ntw_biolink *l = NULL;
  assert_int_equal(ntw_biolink_open_detached(NTW_BIO_SIDE_BIO, &o, &l), 0);
  ntw_bio_event ev[200];
  for (int i = 0; i < 200; i++) ev[i] = (ntw_bio_event){12, (uint64_t)i};
  /* 200 events = 2040 bytes > 1000: refused, nothing spent. */
  assert_int_equal(ntw_biolink_send_spikes(l, ev, 200, 0), NTW_ERR_ARG);
  assert_non_null(strstr(ntw_error_msg(), "max_msg_bytes"));
  ev[1].t_us = 0;
  ev[0].t_us = 5;
  assert_int_equal(ntw_biolink_send_spikes(l, ev, 2, 0), NTW_ERR_ARG);
  assert_int_equal(ntw_biolink_stats(l)->dropped, 0);
  /* Detached: a valid send is counted as dropped and spends one seq. */
  assert_int_equal(ntw_biolink_send_spikes(l, ev + 2, 50, 0), 1);
  assert_int_equal(ntw_biolink_stats(l)->dropped, 1);
  assert_int_equal(ntw_biolink_stats(l)->dropped_events, 50);
  layout60[1].id = layout60[0].id;
  assert_int_equal(ntw_biolink_send_hello(l, 25000, NTW_BIO_UNIT_UA, layout60, 60), NTW_ERR_ARG);
  assert_null(ntw_biolink_hello(l));
  make_layout60();
  assert_int_equal(ntw_biolink_send_hello(l, 0, NTW_BIO_UNIT_UA, layout60, 60), NTW_ERR_ARG);
  assert_int_equal(ntw_biolink_send_hello(l, 25000, NTW_BIO_UNIT_UA, layout60, 60), 1);
  assert_non_null(ntw_biolink_hello(l));
  assert_int_equal(ntw_biolink_hello(l)->hello.n_channels, 60);
  ntw_biolink_close(&l);
  ntw_biolink_close(&l); /* NULL-safe */
}

/* ---- dead peer and clock ------------------------------------------------ */

static uint64_t fake_now;
static uint64_t fake_clock(void *ctx) {
  (void)ctx;
  return fake_now;
}

static void test_peer_silent(void **state) {
  (void)state;
  ntw_bio_opts o;
  ntw_bio_opts_default(&o);
  o.clock = fake_clock;
  o.log = log_count;
  int lines = 0;
  o.log_ctx = &lines;
  fake_now = 1000;
  ntw_biolink *l = NULL;
  assert_int_equal(ntw_biolink_open_detached(NTW_BIO_SIDE_TWIN, &o, &l), 0);
  assert_false(ntw_biolink_peer_silent(l, 1500, 1000));
  assert_true(ntw_biolink_peer_silent(l, 2001, 1000));
  fake_now = 5000;
  ntw_bio_msg out = {0}, hb = {.type = NTW_BIO_HEARTBEAT, .heartbeat = {NTW_BIO_NO_ECHO, 0}};
  assert_int_equal(feed_msg(l, &hb, &out), 1);
  assert_true(ntw_biolink_stats(l)->have_heartbeat);
  assert_int_equal(ntw_biolink_stats(l)->last_heartbeat_us, 5000);
  assert_false(ntw_biolink_peer_silent(l, 5900, 1000));
  assert_false(ntw_biolink_peer_silent(l, 6000, 1000));
  assert_true(ntw_biolink_peer_silent(l, 6001, 1000));
  /* A malformed frame is no sign of life. */
  fake_now = 6500;
  uint8_t junk[40] = {0};
  assert_int_equal(ntw_biolink_feed(l, junk, sizeof junk, &out), 0);
  assert_true(ntw_biolink_peer_silent(l, 6500, 1000));
  ntw_bio_msg bye = {.type = NTW_BIO_BYE, .seq = 1};
  assert_int_equal(feed_msg(l, &bye, &out), 1);
  assert_true(ntw_biolink_peer_silent(l, 6500, 1000000));
  ntw_biolink_close(&l);
  ntw_bio_msg_free(&out);
}

/* Synthetic heartbeats: the peer's clock s = 5 s + 1.0001 t, received at
 * r = t + d with d = 100 µs + uniform jitter in [0, 60) µs, every 100 ms for
 * 60 s. The fit sees y = s - r = 5e6 - 1.0001 d + 1e-4 r, so it must return
 * the drift (100 ppm) and an offset of 5e6 - 1.0001 E[d]; the standard error
 * of the slope is 17 µs / (60 s sqrt(600/12)) = 0.04 ppm, of the offset
 * about 1.4 µs. A round trip of 2 x 130 µs corrects the offset to 5 s. */
static void test_clockfit_synthetic(void **state) {
  (void)state;
  static ntw_bio_clockfit f;
  ntw_bio_clockfit_reset(&f);
  double off = 0, drift = 0, dsum = 0;
  assert_int_equal(ntw_bio_clockfit_get(&f, &off, &drift), 0);
  for (int i = 0; i < 600; i++) {
    double t = 1e6 + i * 1e5;
    double d = 100 + (double)(rnd() % 60000) / 1000.0;
    dsum += d;
    ntw_bio_clockfit_add(&f, (uint64_t)llround(5e6 + 1.0001 * t), (uint64_t)llround(t + d));
  }
  assert_int_equal(ntw_bio_clockfit_get(&f, &off, &drift), 600);
  double want = 5e6 - 1.0001 * dsum / 600;
  print_message("clockfit: offset %.2f us (want %.2f), drift %.4f ppm (want 100)\n", off,
                want, drift);
  assert_true(fabs(drift - 100.0) < 0.3);
  assert_true(fabs(off - want) < 10.0);

  /* Large clocks (a day of µs), no noise: exact to rounding. */
  ntw_bio_clockfit_reset(&f);
  for (int i = 0; i < 1000; i++) {
    uint64_t r = 86400000000ull + (uint64_t)i * 1000000ull;
    ntw_bio_clockfit_add(&f, (uint64_t)llround(5e6 + 1.0001 * (double)r), r);
  }
  assert_int_equal(ntw_bio_clockfit_get(&f, &off, &drift), 1000);
  assert_true(fabs(drift - 100.0) < 1e-3);
  assert_true(fabs(off - 5e6) < 2.0);
  /* Heavy tail: 3% of heartbeats delayed by 2-20 ms; the trimmed fit
   * ignores them (a plain fit would be off by tens of µs and ~0.1 ppm). */
  ntw_bio_clockfit_reset(&f);
  for (int i = 0; i < 3000; i++) {
    double t = i * 1e6;
    double d = 50 + (double)(rnd() % 10000) / 1000.0;
    if (rnd() % 100 < 3) d += 2000 + (double)(rnd() % 18000) * (i > 1500 ? 1 : 0.1);
    ntw_bio_clockfit_add(&f, (uint64_t)llround(5e6 + 1.0001 * t), (uint64_t)llround(t + d));
  }
  int used = ntw_bio_clockfit_get(&f, &off, &drift);
  print_message("clockfit, heavy tail: offset %.2f us, drift %.5f ppm, %d of 3000 kept\n",
                off, drift, used);
  assert_true(used > 2800 && used < 2950);
  assert_true(fabs(drift - 100.0) < 0.01);
  assert_true(fabs(off - (5e6 - 55 * 1.0001)) < 5.0);
  /* The window keeps the last NTW_BIO_CLOCK_WINDOW pairs: a drift change
   * long ago is forgotten. */
  ntw_bio_clockfit_reset(&f);
  for (int i = 0; i < 2 * NTW_BIO_CLOCK_WINDOW; i++) {
    double t = i * 1e6, rate = i < NTW_BIO_CLOCK_WINDOW ? 1.0 : 1.00005;
    ntw_bio_clockfit_add(&f, (uint64_t)llround(1e6 + rate * t), (uint64_t)llround(t));
  }
  assert_int_equal(ntw_bio_clockfit_get(&f, &off, &drift), NTW_BIO_CLOCK_WINDOW);
  assert_true(fabs(drift - 50.0) < 1e-3);
  /* One point: offset only. */
  ntw_bio_clockfit_reset(&f);
  ntw_bio_clockfit_add(&f, 7000, 1000);
  assert_int_equal(ntw_bio_clockfit_get(&f, &off, &drift), 1);
  assert_true(off == 6000 && drift == 0);
}

/* The link: heartbeats with echoes give the round trip, and the estimate
 * adds half of its minimum to the fitted offset. Exact arithmetic here. */
static void test_link_clock_rtt(void **state) {
  (void)state;
  ntw_bio_opts o;
  ntw_bio_opts_default(&o);
  o.clock = fake_clock;
  o.log = log_count;
  int lines = 0;
  o.log_ctx = &lines;
  fake_now = 0;
  ntw_biolink *l = NULL;
  assert_int_equal(ntw_biolink_open_detached(NTW_BIO_SIDE_TWIN, &o, &l), 0);
  double off = -1, drift = -1;
  assert_int_equal(ntw_biolink_clock_estimate(l, &off, &drift), 0);
  assert_true(off == -1 && drift == -1);
  ntw_bio_msg out = {0};
  /* Peer clock s = 1e6 + r_true (no drift); one-way delay 50 µs each way.
   * We "sent" a heartbeat at local 1000; the peer got it at s = 1e6 + 1050,
   * held it 200 µs, echoed it at s = 1e6 + 1250; it arrives at 1300. */
  for (int i = 0; i < 10; i++) {
    uint64_t t = 1000 + 100000 * (uint64_t)i;
    ntw_bio_msg hb = {.type = NTW_BIO_HEARTBEAT, .seq = (uint64_t)i,
                      .t_sent_us = 1000000 + t + 250,
                      .heartbeat = {t, 200}};
    fake_now = t + 300;
    assert_int_equal(feed_msg(l, &hb, &out), 1);
  }
  const ntw_bio_stats *st = ntw_biolink_stats(l);
  assert_int_equal(st->rtt_min_us, 100);
  assert_int_equal(st->rtt_last_us, 100);
  assert_int_equal(ntw_biolink_clock_estimate(l, &off, &drift), 10);
  assert_true(fabs(off - 1e6) < 1e-3); /* fit gives 1e6 - 50, + rtt/2 */
  assert_true(fabs(drift) < 1e-6);
  ntw_biolink_close(&l);
  ntw_bio_msg_free(&out);
}

int main(void) {
  make_layout60();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_hello),
      cmocka_unit_test(test_roundtrip_spikes_stim),
      cmocka_unit_test(test_roundtrip_heartbeat_bye),
      cmocka_unit_test(test_wire_bytes),
      cmocka_unit_test(test_malformed_header),
      cmocka_unit_test(test_malformed_payload),
      cmocka_unit_test(test_malformed_hello),
      cmocka_unit_test(test_random_bytes),
      cmocka_unit_test(test_fuzz_mutations),
      cmocka_unit_test(test_unknown_channel_and_backwards),
      cmocka_unit_test(test_watermark),
      cmocka_unit_test(test_sequence_and_sessions),
      cmocka_unit_test(test_direction_and_log_lines),
      cmocka_unit_test(test_send_checks),
      cmocka_unit_test(test_peer_silent),
      cmocka_unit_test(test_clockfit_synthetic),
      cmocka_unit_test(test_link_clock_rtt),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* io/biolink.c - the bio link: codec (pure, byte buffers) and link (ZeroMQ).
 * Wire format: io/BIOLINK.md. Interface: io/biolink.h. */
#include "io/biolink.h"

#include <errno.h>
#include <sched.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "core/ntw_error.h"

#define HDR NTW_BIO_HEADER_BYTES
#define HELLO_FIXED 24u   /* version, stim_unit, session, sampling_hz, count */
#define CHANNEL_FIXED 11u /* id, x, y, label_len */
#define EVENT_BYTES 10u   /* channel, t */
#define SPIKES_FIXED 12u  /* complete_us, count */
#define STIM_BYTES 18u    /* channel, t, amplitude, duration */
#define HEARTBEAT_BYTES 16u
#define BYE_BYTES 4u

/* ---- little-endian access, byte by byte (no alignment, any host) -------- */

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) {
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}
static float getf32(const uint8_t *p) {
  uint32_t u = get32(p);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
static double getf64(const uint8_t *p) {
  uint64_t u = get64(p);
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}
static uint8_t *put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  return p + 2;
}
static uint8_t *put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
  return p + 4;
}
static uint8_t *put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
  return p + 8;
}
static uint8_t *putf32(uint8_t *p, float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return put32(p, u);
}
static uint8_t *putf64(uint8_t *p, double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return put64(p, u);
}

const char *ntw_bio_type_name(int type) {
  switch (type) {
  case NTW_BIO_HELLO: return "HELLO";
  case NTW_BIO_SPIKES: return "SPIKES";
  case NTW_BIO_STIM: return "STIM";
  case NTW_BIO_HEARTBEAT: return "HEARTBEAT";
  case NTW_BIO_BYE: return "BYE";
  default: return "?";
  }
}

/* A label byte: printable ASCII or any byte of a multi-byte UTF-8 sequence;
 * control characters would break one-line logs. */
static bool label_byte_ok(uint8_t c) { return c >= 0x20 && c != 0x7f; }

/* ---- encode ------------------------------------------------------------- */

size_t ntw_bio_encoded_size(const ntw_bio_msg *m) {
  switch (m->type) {
  case NTW_BIO_HELLO: {
    size_t s = HDR + HELLO_FIXED;
    for (uint32_t i = 0; i < m->hello.n_channels; i++)
      s += CHANNEL_FIXED + strnlen(m->hello.channels[i].label, NTW_BIO_LABEL_MAX + 1);
    return s;
  }
  case NTW_BIO_SPIKES: return HDR + SPIKES_FIXED + (size_t)m->spikes.n * EVENT_BYTES;
  case NTW_BIO_STIM: return HDR + 4 + (size_t)m->stim.n * STIM_BYTES;
  case NTW_BIO_HEARTBEAT: return HDR + HEARTBEAT_BYTES;
  case NTW_BIO_BYE: return HDR + BYE_BYTES;
  default: return 0;
  }
}

static int check_layout(const ntw_bio_channel *ch, uint32_t n) {
  uint64_t seen[NTW_BIO_MAX_CHANNELS / 64]; /* 8 KiB */
  NTW_CHECK(n >= 1 && n <= NTW_BIO_MAX_CHANNELS, NTW_ERR_ARG,
            "biolink: hello.n_channels: %" PRIu32 " (must be 1-%u)", n,
            NTW_BIO_MAX_CHANNELS);
  NTW_CHECK(ch != NULL, NTW_ERR_ARG, "biolink: hello.channels: NULL");
  memset(seen, 0, sizeof seen);
  for (uint32_t i = 0; i < n; i++) {
    size_t ll = strnlen(ch[i].label, NTW_BIO_LABEL_MAX + 1);
    NTW_CHECK(ll <= NTW_BIO_LABEL_MAX, NTW_ERR_ARG,
              "biolink: hello.channels[%" PRIu32 "].label: longer than %u bytes", i,
              NTW_BIO_LABEL_MAX);
    for (size_t k = 0; k < ll; k++)
      NTW_CHECK(label_byte_ok((uint8_t)ch[i].label[k]), NTW_ERR_ARG,
                "biolink: hello.channels[%" PRIu32 "].label: control character 0x%02x",
                i, (uint8_t)ch[i].label[k]);
    NTW_CHECK(isfinite(ch[i].x_um) && isfinite(ch[i].y_um), NTW_ERR_ARG,
              "biolink: hello.channels[%" PRIu32 "]: x_um/y_um must be finite", i);
    uint16_t id = ch[i].id;
    NTW_CHECK(!(seen[id >> 6] >> (id & 63) & 1), NTW_ERR_ARG,
              "biolink: hello.channels[%" PRIu32 "].id: %u appears twice", i, id);
    seen[id >> 6] |= 1ull << (id & 63);
  }
  return 0;
}

int ntw_bio_encode(const ntw_bio_msg *m, void *buf, size_t cap, size_t *len) {
  size_t need = ntw_bio_encoded_size(m);
  NTW_CHECK(need != 0, NTW_ERR_ARG, "biolink: type: %u is unknown", m->type);
  NTW_CHECK(need - HDR <= UINT32_MAX, NTW_ERR_ARG, "biolink: message too large");
  switch (m->type) {
  case NTW_BIO_HELLO:
    NTW_CHECK(m->hello.stim_unit <= NTW_BIO_UNIT_MV, NTW_ERR_ARG,
              "biolink: hello.stim_unit: %u is unknown (0 = uA, 1 = mV)",
              m->hello.stim_unit);
    NTW_CHECK(isfinite(m->hello.sampling_hz) && m->hello.sampling_hz > 0, NTW_ERR_ARG,
              "biolink: hello.sampling_hz: must be finite and > 0 (got %g)",
              m->hello.sampling_hz);
    NTW_TRY(check_layout(m->hello.channels, m->hello.n_channels));
    break;
  case NTW_BIO_SPIKES:
    NTW_CHECK(m->spikes.n == 0 || m->spikes.events, NTW_ERR_ARG, "biolink: spikes: NULL");
    for (uint32_t i = 1; i < m->spikes.n; i++)
      NTW_CHECK(m->spikes.events[i].t_us >= m->spikes.events[i - 1].t_us, NTW_ERR_ARG,
                "biolink: spikes.events[%" PRIu32 "].t_us: before the event above it "
                "(a batch is sorted by time)", i);
    break;
  case NTW_BIO_STIM:
    NTW_CHECK(m->stim.n == 0 || m->stim.stims, NTW_ERR_ARG, "biolink: stim: NULL");
    for (uint32_t i = 0; i < m->stim.n; i++) {
      NTW_CHECK(isfinite(m->stim.stims[i].amplitude), NTW_ERR_ARG,
                "biolink: stim.commands[%" PRIu32 "].amplitude: not finite", i);
      NTW_CHECK(i == 0 || m->stim.stims[i].t_us >= m->stim.stims[i - 1].t_us,
                NTW_ERR_ARG,
                "biolink: stim.commands[%" PRIu32 "].t_us: before the command above "
                "it (a batch is sorted by time)", i);
    }
    break;
  default: break;
  }
  NTW_CHECK(cap >= need, NTW_ERR_ARG, "biolink: buffer of %zu bytes, need %zu", cap, need);

  uint8_t *p = buf;
  memcpy(p, NTW_BIO_MAGIC, 4);
  p = put16(p + 4, NTW_BIO_VERSION);
  p = put16(p, m->type);
  p = put64(p, m->seq);
  p = put64(p, m->t_sent_us);
  p = put32(p, (uint32_t)(need - HDR));
  switch (m->type) {
  case NTW_BIO_HELLO:
    p = put16(p, NTW_BIO_VERSION);
    p = put16(p, m->hello.stim_unit);
    p = put64(p, m->hello.session);
    p = putf64(p, m->hello.sampling_hz);
    p = put32(p, m->hello.n_channels);
    for (uint32_t i = 0; i < m->hello.n_channels; i++) {
      const ntw_bio_channel *c = &m->hello.channels[i];
      size_t ll = strnlen(c->label, NTW_BIO_LABEL_MAX);
      p = put16(p, c->id);
      p = putf32(p, c->x_um);
      p = putf32(p, c->y_um);
      *p++ = (uint8_t)ll;
      memcpy(p, c->label, ll);
      p += ll;
    }
    break;
  case NTW_BIO_SPIKES:
    p = put64(p, m->spikes.complete_us);
    p = put32(p, m->spikes.n);
    for (uint32_t i = 0; i < m->spikes.n; i++) {
      p = put16(p, m->spikes.events[i].channel);
      p = put64(p, m->spikes.events[i].t_us);
    }
    break;
  case NTW_BIO_STIM:
    p = put32(p, m->stim.n);
    for (uint32_t i = 0; i < m->stim.n; i++) {
      const ntw_bio_stim *s = &m->stim.stims[i];
      p = put16(p, s->channel);
      p = put64(p, s->t_us);
      p = putf32(p, s->amplitude);
      p = put32(p, s->duration_us);
    }
    break;
  case NTW_BIO_HEARTBEAT:
    p = put64(p, m->heartbeat.echo_t_us);
    p = put64(p, m->heartbeat.hold_us);
    break;
  case NTW_BIO_BYE:
    p = put32(p, m->bye.reason);
    break;
  }
  *len = (size_t)(p - (uint8_t *)buf);
  return *len == need ? 0 : NTW_ERR(NTW_ERR_INTERNAL, "biolink: encoded %zu of %zu bytes", *len, need);
}

/* ---- decode ------------------------------------------------------------- */

void ntw_bio_msg_free(ntw_bio_msg *m) {
  if (!m) return;
  free(m->store_.channels);
  free(m->store_.events);
  free(m->store_.stims);
  memset(m, 0, sizeof *m);
}

static int grow(void **p, size_t *cap, size_t n, size_t elem) {
  if (n <= *cap) return 0;
  size_t c = *cap * 2 > n ? *cap * 2 : n;
  void *q = realloc(*p, c * elem);
  if (!q) return NTW_ERR(NTW_ERR_NOMEM, "biolink: out of memory for %zu items", n);
  *p = q;
  *cap = c;
  return 0;
}

/* Rejects name the message (type, seq) once the header is read, then the field. */
#define BAD(...) return ntw_error_set(NTW_ERR_FORMAT, __FILE__, __LINE__, __VA_ARGS__)
#define BADM(fmt, ...)                                                            \
  return ntw_error_set(NTW_ERR_FORMAT, __FILE__, __LINE__, "%s seq %" PRIu64 ": " fmt, \
                       tname, seq, __VA_ARGS__)

int ntw_bio_decode(const void *buf, size_t len, size_t max_bytes, ntw_bio_msg *out,
                   ntw_bio_reject *why) {
  const uint8_t *b = buf;
  ntw_bio_store keep = out->store_;
  memset(out, 0, sizeof *out);
  out->store_ = keep;
  if (max_bytes == 0) max_bytes = NTW_BIO_MAX_MSG_DEFAULT;
  *why = NTW_BIO_MALFORMED;

  if (len == 0) BAD("frame: empty (0 bytes)");
  if (len > max_bytes) {
    *why = NTW_BIO_OVERSIZED;
    BAD("frame: %zu bytes exceeds the maximum of %zu", len, max_bytes);
  }
  if (len < HDR) BAD("header: truncated (%zu of %u bytes)", len, HDR);
  if (memcmp(b, NTW_BIO_MAGIC, 4) != 0)
    BAD("header.magic: expected \"NTWB\" (4e 54 57 42), got %02x %02x %02x %02x", b[0],
        b[1], b[2], b[3]);
  uint16_t ver = get16(b + 4);
  if (ver != NTW_BIO_VERSION) {
    *why = NTW_BIO_WRONG_VERSION;
    BAD("header.version: %u is not supported (this side speaks %u)", ver, NTW_BIO_VERSION);
  }
  uint16_t type = get16(b + 6);
  if (type < NTW_BIO_HELLO || type > NTW_BIO_BYE)
    BAD("header.type: %u is unknown (version %u has 1-5)", type, NTW_BIO_VERSION);
  const char *tname = ntw_bio_type_name(type);
  uint64_t seq = get64(b + 8);
  uint32_t plen = get32(b + 24);
  if ((uint64_t)plen != len - HDR)
    BADM("header.payload_len: %" PRIu32 " but the frame carries %zu payload bytes", plen,
         len - HDR);
  out->version = ver;
  out->type = type;
  out->seq = seq;
  out->t_sent_us = get64(b + 16);
  out->payload_len = plen;
  const uint8_t *p = b + HDR;

  switch (type) {
  case NTW_BIO_HELLO: {
    if (plen < HELLO_FIXED)
      BADM("hello: payload of %" PRIu32 " bytes, the fixed part alone is %u", plen,
           HELLO_FIXED);
    uint16_t hv = get16(p);
    uint16_t unit = get16(p + 2);
    double hz = getf64(p + 12);
    uint32_t n = get32(p + 20);
    if (hv != ver) BADM("hello.version: %u differs from header.version %u", hv, ver);
    if (unit > NTW_BIO_UNIT_MV)
      BADM("hello.stim_unit: %u is unknown (0 = uA, 1 = mV)", unit);
    if (!(isfinite(hz) && hz > 0))
      BADM("hello.sampling_hz: must be finite and > 0 (got %g)", hz);
    if (n < 1 || n > NTW_BIO_MAX_CHANNELS)
      BADM("hello.n_channels: %" PRIu32 " (must be 1-%u)", n, NTW_BIO_MAX_CHANNELS);
    if ((uint64_t)n * CHANNEL_FIXED > plen - HELLO_FIXED)
      BADM("hello.n_channels: %" PRIu32 " channels need at least %" PRIu64
           " bytes, the payload has %" PRIu32, n, (uint64_t)n * CHANNEL_FIXED + HELLO_FIXED,
           plen);
    int rc = grow((void **)&out->store_.channels, &out->store_.channels_cap, n,
                  sizeof(ntw_bio_channel));
    if (rc) {
      *why = NTW_BIO_ACCEPTED;
      return rc;
    }
    uint64_t seen[NTW_BIO_MAX_CHANNELS / 64];
    memset(seen, 0, sizeof seen);
    size_t off = HELLO_FIXED;
    for (uint32_t i = 0; i < n; i++) {
      ntw_bio_channel *c = &out->store_.channels[i];
      if (off + CHANNEL_FIXED > plen) BADM("hello.channels[%" PRIu32 "]: truncated", i);
      c->id = get16(p + off);
      c->x_um = getf32(p + off + 2);
      c->y_um = getf32(p + off + 6);
      uint8_t ll = p[off + 10];
      off += CHANNEL_FIXED;
      if (ll > NTW_BIO_LABEL_MAX)
        BADM("hello.channels[%" PRIu32 "].label_len: %u > %u", i, ll, NTW_BIO_LABEL_MAX);
      if (off + ll > plen) BADM("hello.channels[%" PRIu32 "].label: truncated", i);
      for (uint8_t k = 0; k < ll; k++)
        if (!label_byte_ok(p[off + k]))
          BADM("hello.channels[%" PRIu32 "].label: control character 0x%02x", i,
               p[off + k]);
      memcpy(c->label, p + off, ll);
      c->label[ll] = '\0';
      off += ll;
      if (!isfinite(c->x_um) || !isfinite(c->y_um))
        BADM("hello.channels[%" PRIu32 "]: x_um/y_um must be finite", i);
      if (seen[c->id >> 6] >> (c->id & 63) & 1)
        BADM("hello.channels[%" PRIu32 "].id: %u appears twice", i, c->id);
      seen[c->id >> 6] |= 1ull << (c->id & 63);
    }
    if (off != plen)
      BADM("hello: %zu bytes after the last channel (header.payload_len %" PRIu32 ")",
           plen - off, plen);
    out->hello.version = hv;
    out->hello.stim_unit = unit;
    out->hello.session = get64(p + 4);
    out->hello.sampling_hz = hz;
    out->hello.n_channels = n;
    out->hello.channels = out->store_.channels;
    break;
  }
  case NTW_BIO_SPIKES:
  case NTW_BIO_STIM: {
    bool sp = type == NTW_BIO_SPIKES;
    const char *what = sp ? "spikes" : "stim";
    const char *item = sp ? "events" : "commands";
    size_t esz = sp ? EVENT_BYTES : STIM_BYTES;
    const uint32_t fixed = sp ? SPIKES_FIXED : 4; /* [complete_us] count */
    if (plen < fixed) BADM("%s.count: missing (payload of %" PRIu32 " bytes)", what, plen);
    uint32_t n = get32(p + fixed - 4);
    if (fixed + (uint64_t)n * esz != plen)
      BADM("%s.count: %" PRIu32 " %s need %" PRIu64 " payload bytes, header.payload_len is %" PRIu32,
           what, n, item, fixed + (uint64_t)n * esz, plen);
    int rc = sp ? grow((void **)&out->store_.events, &out->store_.events_cap, n,
                       sizeof(ntw_bio_event))
                : grow((void **)&out->store_.stims, &out->store_.stims_cap, n,
                       sizeof(ntw_bio_stim));
    if (rc) {
      *why = NTW_BIO_ACCEPTED;
      return rc;
    }
    const uint8_t *q = p + fixed;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < n; i++, q += esz) {
      uint16_t ch = get16(q);
      uint64_t t = get64(q + 2);
      if (i > 0 && t < prev)
        BADM("%s.%s[%" PRIu32 "].t_us: %" PRIu64 " is before %s[%" PRIu32 "].t_us %" PRIu64
             " (a batch is sorted by time)", what, item, i, t, item, i - 1, prev);
      prev = t;
      if (sp) {
        out->store_.events[i] = (ntw_bio_event){.channel = ch, .t_us = t};
      } else {
        float a = getf32(q + 10);
        if (!isfinite(a)) BADM("stim.commands[%" PRIu32 "].amplitude: not finite", i);
        out->store_.stims[i] = (ntw_bio_stim){
            .channel = ch, .t_us = t, .amplitude = a, .duration_us = get32(q + 14)};
      }
    }
    if (sp) {
      out->spikes.complete_us = get64(p);
      out->spikes.n = n;
      out->spikes.events = out->store_.events;
    } else {
      out->stim.n = n;
      out->stim.stims = out->store_.stims;
    }
    break;
  }
  case NTW_BIO_HEARTBEAT:
    if (plen != HEARTBEAT_BYTES)
      BADM("header.payload_len: %" PRIu32 " (a heartbeat has %u)", plen, HEARTBEAT_BYTES);
    out->heartbeat.echo_t_us = get64(p);
    out->heartbeat.hold_us = get64(p + 8);
    break;
  case NTW_BIO_BYE:
    if (plen != BYE_BYTES)
      BADM("header.payload_len: %" PRIu32 " (a bye has %u)", plen, BYE_BYTES);
    out->bye.reason = get32(p);
    break;
  }
  *why = NTW_BIO_ACCEPTED;
  return 0;
}

/* ---- clock fit ---------------------------------------------------------- */

void ntw_bio_clockfit_reset(ntw_bio_clockfit *f) {
  f->n_total = 0;
  f->n = f->head = 0;
}

void ntw_bio_clockfit_add(ntw_bio_clockfit *f, uint64_t peer_us, uint64_t local_us) {
  f->r[f->head] = local_us;
  f->y[f->head] = (int64_t)(peer_us - local_us);
  f->head = (f->head + 1) % NTW_BIO_CLOCK_WINDOW;
  if (f->n < NTW_BIO_CLOCK_WINDOW) f->n++;
  f->n_total++;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median_of(double *v, uint32_t n) { /* sorts v */
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Least squares of y on x = r - ref over the points with keep[i] (NULL =
 * all); two-pass (means, then centred sums) for accuracy. */
static uint32_t ls_fit(const ntw_bio_clockfit *f, double ref, const unsigned char *keep,
                       double *icpt, double *slope) {
  double sx = 0, sy = 0;
  uint32_t n = 0;
  for (uint32_t i = 0; i < f->n; i++)
    if (!keep || keep[i]) {
      sx += (double)f->r[i] - ref;
      sy += (double)f->y[i];
      n++;
    }
  if (n == 0) return 0;
  double mx = sx / n, my = sy / n, sxx = 0, sxy = 0;
  for (uint32_t i = 0; i < f->n; i++)
    if (!keep || keep[i]) {
      double dx = (double)f->r[i] - ref - mx;
      sxx += dx * dx;
      sxy += dx * ((double)f->y[i] - my);
    }
  *slope = (n >= 2 && sxx > 0) ? sxy / sxx : 0.0;
  *icpt = my - *slope * mx; /* at x = 0, i.e. r = ref */
  return n >= 2 && sxx > 0 ? n : 1;
}

int ntw_bio_clockfit_get(const ntw_bio_clockfit *f, double *offset_us, double *drift_ppm) {
  if (f->n == 0) return 0;
  double ref = (double)f->r[f->n < NTW_BIO_CLOCK_WINDOW ? 0 : f->head];
  double a, b;
  uint32_t used = ls_fit(f, ref, NULL, &a, &b);
  /* Scratch on the heap (a few tens of KiB; rare calls). Without memory the
   * plain fit stands. */
  double *res = used >= 8 ? malloc(2 * f->n * sizeof *res) : NULL;
  unsigned char *keep = res ? malloc(f->n) : NULL;
  if (keep) {
    double *tmp = res + f->n;
    for (uint32_t i = 0; i < f->n; i++)
      tmp[i] = res[i] = (double)f->y[i] - (a + b * ((double)f->r[i] - ref));
    double med = median_of(tmp, f->n);
    for (uint32_t i = 0; i < f->n; i++) tmp[i] = fabs(res[i] - med);
    double lim = 3 * 1.4826 * median_of(tmp, f->n);
    if (lim < 1.0) lim = 1.0; /* µs: clocks are integers */
    for (uint32_t i = 0; i < f->n; i++) keep[i] = fabs(res[i] - med) <= lim;
    double a2, b2;
    uint32_t u2 = ls_fit(f, ref, keep, &a2, &b2);
    if (u2 >= 2) {
      a = a2;
      b = b2;
      used = u2;
    }
  }
  free(res);
  free(keep);
  /* y(r) = a + b (r - ref); the offset is y at r = 0. */
  *offset_us = a - b * ref;
  *drift_ppm = b * 1e6;
  return (int)used;
}

/* ---- link --------------------------------------------------------------- */

struct ntw_biolink {
  ntw_bio_side side;
  void *ctx, *tx, *rx;
  char ep[2][256]; /* [0] events, [1] commands */
  ntw_bio_opts opts;
  uint64_t t0_ns;
  uint64_t open_us;
  uint64_t session, seq_tx;
  uint8_t *txbuf;
  size_t txcap;
  ntw_bio_stats st;
  /* receive state */
  bool have_seq, have_session;
  uint64_t seq_next, peer_session;
  uint8_t *chflags; /* per channel id: 1 = in layout, 2 = last_t valid */
  uint64_t *last_t;
  ntw_bio_msg hello; /* received (twin) or sent (bio); owns its store */
  bool have_hello;
  ntw_bio_clockfit fit;
  double rtt_ring[NTW_BIO_CLOCK_WINDOW];
  uint32_t rtt_n, rtt_head;
  uint64_t est_at; /* fit.n_total when the cache was filled; 0 = none */
  int est_n;
  double est_off, est_drift;
  double hold_drift; /* ppm, for converting the peer's hold time */
  bool have_peer_hb;
  uint64_t peer_hb_t, peer_hb_recv;
};

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t ntw_biolink_now(const ntw_biolink *l) {
  if (l->opts.clock) return l->opts.clock(l->opts.clock_ctx);
  return (mono_ns() - l->t0_ns) / 1000u;
}

void ntw_bio_opts_default(ntw_bio_opts *o) {
  memset(o, 0, sizeof *o);
  o->max_msg_bytes = NTW_BIO_MAX_MSG_DEFAULT;
  o->hwm = 1000;
  o->linger_ms = 200;
}

static void logf_(ntw_biolink *l, const char *fmt, ...) NTW_PRINTF(2, 3);
static void logf_(ntw_biolink *l, const char *fmt, ...) {
  char line[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  for (char *c = line; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  if (l->opts.log)
    l->opts.log(l->opts.log_ctx, line);
  else
    fprintf(stderr, "ntwin: biolink: %s\n", line);
}

/* Log the 1st, 10th, 100th, ... occurrence of a kind: a flood of bad input
 * stays visible without drowning the log. */
static bool log_due(uint64_t count) {
  while (count >= 10 && count % 10 == 0) count /= 10;
  return count == 1;
}

static const char *rx_ep(const ntw_biolink *l) {
  return l->ep[l->side == NTW_BIO_SIDE_TWIN ? 0 : 1];
}

static void reset_rx_session(ntw_biolink *l) {
  l->have_seq = false;
  for (size_t i = 0; i < NTW_BIO_MAX_CHANNELS; i++) l->chflags[i] &= 1;
  ntw_bio_clockfit_reset(&l->fit);
  l->rtt_n = l->rtt_head = 0;
  l->est_at = 0;
  l->hold_drift = 0;
  l->have_peer_hb = false;
  l->st.rtt_last_us = l->st.rtt_min_us = -1;
  l->st.rtt_mean_us = 0;
  l->st.rtt_count = 0;
  l->st.watermark_us = 0;
}

static int set_layout(ntw_biolink *l, const ntw_bio_msg *h) {
  /* Deep copy into l->hello (its own store). */
  ntw_bio_store keep = l->hello.store_;
  l->hello = *h;
  l->hello.store_ = keep;
  NTW_TRY(grow((void **)&l->hello.store_.channels, &l->hello.store_.channels_cap,
               h->hello.n_channels, sizeof(ntw_bio_channel)));
  memcpy(l->hello.store_.channels, h->hello.channels,
         h->hello.n_channels * sizeof(ntw_bio_channel));
  l->hello.hello.channels = l->hello.store_.channels;
  l->hello.spikes.events = NULL;
  l->hello.stim.stims = NULL;
  l->have_hello = true;
  /* Channels that stay keep their last time; dropped ones forget it. */
  for (size_t i = 0; i < NTW_BIO_MAX_CHANNELS; i++) l->chflags[i] &= 2;
  for (uint32_t i = 0; i < h->hello.n_channels; i++) l->chflags[h->hello.channels[i].id] |= 1;
  for (size_t i = 0; i < NTW_BIO_MAX_CHANNELS; i++)
    if (!(l->chflags[i] & 1)) l->chflags[i] = 0;
  return 0;
}

int ntw_biolink_feed(ntw_biolink *l, const void *frame, size_t len, ntw_bio_msg *out) {
  uint64_t now = ntw_biolink_now(l);
  ntw_bio_reject why;
  int rc = ntw_bio_decode(frame, len, l->opts.max_msg_bytes, out, &why);
  if (rc == NTW_ERR_NOMEM) return rc;
  if (rc) {
    uint64_t *c = why == NTW_BIO_WRONG_VERSION ? &l->st.wrong_version
                  : why == NTW_BIO_OVERSIZED  ? &l->st.oversized
                                              : &l->st.malformed;
    const char *k = why == NTW_BIO_WRONG_VERSION ? "wrong_version"
                    : why == NTW_BIO_OVERSIZED  ? "oversized"
                                                : "malformed";
    (*c)++;
    if (log_due(*c)) logf_(l, "%s: dropped: %s [%s #%" PRIu64 "]", rx_ep(l), ntw_error_msg(), k, *c);
    return 0;
  }
  bool twin = l->side == NTW_BIO_SIDE_TWIN;
  bool ok_dir = out->type == NTW_BIO_HEARTBEAT || out->type == NTW_BIO_BYE ||
                (twin ? (out->type == NTW_BIO_HELLO || out->type == NTW_BIO_SPIKES)
                      : out->type == NTW_BIO_STIM);
  if (!ok_dir) {
    l->st.malformed++;
    l->st.wrong_direction++;
    ntw_error_set(NTW_ERR_FORMAT, __FILE__, __LINE__,
                  "%s seq %" PRIu64 ": header.type: %s is never sent to the %s side",
                  ntw_bio_type_name(out->type), out->seq, ntw_bio_type_name(out->type),
                  twin ? "twin" : "bio");
    if (log_due(l->st.malformed))
      logf_(l, "%s: dropped: %s [malformed #%" PRIu64 "]", rx_ep(l), ntw_error_msg(),
            l->st.malformed);
    return 0;
  }

  /* From here on the message is valid: state changes, events may be dropped. */
  out->t_recv_us = now;
  if (out->type == NTW_BIO_HELLO &&
      (!l->have_session || out->hello.session != l->peer_session)) {
    reset_rx_session(l);
    l->st.sessions++;
    if (l->have_session && log_due(l->st.sessions - 1))
      logf_(l, "%s: new session %" PRIu64 " (was %" PRIu64 ") [restarts #%" PRIu64 "]",
            rx_ep(l), out->hello.session, l->peer_session, l->st.sessions - 1);
    l->have_session = true;
    l->peer_session = out->hello.session;
  }
  if (l->have_seq && out->seq != l->seq_next) {
    if (out->seq > l->seq_next) {
      uint64_t gap = out->seq - l->seq_next;
      uint64_t before = l->st.lost;
      l->st.lost += gap;
      /* log when lost crosses 1, 10, 100, ... */
      uint64_t mark = 1;
      while (mark * 10 <= l->st.lost && mark <= UINT64_MAX / 10) mark *= 10;
      if (before < mark)
        logf_(l, "%s: sequence gap: %" PRIu64 " message(s) lost before seq %" PRIu64
              " [lost %" PRIu64 "]", rx_ep(l), gap, out->seq, l->st.lost);
    } else {
      l->st.seq_resets++;
      if (log_due(l->st.seq_resets))
        logf_(l, "%s: sequence went back from %" PRIu64 " to %" PRIu64
              " without a new session [seq_resets #%" PRIu64 "]", rx_ep(l),
              l->seq_next - 1, out->seq, l->st.seq_resets);
    }
  }
  l->have_seq = true;
  l->seq_next = out->seq + 1;
  l->st.msgs_rx++;
  l->st.bytes_rx += len;
  l->st.last_rx_us = now;
  l->st.bye_received = 0;

  switch (out->type) {
  case NTW_BIO_HELLO:
    NTW_TRY(set_layout(l, out));
    l->st.hellos_rx++;
    break;
  case NTW_BIO_SPIKES:
  case NTW_BIO_STIM: {
    bool sp = out->type == NTW_BIO_SPIKES;
    uint32_t n = sp ? out->spikes.n : out->stim.n, k = 0;
    for (uint32_t i = 0; i < n; i++) {
      uint16_t ch = sp ? out->spikes.events[i].channel : out->stim.stims[i].channel;
      uint64_t t = sp ? out->spikes.events[i].t_us : out->stim.stims[i].t_us;
      uint8_t f = l->chflags[ch];
      if (!(f & 1)) {
        if (log_due(++l->st.unknown_channel))
          logf_(l, "%s: event dropped: channel %u (t_us %" PRIu64 ") is not in the HELLO "
                "layout [unknown_channel #%" PRIu64 "]", rx_ep(l), ch, t,
                l->st.unknown_channel);
        continue;
      }
      if ((f & 2) && t <= l->last_t[ch]) {
        if (log_due(++l->st.non_monotonic))
          logf_(l, "%s: event dropped: channel %u: t_us %" PRIu64 " is not after the "
                "channel's last %" PRIu64 " [non_monotonic #%" PRIu64 "]", rx_ep(l), ch, t,
                l->last_t[ch], l->st.non_monotonic);
        continue;
      }
      if (sp && t < l->st.watermark_us && log_due(++l->st.after_watermark))
        logf_(l, "%s: channel %u: t_us %" PRIu64 " is before the watermark %" PRIu64
              " the peer sent earlier (complete_us: it promised every event before "
              "it) [after_watermark #%" PRIu64 "]", rx_ep(l), ch, t, l->st.watermark_us,
              l->st.after_watermark);
      l->chflags[ch] = 3;
      l->last_t[ch] = t;
      if (sp)
        out->spikes.events[k++] = out->spikes.events[i];
      else
        out->stim.stims[k++] = out->stim.stims[i];
    }
    if (sp) {
      out->spikes.n = k;
      const uint64_t wm = out->spikes.complete_us;
      if (wm && wm < l->st.watermark_us) {
        if (log_due(++l->st.watermark_backwards))
          logf_(l, "%s: SPIKES seq %" PRIu64 ": spikes.complete_us %" PRIu64 " is before "
                "the watermark %" PRIu64 " already received (ignored) "
                "[watermark_backwards #%" PRIu64 "]", rx_ep(l), out->seq, wm,
                l->st.watermark_us, l->st.watermark_backwards);
      } else if (wm) {
        l->st.watermark_us = wm;
      }
    } else {
      out->stim.n = k;
    }
    l->st.events_rx += k;
    break;
  }
  case NTW_BIO_HEARTBEAT: {
    l->st.heartbeats_rx++;
    l->st.have_heartbeat = 1;
    l->st.last_heartbeat_us = now;
    ntw_bio_clockfit_add(&l->fit, out->t_sent_us, now);
    l->have_peer_hb = true;
    l->peer_hb_t = out->t_sent_us;
    l->peer_hb_recv = now;
    if (out->heartbeat.echo_t_us != NTW_BIO_NO_ECHO && out->heartbeat.echo_t_us <= now) {
      /* The peer held our heartbeat for hold_us of ITS clock; convert with
       * the drift fitted so far. */
      /* hold_us is in the peer's clock: convert with the fitted drift,
       * refreshed every heartbeat at first and every 16th later (the
       * robust fit sorts the window). */
      if (l->fit.n_total < 64 || l->fit.n_total % 16 == 0) {
        double off;
        if (ntw_biolink_clock_estimate(l, &off, &l->hold_drift) < 2) l->hold_drift = 0;
      }
      double drift = l->hold_drift;
      double rtt = (double)(now - out->heartbeat.echo_t_us) -
                   (double)out->heartbeat.hold_us / (1.0 + drift * 1e-6);
      if (rtt >= 0 && rtt < 1e12) {
        l->st.rtt_last_us = (int64_t)(rtt + 0.5);
        if (l->st.rtt_min_us < 0 || l->st.rtt_last_us < l->st.rtt_min_us)
          l->st.rtt_min_us = l->st.rtt_last_us;
        l->st.rtt_count++;
        l->st.rtt_mean_us += (rtt - l->st.rtt_mean_us) / (double)l->st.rtt_count;
        l->rtt_ring[l->rtt_head] = rtt;
        l->rtt_head = (l->rtt_head + 1) % NTW_BIO_CLOCK_WINDOW;
        if (l->rtt_n < NTW_BIO_CLOCK_WINDOW) l->rtt_n++;
        l->est_at = 0; /* the offset's correction changed */
      }
    }
    break;
  }
  case NTW_BIO_BYE:
    l->st.bye_received = 1;
    l->st.byes_rx++;
    if (log_due(l->st.byes_rx))
      logf_(l, "%s: peer said BYE (reason %" PRIu32 ") [bye #%" PRIu64 "]", rx_ep(l),
            out->bye.reason, l->st.byes_rx);
    break;
  }
  return 1;
}

static int set_sockopts(ntw_biolink *l, const char *what) {
  int hwm = l->opts.hwm, linger = l->opts.linger_ms;
  int64_t guard = (int64_t)l->opts.max_msg_bytes * 2;
  if (guard < (16 << 20)) guard = 16 << 20;
  int imm = 1;
  if (zmq_setsockopt(l->tx, ZMQ_SNDHWM, &hwm, sizeof hwm) ||
      zmq_setsockopt(l->rx, ZMQ_RCVHWM, &hwm, sizeof hwm) ||
      zmq_setsockopt(l->tx, ZMQ_LINGER, &linger, sizeof linger) ||
      zmq_setsockopt(l->rx, ZMQ_LINGER, &linger, sizeof linger) ||
      zmq_setsockopt(l->rx, ZMQ_MAXMSGSIZE, &guard, sizeof guard) ||
      (l->side == NTW_BIO_SIDE_TWIN &&
       zmq_setsockopt(l->tx, ZMQ_IMMEDIATE, &imm, sizeof imm)))
    return NTW_ERR(NTW_ERR_IO, "biolink: %s: socket options: %s", what, zmq_strerror(errno));
  return 0;
}

static int open_link(ntw_bio_side side, const ntw_bio_endpoints *ep,
                     const ntw_bio_opts *opts, bool detached, ntw_biolink **out) {
  NTW_CHECK(out != NULL, NTW_ERR_ARG, "biolink: open: NULL output");
  *out = NULL;
  ntw_biolink *l = calloc(1, sizeof *l);
  NTW_ALLOC_CHECK(l);
  int err = 0;
  l->side = side;
  if (opts)
    l->opts = *opts;
  else
    ntw_bio_opts_default(&l->opts);
  if (l->opts.max_msg_bytes == 0) l->opts.max_msg_bytes = NTW_BIO_MAX_MSG_DEFAULT;
  if (l->opts.max_msg_bytes > INT32_MAX) l->opts.max_msg_bytes = INT32_MAX;
  if (l->opts.hwm <= 0) l->opts.hwm = 1000;
  if (l->opts.linger_ms < 0) l->opts.linger_ms = 200;
  l->t0_ns = mono_ns();
  l->open_us = ntw_biolink_now(l);
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  l->session = ((uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec) ^
               ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)l;
  if (l->session == 0) l->session = 1;
  l->st.rtt_last_us = l->st.rtt_min_us = -1;
  l->chflags = calloc(NTW_BIO_MAX_CHANNELS, 1);
  l->last_t = calloc(NTW_BIO_MAX_CHANNELS, sizeof *l->last_t);
  if (!l->chflags || !l->last_t) {
    err = NTW_ERR(NTW_ERR_NOMEM, "biolink: out of memory");
    goto fail;
  }
  if (detached) {
    snprintf(l->ep[0], sizeof l->ep[0], "(detached)");
    snprintf(l->ep[1], sizeof l->ep[1], "(detached)");
    *out = l;
    return 0;
  }
  const char *e[2] = {ep && ep->events ? ep->events : NTW_BIO_EVENTS_DEFAULT,
                      ep && ep->commands ? ep->commands : NTW_BIO_COMMANDS_DEFAULT};
  l->ctx = zmq_ctx_new();
  if (!l->ctx) {
    err = NTW_ERR(NTW_ERR_IO, "biolink: zmq_ctx_new: %s", zmq_strerror(errno));
    goto fail;
  }
  if (l->opts.io_rt_priority > 0 &&
      (zmq_ctx_set(l->ctx, ZMQ_THREAD_SCHED_POLICY, SCHED_FIFO) != 0 ||
       zmq_ctx_set(l->ctx, ZMQ_THREAD_PRIORITY, l->opts.io_rt_priority) != 0))
    logf_(l, "cannot ask for real-time priority %d for the link's I/O thread: %s",
          l->opts.io_rt_priority, zmq_strerror(errno));
  l->tx = zmq_socket(l->ctx, ZMQ_PUSH);
  l->rx = zmq_socket(l->ctx, ZMQ_PULL);
  if (!l->tx || !l->rx) {
    err = NTW_ERR(NTW_ERR_IO, "biolink: zmq_socket: %s", zmq_strerror(errno));
    goto fail;
  }
  NTW_GOTO(err, set_sockopts(l, e[0]), fail);
  /* The biology binds both; the twin connects both. Events flow bio -> twin
   * (bio tx, twin rx), commands twin -> bio (twin tx, bio rx). */
  bool bio = side == NTW_BIO_SIDE_BIO;
  void *sock[2] = {bio ? l->tx : l->rx, bio ? l->rx : l->tx};
  for (int i = 0; i < 2; i++) {
    int rc = bio ? zmq_bind(sock[i], e[i]) : zmq_connect(sock[i], e[i]);
    if (rc != 0) {
      err = NTW_ERR(NTW_ERR_IO, "biolink: %s %s (%s): %s", bio ? "bind" : "connect", e[i],
                    i ? "commands" : "events", zmq_strerror(errno));
      goto fail;
    }
    size_t sz = sizeof l->ep[i];
    if (zmq_getsockopt(sock[i], ZMQ_LAST_ENDPOINT, l->ep[i], &sz) != 0 || !l->ep[i][0])
      snprintf(l->ep[i], sizeof l->ep[i], "%s", e[i]);
  }
  *out = l;
  return 0;
fail:
  ntw_biolink_close(&l);
  return err;
}

int ntw_biolink_open_bio(const ntw_bio_endpoints *ep, const ntw_bio_opts *opts,
                         ntw_biolink **out) {
  return open_link(NTW_BIO_SIDE_BIO, ep, opts, false, out);
}
int ntw_biolink_open_twin(const ntw_bio_endpoints *ep, const ntw_bio_opts *opts,
                          ntw_biolink **out) {
  return open_link(NTW_BIO_SIDE_TWIN, ep, opts, false, out);
}
int ntw_biolink_open_detached(ntw_bio_side side, const ntw_bio_opts *opts,
                              ntw_biolink **out) {
  NTW_CHECK(side == NTW_BIO_SIDE_BIO || side == NTW_BIO_SIDE_TWIN, NTW_ERR_ARG,
            "biolink: side: %d is neither bio (0) nor twin (1)", (int)side);
  return open_link(side, NULL, opts, true, out);
}

void ntw_biolink_close(ntw_biolink **lp) {
  if (!lp || !*lp) return;
  ntw_biolink *l = *lp;
  if (l->tx) zmq_close(l->tx);
  if (l->rx) zmq_close(l->rx);
  if (l->ctx) zmq_ctx_term(l->ctx);
  ntw_bio_msg_free(&l->hello);
  free(l->txbuf);
  free(l->chflags);
  free(l->last_t);
  free(l);
  *lp = NULL;
}

const char *ntw_biolink_endpoint(const ntw_biolink *l, int commands) {
  return l->ep[commands ? 1 : 0];
}

const ntw_bio_stats *ntw_biolink_stats(const ntw_biolink *l) { return &l->st; }

const ntw_bio_msg *ntw_biolink_hello(const ntw_biolink *l) {
  return l->have_hello ? &l->hello : NULL;
}

/* Encode with the next sequence number and queue without blocking. The
 * sequence number is spent even when the queue is full, so the peer sees
 * the drop as a gap. */
static int send_msg(ntw_biolink *l, ntw_bio_msg *m, uint32_t n_items) {
  m->seq = l->seq_tx;
  m->t_sent_us = ntw_biolink_now(l);
  size_t need = ntw_bio_encoded_size(m);
  NTW_CHECK(need <= l->opts.max_msg_bytes, NTW_ERR_ARG,
            "biolink: %s of %zu bytes exceeds max_msg_bytes %zu; send smaller batches",
            ntw_bio_type_name(m->type), need, l->opts.max_msg_bytes);
  NTW_TRY(grow((void **)&l->txbuf, &l->txcap, need, 1));
  size_t len;
  NTW_TRY(ntw_bio_encode(m, l->txbuf, l->txcap, &len));
  l->seq_tx++;
  if (!l->tx) {
    l->st.dropped++;
    l->st.dropped_events += n_items;
    return 1;
  }
  if (zmq_send(l->tx, l->txbuf, len, ZMQ_DONTWAIT) < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      l->st.dropped++;
      l->st.dropped_events += n_items;
      return 1;
    }
    return NTW_ERR(NTW_ERR_IO, "biolink: send %s to %s: %s", ntw_bio_type_name(m->type),
                   l->ep[l->side == NTW_BIO_SIDE_BIO ? 0 : 1], zmq_strerror(errno));
  }
  l->st.msgs_tx++;
  l->st.events_tx += n_items;
  l->st.bytes_tx += len;
  return 0;
}

int ntw_biolink_send_raw(ntw_biolink *l, const void *buf, size_t len) {
  if (!l->tx) {
    l->st.dropped++;
    return 1;
  }
  if (zmq_send(l->tx, buf, len, ZMQ_DONTWAIT) < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      l->st.dropped++;
      return 1;
    }
    return NTW_ERR(NTW_ERR_IO, "biolink: send raw frame to %s: %s",
                   l->ep[l->side == NTW_BIO_SIDE_BIO ? 0 : 1], zmq_strerror(errno));
  }
  l->st.msgs_tx++;
  l->st.bytes_tx += len;
  return 0;
}

int ntw_biolink_send_hello(ntw_biolink *l, double sampling_hz, ntw_bio_unit stim_unit,
                           const ntw_bio_channel *layout, uint32_t n_channels) {
  NTW_CHECK(l->side == NTW_BIO_SIDE_BIO, NTW_ERR_ARG,
            "biolink: HELLO is sent by the biology, not the twin");
  ntw_bio_msg m = {.type = NTW_BIO_HELLO};
  m.hello.version = NTW_BIO_VERSION;
  m.hello.stim_unit = (uint16_t)stim_unit;
  m.hello.session = l->session;
  m.hello.sampling_hz = sampling_hz;
  m.hello.n_channels = n_channels;
  m.hello.channels = (ntw_bio_channel *)layout;
  /* send_msg validates (through encode) before it spends a sequence number
   * or changes anything. */
  int rc = send_msg(l, &m, 0);
  if (rc < 0) return rc;
  NTW_TRY(set_layout(l, &m));
  return rc;
}

int ntw_biolink_send_spikes(ntw_biolink *l, const ntw_bio_event *ev, uint32_t n,
                            uint64_t complete_us) {
  NTW_CHECK(l->side == NTW_BIO_SIDE_BIO, NTW_ERR_ARG,
            "biolink: SPIKES are sent by the biology, not the twin");
  ntw_bio_msg m = {.type = NTW_BIO_SPIKES};
  m.spikes.complete_us = complete_us;
  m.spikes.n = n;
  m.spikes.events = (ntw_bio_event *)ev;
  return send_msg(l, &m, n);
}

int ntw_biolink_send_stim(ntw_biolink *l, const ntw_bio_stim *st, uint32_t n) {
  NTW_CHECK(l->side == NTW_BIO_SIDE_TWIN, NTW_ERR_ARG,
            "biolink: STIM is sent by the twin, not the biology");
  ntw_bio_msg m = {.type = NTW_BIO_STIM};
  m.stim.n = n;
  m.stim.stims = (ntw_bio_stim *)st;
  return send_msg(l, &m, n);
}

int ntw_biolink_send_heartbeat(ntw_biolink *l) {
  ntw_bio_msg m = {.type = NTW_BIO_HEARTBEAT};
  m.heartbeat.echo_t_us = NTW_BIO_NO_ECHO;
  if (l->have_peer_hb) {
    uint64_t now = ntw_biolink_now(l);
    m.heartbeat.echo_t_us = l->peer_hb_t;
    m.heartbeat.hold_us = now >= l->peer_hb_recv ? now - l->peer_hb_recv : 0;
  }
  return send_msg(l, &m, 0);
}

int ntw_biolink_send_bye(ntw_biolink *l, uint32_t reason) {
  ntw_bio_msg m = {.type = NTW_BIO_BYE};
  m.bye.reason = reason;
  return send_msg(l, &m, 0);
}

int ntw_biolink_poll(ntw_biolink *l, int timeout_ms, ntw_bio_msg *out) {
  if (!l->rx) return 0;
  uint64_t deadline = mono_ns() / 1000000u + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
  unsigned dropped_here = 0;
  for (;;) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    int n = zmq_msg_recv(&m, l->rx, ZMQ_DONTWAIT);
    if (n >= 0) {
      int rc;
      if (zmq_msg_more(&m)) {
        /* The protocol is one frame per message: drop all parts as one. */
        size_t parts = 1;
        while (zmq_msg_more(&m)) {
          zmq_msg_close(&m);
          zmq_msg_init(&m);
          if (zmq_msg_recv(&m, l->rx, ZMQ_DONTWAIT) < 0) break;
          parts++;
        }
        l->st.malformed++;
        if (log_due(l->st.malformed))
          logf_(l, "%s: dropped: frame: a message of %zu parts (the protocol sends one) "
                "[malformed #%" PRIu64 "]", rx_ep(l), parts, l->st.malformed);
        rc = 0;
      } else {
        rc = ntw_biolink_feed(l, zmq_msg_data(&m), zmq_msg_size(&m), out);
      }
      zmq_msg_close(&m);
      if (rc != 0) return rc;
      /* A stream of bad frames cannot hold poll past its deadline (after at
       * least a few frames, so poll(0) still makes progress). */
      if (timeout_ms >= 0 && ++dropped_here >= 64 && mono_ns() / 1000000u >= deadline)
        return 0;
      continue;
    }
    zmq_msg_close(&m);
    if (errno != EAGAIN && errno != EINTR)
      return NTW_ERR(NTW_ERR_IO, "biolink: receive on %s: %s", rx_ep(l), zmq_strerror(errno));
    long wait = -1;
    if (timeout_ms >= 0) {
      uint64_t now = mono_ns() / 1000000u;
      if (now >= deadline) return 0;
      wait = (long)(deadline - now);
    }
    zmq_pollitem_t it = {.socket = l->rx, .events = ZMQ_POLLIN};
    if (zmq_poll(&it, 1, wait) < 0 && errno != EINTR)
      return NTW_ERR(NTW_ERR_IO, "biolink: poll on %s: %s", rx_ep(l), zmq_strerror(errno));
  }
}

int ntw_biolink_peer_silent(const ntw_biolink *l, uint64_t now_us, uint64_t timeout_us) {
  if (l->st.bye_received) return 1;
  uint64_t last = l->st.msgs_rx ? l->st.last_rx_us : l->open_us;
  return now_us > last && now_us - last > timeout_us;
}

int ntw_biolink_clock_estimate(ntw_biolink *l, double *offset_us, double *drift_ppm) {
  if (l->fit.n == 0) return 0;
  if (l->est_at != l->fit.n_total) {
    l->est_n = ntw_bio_clockfit_get(&l->fit, &l->est_off, &l->est_drift);
    /* The fit sees s_sent - r_recv, the offset minus the one-way delay of
     * the heartbeats it kept; add half the median round trip (symmetric
     * paths, as NTP assumes; the median because the fit dropped the
     * heavy-delay tail). */
    double *tmp = l->rtt_n > 0 ? malloc(l->rtt_n * sizeof *tmp) : NULL;
    if (tmp) {
      memcpy(tmp, l->rtt_ring, l->rtt_n * sizeof *tmp);
      l->est_off += 0.5 * median_of(tmp, l->rtt_n);
      free(tmp);
    } else if (l->rtt_n > 0) {
      l->est_off += 0.5 * l->st.rtt_mean_us;
    }
    l->est_at = l->fit.n_total;
  }
  *offset_us = l->est_off;
  *drift_ppm = l->est_drift;
  return l->est_n;
}

/* replay.c - `ntwin replay`: stream a recorded MEA file on the bio link in
 * real time (or faster), so a twin can run on real recordings exactly as it
 * would beside the living culture.
 *
 *   ntwin replay FILE [--format auto|sjemea|nwb|mcs|csv] [--from S] [--to S]
 *                [--speed X] [--events EP] [--commands EP] [--wait-peer S]
 *                [--batch-ms MS] [--rt-priority N] [--quiet]
 *
 * It binds the biology's side of the link (io/BIOLINK.md): HELLO with the
 * file's channels (ids 0..n-1 in the file's order, labels and positions as
 * in the file; an MCS electrode number gives the 200 µm grid position),
 * then every --batch-ms of wall time one SPIKES message with the events of
 * that slice (sent even when empty: its watermark complete_us says every
 * event before the slice's end has been sent, so the twin can run the
 * window at once), times in µs of the link's clock (since the publisher
 * started; file time - --from + the moment the replay began),
 * heartbeats every 100 ms, BYE at the end. With --wait-peer the clock starts
 * at the twin's first heartbeat. STIM commands are counted and reported: a
 * recording cannot respond to them.
 *
 * Fault injection for tests (not for users): NTW_FAULT_BIO, a comma list of
 *   late:MS       hold one batch per second back by MS ms (events late at
 *                 the twin), backwards (one event per second earlier than
 *                 its channel's last), unknown (an event on channel 65000),
 *                 malformed (a frame with a bad magic every second),
 *                 version (a frame of protocol version 99 every second),
 *                 oversized (a 2 MiB frame once), vanish:S (after S seconds
 *                 of replay, go silent without BYE and keep the sockets),
 *                 lie:MS (watermarks MS ms ahead of what was sent: a
 *                 source that breaks its promise; with late:, its held
 *                 events arrive after their window ran), reconnect (after
 *                 a twin's BYE, the next twin to send a heartbeat gets a
 *                 HELLO at once and every event sent so far again, with
 *                 their times, in one batch: an acquisition that keeps its
 *                 clock and flushes its buffer to a reconnecting client,
 *                 e.g. a twin restored from a checkpoint).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/ntw_error.h"
#include "core/realtime.h"
#include "io/biolink.h"
#include "io/recording.h"

static volatile sig_atomic_t stop_sig = 0;
static void on_sig(int s) { stop_sig = s; }

typedef struct {
  const char *file, *format, *events, *commands;
  double from_s, to_s, speed, wait_peer_s, batch_ms, rt_priority;
  bool quiet;
} replay_args;

typedef struct {
  double late_ms, vanish_s, lie_ms;
  bool backwards, unknown, malformed, version, oversized, reconnect;
} faults;

static int parse_faults(faults *f) {
  memset(f, 0, sizeof *f);
  f->vanish_s = -1;
  const char *env = getenv("NTW_FAULT_BIO");
  if (!env || !*env) return 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", env);
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (strncmp(t, "late:", 5) == 0) f->late_ms = atof(t + 5);
    else if (strncmp(t, "vanish:", 7) == 0) f->vanish_s = atof(t + 7);
    else if (strncmp(t, "lie:", 4) == 0) f->lie_ms = atof(t + 4);
    else if (strcmp(t, "backwards") == 0) f->backwards = true;
    else if (strcmp(t, "unknown") == 0) f->unknown = true;
    else if (strcmp(t, "malformed") == 0) f->malformed = true;
    else if (strcmp(t, "version") == 0) f->version = true;
    else if (strcmp(t, "oversized") == 0) f->oversized = true;
    else if (strcmp(t, "reconnect") == 0) f->reconnect = true;
    else return NTW_ERR(NTW_ERR_ARG, "NTW_FAULT_BIO: unknown fault '%s'", t);
  }
  return 0;
}

static int num_arg(const char *opt, const char *v, double lo, double *out) {
  char *end;
  NTW_CHECK(v, NTW_ERR_ARG, "%s needs a value", opt);
  errno = 0;
  double x = strtod(v, &end);
  NTW_CHECK(!errno && end != v && !*end && isfinite(x) && x >= lo, NTW_ERR_ARG,
            "%s: must be a number >= %g (got '%s')", opt, lo, v);
  *out = x;
  return 0;
}

static int parse_args(int argc, char **argv, replay_args *a) {
  memset(a, 0, sizeof *a);
  a->format = "auto";
  a->speed = 1.0;
  a->batch_ms = 1.0;
  a->wait_peer_s = 0;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(o, "--quiet") == 0) a->quiet = true;
    else if (strcmp(o, "--format") == 0 && v) a->format = v, i++;
    else if (strcmp(o, "--events") == 0 && v) a->events = v, i++;
    else if (strcmp(o, "--commands") == 0 && v) a->commands = v, i++;
    else if (strcmp(o, "--from") == 0) {
      NTW_TRY(num_arg(o, v, 0, &a->from_s));
      i++;
    }
    else if (strcmp(o, "--to") == 0) {
      NTW_TRY(num_arg(o, v, 0, &a->to_s));
      i++;
    }
    else if (strcmp(o, "--speed") == 0) {
      NTW_TRY(num_arg(o, v, 1e-3, &a->speed));
      i++;
    }
    else if (strcmp(o, "--wait-peer") == 0) {
      NTW_TRY(num_arg(o, v, 0, &a->wait_peer_s));
      i++;
    }
    else if (strcmp(o, "--batch-ms") == 0) {
      NTW_TRY(num_arg(o, v, 0.01, &a->batch_ms));
      i++;
    }
    else if (strcmp(o, "--rt-priority") == 0) {
      NTW_TRY(num_arg(o, v, 1, &a->rt_priority));
      NTW_CHECK(a->rt_priority <= 98 && a->rt_priority == floor(a->rt_priority), NTW_ERR_ARG,
                "--rt-priority: must be an integer in [1, 98] (got '%s')", v);
      i++;
    }
    else if (o[0] == '-') return NTW_ERR(NTW_ERR_ARG, "replay: unknown option '%s'", o);
    else if (!a->file) a->file = o;
    else return NTW_ERR(NTW_ERR_ARG, "replay: one FILE only (got '%s' too)", o);
  }
  NTW_CHECK(a->file, NTW_ERR_ARG, "replay: missing FILE");
  NTW_CHECK(a->to_s == 0 || a->to_s > a->from_s, NTW_ERR_ARG,
            "--to: must be > --from (%g) (got %g)", a->from_s, a->to_s);
  return 0;
}

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void nap_us(double us) {
  if (us <= 0) return;
  struct timespec ts = {(time_t)(us / 1e6), (long)fmod(us, 1e6) * 1000L};
  nanosleep(&ts, NULL);
}

/* A frame with the right size but a broken field, for fault injection. */
static void bad_frame(ntw_biolink *l, int which) {
  ntw_bio_msg m = {0};
  m.type = NTW_BIO_HEARTBEAT;
  m.heartbeat.echo_t_us = NTW_BIO_NO_ECHO;
  unsigned char buf[256];
  size_t len = 0;
  if (ntw_bio_encode(&m, buf, sizeof buf, &len) != 0) return;
  if (which == 0) buf[0] = 'X';            /* magic */
  else buf[4] = 99, buf[5] = 0;            /* version (little endian u16) */
  ntw_biolink_send_raw(l, buf, len);
}

static int replay(const replay_args *a) {
  faults f;
  NTW_TRY(parse_faults(&f));
  ntw_rec_format fmt;
  NTW_TRY(ntw_rec_format_parse(a->format, &fmt));
  ntw_recording *rec = NULL;
  NTW_TRY(ntw_recording_load_as(a->file, fmt, &rec));
  int err = 0;
  ntw_biolink *link = NULL;
  ntw_bio_msg msg = {0};
  ntw_bio_channel *ch = calloc(rec->n_channels + 1, sizeof *ch);
  ntw_bio_event *ev = NULL;
  size_t evcap = 0;
  if (!ch) {
    err = NTW_ERR(NTW_ERR_NOMEM, "out of memory");
    goto out;
  }
  if (rec->n_channels > NTW_BIO_MAX_CHANNELS - 1) {
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: %zu channels: the bio link carries at most %u",
                  a->file, rec->n_channels, NTW_BIO_MAX_CHANNELS - 1);
    goto out;
  }
  for (size_t k = 0; k < rec->n_channels; k++) {
    const ntw_rec_channel *c = &rec->channels[k];
    ch[k].id = (uint16_t)k;
    double x = c->x_um, y = c->y_um;
    if (!isfinite(x) || !isfinite(y)) {
      x = c->electrode >= 11 ? (c->electrode / 10 - 1) * 200.0 : 0.0;
      y = c->electrode >= 11 ? (c->electrode % 10 - 1) * 200.0 : 0.0;
    }
    ch[k].x_um = (float)x;
    ch[k].y_um = (float)y;
    snprintf(ch[k].label, sizeof ch[k].label, "%s", c->label);
  }
  ntw_bio_endpoints ep = {a->events, a->commands};
  ntw_bio_opts bo;
  ntw_bio_opts_default(&bo);
  /* before the link's threads start */
  bo.io_rt_priority = ntw_realtime_enter_cli((int)a->rt_priority, "ntwin replay");
  NTW_GOTO(err, ntw_biolink_open_bio(&ep, &bo, &link), out);
  const uint64_t from_us = (uint64_t)llround(a->from_s * 1e6);
  const uint64_t to_us = a->to_s > 0 ? (uint64_t)llround(a->to_s * 1e6) : rec->duration_us;
  size_t next = 0;
  while (next < rec->n_events && rec->t_us[next] < from_us) next++;
  const size_t first_ev = next;
  if (!a->quiet)
    fprintf(stderr, "ntwin replay: %s (%s, %zu channels), %.1f s from %.1f s at %gx on %s\n",
            a->file, ntw_rec_format_name(rec->format), rec->n_channels,
            (to_us - from_us) * 1e-6, a->from_s, a->speed, ntw_biolink_endpoint(link, 0));
  /* Handshake: HELLO every second until the twin's first heartbeat. */
  uint64_t t_hello = 0;
  const uint64_t wait_end = mono_us() + (uint64_t)(a->wait_peer_s * 1e6);
  for (;;) {
    const uint64_t now = mono_us();
    if (!t_hello || now - t_hello >= 1000000u) {
      NTW_GOTO(err, ntw_biolink_send_hello(link, 10000.0, NTW_BIO_UNIT_MV, ch,
                                           (uint32_t)rec->n_channels) < 0 ? NTW_ERR_IO : 0, out);
      t_hello = now;
    }
    if (ntw_biolink_stats(link)->heartbeats_rx > 0 || now >= wait_end || stop_sig) break;
    int r = ntw_biolink_poll(link, 20, &msg);
    NTW_GOTO(err, r < 0 ? r : 0, out);
  }
  /* The twin may have connected after the last HELLO went out (a PUSH
   * without a connected peer drops it; its heartbeat can arrive before our
   * PUSH is connected to it): say it again until it is queued. */
  for (int tries = 0; tries < 500 && !stop_sig; tries++) {
    int r = ntw_biolink_send_hello(link, 10000.0, NTW_BIO_UNIT_MV, ch, (uint32_t)rec->n_channels);
    NTW_GOTO(err, r < 0 ? NTW_ERR_IO : 0, out);
    if (r == 0) break; /* queued for a connected peer */
    nap_us(10000);
  }
  /* Replay time 0 is now, on the link's clock (the one its heartbeats
   * carry, so the twin's clock fit maps event times directly). */
  const uint64_t t0 = ntw_biolink_now(link);
  uint64_t last_hb = 0, last_hello = t0, sent = 0, stims = 0;
  uint64_t held_until = 0;
  double next_late = 1e6, next_back = 1e6, next_bad = 1e6;
  size_t held_from = SIZE_MAX;
  bool oversized_done = false, silent = false;
  int peer = 1; /* reconnect: 1 a twin is there, 0 it said BYE, 2 a new one */
  uint64_t resent = 0, last_complete = 0;
  /* Events go out with their file time - from: the replay clock at speed 1
   * (--speed rescales the wall clock, not the times; the twin's own file
   * source is the better choice away from speed 1). */
  const uint64_t base = t0;
  while (!stop_sig) {
    const uint64_t now = ntw_biolink_now(link);
    const double rt_us = (double)(now - base) * a->speed; /* replay time */
    const uint64_t upto = from_us + (uint64_t)rt_us;
    if (f.vanish_s >= 0 && rt_us >= f.vanish_s * 1e6) silent = true;
    if (peer == 2) { /* reconnect: HELLO, a heartbeat, then everything again */
      for (int tries = 0; tries < 500 && !stop_sig; tries++) {
        int r = ntw_biolink_send_hello(link, 10000.0, NTW_BIO_UNIT_MV, ch, (uint32_t)rec->n_channels);
        NTW_GOTO(err, r < 0 ? NTW_ERR_IO : 0, out);
        if (r == 0) break;
        nap_us(10000);
      }
      ntw_biolink_send_heartbeat(link);
      last_hb = now;
      size_t m = 0;
      for (size_t i = first_ev; i < next; i++) m += i < held_from;
      ntw_bio_event *all = malloc((m + 1) * sizeof *all);
      NTW_GOTO(err, all ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"), out);
      m = 0;
      for (size_t i = first_ev; i < next && i < held_from; i++)
        all[m++] = (ntw_bio_event){(uint16_t)rec->channel[i], t0 + rec->t_us[i] - from_us};
      int r = ntw_biolink_send_spikes(link, all, (uint32_t)m, last_complete);
      free(all);
      NTW_GOTO(err, r < 0 ? r : 0, out);
      if (r == 0) resent += m;
      if (!a->quiet)
        fprintf(stderr, "ntwin replay: a twin connected again: HELLO and %zu events sent "
                "again (fault reconnect)\n", m);
      peer = 1;
    }
    if (!silent && now - last_hb >= 100000u) {
      ntw_biolink_send_heartbeat(link);
      last_hb = now;
    }
    if (!silent && now - last_hello >= 10000000u) {
      ntw_biolink_send_hello(link, 10000.0, NTW_BIO_UNIT_MV, ch, (uint32_t)rec->n_channels);
      last_hello = now;
    }
    if (f.late_ms > 0 && rt_us >= next_late && held_from == SIZE_MAX) {
      held_from = next; /* hold this and the following slices back */
      held_until = now + (uint64_t)(f.late_ms * 1e3);
      next_late += 1e6;
    }
    const size_t first = held_from != SIZE_MAX ? held_from : next;
    while (next < rec->n_events && rec->t_us[next] < upto && rec->t_us[next] < to_us) next++;
    const bool holding = held_from != SIZE_MAX && now < held_until;
    size_t n = 0;
    /* The watermark: every event before upto has been sent with this
     * batch. Nothing goes out while a batch is held back (late:), so the
     * twin waits for it up to its allowance, as for an honest late source;
     * lie:MS promises more than was sent. */
    const uint64_t complete = t0 + upto - from_us + (uint64_t)(f.lie_ms * 1e3);
    if (!silent && !holding) {
      if (next - first + 4 > evcap) {
        evcap = 2 * (next - first) + 64;
        ntw_bio_event *ne = realloc(ev, evcap * sizeof *ev);
        NTW_GOTO(err, ne ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory"), out);
        ev = ne;
      }
      for (size_t i = first; i < next; i++)
        ev[n++] = (ntw_bio_event){(uint16_t)rec->channel[i], t0 + rec->t_us[i] - from_us};
      if (n && f.backwards && rt_us >= next_back) { /* the last event again: not after its channel's last */
        ev[n] = ev[n - 1];
        n++;
        next_back += 1e6;
      }
      if (n && f.unknown) {
        ev[n] = (ntw_bio_event){65000, ev[n - 1].t_us};
        n++;
      }
      int r = ntw_biolink_send_spikes(link, ev, (uint32_t)n, complete);
      NTW_GOTO(err, r < 0 ? r : 0, out);
      if (r == 0) sent += n;
      last_complete = complete;
    }
    if (!holding) held_from = SIZE_MAX; /* released (even if nothing came) */
    if (!silent && (f.malformed || f.version) && rt_us >= next_bad) {
      if (f.malformed) bad_frame(link, 0);
      if (f.version) bad_frame(link, 1);
      next_bad += 1e6;
    }
    if (!silent && f.oversized && !oversized_done && rt_us > 500000) {
      size_t big = 2u << 20;
      unsigned char *b = calloc(big, 1);
      if (b) {
        memcpy(b, "NTWB", 4);
        ntw_biolink_send_raw(link, b, big);
        free(b);
      }
      oversized_done = true;
    }
    int r;
    while ((r = ntw_biolink_poll(link, 0, &msg)) == 1) {
      if (msg.type == NTW_BIO_STIM) stims += msg.stim.n;
      if (f.reconnect && msg.type == NTW_BIO_BYE) peer = 0;
      if (f.reconnect && msg.type == NTW_BIO_HEARTBEAT && peer == 0) peer = 2;
    }
    NTW_GOTO(err, r < 0 ? r : 0, out);
    if ((next >= rec->n_events || upto >= to_us) && held_from == SIZE_MAX) break;
    nap_us(a->batch_ms * 1e3 / a->speed - (double)(ntw_biolink_now(link) - now));
  }
  if (silent) { /* a vanished peer: keep the sockets, say nothing */
    while (!stop_sig) nap_us(1e5);
  }
  ntw_biolink_send_bye(link, 0);
  if (!a->quiet) {
    const ntw_bio_stats *st = ntw_biolink_stats(link);
    fprintf(stderr,
            "ntwin replay: sent %" PRIu64 " events in %" PRIu64 " messages (%" PRIu64
            " dropped); %" PRIu64 " stimulation commands received (a recording "
            "cannot respond)\n",
            sent, st->msgs_tx, st->dropped, stims);
    if (f.reconnect)
      fprintf(stderr, "ntwin replay: %" PRIu64 " events sent again to reconnecting twins\n",
              resent);
  }
out:
  ntw_bio_msg_free(&msg);
  ntw_biolink_close(&link);
  free(ev);
  free(ch);
  ntw_recording_destroy(&rec);
  return err;
}

int ntw_cli_replay(int argc, char **argv) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  replay_args a;
  int err = parse_args(argc, argv, &a);
  if (err) {
    if (rank == 0) fprintf(stderr, "ntwin: error: %s\n(see 'ntwin help')\n", ntw_error_msg());
    return 2;
  }
  if (rank != 0) return 0; /* one publisher */
  signal(SIGINT, on_sig);
  signal(SIGTERM, on_sig);
  err = replay(&a);
  if (err) {
    fprintf(stderr, "ntwin: error: %s\n", ntw_error_msg());
    return 1;
  }
  return 0;
}

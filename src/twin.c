/* twin.c - the twin coupling on rank 0 (see twin.h for what and why). */
#define _POSIX_C_SOURCE 200809L
#include "twin.h"

#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/ntw_error.h"
#include "core/realtime.h"
#include "core/vec.h"
#include "io/biolink.h"
#include "io/checkpoint.h"
#include "io/recording.h"

typedef struct {
  uint32_t ch;
  int64_t stamp; /* spike time in steps */
} tev;

typedef struct {
  uint32_t ch;
  uint64_t t_us;   /* the biology's clock */
  uint64_t t_recv; /* local clock at reception */
} pend;

typedef struct {
  double t_ms;       /* simulated time of the decision */
  uint64_t t_us;     /* the biology's clock of the first pulse */
  uint32_t ch;       /* channel index */
  float latency_ms;  /* last bio event received -> command sent */
  uint8_t sent;      /* 1 sent, 0 dropped by the link, 2 sham (loop off) */
} stim_rec;

enum { CTL_RUN = 0, CTL_STOP = 1, CTL_FAIL = 2 };

typedef struct {
  int32_t stop; /* CTL_* */
  int32_t nev;  /* events to force */
  int32_t wupd; /* 1: W follows */
  int32_t pad;
} ctl_hdr;

struct ntw_twin {
  ntw_engine *e;
  const ntw_config *cfg;
  const ntw_twin_cfg *tc;
  int rank, P, quiet;
  bool paced; /* windows locked to the wall clock (link, or a paced file) */
  ntw_realtime rt; /* asked for and granted on every rank */
  double dt;
  int D;
  uint64_t mfirst, pfirst, npop; /* mirror/predict first gid, size */
  uint64_t sfirst;               /* stim_input first gid */
  uint32_t nch;                  /* channels in use (<= npop) */
  float *W;                      /* npop x npop, W[k * npop + j] */
  int64_t dsteps;                /* delay of the assimilated projection */
  int64_t *ctl_buf;              /* events as (gid, stamp) pairs */
  size_t ctl_cap;
  int64_t *gbuf;                 /* gather buffers (send; rank 0: all) */
  size_t gcap;
  int64_t *gall;
  size_t gall_cap;
  uint64_t *force_gid;           /* the window's forced spikes */
  int64_t *force_stamp;
  size_t force_cap;
  int *gcounts, *gdispl;
  char outdir[4096];
  int failed;                    /* CTL_FAIL was broadcast */
  char fail_msg[512];
  char stop_reason[64];

  /* ---- rank 0 ---- */
  ntw_biolink *link;
  ntw_bio_msg msg;
  ntw_recording *rec;
  size_t rec_next;
  uint64_t rec_end_us; /* replay stops here (bio clock) */
  int64_t local0_us;   /* file source: local clock origin (mono_us) */
  int32_t *idx_of_id;  /* channel id -> index, 65536 entries, -1 unknown */
  char (*label)[NTW_BIO_LABEL_MAX + 1];
  float *x_um, *y_um;
  uint16_t *ch_id;
  uint32_t stim_idx[NTW_TWIN_MAX_STIM_CH];
 VEC(double) env_t, env_y; /* clock: per second, the largest t_sent - t_recv */
  double clk_offset, clk_drift;
  bool started;
  int64_t B0;           /* biology clock at simulated time 0 (after a restore
                           on the link: may lie before the biology's 0) */
  int64_t start_us;     /* biology clock at the first window's start (B0, or
                           after a restore B0 + its time) */
  uint64_t last_hb_us;  /* local clock of our last heartbeat */
  bool bye;
  VEC(pend) pending;
  VEC(tev) win_bio;     /* this window's injected events */
  VEC(uint64_t) win_us; /* their times in the biology's clock */
  VEC(tev) stim_force;  /* our own stimulation pulses, to force on stim_input */
  uint64_t stim_forced, stim_force_missed;
  uint64_t win_last_recv;  /* latest t_recv of an injected event */
  double win_release_us;   /* local release time of this window */
  uint64_t win_ready_us;   /* when rank 0 had the window's biology */
  /* everything, for twin.h5 and the fidelity */
  VEC(tev) bio;
  VEC(uint64_t) bio_us;
  VEC(tev) pred;
  VEC(stim_rec) stims;
  VEC(float) lag_ms;
  VEC(float) ready_ms, run_ms; /* per window: lag = ready + run */
  VEC(float) lat_ms; /* per window with events: last event received -> the
                        twin's decision for that window done */
  VEC(double) fid_t;
  VEC(double) fid_gamma;   /* per interval, mean over channels */
  VEC(double) fid_corr;
  VEC(double) fid_gamma_sym; /* the usual symmetric Gamma, for reference */
  VEC(float) fid_gamma_ch; /* per interval x nch */
  VEC(uint32_t) fid_nbio, fid_npred;
  VEC(float) W_hist;       /* per interval, nch x nch */
  VEC(double) clk_t, clk_off, clk_drift_hist;
  size_t fid_bio_from, fid_pred_from;
  int64_t fid_next;        /* step of the next fidelity interval end */
  int64_t fid_lo;
  /* assimilation */
  double *dW;              /* nch x nch */
  double *xs;              /* trace per channel at xs_t */
  int64_t xs_t;            /* stamp the traces refer to */
  size_t xs_next;          /* next bio spike to add */
  int64_t w_next;          /* step of the next W push */
  bool w_push;
  /* stimulation */
  double act_mean;         /* running mean of predicted activity per window */
  int64_t *act_ring;       /* predicted spikes per window, horizon windows */
  int act_n, act_pos;
  int64_t act_sum;
  double last_stim_ms, next_periodic_ms;
  /* counters (since t = 0: restored from a checkpoint with twin state) */
  uint64_t late, shifted, before_start, injected, misses, windows, stims_sent,
      stims_dropped, shams, predicted;
  uint64_t by_watermark; /* windows released by the source's watermark */
  double last_print_ms;
  /* checkpoints */
  float *W_applied;        /* the W the synapses hold (W after the push) */
  int64_t done_to;         /* every rank: end of the last window done */
  int64_t resumed_step;    /* restored at this step; -1: a fresh run */
  bool state_restored;     /* ... with the twin's state from the file */
  int64_t counters_from;   /* step the counters start at */
  size_t out_bio0, out_pred0; /* bio, pred before these: carried over from
                                 the checkpoint (before resumed_step), not
                                 output again */
  /* After a restore on the link: the biology's clock up to which the
   * checkpoint's twin took every event (its B0 + the checkpoint's time;
   * 0: none, or the source's clock is not the checkpoint's). An event
   * stamped before it was sent before the checkpoint: already delivered
   * (or from before that twin's start), never injected again. */
  int64_t resume_us;
  uint64_t dropped_resume; /* such events received by this run */
};

/* ---------------------------------------------------------------- clocks */

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t local_now(const ntw_twin *tw) {
  return tw->link ? ntw_biolink_now(tw->link) : (uint64_t)((int64_t)mono_us() - tw->local0_us);
}

/* The biology's clock against ours, from its heartbeats: each gives
 * y = t_sent (its clock) - t_recv (ours) = offset - delay, delay >= 0. The
 * delay includes any time the message waited for us to read it, which
 * grows while the twin runs behind; a least-squares fit over all of them
 * (the link's own estimate, also reported) then shows a false drift. So
 * pacing uses the upper envelope: the largest y of each second of our
 * clock (the least-delayed heartbeat), the offset from the recent maxima
 * and, once they span 10 s, a line through the last 60 of them. */
static void clock_add(ntw_twin *tw, const ntw_bio_msg *m) {
  const double y = (double)m->t_sent_us - (double)m->t_recv_us;
  const double sec = floor((double)m->t_recv_us * 1e-6);
  const size_t n = tw->env_t.n;
  if (n && tw->env_t.v[n - 1] == sec) {
    if (y > tw->env_y.v[n - 1]) tw->env_y.v[n - 1] = y;
  } else {
    if (tw->env_t.n == tw->env_t.cap) {
      size_t c = tw->env_t.cap ? 2 * tw->env_t.cap : 64;
      double *a = realloc(tw->env_t.v, c * sizeof *a), *b = realloc(tw->env_y.v, c * sizeof *b);
      if (a) tw->env_t.v = a;
      if (b) tw->env_y.v = b;
      if (!a || !b) return;
      tw->env_t.cap = tw->env_y.cap = c;
    }
    tw->env_t.v[tw->env_t.n++] = sec;
    tw->env_y.v[tw->env_y.n++] = y;
  }
  /* refit */
  const size_t N = tw->env_t.n, k0 = N > 60 ? N - 60 : 0;
  double mx = -1e300;
  for (size_t i = N > 10 ? N - 10 : 0; i < N; i++) mx = fmax(mx, tw->env_y.v[i]);
  tw->clk_offset = mx;
  tw->clk_drift = 0;
  if (N - k0 >= 10 && tw->env_t.v[N - 1] - tw->env_t.v[k0] >= 10) {
    double st = 0, sy = 0, stt = 0, sty = 0, c = (double)(N - k0);
    for (size_t i = k0; i < N; i++) {
      const double t = (tw->env_t.v[i] - tw->env_t.v[k0]) * 1e6, v = tw->env_y.v[i];
      st += t, sy += v, stt += t * t, sty += t * v;
    }
    const double den = c * stt - st * st;
    if (den > 0) {
      const double b = (c * sty - st * sy) / den, a = (sy - b * st) / c;
      tw->clk_drift = b;                             /* y = a + b t */
      tw->clk_offset = a - b * tw->env_t.v[k0] * 1e6; /* at local 0 */
    }
  }
}

/* The biology's clock for a local time, and back. */
static double bio_of_local(ntw_twin *tw, double r) {
  if (!tw->link) return r + (double)tw->B0;
  return r + tw->clk_offset + tw->clk_drift * r;
}

static double local_of_bio(ntw_twin *tw, double b) {
  if (!tw->link) return b - (double)tw->B0;
  return (b - tw->clk_offset) / (1.0 + tw->clk_drift);
}

static void sleep_us(double us) {
  if (us <= 0) return;
  struct timespec ts = {(time_t)(us / 1e6), (long)fmod(us, 1e6) * 1000L};
  nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ the source */

static void twin_log(const ntw_twin *tw, const char *fmt, ...) NTW_PRINTF(2, 3);
static void twin_log(const ntw_twin *tw, const char *fmt, ...) {
  if (tw->quiet) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("ntwin: twin: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static int set_layout(ntw_twin *tw, const ntw_bio_channel *ch, uint32_t n) {
  tw->nch = n;
  tw->label = calloc(n ? n : 1, sizeof *tw->label);
  tw->x_um = calloc(n ? n : 1, sizeof *tw->x_um);
  tw->y_um = calloc(n ? n : 1, sizeof *tw->y_um);
  tw->ch_id = calloc(n ? n : 1, sizeof *tw->ch_id);
  NTW_CHECK(tw->label && tw->x_um && tw->y_um && tw->ch_id, NTW_ERR_NOMEM,
            "out of memory for the layout");
  for (uint32_t k = 0; k < n; k++) {
    tw->idx_of_id[ch[k].id] = (int32_t)k;
    tw->ch_id[k] = ch[k].id;
    tw->x_um[k] = ch[k].x_um;
    tw->y_um[k] = ch[k].y_um;
    snprintf(tw->label[k], sizeof tw->label[k], "%s", ch[k].label);
  }
  return 0;
}

static int handle_msg(ntw_twin *tw, const ntw_bio_msg *m) {
  if (m->type == NTW_BIO_SPIKES) {
    for (uint32_t i = 0; i < m->spikes.n; i++) {
      const ntw_bio_event *ev = &m->spikes.events[i];
      int32_t k = tw->idx_of_id[ev->channel];
      if (k < 0) continue; /* the link already counts unknown channels */
      VPUSH(tw->pending, ((pend){(uint32_t)k, ev->t_us, m->t_recv_us}));
    }
  } else if (m->type == NTW_BIO_HEARTBEAT) {
    clock_add(tw, m);
  } else if (m->type == NTW_BIO_BYE) {
    tw->bye = true;
  }
  return 0;
}

static int link_setup(ntw_twin *tw) {
  const ntw_twin_cfg *tc = tw->tc;
  ntw_bio_endpoints ep = {tc->events, tc->commands};
  ntw_bio_opts o;
  ntw_bio_opts_default(&o);
  o.max_msg_bytes = tc->max_msg_bytes;
  if (tw->rt.fifo) o.io_rt_priority = tw->rt.priority + 1; /* above the compute */
  NTW_TRY(ntw_biolink_open_twin(&ep, &o, &tw->link));
  /* Say hello with heartbeats until the biology's HELLO and a heartbeat of
   * its own are in (a culture started with --wait-peer starts its clock at
   * our first heartbeat). */
  const uint64_t t_end = local_now(tw) + (uint64_t)(tc->start_timeout_ms * 1e3);
  for (;;) {
    const uint64_t now = local_now(tw);
    if (now - tw->last_hb_us >= (uint64_t)(tc->heartbeat_ms * 1e3) || !tw->last_hb_us) {
      NTW_TRY(ntw_biolink_send_heartbeat(tw->link) < 0 ? NTW_ERR_IO : 0);
      tw->last_hb_us = now ? now : 1;
    }
    const ntw_bio_stats *st = ntw_biolink_stats(tw->link);
    if (ntw_biolink_hello(tw->link) && st->heartbeats_rx > 0) break;
    NTW_CHECK(now < t_end, NTW_ERR_IO,
              "%s: twin.source: no HELLO and heartbeat from the biology at %s "
              "within %g ms (is `ntwin culture` or the acquisition running?)",
              tw->cfg->path, tc->events, tc->start_timeout_ms);
    int r = ntw_biolink_poll(tw->link, 20, &tw->msg);
    NTW_CHECK(r >= 0, NTW_ERR_IO, "biolink: receive failed on %s", tc->events);
    if (r == 1 && tw->msg.type == NTW_BIO_HEARTBEAT) clock_add(tw, &tw->msg);
  }
  const ntw_bio_msg *h = ntw_biolink_hello(tw->link);
  NTW_CHECK(h->hello.n_channels <= tw->npop, NTW_ERR_CONFIG,
            "%s: twin.mirror: the biology has %" PRIu32 " channels but "
            "population '%s' has %" PRIu64 " neurons (one per channel)",
            tw->cfg->path, h->hello.n_channels, tw->cfg->pops[tc->mirror].name,
            tw->npop);
  NTW_TRY(set_layout(tw, h->hello.channels, h->hello.n_channels));
  twin_log(tw, "linked to the biology at %s: %" PRIu32 " channels, sampling %g Hz",
           tc->events, tw->nch, h->hello.sampling_hz);
  /* Events that came with the handshake belong before time 0. */
  tw->pending.n = 0;
  return 0;
}

/* File source: events before this bound (biology clock) are taken by the
 * collect of the window ending at step hi. */
static uint64_t rec_upto(const ntw_twin *tw, int64_t hi) {
  return (uint64_t)(tw->B0 + (int64_t)ceil(hi * tw->dt * 1e3));
}

/* File source: the next event to take after the windows up to step `step`
 * (what the collects of those windows leave in rec_next). */
static void rec_seek(ntw_twin *tw, int64_t step) {
  const ntw_recording *r = tw->rec;
  const uint64_t upto = rec_upto(tw, step);
  tw->rec_next = 0;
  while (tw->rec_next < r->n_events && r->t_us[tw->rec_next] < upto &&
         r->t_us[tw->rec_next] < tw->rec_end_us)
    tw->rec_next++;
}

static int file_setup(ntw_twin *tw) {
  const ntw_twin_cfg *tc = tw->tc;
  ntw_rec_format fmt;
  NTW_CHECK(ntw_rec_format_parse(tc->format, &fmt) == 0, NTW_ERR_CONFIG,
            "%s: twin.source.format: unknown format '%s' (known: auto, sjemea, "
            "nwb, mcs, csv)", tw->cfg->path, tc->format);
  NTW_TRY(ntw_recording_load_as(tc->file, fmt, &tw->rec));
  const ntw_recording *r = tw->rec;
  NTW_CHECK(r->n_channels <= tw->npop, NTW_ERR_CONFIG,
            "%s: twin.mirror: %s has %zu channels but population '%s' has "
            "%" PRIu64 " neurons (one per channel)",
            tw->cfg->path, tc->file, r->n_channels,
            tw->cfg->pops[tc->mirror].name, tw->npop);
  ntw_bio_channel *ch = calloc(r->n_channels + 1, sizeof *ch);
  NTW_ALLOC_CHECK(ch);
  for (size_t k = 0; k < r->n_channels; k++) {
    ch[k].id = (uint16_t)k;
    ch[k].x_um = isfinite(r->channels[k].x_um) ? (float)r->channels[k].x_um : NAN;
    ch[k].y_um = isfinite(r->channels[k].y_um) ? (float)r->channels[k].y_um : NAN;
    snprintf(ch[k].label, sizeof ch[k].label, "%s", r->channels[k].label);
  }
  int err = set_layout(tw, ch, (uint32_t)r->n_channels);
  free(ch);
  NTW_TRY(err);
  tw->B0 = llround(tc->from_s * 1e6);
  tw->rec_end_us = tc->to_s > 0 ? (uint64_t)llround(tc->to_s * 1e6) : r->duration_us;
  /* After a restore the run continues at the checkpoint's step: the
   * events before it were taken by the run that wrote it (and those it
   * took for later steps are in its saved pending events). */
  ntw_engine_stats st;
  ntw_engine_get_stats(tw->e, &st);
  rec_seek(tw, st.step);
  twin_log(tw, "replaying %s: %zu channels, %.1f s from %.1f s%s", tc->file,
           r->n_channels, ((double)tw->rec_end_us - (double)tw->B0) * 1e-6, tc->from_s,
           tc->pace ? ", paced" : ", as fast as possible");
  return 0;
}

/* Stimulation electrodes by label. */
static int resolve_stim(ntw_twin *tw) {
  const ntw_twin_cfg *tc = tw->tc;
  for (size_t i = 0; i < tc->nstim_ch; i++) {
    uint32_t k = 0;
    while (k < tw->nch && strcmp(tw->label[k], tc->stim_ch[i]) != 0) k++;
    NTW_CHECK(k < tw->nch, NTW_ERR_CONFIG,
              "%s: twin.stimulation.electrodes[%zu]: no channel labelled '%s' "
              "in the biology's layout",
              tw->cfg->path, i, tc->stim_ch[i]);
    tw->stim_idx[i] = k;
  }
  return 0;
}

/* ------------------------------------------------------- before a window */

/* Rank 0: wait (paced) until the window's biology is in and collect it. */
static int collect(ntw_twin *tw, int64_t lo, int64_t hi) {
  const ntw_twin_cfg *tc = tw->tc;
  const double t1_us = hi * tw->dt * 1e3;
  if (tw->link) {
    const double target = (double)tw->B0 + t1_us;
    for (;;) {
      const uint64_t now = local_now(tw);
      if (now - tw->last_hb_us >= (uint64_t)(tc->heartbeat_ms * 1e3)) {
        if (ntw_biolink_send_heartbeat(tw->link) < 0)
          return NTW_ERR(NTW_ERR_IO, "biolink: cannot send a heartbeat");
        tw->last_hb_us = now;
      }
      if (tw->bye) break; /* draining what was received before BYE */
      /* The source promised every event before its watermark: once that
       * passes the window's end, the window is complete - run it now. */
      if (tc->release_watermark &&
          (double)ntw_biolink_stats(tw->link)->watermark_us >= target) {
        tw->by_watermark++;
        break;
      }
      if (ntw_biolink_peer_silent(tw->link, now, (uint64_t)(tc->peer_timeout_ms * 1e3))) {
        if (!tw->stop_reason[0]) {
          snprintf(tw->stop_reason, sizeof tw->stop_reason, "peer_silent");
          fprintf(stderr, "ntwin: twin: no message from the biology for %g ms: "
                  "stopping cleanly at t = %g ms\n", tc->peer_timeout_ms, lo * tw->dt);
        }
        break;
      }
      const double release = local_of_bio(tw, target) + tc->allowance_ms * 1e3;
      tw->win_release_us = release;
      if ((double)now >= release) break;
      double wait = release - (double)now;
      int r = ntw_biolink_poll(tw->link, wait > 2000 ? 1 : 0, &tw->msg);
      NTW_CHECK(r >= 0, NTW_ERR_IO, "biolink: receive failed on %s", tc->events);
      if (r == 1) NTW_TRY(handle_msg(tw, &tw->msg));
      else if (wait <= 2000) sleep_us(wait < 100 ? wait : 100);
    }
    int r;
    while ((r = ntw_biolink_poll(tw->link, 0, &tw->msg)) == 1)
      NTW_TRY(handle_msg(tw, &tw->msg));
    NTW_CHECK(r >= 0, NTW_ERR_IO, "biolink: receive failed on %s", tc->events);
    if (tw->bye && !tw->stop_reason[0]) {
      /* BYE: nothing more will come. Run on (without waiting) until every
       * event received has been injected, then stop. */
      bool left = false;
      for (size_t i = 0; i < tw->pending.n && !left; i++)
        left = (double)((int64_t)tw->pending.v[i].t_us - tw->B0) >= t1_us;
      if (!left) {
        snprintf(tw->stop_reason, sizeof tw->stop_reason, "peer_bye");
        twin_log(tw, "the biology said BYE: stopping at t = %g ms", hi * tw->dt);
      }
    }
  } else {
    const ntw_recording *rec = tw->rec;
    if (tc->pace) {
      tw->win_release_us = t1_us + tc->allowance_ms * 1e3;
      sleep_us(tw->win_release_us - (double)local_now(tw));
    }
    const uint64_t upto = rec_upto(tw, hi);
    const uint64_t now = local_now(tw);
    while (tw->rec_next < rec->n_events && rec->t_us[tw->rec_next] < upto &&
           rec->t_us[tw->rec_next] < tw->rec_end_us) {
      VPUSH(tw->pending, ((pend){rec->channel[tw->rec_next], rec->t_us[tw->rec_next], now}));
      tw->rec_next++;
    }
    if ((tw->rec_next >= rec->n_events || upto >= tw->rec_end_us) &&
        !tw->stop_reason[0])
      snprintf(tw->stop_reason, sizeof tw->stop_reason, "end_of_recording");
  }
  tw->win_ready_us = local_now(tw);
  /* Split the pending events: this window, later, or late. */
  tw->win_bio.n = tw->win_us.n = 0;
  tw->win_last_recv = 0;
  size_t keep = 0;
  const double step_us = tw->dt * 1e3;
  for (size_t i = 0; i < tw->pending.n; i++) {
    pend p = tw->pending.v[i];
    if ((int64_t)p.t_us < tw->start_us) { /* before time 0 or, after a restore on
                                             the link, while no twin ran */
      if ((int64_t)p.t_us < tw->resume_us) tw->dropped_resume++; /* or before
                                             the checkpoint: delivered then */
      else tw->before_start++;
      continue;
    }
    int64_t stamp = (int64_t)floor((double)((int64_t)p.t_us - tw->B0) / step_us) + 1;
    if (stamp > hi) {
      tw->pending.v[keep++] = p;
      continue;
    }
    if (stamp - 1 < lo) { /* its step was already executed */
      tw->late++;
      if (tc->late == NTW_LATE_DROP) continue;
      if (tc->late == NTW_LATE_ABORT) {
        snprintf(tw->fail_msg, sizeof tw->fail_msg,
                 "twin: late event: channel %s at %.3f ms arrived after its "
                 "window was executed (now at %g ms; twin.timing.late_policy "
                 "\"abort\")",
                 tw->label[p.ch], (double)((int64_t)p.t_us - tw->B0) * 1e-3, lo * tw->dt);
        tw->failed = 1;
        continue;
      }
      stamp = lo + 1;
      tw->shifted++;
    }
    VPUSH(tw->win_bio, ((tev){p.ch, stamp}));
    VPUSH(tw->win_us, p.t_us);
    if (p.t_recv > tw->win_last_recv) tw->win_last_recv = p.t_recv;
  }
  tw->pending.n = keep;
  return 0;
}

static int cmp_tev(const void *a, const void *b) {
  const tev *x = a, *y = b;
  if (x->stamp != y->stamp) return (x->stamp > y->stamp) - (x->stamp < y->stamp);
  return (x->ch > y->ch) - (x->ch < y->ch);
}

/* Sort the window's events by (stamp, channel), their times alongside
 * (insertion sort: a window holds few events and arrives nearly sorted). */
static void sort_window(ntw_twin *tw) {
  tev *v = tw->win_bio.v;
  uint64_t *u = tw->win_us.v;
  for (size_t i = 1; i < tw->win_bio.n; i++)
    for (size_t j = i; j > 0 && cmp_tev(&v[j - 1], &v[j]) > 0; j--) {
      tev t = v[j]; v[j] = v[j - 1]; v[j - 1] = t;
      uint64_t x = u[j]; u[j] = u[j - 1]; u[j - 1] = x;
    }
}

static void set_w(uint64_t src, uint64_t tgt, float *w, void *ctx) {
  const ntw_twin *tw = ctx;
  *w = tw->W[(tgt - tw->pfirst) * tw->npop + (src - tw->mfirst)];
}

static int ctl_reserve(ntw_twin *tw, size_t nev) {
  if (nev * 2 <= tw->ctl_cap) return 0;
  size_t cap = 2 * nev + 64;
  int64_t *b = realloc(tw->ctl_buf, cap * sizeof *b);
  NTW_ALLOC_CHECK(b);
  tw->ctl_buf = b;
  tw->ctl_cap = cap;
  return 0;
}

/* Rank 0: the window's forced spikes as (gid, stamp) pairs in ctl_buf: the
 * recorded events on the mirror, then our own stimulation pulses on
 * stim_input (a pulse whose step is already executed is counted and
 * skipped). *nev gets their number. */
static int fill_control(ntw_twin *tw, int64_t lo, int32_t *nev) {
  NTW_TRY(ctl_reserve(tw, tw->win_bio.n + tw->stim_force.n));
  int32_t i = 0;
  for (size_t k = 0; k < tw->win_bio.n; k++, i++) {
    tw->ctl_buf[2 * i] = (int64_t)(tw->mfirst + tw->win_bio.v[k].ch);
    tw->ctl_buf[2 * i + 1] = tw->win_bio.v[k].stamp;
  }
  for (size_t k = 0; k < tw->stim_force.n; k++) {
    if (tw->stim_force.v[k].stamp - 1 < lo) {
      tw->stim_force_missed++;
      continue;
    }
    tw->ctl_buf[2 * i] = (int64_t)(tw->sfirst + tw->stim_force.v[k].ch);
    tw->ctl_buf[2 * i + 1] = tw->stim_force.v[k].stamp;
    tw->stim_forced++;
    i++;
  }
  tw->stim_force.n = 0;
  *nev = i;
  return 0;
}

static int before_hook(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  ntw_twin *tw = ctx;
  ctl_hdr h = {0};
  if (tw->rank == 0) {
    if (!tw->started) {
      tw->started = true;
      /* Simulated time lo (0, or a restored checkpoint's step) is now: the
       * biology's clock now on the link, the local clock for a paced file.
       * After a restore this re-anchors the hybrid time (the biology's
       * clock went on while no twin ran). */
      const int64_t lo_us = llround(lo * tw->dt * 1e3);
      if (tw->link) {
        /* On the source's batch boundary when it sent one within the last
         * window: our windows then end where its watermarks do, so a
         * window runs as soon as the batch that completes it arrives (an
         * arbitrary phase made every event wait up to one batch more:
         * loop latency p50 1.1 ms instead of 0.2 in the demo). */
        /* (the source's first batch may still be on its way: up to 50 ms;
         * what arrives meanwhile is on the biology's clock already, unlike
         * the restored checkpoint's pending events before it) */
        const size_t n_saved = tw->pending.n;
        const uint64_t t_end = local_now(tw) + 50000;
        while (ntw_biolink_stats(tw->link)->watermark_us == 0 && local_now(tw) < t_end) {
          const int r = ntw_biolink_poll(tw->link, 1, &tw->msg);
          if (r < 0) break; /* collect() reports it */
          if (r == 1) NTW_TRY(handle_msg(tw, &tw->msg));
        }
        const int64_t now_b = llround(bio_of_local(tw, (double)local_now(tw)));
        const int64_t wm = (int64_t)ntw_biolink_stats(tw->link)->watermark_us;
        const int64_t win_us = llround(tw->D * tw->dt * 1e3);
        const int64_t B0 = (wm > 0 && wm <= now_b && now_b - wm < win_us ? wm : now_b) - lo_us;
        /* events of a restored checkpoint keep their simulated time */
        const int64_t shift = B0 - tw->B0;
        size_t keep = 0;
        for (size_t i = 0; i < tw->pending.n; i++) {
          if (i >= n_saved) { /* arrived just now */
            tw->pending.v[keep++] = tw->pending.v[i];
            continue;
          }
          if (!tw->state_restored) continue;
          const int64_t t = (int64_t)tw->pending.v[i].t_us + shift;
          if (t >= 0) tw->pending.v[keep] = tw->pending.v[i], tw->pending.v[keep++].t_us = (uint64_t)t;
        }
        tw->pending.n = keep;
        if (tw->resume_us > B0 + lo_us) {
          /* The biology's clock now is before the checkpoint's: it is not
           * the clock the checkpoint's B0 was read on (the source started
           * again with a new clock, as `ntwin replay` does), so its events
           * cannot be matched against the checkpoint. */
          fprintf(stderr, "ntwin: twin: the biology's clock (%.3f s) is %.3f s behind the "
                  "checkpoint's (%.3f s): the source restarted its clock since, so its "
                  "events cannot be told apart from those delivered before the checkpoint and "
                  "are injected from the resumed start on (start the source where the "
                  "checkpoint stopped)\n", (double)(B0 + lo_us) * 1e-6,
                  (double)(tw->resume_us - B0 - lo_us) * 1e-6, (double)tw->resume_us * 1e-6);
          tw->resume_us = 0;
        }
        tw->B0 = B0;
      } else {
        tw->local0_us = (int64_t)mono_us() - lo_us;
      }
      tw->start_us = tw->B0 + lo_us;
    }
    int err = 0;
    if (!tw->stop_reason[0]) err = collect(tw, lo, hi);
    if (err && !tw->failed) {
      snprintf(tw->fail_msg, sizeof tw->fail_msg, "%s", ntw_error_msg());
      tw->failed = 1;
    }
    sort_window(tw);
    h.stop = tw->failed ? CTL_FAIL : tw->stop_reason[0] ? CTL_STOP : CTL_RUN;
    NTW_TRY(fill_control(tw, lo, &h.nev));
    h.wupd = tw->w_push;
    if (tw->w_push && tw->tc->assim_proj >= 0) /* what the synapses hold from now */
      memcpy(tw->W_applied, tw->W, tw->npop * tw->npop * sizeof *tw->W);
    tw->w_push = false;
  }
  if (tw->paced && tw->rank != 0) {
    /* Paced: rank 0 may wait for the biology for most of the window. Wait
     * for it asleep, not spinning in MPI, so the cores stay free for rank 0
     * and for the biology's process on the same node. */
    MPI_Request rq;
    MPI_Ibcast(&h, 4, MPI_INT32_T, 0, MPI_COMM_WORLD, &rq);
    int done = 0;
    while (MPI_Test(&rq, &done, MPI_STATUS_IGNORE), !done) sleep_us(50);
  } else if (tw->paced) {
    MPI_Request rq;
    MPI_Ibcast(&h, 4, MPI_INT32_T, 0, MPI_COMM_WORLD, &rq);
    MPI_Wait(&rq, MPI_STATUS_IGNORE);
  } else {
    MPI_Bcast(&h, 4, MPI_INT32_T, 0, MPI_COMM_WORLD);
  }
  NTW_TRY(ctl_reserve(tw, (size_t)h.nev));
  if (h.nev) MPI_Bcast(tw->ctl_buf, 2 * h.nev, MPI_INT64_T, 0, MPI_COMM_WORLD);
  if (h.wupd) MPI_Bcast(tw->W, (int)(tw->npop * tw->npop), MPI_FLOAT, 0, MPI_COMM_WORLD);
  if (h.stop == CTL_FAIL) {
    tw->failed = 1;
    ntw_engine_request_stop(e);
    return 0;
  }
  if (h.nev) {
    /* gids and stamps arrive interleaved; the engine takes two arrays */
    if ((size_t)h.nev > tw->force_cap) {
      size_t cap = 2 * (size_t)h.nev + 64;
      uint64_t *g = realloc(tw->force_gid, cap * sizeof *g);
      if (g) tw->force_gid = g;
      int64_t *st = realloc(tw->force_stamp, cap * sizeof *st);
      if (st) tw->force_stamp = st;
      NTW_CHECK(g && st, NTW_ERR_NOMEM, "out of memory for bio events");
      tw->force_cap = cap;
    }
    for (int32_t i = 0; i < h.nev; i++) {
      tw->force_gid[i] = (uint64_t)tw->ctl_buf[2 * i];
      tw->force_stamp[i] = tw->ctl_buf[2 * i + 1];
    }
    NTW_TRY(ntw_engine_force_spikes(e, tw->force_gid, tw->force_stamp, (size_t)h.nev));
  }
  if (h.wupd && tw->tc->assim_proj >= 0)
    NTW_TRY(ntw_engine_map_weights(e, tw->tc->assim_proj, set_w, tw));
  if (h.stop == CTL_STOP) ntw_engine_request_stop(e);
  (void)hi;
  return 0;
}

/* -------------------------------------------------------- after a window */

/* Coincidence factor (Kistler et al. 1997) of data d[0..nd) and model
 * m[0..nm) (ascending stamps) over T steps, with tolerance delta steps.
 * causal: a data spike at t counts as predicted only by a model spike in
 * [t - delta, t], i.e. made before the twin could have seen it (the twin's
 * predictors receive the recorded spikes themselves, delayed: with the usual
 * symmetric window a copy 1 ms late would score as a perfect prediction).
 * The chance level (a Poisson model at the same rate) is subtracted and the
 * result normalised so that 1 is perfect and 0 is chance:
 *   Gamma = (N_coinc - E[N_coinc]) / (0.5 (N_d + N_m)) / (1 - nu w),
 * E[N_coinc] = nu w N_d, nu = model rate, w = delta (causal) or 2 delta.
 * NAN when the data has no spike. */
static double gamma_factor(const int64_t *d, size_t nd, const int64_t *m,
                           size_t nm, int64_t delta, double T, bool causal) {
  if (nd == 0) return NAN;
  size_t j = 0, coinc = 0;
  const int64_t after = causal ? 0 : delta;
  for (size_t i = 0; i < nd; i++) {
    while (j < nm && m[j] < d[i] - delta) j++;
    if (j < nm && m[j] <= d[i] + after) coinc++;
  }
  const double nu = nm / T; /* model spikes per step */
  const double w = causal ? (double)delta + 1.0 : 2.0 * (double)delta + 1.0;
  const double expect = nu * w * (double)nd;
  const double norm = 1.0 - nu * w;
  if (norm <= 0) return NAN;
  return ((double)coinc - expect) / (0.5 * (double)(nd + nm)) / norm;
}

static double pearson(const double *x, const double *y, size_t n) {
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; i++) mx += x[i], my += y[i];
  mx /= n, my /= n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

static int fidelity(ntw_twin *tw, int64_t lo, int64_t hi) {
  const uint32_t nch = tw->nch;
  const size_t b0 = tw->fid_bio_from, b1 = tw->bio.n;
  const size_t p0 = tw->fid_pred_from, p1 = tw->pred.n;
  tw->fid_bio_from = b1;
  tw->fid_pred_from = p1;
  const double T = (double)(hi - lo);
  const int64_t delta = (int64_t)llround(tw->tc->delta_ms / tw->dt);
  int64_t *d = malloc((b1 - b0 + 1) * sizeof *d), *m = malloc((p1 - p0 + 1) * sizeof *m);
  const int64_t bin = (int64_t)fmax(1, llround(tw->tc->rate_bin_ms / tw->dt));
  const size_t nbins = (size_t)((hi - lo + bin - 1) / bin);
  double *rb = calloc(nbins + 1, sizeof *rb), *rp = calloc(nbins + 1, sizeof *rp);
  NTW_CHECK(d && m && rb && rp, NTW_ERR_NOMEM, "out of memory for fidelity");
  double gsum = 0, gsym = 0;
  uint32_t gn = 0, nb_tot = 0, np_tot = 0;
  for (uint32_t k = 0; k < nch; k++) {
    size_t nd = 0, nm = 0;
    for (size_t i = b0; i < b1; i++)
      if (tw->bio.v[i].ch == k) d[nd++] = tw->bio.v[i].stamp;
    for (size_t i = p0; i < p1; i++)
      if (tw->pred.v[i].ch == k) m[nm++] = tw->pred.v[i].stamp;
    double g = gamma_factor(d, nd, m, nm, delta, T, true);
    double gy = gamma_factor(d, nd, m, nm, delta, T, false);
    VPUSH(tw->fid_gamma_ch, (float)g);
    if (isfinite(g)) gsum += g, gn++;
    if (isfinite(gy)) gsym += gy;
    nb_tot += (uint32_t)nd;
    np_tot += (uint32_t)nm;
  }
  for (size_t i = b0; i < b1; i++) {
    int64_t b = (tw->bio.v[i].stamp - 1 - lo) / bin;
    if (b >= 0 && (size_t)b < nbins) rb[b]++;
  }
  for (size_t i = p0; i < p1; i++) {
    int64_t b = (tw->pred.v[i].stamp - 1 - lo) / bin;
    if (b >= 0 && (size_t)b < nbins) rp[b]++;
  }
  double corr = pearson(rb, rp, nbins);
  free(d), free(m), free(rb), free(rp);
  VPUSH(tw->fid_t, hi * tw->dt);
  VPUSH(tw->fid_gamma, gn ? gsum / gn : NAN);
  VPUSH(tw->fid_gamma_sym, gn ? gsym / gn : NAN);
  VPUSH(tw->fid_corr, corr);
  VPUSH(tw->fid_nbio, nb_tot);
  VPUSH(tw->fid_npred, np_tot);
  for (uint32_t k = 0; k < nch; k++)
    for (uint32_t j = 0; j < nch; j++) VPUSH(tw->W_hist, tw->W[k * tw->npop + j]);
  if (tw->link) {
    VPUSH(tw->clk_t, hi * tw->dt);
    VPUSH(tw->clk_off, tw->clk_offset);
    VPUSH(tw->clk_drift_hist, tw->clk_drift * 1e6);
  }
  return 0;
}

/* Advance the recorded-spike traces x_j to stamp u (only spikes at or
 * before u count). */
static void traces_to(ntw_twin *tw, int64_t u) {
  const double tau_steps = tw->tc->tau_ms / tw->dt;
  if (u > tw->xs_t) {
    const double f = exp(-(double)(u - tw->xs_t) / tau_steps);
    for (uint32_t j = 0; j < tw->nch; j++) tw->xs[j] *= f;
    tw->xs_t = u;
  }
  while (tw->xs_next < tw->bio.n && tw->bio.v[tw->xs_next].stamp <= u) {
    const tev *b = &tw->bio.v[tw->xs_next++];
    tw->xs[b->ch] += exp(-(double)(u - b->stamp) / tau_steps);
  }
}

/* One ReSuMe step for event ev of its channel k: W[k][j] += sign eta (a +
 * x_j), x_j read one delay before the event. */
static void assimilate(ntw_twin *tw, const tev *ev, double sign) {
  const double eta = tw->tc->eta, a = tw->tc->a;
  traces_to(tw, ev->stamp - tw->dsteps);
  double *row = tw->dW + (size_t)ev->ch * tw->nch;
  for (uint32_t j = 0; j < tw->nch; j++) row[j] += sign * eta * (a + tw->xs[j]);
}

static int64_t pct_sorted(const float *v, size_t n, double q, float *out) {
  if (!n) {
    *out = NAN;
    return 0;
  }
  size_t k = (size_t)ceil(q * (double)n) - 1;
  if (k >= n) k = n - 1;
  *out = v[k];
  return 0;
}

static int send_stim(ntw_twin *tw, int64_t hi, bool sham) {
  const ntw_twin_cfg *tc = tw->tc;
  const uint64_t now = local_now(tw);
  const uint64_t bnow = (uint64_t)llround(bio_of_local(tw, (double)now));
  /* pulse p on every electrode at biology time bnow + p * interval */
#define PULSE_T(p) (bnow + (uint64_t)llround((p) * tc->stim_pulse_interval_ms * 1e3))
  ntw_bio_stim *st = malloc((size_t)tc->stim_pulses * tc->nstim_ch * sizeof *st + 1);
  NTW_ALLOC_CHECK(st);
  uint32_t n = 0;
  for (uint32_t p = 0; p < tc->stim_pulses; p++)
    for (size_t i = 0; i < tc->nstim_ch; i++)
      st[n++] = (ntw_bio_stim){tw->ch_id[tw->stim_idx[i]], PULSE_T(p),
                               (float)tc->stim_amplitude, tc->stim_duration_us};
  int r = sham ? 2 : ntw_biolink_send_stim(tw->link, st, n);
  free(st);
  if (r == 0 && tc->stim_input >= 0)
    /* tell the twin's own network: the pulse at biology time b is the spike
     * of stim_input neuron k at step floor((b - B0) / dt) + 1 */
    for (uint32_t p = 0; p < tc->stim_pulses; p++)
      for (size_t i = 0; i < tc->nstim_ch; i++) {
        const int64_t b = (int64_t)PULSE_T(p);
        const int64_t stamp = b < tw->B0 ? 0
            : (int64_t)floor((double)(b - tw->B0) / (tw->dt * 1e3)) + 1;
        VPUSH(tw->stim_force, ((tev){tw->stim_idx[i], stamp}));
      }
#undef PULSE_T
  const uint64_t sent_at = local_now(tw);
  const float lat = tw->win_last_recv && sent_at >= tw->win_last_recv
                        ? (float)((sent_at - tw->win_last_recv) * 1e-3)
                        : NAN;
  if (sham) tw->shams++;
  else if (r == 0) tw->stims_sent++;
  else tw->stims_dropped++;
  for (size_t i = 0; i < tc->nstim_ch; i++) {
    stim_rec s = {hi * tw->dt, bnow, tw->stim_idx[i], sham ? NAN : lat,
                  (uint8_t)(sham ? 2 : r == 0 ? 1 : 0)};
    VPUSH(tw->stims, s);
  }
  return 0;
}

/* Is the stimulation loop on at simulated time t? With alternate_s, the
 * run alternates open-loop (first) and closed-loop epochs. */
static bool loop_on(const ntw_twin *tw, double t_ms) {
  const double alt = tw->tc->stim_alternate_s;
  if (alt <= 0) return true;
  return ((int64_t)floor(t_ms * 1e-3 / alt)) % 2 == 1;
}

static int stimulate(ntw_twin *tw, int64_t hi, int64_t npred) {
  const ntw_twin_cfg *tc = tw->tc;
  if (tc->stim == NTW_STIMPOL_OFF || !tw->link) return 0;
  const double t = hi * tw->dt;
  if (tc->stim == NTW_STIMPOL_PERIODIC) {
    if (t >= tw->next_periodic_ms) {
      tw->next_periodic_ms = t + tc->stim_period_ms;
      return send_stim(tw, hi, !loop_on(tw, t));
    }
    return 0;
  }
  /* burst: the twin's predicted activity over the last horizon_ms against
   * its running mean */
  tw->act_sum += npred - tw->act_ring[tw->act_pos];
  tw->act_ring[tw->act_pos] = npred;
  tw->act_pos = (tw->act_pos + 1) % tw->act_n;
  const double warm = 2000.0; /* ms before the mean is trusted */
  const double alpha = tw->dt * tw->D / 10000.0; /* 10 s mean */
  const bool fire = t > warm && tw->act_sum >= 3 &&
                    tw->act_sum > tc->stim_factor * tw->act_mean &&
                    t - tw->last_stim_ms >= tc->stim_refractory_ms;
  tw->act_mean += alpha * ((double)tw->act_sum - tw->act_mean);
  if (fire) {
    tw->last_stim_ms = t;
    return send_stim(tw, hi, !loop_on(tw, t));
  }
  return 0;
}

static int after_hook(ntw_engine *e, int64_t lo, int64_t hi, void *ctx) {
  ntw_twin *tw = ctx;
  const uint64_t *gids;
  const int64_t *steps;
  size_t n;
  ntw_engine_window_spikes(e, &gids, &steps, &n);
  /* The predictors' spikes of this window, to rank 0. */
  size_t mine = 0;
  if (2 * n + 2 > tw->gcap) {
    size_t cap = 2 * n + 1024;
    int64_t *b = realloc(tw->gbuf, cap * sizeof *b);
    NTW_ALLOC_CHECK(b);
    tw->gbuf = b;
    tw->gcap = cap;
  }
  for (size_t i = 0; i < n; i++)
    if (gids[i] >= tw->pfirst && gids[i] < tw->pfirst + tw->nch) {
      tw->gbuf[2 * mine] = (int64_t)(gids[i] - tw->pfirst);
      tw->gbuf[2 * mine + 1] = steps[i];
      mine++;
    }
  int cnt = (int)(2 * mine);
  MPI_Gather(&cnt, 1, MPI_INT, tw->gcounts, 1, MPI_INT, 0, MPI_COMM_WORLD);
  int64_t *all = NULL;
  size_t total = 0;
  if (tw->rank == 0) {
    for (int r = 0; r < tw->P; r++) {
      tw->gdispl[r] = (int)total;
      total += (size_t)tw->gcounts[r];
    }
    if (total + 1 > tw->gall_cap) {
      size_t cap = 2 * total + 1024;
      int64_t *b = realloc(tw->gall, cap * sizeof *b);
      NTW_ALLOC_CHECK(b);
      tw->gall = b;
      tw->gall_cap = cap;
    }
    all = tw->gall;
  }
  MPI_Gatherv(tw->gbuf, cnt, MPI_INT64_T, all, tw->gcounts, tw->gdispl,
              MPI_INT64_T, 0, MPI_COMM_WORLD);
  tw->done_to = hi;
  if (tw->rank != 0) return 0;

  /* rank 0 */
  const size_t pred0 = tw->pred.n, bio0 = tw->bio.n;
  for (size_t i = 0; i < tw->win_bio.n; i++) {
    VPUSH(tw->bio, tw->win_bio.v[i]);
    VPUSH(tw->bio_us, tw->win_us.v[i]);
  }
  tw->injected += tw->win_bio.n;
  for (size_t i = 0; i < total / 2; i++) VPUSH(tw->pred, ((tev){(uint32_t)all[2 * i], all[2 * i + 1]}));
  tw->predicted += total / 2;
  if (tw->pred.n > pred0)
    qsort(tw->pred.v + pred0, tw->pred.n - pred0, sizeof *tw->pred.v, cmp_tev);
  const ntw_twin_cfg *tc = tw->tc;
  const double t_ms = hi * tw->dt;
  if (tc->assim_proj >= 0 && tc->eta > 0 && (tc->until_s <= 0 || t_ms < tc->until_s * 1e3)) {
    /* teacher (+) and prediction (-) events of the window, both sorted by
     * (stamp, channel): merged, so the traces advance in time order (at
     * equal stamps the teachers first) */
    size_t i = bio0, j = pred0;
    while (i < tw->bio.n || j < tw->pred.n) {
      const bool teacher = j >= tw->pred.n ||
                           (i < tw->bio.n && tw->bio.v[i].stamp <= tw->pred.v[j].stamp);
      if (teacher) assimilate(tw, &tw->bio.v[i++], 1.0);
      else assimilate(tw, &tw->pred.v[j++], -1.0);
    }
    if (hi >= tw->w_next) {
      tw->w_next = hi + (int64_t)fmax(1, llround(tc->every_ms / tw->dt));
      for (uint32_t k = 0; k < tw->nch; k++)
        for (uint32_t j = 0; j < tw->nch; j++) {
          double w = tw->W[k * tw->npop + j] + tw->dW[(size_t)k * tw->nch + j];
          tw->W[k * tw->npop + j] = (float)fmin(tc->w_max, fmax(tc->w_min, w));
          tw->dW[(size_t)k * tw->nch + j] = 0;
        }
      tw->w_push = true;
    }
  }
  if (hi >= tw->fid_next) {
    NTW_TRY(fidelity(tw, tw->fid_lo, hi));
    tw->fid_lo = hi;
    tw->fid_next = hi + (int64_t)llround(tc->interval_ms / tw->dt);
  }
  NTW_TRY(stimulate(tw, hi, (int64_t)(tw->pred.n - pred0)));
  /* timing */
  tw->windows++;
  if (tw->win_last_recv) {
    const uint64_t now = local_now(tw);
    VPUSH(tw->lat_ms, (float)((double)(now - tw->win_last_recv) * 1e-3));
  }
  if (tw->link || tc->pace) {
    const double now = (double)local_now(tw);
    const double due = tw->link ? local_of_bio(tw, (double)tw->B0 + hi * tw->dt * 1e3)
                                : hi * tw->dt * 1e3;
    const float lag = (float)((now - due) * 1e-3);
    VPUSH(tw->lag_ms, lag);
    /* the lag split: the biology arriving late (ready) or the twin's own
     * window (run: control, update, exchange, gather) */
    VPUSH(tw->ready_ms, (float)(((double)tw->win_ready_us - due) * 1e-3));
    VPUSH(tw->run_ms, (float)((now - (double)tw->win_ready_us) * 1e-3));
    if (lag > tc->allowance_ms + (hi - lo) * tw->dt + tc->slack_ms) tw->misses++;
  }
  if (!tw->quiet && t_ms - tw->last_print_ms >= 5000.0) {
    tw->last_print_ms = t_ms;
    double g = tw->fid_gamma.n ? tw->fid_gamma.v[tw->fid_gamma.n - 1] : NAN;
    fprintf(stderr,
            "ntwin: twin: t = %.1f s  bio %" PRIu64 " ev  Gamma %.2f  late %" PRIu64
            "  misses %" PRIu64 "  stims %" PRIu64 "%s\n",
            t_ms * 1e-3, tw->injected, g, tw->late, tw->misses, tw->stims_sent,
            tw->lag_ms.n ? "" : "");
  }
  return 0;
}

/* ------------------------------------------------------------ checkpoints */

/* The twin's state at a window boundary, saved by rank 0 in the checkpoint's
 * group /twin (README "Checkpoints of a twin run"): with it a restored
 * replay continues exactly as the run that wrote it. Scalars are one
 * element datasets named as the fields; per kind: */
enum { SC_I64, SC_U64, SC_F64, SC_BOOL, SC_INT, SC_SIZE };
typedef struct {
  const char *name;
  int kind;
  size_t off;
} scalar_field;
#define SCF(f, k) {#f, k, offsetof(struct ntw_twin, f)}
static const scalar_field scalars[] = {
    SCF(B0, SC_I64),          SCF(xs_t, SC_I64),       SCF(fid_lo, SC_I64),
    SCF(fid_next, SC_I64),    SCF(w_next, SC_I64),     SCF(w_push, SC_BOOL),
    SCF(act_mean, SC_F64),    SCF(act_pos, SC_INT),    SCF(act_sum, SC_I64),
    SCF(last_stim_ms, SC_F64), SCF(next_periodic_ms, SC_F64),
    SCF(rec_next, SC_SIZE),
    SCF(late, SC_U64),        SCF(shifted, SC_U64),    SCF(before_start, SC_U64),
    SCF(injected, SC_U64),    SCF(misses, SC_U64),     SCF(windows, SC_U64),
    SCF(stims_sent, SC_U64),  SCF(stims_dropped, SC_U64), SCF(shams, SC_U64),
    SCF(predicted, SC_U64),   SCF(stim_forced, SC_U64), SCF(stim_force_missed, SC_U64),
    SCF(by_watermark, SC_U64),
};
#define NSCALARS (sizeof scalars / sizeof *scalars)

static void scalar_get(const ntw_twin *tw, const scalar_field *f, void *out) {
  const char *p = (const char *)tw + f->off;
  int64_t i = 0;
  switch (f->kind) {
  case SC_U64: memcpy(out, p, 8); return;
  case SC_F64: memcpy(out, p, 8); return;
  case SC_I64: i = *(const int64_t *)p; break;
  case SC_BOOL: i = *(const bool *)p; break;
  case SC_INT: i = *(const int *)p; break;
  default: i = (int64_t)*(const size_t *)p; break;
  }
  memcpy(out, &i, 8);
}

static void scalar_set(ntw_twin *tw, const scalar_field *f, const void *in) {
  char *p = (char *)tw + f->off;
  int64_t i;
  memcpy(&i, in, 8);
  switch (f->kind) {
  case SC_U64: memcpy(p, in, 8); return;
  case SC_F64: memcpy(p, in, 8); return;
  case SC_I64: *(int64_t *)p = i; return;
  case SC_BOOL: *(bool *)p = i != 0; return;
  case SC_INT: *(int *)p = (int)i; return;
  default: *(size_t *)p = (size_t)i; return;
  }
}

static ntw_ckpt_type scalar_type(int kind) {
  return kind == SC_U64 ? NTW_CKPT_U64 : kind == SC_F64 ? NTW_CKPT_F64 : NTW_CKPT_I64;
}

/* Can the assimilation still change W after step? (If not, the traces are
 * dead and the recorded spikes they would need are not carried over.) */
static bool assim_live(const ntw_twin *tw, int64_t step) {
  const ntw_twin_cfg *tc = tw->tc;
  return tc->assim_proj >= 0 && tc->eta > 0 &&
         (tc->until_s <= 0 || step * tw->dt < tc->until_s * 1e3);
}

/* Columns of events v[from..n) into ch (uint32) and stamp (int64). */
static int tev_cols(const tev *v, size_t from, size_t n, uint32_t **ch, int64_t **st) {
  *ch = malloc((n - from + 1) * sizeof **ch);
  *st = malloc((n - from + 1) * sizeof **st);
  if (!*ch || !*st) return NTW_ERR(NTW_ERR_NOMEM, "out of memory saving the twin");
  for (size_t i = from; i < n; i++) (*ch)[i - from] = v[i].ch, (*st)[i - from] = v[i].stamp;
  return 0;
}

int ntw_twin_ckpt_save(ntw_ckpt_out *o, void *ctx) {
  ntw_twin *tw = ctx;
  ntw_engine_stats st;
  ntw_engine_get_stats(tw->e, &st);
  /* The state must be the one at the boundary the engine is saved at: the
   * twin's after-window work of the window ending there is done (the
   * checkpoint hook runs after the twin's). */
  int err = tw->done_to == st.step ? 0
            : NTW_ERR(NTW_ERR_INTERNAL, "twin: checkpoint at step %lld but the twin is at %lld "
                      "(hook order)", (long long)st.step, (long long)tw->done_to);
  const bool r0 = tw->rank == 0;
  /* rank 0: the events still needed, as columns */
  size_t cb = 0, cp = 0;
  uint32_t *bch = NULL, *pch = NULL, *qch = NULL, *fch = NULL;
  int64_t *bst = NULL, *pst = NULL, *fst = NULL;
  uint64_t *bus = NULL, *qus = NULL;
  if (r0 && !err) {
    /* recorded spikes: from the first the traces have not taken yet or the
     * current fidelity interval needs; predicted: the fidelity interval */
    cb = tw->fid_bio_from;
    if (assim_live(tw, st.step) && tw->xs_next < cb) cb = tw->xs_next;
    cp = tw->fid_pred_from;
    err = tev_cols(tw->bio.v, cb, tw->bio.n, &bch, &bst);
    if (!err) err = tev_cols(tw->pred.v, cp, tw->pred.n, &pch, &pst);
    if (!err) err = tev_cols(tw->stim_force.v, 0, tw->stim_force.n, &fch, &fst);
    bus = malloc((tw->bio.n - cb + 1) * sizeof *bus);
    qch = malloc((tw->pending.n + 1) * sizeof *qch);
    qus = malloc((tw->pending.n + 1) * sizeof *qus);
    if (!err && (!bus || !qch || !qus)) err = NTW_ERR(NTW_ERR_NOMEM, "out of memory saving the twin");
    for (size_t i = cb; !err && i < tw->bio.n; i++) bus[i - cb] = tw->bio_us.v[i];
    for (size_t i = 0; !err && i < tw->pending.n; i++)
      qch[i] = tw->pending.v[i].ch, qus[i] = tw->pending.v[i].t_us;
  }
  int bad = err != 0, any;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (any && !err) err = NTW_ERR(NTW_ERR_REMOTE, "twin: saving its state failed on another rank");
  const uint64_t nch = tw->nch, np = tw->npop;
  int64_t step = st.step, rel[3] = {0, 0, 0};
  uint32_t nch32 = tw->nch;
  if (r0) {
    rel[0] = tw->xs_next > cb ? (int64_t)(tw->xs_next - cb) : 0; /* xs_next */
    rel[1] = (int64_t)(tw->fid_bio_from - cb);                   /* fid_bio_from */
    rel[2] = (int64_t)(tw->fid_pred_from - cp);                  /* fid_pred_from */
  }
  if (!err) err = ntw_ckpt_put_attr(o, "regime", ntw_regime_name(tw->tc->regime));
  if (!err) err = ntw_ckpt_put_attr(o, "source", tw->tc->from_file ? "file" : "link");
  if (!err) err = ntw_ckpt_put_attr(o, "twin_state_version", "1");
  if (!err) err = ntw_ckpt_put(o, "step", NTW_CKPT_I64, 1, 1, &step);
  if (!err) err = ntw_ckpt_put(o, "channels", NTW_CKPT_U32, 1, 1, &nch32);
  for (size_t i = 0; !err && i < NSCALARS; i++) {
    unsigned char v[8] = {0};
    if (r0) scalar_get(tw, &scalars[i], v);
    err = ntw_ckpt_put(o, scalars[i].name, scalar_type(scalars[i].kind), 1, 1, v);
  }
  if (!err) err = ntw_ckpt_put(o, "xs_next", NTW_CKPT_I64, 1, 1, &rel[0]);
  if (!err) err = ntw_ckpt_put(o, "fid_bio_from", NTW_CKPT_I64, 1, 1, &rel[1]);
  if (!err) err = ntw_ckpt_put(o, "fid_pred_from", NTW_CKPT_I64, 1, 1, &rel[2]);
  /* W as assimilated (with an update not yet pushed, if any) and as the
   * synapses hold it (static synapses are otherwise rebuilt from config) */
  if (!err) err = ntw_ckpt_put(o, "W", NTW_CKPT_F32, np, np, tw->W);
  if (!err) err = ntw_ckpt_put(o, "W_applied", NTW_CKPT_F32, np, np, tw->W_applied);
  if (!err) err = ntw_ckpt_put(o, "dW", NTW_CKPT_F64, nch, nch, tw->dW);
  if (!err) err = ntw_ckpt_put(o, "xs", NTW_CKPT_F64, nch, 1, tw->xs);
  if (!err) err = ntw_ckpt_put(o, "act_ring", NTW_CKPT_I64, (uint64_t)tw->act_n, 1, tw->act_ring);
  const uint64_t nb = r0 ? tw->bio.n - cb : 0, npr = r0 ? tw->pred.n - cp : 0;
  const uint64_t nq = r0 ? tw->pending.n : 0, nf = r0 ? tw->stim_force.n : 0;
  if (!err) err = ntw_ckpt_put(o, "bio_channel", NTW_CKPT_U32, nb, 1, bch);
  if (!err) err = ntw_ckpt_put(o, "bio_stamp", NTW_CKPT_I64, nb, 1, bst);
  if (!err) err = ntw_ckpt_put(o, "bio_t_us", NTW_CKPT_U64, nb, 1, bus);
  if (!err) err = ntw_ckpt_put(o, "pred_channel", NTW_CKPT_U32, npr, 1, pch);
  if (!err) err = ntw_ckpt_put(o, "pred_stamp", NTW_CKPT_I64, npr, 1, pst);
  if (!err) err = ntw_ckpt_put(o, "pending_channel", NTW_CKPT_U32, nq, 1, qch);
  if (!err) err = ntw_ckpt_put(o, "pending_t_us", NTW_CKPT_U64, nq, 1, qus);
  if (!err) err = ntw_ckpt_put(o, "stim_force_channel", NTW_CKPT_U32, nf, 1, fch);
  if (!err) err = ntw_ckpt_put(o, "stim_force_stamp", NTW_CKPT_I64, nf, 1, fst);
  free(bch), free(bst), free(bus), free(pch), free(pst), free(qch), free(qus), free(fch), free(fst);
  return err;
}

static void set_w_applied(uint64_t src, uint64_t tgt, float *w, void *ctx) {
  const ntw_twin *tw = ctx;
  *w = tw->W_applied[(tgt - tw->pfirst) * tw->npop + (src - tw->mfirst)];
}

/* Collective: dataset `name` of /twin, of rows x cols (cols 0: any) on
 * every rank, the data on rank 0 (*data: malloc'd). */
static int ck_get(ntw_ckpt_in *in, const char *path, const char *name, ntw_ckpt_type t,
                  int64_t rows, uint64_t cols, uint64_t *n, void **data) {
  uint64_t r, c;
  NTW_TRY(ntw_ckpt_get(in, name, t, &r, &c, data));
  if ((rows >= 0 && r != (uint64_t)rows) || (cols && c != cols)) {
    free(*data);
    *data = NULL;
    return NTW_ERR(NTW_ERR_FORMAT, "%s: /twin/%s: %llu x %llu elements, expected %lld x %llu "
                   "(a checkpoint of another twin?)", path, name, (unsigned long long)r,
                   (unsigned long long)c, (long long)rows, (unsigned long long)(cols ? cols : c));
  }
  if (n) *n = r;
  return 0;
}

/* Events from columns (rank 0). */
#define TEV_FILL(vec, cnt, ch, st)                                             \
  do {                                                                         \
    (vec).n = 0;                                                               \
    for (uint64_t i_ = 0; i_ < (cnt); i_++)                                    \
      VPUSH((vec), ((tev){((const uint32_t *)(ch))[i_], ((const int64_t *)(st))[i_]})); \
  } while (0)

/* Collective, in ntw_twin_create after a restore: the twin's state from the
 * checkpoint's /twin, or, in a file without it, the old behaviour (fresh
 * traces, events and fidelity interval, W as the restored synapses hold
 * it) with a line saying so. */
static int twin_restore(ntw_twin *tw, const char *path, int64_t step) {
  tw->resumed_step = step;
  ntw_ckpt_in *in = NULL;
  NTW_TRY(ntw_ckpt_in_open(path, MPI_COMM_WORLD, "twin", &in));
  if (!in) {
    tw->counters_from = step;
    if (tw->rank == 0)
      fprintf(stderr, "ntwin: twin: %s holds no twin state (/twin; written before format "
              "minor 1 or without a twin): the twin resumes at t = %g ms with fresh traces, "
              "pending events and fidelity interval and W as the restored synapses hold it, "
              "so it will not match an uninterrupted run\n", path, step * tw->dt);
    return 0;
  }
  const bool r0 = tw->rank == 0;
  const uint64_t np = tw->npop;
  int err = 0;
  void *d = NULL;
  /* identity: the same step and layout */
  char src[16];
  ntw_ckpt_get_attr(in, "source", src, sizeof src);
  const bool same_kind = !strcmp(src, tw->tc->from_file ? "file" : "link");
  int64_t saved_step = step;
  uint32_t saved_nch = tw->nch;
  err = ck_get(in, path, "step", NTW_CKPT_I64, 1, 1, NULL, &d);
  if (!err && r0) saved_step = *(int64_t *)d;
  free(d), d = NULL;
  if (!err) err = ck_get(in, path, "channels", NTW_CKPT_U32, 1, 1, NULL, &d);
  if (!err && r0) saved_nch = *(uint32_t *)d;
  free(d), d = NULL;
  /* rank 0's checks: the same verdict everywhere */
  if (!err && saved_step != step)
    err = NTW_ERR(NTW_ERR_FORMAT, "%s: /twin/step: %lld, not the checkpoint's step %lld", path,
                  (long long)saved_step, (long long)step);
  if (!err && saved_nch != tw->nch)
    err = NTW_ERR(NTW_ERR_CONFIG, "%s: /twin/channels: the checkpoint's twin had %u channels, "
                  "its biology now has %u", path, saved_nch, tw->nch);
  int bad = err != 0;
  MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (bad && !err) err = NTW_ERR(NTW_ERR_REMOTE, "twin: rank 0 could not restore its state");
  for (size_t i = 0; !err && i < NSCALARS; i++) {
    err = ck_get(in, path, scalars[i].name, scalar_type(scalars[i].kind), 1, 1, NULL, &d);
    if (!err && r0) scalar_set(tw, &scalars[i], d);
    free(d), d = NULL;
  }
  int64_t rel[3] = {0, 0, 0};
  const char *reln[3] = {"xs_next", "fid_bio_from", "fid_pred_from"};
  for (int i = 0; !err && i < 3; i++) {
    err = ck_get(in, path, reln[i], NTW_CKPT_I64, 1, 1, NULL, &d);
    if (!err && r0) rel[i] = *(int64_t *)d;
    free(d), d = NULL;
  }
  if (!err) err = ck_get(in, path, "W", NTW_CKPT_F32, (int64_t)np, np, NULL, &d);
  if (!err && r0) memcpy(tw->W, d, np * np * sizeof *tw->W);
  free(d), d = NULL;
  if (!err) err = ck_get(in, path, "W_applied", NTW_CKPT_F32, (int64_t)np, np, NULL, &d);
  if (!err && r0) memcpy(tw->W_applied, d, np * np * sizeof *tw->W);
  free(d), d = NULL;
  if (!err) err = ck_get(in, path, "dW", NTW_CKPT_F64, tw->nch, tw->nch, NULL, &d);
  if (!err && r0) memcpy(tw->dW, d, (size_t)tw->nch * tw->nch * sizeof *tw->dW);
  free(d), d = NULL;
  if (!err) err = ck_get(in, path, "xs", NTW_CKPT_F64, tw->nch, 1, NULL, &d);
  if (!err && r0) memcpy(tw->xs, d, tw->nch * sizeof *tw->xs);
  free(d), d = NULL;
  uint64_t n = 0;
  if (!err) err = ck_get(in, path, "act_ring", NTW_CKPT_I64, -1, 1, &n, &d);
  if (!err && r0) {
    if (n == (uint64_t)tw->act_n) {
      memcpy(tw->act_ring, d, n * sizeof *tw->act_ring);
    } else { /* stimulation.horizon_ms changed on restore */
      memset(tw->act_ring, 0, (size_t)tw->act_n * sizeof *tw->act_ring);
      tw->act_sum = 0, tw->act_pos = 0;
      twin_log(tw, "stimulation.horizon_ms differs from the checkpoint's: the predicted-"
               "activity history restarts");
    }
  }
  free(d), d = NULL;
  /* events: the recorded spikes and predictions still needed, the pending
   * events (kept only from the same kind of source) and the stimulation
   * pulses not yet handed to the engine */
  void *c1 = NULL, *c2 = NULL, *c3 = NULL;
  uint64_t n2 = 0, n3 = 0;
  if (!err) err = ck_get(in, path, "bio_channel", NTW_CKPT_U32, -1, 1, &n, &c1);
  if (!err) err = ck_get(in, path, "bio_stamp", NTW_CKPT_I64, (int64_t)n, 1, NULL, &c2);
  if (!err) err = ck_get(in, path, "bio_t_us", NTW_CKPT_U64, (int64_t)n, 1, NULL, &c3);
  if (!err && r0) {
    TEV_FILL(tw->bio, n, c1, c2);
    tw->bio_us.n = 0;
    for (uint64_t i = 0; i < n; i++) VPUSH(tw->bio_us, ((uint64_t *)c3)[i]);
  }
  free(c1), free(c2), free(c3), c1 = c2 = c3 = NULL;
  if (!err) err = ck_get(in, path, "pred_channel", NTW_CKPT_U32, -1, 1, &n2, &c1);
  if (!err) err = ck_get(in, path, "pred_stamp", NTW_CKPT_I64, (int64_t)n2, 1, NULL, &c2);
  if (!err && r0) TEV_FILL(tw->pred, n2, c1, c2);
  free(c1), free(c2), c1 = c2 = NULL;
  if (!err) err = ck_get(in, path, "pending_channel", NTW_CKPT_U32, -1, 1, &n3, &c1);
  if (!err) err = ck_get(in, path, "pending_t_us", NTW_CKPT_U64, (int64_t)n3, 1, NULL, &c2);
  if (!err && r0) {
    tw->pending.n = 0;
    for (uint64_t i = 0; same_kind && i < n3; i++)
      VPUSH(tw->pending, ((pend){((uint32_t *)c1)[i], ((uint64_t *)c2)[i], 0}));
    if (!same_kind && n3)
      twin_log(tw, "%" PRIu64 " pending events of the checkpoint's %s source dropped", n3, src);
  }
  free(c1), free(c2), c1 = c2 = NULL;
  if (!err) err = ck_get(in, path, "stim_force_channel", NTW_CKPT_U32, -1, 1, &n3, &c1);
  if (!err) err = ck_get(in, path, "stim_force_stamp", NTW_CKPT_I64, (int64_t)n3, 1, NULL, &c2);
  if (!err && r0) TEV_FILL(tw->stim_force, n3, c1, c2);
  free(c1), free(c2);
  ntw_ckpt_in_close(&in);
  if (!err && r0) {
    /* indices into the carried events */
    tw->xs_next = (size_t)rel[0];
    tw->fid_bio_from = (size_t)rel[1];
    tw->fid_pred_from = (size_t)rel[2];
    tw->out_bio0 = tw->bio.n;
    tw->out_pred0 = tw->pred.n;
    /* the link: every event before B0 + the checkpoint's time was taken */
    if (tw->link && same_kind) tw->resume_us = tw->B0 + llround(step * tw->dt * 1e3);
    if (tw->xs_next > tw->bio.n || tw->fid_bio_from > tw->bio.n || tw->fid_pred_from > tw->pred.n)
      err = NTW_ERR(NTW_ERR_FORMAT, "%s: /twin: event indices out of range", path);
    if (!err && tw->rec) {
      /* the file source: the saved position must be where this recording's
       * events up to the checkpoint end (else it is another recording) */
      const size_t saved = tw->rec_next;
      rec_seek(tw, step);
      if (saved != tw->rec_next)
        fprintf(stderr, "ntwin: twin: warning: %s: the recording %s is not the checkpoint's "
                "(next event %zu, the checkpoint says %zu); resuming at its events after "
                "t = %g ms\n", path, tw->tc->file, tw->rec_next, saved, step * tw->dt);
    }
  }
  bad = err != 0;
  MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (bad) return err ? err : NTW_ERR(NTW_ERR_REMOTE, "twin: rank 0 could not restore its state");
  /* The synapses of the assimilated projection as they were (static, so
   * rebuilt from the config with the initial weight); a pending update
   * follows in the first window as it would have. */
  if (tw->tc->assim_proj >= 0) {
    MPI_Bcast(tw->W_applied, (int)(np * np), MPI_FLOAT, 0, MPI_COMM_WORLD);
    if (!r0) memcpy(tw->W, tw->W_applied, np * np * sizeof *tw->W);
    NTW_TRY(ntw_engine_map_weights(tw->e, tw->tc->assim_proj, set_w_applied, tw));
  }
  tw->state_restored = true;
  tw->counters_from = 0;
  if (r0)
    twin_log(tw, "state restored from %s at t = %g ms: %zu recorded and %zu predicted spikes "
             "carried over, %zu pending events", path, step * tw->dt, tw->bio.n, tw->pred.n,
             tw->pending.n);
  return 0;
}

/* ---------------------------------------------------------------- create */

static void read_w(uint64_t src, uint64_t tgt, float w, int delay, void *ctx) {
  ntw_twin *tw = ctx;
  (void)delay;
  tw->W[(tgt - tw->pfirst) * tw->npop + (src - tw->mfirst)] = w;
}

int ntw_twin_create(ntw_engine *e, const char *outdir, int quiet, const char *restore,
                    ntw_twin **out) {
  *out = NULL;
  const ntw_config *cfg = ntw_engine_config(e);
  ntw_twin *tw = calloc(1, sizeof *tw);
  NTW_ALLOC_CHECK(tw);
  tw->e = e;
  tw->cfg = cfg;
  tw->tc = &cfg->twin;
  tw->quiet = quiet;
  tw->paced = !tw->tc->from_file || tw->tc->pace;
  MPI_Comm_rank(MPI_COMM_WORLD, &tw->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &tw->P);
  tw->dt = cfg->sim.dt;
  if (tw->paced) {
    /* Real-time priority and locked memory (README "Real-time priority")
     * on every rank - a rank descheduled mid-window stalls them all -
     * before the bio link starts its threads, so they inherit it. */
    tw->rt.priority = (int)tw->tc->rt_priority;
    tw->rt.lock_memory = tw->tc->lock_memory;
    ntw_realtime_enter(&tw->rt);
    int mine[3] = {tw->rt.fifo || !tw->rt.priority, tw->rt.locked || !tw->rt.lock_memory, 0}, all[3];
    mine[2] = !mine[0] || !mine[1];
    MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&mine[2], &all[2], 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (all[2] && tw->rank == 0)
      fprintf(stderr, "ntwin: twin: twin.timing: refused on %d of %d ranks (rank 0: %s); "
              "running on without it (README \"Real-time priority\")\n", all[2], tw->P,
              tw->rt.why[0] ? tw->rt.why : "granted");
    tw->rt.fifo = all[0] && tw->rt.priority;
    tw->rt.locked = all[1] && tw->rt.lock_memory;
  }
  ntw_engine_stats st;
  ntw_engine_get_stats(e, &st);
  tw->D = st.window_steps;
  tw->mfirst = cfg->pops[tw->tc->mirror].first_gid;
  tw->pfirst = cfg->pops[tw->tc->predict].first_gid;
  tw->sfirst = tw->tc->stim_input >= 0 ? cfg->pops[tw->tc->stim_input].first_gid : 0;
  tw->npop = cfg->pops[tw->tc->mirror].size;
  snprintf(tw->outdir, sizeof tw->outdir, "%s", outdir);
  tw->W = calloc(tw->npop * tw->npop + 1, sizeof *tw->W);
  tw->W_applied = calloc(tw->npop * tw->npop + 1, sizeof *tw->W_applied);
  tw->resumed_step = -1;
  tw->gcounts = calloc((size_t)tw->P, sizeof *tw->gcounts);
  tw->gdispl = calloc((size_t)tw->P, sizeof *tw->gdispl);
  int err = tw->W && tw->W_applied && tw->gcounts && tw->gdispl
                ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory for the twin");
  if (!err && tw->tc->assim_proj >= 0) {
    const ntw_proj_cfg *pr = &cfg->projs[tw->tc->assim_proj];
    for (uint64_t i = 0; i < tw->npop * tw->npop; i++) tw->W[i] = (float)pr->weight.a;
    tw->dsteps = (int64_t)llround(pr->delay.a / tw->dt);
    if (pr->delay.kind != NTW_DIST_CONST)
      err = NTW_ERR(NTW_ERR_CONFIG, "%s: projections[%d].delay: the assimilated "
                    "projection needs a constant delay", cfg->path, tw->tc->assim_proj);
  }
  /* W as the synapses hold it (after a restore, the assimilated weights of
   * the checkpoint): one synapse per pair lives on exactly one rank, so a
   * sum over ranks of the local ones (others 0) is exact. */
  if (!err && tw->tc->assim_proj >= 0) {
    for (uint64_t i = 0; i < tw->npop * tw->npop; i++) tw->W[i] = 0.0f;
    err = ntw_engine_foreach_projection_synapse(e, tw->tc->assim_proj, read_w, tw);
    if (!err)
      MPI_Allreduce(MPI_IN_PLACE, tw->W, (int)(tw->npop * tw->npop), MPI_FLOAT, MPI_SUM,
                    MPI_COMM_WORLD);
    memcpy(tw->W_applied, tw->W, tw->npop * tw->npop * sizeof *tw->W);
  }
  uint32_t nch = 0;
  if (!err && tw->rank == 0) {
    tw->idx_of_id = malloc(65536 * sizeof *tw->idx_of_id);
    if (!tw->idx_of_id) err = NTW_ERR(NTW_ERR_NOMEM, "out of memory for the twin");
    else memset(tw->idx_of_id, 0xff, 65536 * sizeof *tw->idx_of_id);
    if (!err) err = tw->tc->from_file ? file_setup(tw) : link_setup(tw);
    if (!err) err = resolve_stim(tw);
    if (!err) {
      tw->dW = calloc((size_t)tw->nch * tw->nch + 1, sizeof *tw->dW);
      tw->xs = calloc(tw->nch + 1, sizeof *tw->xs);
      tw->act_n = (int)fmax(1, llround(tw->tc->stim_horizon_ms / (tw->D * tw->dt)));
      tw->act_ring = calloc((size_t)tw->act_n, sizeof *tw->act_ring);
      if (!tw->dW || !tw->xs || !tw->act_ring)
        err = NTW_ERR(NTW_ERR_NOMEM, "out of memory for the twin");
    }
    tw->fid_next = st.step + (int64_t)llround(tw->tc->interval_ms / tw->dt);
    tw->fid_lo = st.step;
    tw->w_next = st.step;
    tw->last_stim_ms = -1e300;
    tw->next_periodic_ms = st.step * tw->dt + tw->tc->stim_period_ms;
    nch = tw->nch;
  }
  /* One error for all ranks, rank 0's message. */
  int bad = err != 0;
  MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (bad) {
    if (tw->rank != 0) err = NTW_ERR(NTW_ERR_REMOTE, "twin: rank 0 could not set up the biology");
    ntw_twin_destroy(&tw);
    return err;
  }
  MPI_Bcast(&nch, 1, MPI_UINT32_T, 0, MPI_COMM_WORLD);
  tw->nch = nch;
  tw->done_to = st.step;
  if (restore) {
    err = twin_restore(tw, restore, st.step);
    if (err) {
      ntw_twin_destroy(&tw);
      return err;
    }
  }
  if (tw->paced) {
    /* Warm up what the first windows would otherwise set up on the clock:
     * MPI's connections between every pair of ranks (made on first use)
     * and the twin's own collectives. */
    int *one = calloc((size_t)tw->P, sizeof *one), *got = calloc((size_t)tw->P, sizeof *got);
    if (one && got)
      for (int k = 0; k < 3; k++) {
        MPI_Alltoall(one, 1, MPI_INT, got, 1, MPI_INT, MPI_COMM_WORLD);
        MPI_Barrier(MPI_COMM_WORLD);
      }
    free(one), free(got);
    volatile uint64_t sink = ntw_engine_prefetch(e);
    (void)sink;
  }
  NTW_TRY(ntw_engine_add_hook(e, NTW_HOOK_BEFORE_WINDOW, before_hook, tw));
  NTW_TRY(ntw_engine_add_hook(e, NTW_HOOK_AFTER_WINDOW, after_hook, tw));
  *out = tw;
  return 0;
}

/* ---------------------------------------------------------------- finish */

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static json_t *pcts(const float *v0, size_t n) {
  json_t *o = json_object();
  float *v = malloc((n + 1) * sizeof *v);
  size_t m = 0;
  for (size_t i = 0; v && i < n; i++)
    if (isfinite(v0[i])) v[m++] = v0[i];
  float p50 = NAN, p99 = NAN, mx = NAN;
  if (v && m) {
    qsort(v, m, sizeof *v, cmp_float);
    pct_sorted(v, m, 0.50, &p50);
    pct_sorted(v, m, 0.99, &p99);
    mx = v[m - 1];
  }
  free(v);
  json_object_set_new(o, "p50", isfinite(p50) ? json_real(p50) : json_null());
  json_object_set_new(o, "p99", isfinite(p99) ? json_real(p99) : json_null());
  json_object_set_new(o, "max", isfinite(mx) ? json_real(mx) : json_null());
  json_object_set_new(o, "n", json_integer((json_int_t)m));
  return o;
}

static json_t *num_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

/* HDF5 helpers: one 1-D or N-D dataset, or an attribute. */
static int h5_write(hid_t f, const char *name, hid_t type, int rank,
                    const hsize_t *dims, const void *data) {
  hsize_t d0[3] = {0, 0, 0};
  for (int i = 0; i < rank; i++) d0[i] = dims[i];
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t sp = H5Screate_simple(rank, d0, NULL);
  hid_t ds = H5Dcreate2(f, name, type, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  herr_t w = ds >= 0 && d0[0] > 0 ? H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(sp);
  H5Pclose(lcpl);
  NTW_CHECK(ds >= 0 && w >= 0, NTW_ERR_IO, "twin.h5: cannot write %s", name);
  return 0;
}

static int h5_1d(hid_t f, const char *name, hid_t type, size_t n, const void *data) {
  hsize_t d = n;
  return h5_write(f, name, type, 1, &d, data);
}

static void h5_attr_str(hid_t obj, const char *name, const char *val) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(val) + 1);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) H5Awrite(a, t, val), H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
}

static void h5_attr_num(hid_t obj, const char *name, double val) {
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) H5Awrite(a, H5T_NATIVE_DOUBLE, &val), H5Aclose(a);
  H5Sclose(sp);
}

static int write_h5(ntw_twin *tw) {
  char path[4200], tmp[4300];
  snprintf(path, sizeof path, "%s/twin.h5", tw->outdir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  NTW_CHECK(f >= 0, NTW_ERR_IO, "%s: cannot create", tmp);
  int err = 0;
  /* the events of this run (after a restore: those after its step) */
  const tev *bio = tw->bio.v + tw->out_bio0, *pred = tw->pred.v + tw->out_pred0;
  const uint64_t *bio_us = tw->bio_us.v + tw->out_bio0;
  const size_t nb = tw->bio.n - tw->out_bio0, np = tw->pred.n - tw->out_pred0, ns = tw->stims.n;
  const uint32_t nch = tw->nch;
  uint32_t *u = malloc((nb + np + ns + nch + 1) * sizeof *u);
  double *d = malloc((nb + np + ns + 1) * sizeof *d);
  float *fl = malloc((ns + 1) * sizeof *fl);
  uint8_t *u8 = malloc(ns + 1);
  uint64_t *u64 = malloc((ns + 1) * sizeof *u64);
  char *lab = calloc(nch + 1, 64);
  if (!u || !d || !fl || !u8 || !u64 || !lab) err = NTW_ERR(NTW_ERR_NOMEM, "out of memory writing twin.h5");
  /* layout */
  if (!err) {
    for (uint32_t k = 0; k < nch; k++) u[k] = tw->ch_id[k];
    err = h5_1d(f, "/layout/channel_id", H5T_NATIVE_UINT32, nch, u);
  }
  if (!err) err = h5_1d(f, "/layout/x_um", H5T_NATIVE_FLOAT, nch, tw->x_um);
  if (!err) err = h5_1d(f, "/layout/y_um", H5T_NATIVE_FLOAT, nch, tw->y_um);
  if (!err) {
    for (uint32_t k = 0; k < nch; k++) snprintf(lab + 64 * k, 64, "%s", tw->label[k]);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 64);
    err = h5_1d(f, "/layout/label", t, nch, lab);
    H5Tclose(t);
  }
  /* recorded (injected) and predicted spikes: channel index, time in ms */
  if (!err) {
    for (size_t i = 0; i < nb; i++) u[i] = bio[i].ch, d[i] = bio[i].stamp * tw->dt;
    err = h5_1d(f, "/bio/channel", H5T_NATIVE_UINT32, nb, u);
    if (!err) err = h5_1d(f, "/bio/t_ms", H5T_NATIVE_DOUBLE, nb, d);
    if (!err) err = h5_1d(f, "/bio/t_us", H5T_NATIVE_UINT64, nb, bio_us);
  }
  if (!err) {
    for (size_t i = 0; i < np; i++) u[i] = pred[i].ch, d[i] = pred[i].stamp * tw->dt;
    err = h5_1d(f, "/predicted/channel", H5T_NATIVE_UINT32, np, u);
    if (!err) err = h5_1d(f, "/predicted/t_ms", H5T_NATIVE_DOUBLE, np, d);
  }
  if (!err) {
    for (size_t i = 0; i < ns; i++) {
      u[i] = tw->stims.v[i].ch;
      d[i] = tw->stims.v[i].t_ms;
      fl[i] = tw->stims.v[i].latency_ms;
      u8[i] = tw->stims.v[i].sent;
      u64[i] = tw->stims.v[i].t_us;
    }
    err = h5_1d(f, "/stim/channel", H5T_NATIVE_UINT32, ns, u);
    if (!err) err = h5_1d(f, "/stim/t_ms", H5T_NATIVE_DOUBLE, ns, d);
    if (!err) err = h5_1d(f, "/stim/t_us", H5T_NATIVE_UINT64, ns, u64);
    if (!err) err = h5_1d(f, "/stim/latency_ms", H5T_NATIVE_FLOAT, ns, fl);
    if (!err) err = h5_1d(f, "/stim/status", H5T_NATIVE_UINT8, ns, u8);
  }
  const size_t ni = tw->fid_t.n;
  if (!err) err = h5_1d(f, "/fidelity/t_ms", H5T_NATIVE_DOUBLE, ni, tw->fid_t.v);
  if (!err) err = h5_1d(f, "/fidelity/gamma", H5T_NATIVE_DOUBLE, ni, tw->fid_gamma.v);
  if (!err) err = h5_1d(f, "/fidelity/gamma_symmetric", H5T_NATIVE_DOUBLE, ni, tw->fid_gamma_sym.v);
  if (!err) err = h5_1d(f, "/fidelity/rate_corr", H5T_NATIVE_DOUBLE, ni, tw->fid_corr.v);
  if (!err) err = h5_1d(f, "/fidelity/n_bio", H5T_NATIVE_UINT32, ni, tw->fid_nbio.v);
  if (!err) err = h5_1d(f, "/fidelity/n_predicted", H5T_NATIVE_UINT32, ni, tw->fid_npred.v);
  if (!err) {
    hsize_t dims[3] = {ni, nch, nch};
    err = h5_write(f, "/fidelity/gamma_channel", H5T_NATIVE_FLOAT, 2, dims, tw->fid_gamma_ch.v);
    if (!err) err = h5_write(f, "/weights/W", H5T_NATIVE_FLOAT, 3, dims, tw->W_hist.v);
    if (!err) err = h5_1d(f, "/weights/t_ms", H5T_NATIVE_DOUBLE, ni, tw->fid_t.v);
  }
  if (!err) err = h5_1d(f, "/timing/lag_ms", H5T_NATIVE_FLOAT, tw->lag_ms.n, tw->lag_ms.v);
  if (!err) err = h5_1d(f, "/timing/latency_ms", H5T_NATIVE_FLOAT, tw->lat_ms.n, tw->lat_ms.v);
  if (!err) err = h5_1d(f, "/timing/ready_ms", H5T_NATIVE_FLOAT, tw->ready_ms.n, tw->ready_ms.v);
  if (!err) err = h5_1d(f, "/timing/run_ms", H5T_NATIVE_FLOAT, tw->run_ms.n, tw->run_ms.v);
  if (!err) err = h5_1d(f, "/clock/t_ms", H5T_NATIVE_DOUBLE, tw->clk_t.n, tw->clk_t.v);
  if (!err) err = h5_1d(f, "/clock/offset_us", H5T_NATIVE_DOUBLE, tw->clk_off.n, tw->clk_off.v);
  if (!err) err = h5_1d(f, "/clock/drift_ppm", H5T_NATIVE_DOUBLE, tw->clk_drift_hist.n, tw->clk_drift_hist.v);
  if (!err) {
    h5_attr_str(f, "regime", ntw_regime_name(tw->tc->regime));
    h5_attr_str(f, "stop_reason", tw->stop_reason[0] ? tw->stop_reason : "t_stop");
    h5_attr_num(f, "B0_us", (double)tw->B0);
    h5_attr_num(f, "dt_ms", tw->dt);
    h5_attr_num(f, "window_ms", tw->D * tw->dt);
    h5_attr_num(f, "delta_ms", tw->tc->delta_ms);
    h5_attr_num(f, "stim_alternate_s", tw->tc->stim_alternate_s);
    h5_attr_str(f, "config", tw->cfg->path);
    /* a restored run's file covers the resumed part: from t_start_ms */
    h5_attr_num(f, "t_start_ms", (tw->resumed_step > 0 ? tw->resumed_step : 0) * tw->dt);
    h5_attr_num(f, "restored_from_step", (double)tw->resumed_step);
    h5_attr_num(f, "state_restored", tw->state_restored ? 1 : 0);
  }
  free(u), free(d), free(fl), free(u8), free(u64), free(lab);
  if (H5Fclose(f) < 0 && !err) err = NTW_ERR(NTW_ERR_IO, "%s: cannot close", tmp);
  if (!err && rename(tmp, path) != 0) err = NTW_ERR(NTW_ERR_IO, "%s: cannot rename", path);
  if (err) unlink(tmp);
  return err;
}

/* Network bursts of the recorded spikes the twin received, with the
 * recording module's detector; split by loop epoch. */
static void burst_rates(ntw_twin *tw, double t0_ms, double t_end_ms, json_t *o) {
  ntw_recording r = {0};
  const size_t b0 = tw->out_bio0, nb = tw->bio.n - b0;
  r.n_channels = tw->nch;
  r.channels = calloc(tw->nch + 1, sizeof *r.channels);
  r.n_events = nb;
  r.t_us = malloc((nb + 1) * sizeof *r.t_us);
  r.channel = malloc((nb + 1) * sizeof *r.channel);
  r.duration_us = (uint64_t)llround((t_end_ms - t0_ms) * 1e3); /* times from t0 */
  ntw_bursts b = {0};
  json_t *br = json_object(), *bo = json_null(), *bc = json_null();
  if (r.channels && r.t_us && r.channel) {
    for (size_t i = 0; i < nb; i++) {
      r.t_us[i] = (uint64_t)llround((tw->bio.v[b0 + i].stamp * tw->dt - t0_ms) * 1e3);
      r.channel[i] = tw->bio.v[b0 + i].ch;
    }
    if (ntw_recording_bursts(&r, NULL, &b) == 0) {
      const double alt = tw->tc->stim_alternate_s;
      double on_s = 0, off_s = 0;
      size_t n_on = 0, n_off = 0;
      const double T0 = t0_ms * 1e-3, T = t_end_ms * 1e-3;
      if (alt > 0) { /* the epochs' overlaps with [T0, T] */
        for (int64_t k = (int64_t)floor(T0 / alt); k * alt < T; k++) {
          double len = fmin((k + 1) * alt, T) - fmax(k * alt, T0);
          if (len <= 0) continue;
          if (k % 2) on_s += len;
          else off_s += len;
        }
      } else if (tw->tc->stim != NTW_STIMPOL_OFF) on_s = T - T0;
      else off_s = T - T0;
      for (size_t i = 0; i < b.n; i++) {
        if (loop_on(tw, b.start_us[i] * 1e-3 + t0_ms) && (alt > 0 || tw->tc->stim != NTW_STIMPOL_OFF)) n_on++;
        else n_off++;
      }
      if (on_s > 0) bc = json_real(n_on / on_s);
      if (off_s > 0) bo = json_real(n_off / off_s);
      json_object_set_new(o, "bursts", json_integer((json_int_t)b.n));
      json_object_set_new(o, "burst_s", json_pack("{s:f,s:f}", "closed_loop", on_s, "open_loop", off_s));
      json_object_set_new(o, "bursts_split", json_pack("{s:I,s:I}", "closed_loop", (json_int_t)n_on,
                                                       "open_loop", (json_int_t)n_off));
      ntw_bursts_free(&b);
    }
  }
  json_object_set_new(br, "closed_loop", bc);
  json_object_set_new(br, "open_loop", bo);
  json_object_set_new(o, "burst_rate_hz", br);
  free(r.channels), free(r.t_us), free(r.channel);
}

int ntw_twin_finish(ntw_twin *tw, json_t **report) {
  *report = NULL;
  int err = 0;
  if (tw->rank == 0) {
    ntw_engine_stats st;
    ntw_engine_get_stats(tw->e, &st);
    const double t_end = st.step * tw->dt;
    const double t0 = (tw->resumed_step > 0 ? tw->resumed_step : 0) * tw->dt;
    /* the last, partial fidelity interval */
    if (st.step > tw->fid_lo && (st.step - tw->fid_lo) * tw->dt >= 0.5 * tw->tc->interval_ms)
      err = fidelity(tw, tw->fid_lo, st.step);
    if (!err) err = write_h5(tw);
    json_t *o = json_object();
    const ntw_twin_cfg *tc = tw->tc;
    json_object_set_new(o, "regime", json_string(ntw_regime_name(tc->regime)));
    json_object_set_new(o, "source", json_string(tc->from_file ? tc->file : tc->events));
    json_object_set_new(o, "paced", json_boolean(tw->link || tc->pace));
    json_t *rt = json_object();
    json_object_set_new(rt, "rt_priority", json_integer(tw->rt.priority));
    json_object_set_new(rt, "fifo", json_boolean(tw->rt.fifo));
    json_object_set_new(rt, "lock_memory", json_boolean(tw->rt.lock_memory));
    json_object_set_new(rt, "locked", json_boolean(tw->rt.locked));
    json_object_set_new(o, "realtime", rt);
    json_object_set_new(o, "channels", json_integer(tw->nch));
    /* steady state: the intervals after the first third of the run (of
     * the resumed part, after a restore: the intervals it wrote) */
    double gs = 0, cs = 0, gy = 0;
    size_t gn = 0, cn = 0;
    for (size_t i = 0; i < tw->fid_t.n; i++) {
      if (tw->fid_t.v[i] < t0 + (t_end - t0) / 3.0) continue;
      if (isfinite(tw->fid_gamma.v[i])) gs += tw->fid_gamma.v[i], gy += tw->fid_gamma_sym.v[i], gn++;
      if (isfinite(tw->fid_corr.v[i])) cs += tw->fid_corr.v[i], cn++;
    }
    json_object_set_new(o, "gamma_steady", gn ? json_real(gs / gn) : json_null());
    json_object_set_new(o, "gamma_symmetric_steady", gn ? json_real(gy / gn) : json_null());
    json_object_set_new(o, "delta_ms", json_real(tc->delta_ms));
    json_object_set_new(o, "rate_corr_steady", cn ? json_real(cs / cn) : json_null());
    json_object_set_new(o, "retrack_s", json_null()); /* needs the ground truth */
    json_object_set_new(o, "weight_change_corr", json_null());
    float *lat = malloc((tw->stims.n + 1) * sizeof *lat);
    size_t nl = 0;
    for (size_t i = 0; lat && i < tw->stims.n; i++)
      if (tw->stims.v[i].sent == 1) lat[nl++] = tw->stims.v[i].latency_ms;
    json_object_set_new(o, "latency_ms", pcts(tw->lat_ms.v, tw->lat_ms.n));
    json_object_set_new(o, "stim_latency_ms", pcts(lat, nl));
    free(lat);
    json_object_set_new(o, "lag_ms", pcts(tw->lag_ms.v, tw->lag_ms.n));
    json_object_set_new(o, "deadline_misses", json_integer((json_int_t)tw->misses));
    json_object_set_new(o, "windows", json_integer((json_int_t)tw->windows));
    json_object_set_new(o, "allowance_ms", json_real(tc->allowance_ms));
    json_object_set_new(o, "release", json_string(tc->release_watermark ? "watermark"
                                                                        : "allowance"));
    json_object_set_new(o, "released_by_watermark", json_integer((json_int_t)tw->by_watermark));
    json_object_set_new(o, "slack_ms", json_real(tc->slack_ms));
    json_object_set_new(o, "late_events", json_integer((json_int_t)tw->late));
    json_object_set_new(o, "late_policy", json_string(tc->late == NTW_LATE_DROP ? "drop"
                                                      : tc->late == NTW_LATE_SHIFT ? "shift" : "abort"));
    json_object_set_new(o, "late_shifted", json_integer((json_int_t)tw->shifted));
    json_object_set_new(o, "events_before_start", json_integer((json_int_t)tw->before_start));
    json_object_set_new(o, "dropped_before_resume", json_integer((json_int_t)tw->dropped_resume));
    if (tw->dropped_resume)
      fprintf(stderr, "ntwin: twin: %" PRIu64 " events stamped before the checkpoint's time "
              "(biology clock < %.6f s) were ignored: delivered before the checkpoint "
              "(report.json twin.dropped_before_resume)\n", tw->dropped_resume,
              (double)tw->resume_us * 1e-6);
    json_object_set_new(o, "events_injected", json_integer((json_int_t)tw->injected));
    json_object_set_new(o, "predicted_spikes", json_integer((json_int_t)tw->predicted));
    /* after a restore: from which step, whether the twin's state was in
     * the checkpoint; twin.h5 covers output_from_ms on, the counters
     * counters_from_ms on (0 when restored with the state) */
    json_object_set_new(o, "restored_from_step", tw->resumed_step >= 0
                                                     ? json_integer(tw->resumed_step) : json_null());
    json_object_set_new(o, "state_restored", tw->resumed_step >= 0
                                                 ? json_boolean(tw->state_restored) : json_null());
    json_object_set_new(o, "output_from_ms", json_real(t0));
    json_object_set_new(o, "counters_from_ms", json_real(tw->counters_from * tw->dt));
    json_object_set_new(o, "min_delay_ok", json_boolean(st.min_delay_built == 0 ||
                                                        st.min_delay_built >= st.window_steps));
    json_object_set_new(o, "stims_sent", json_integer((json_int_t)tw->stims_sent));
    json_object_set_new(o, "stims_dropped", json_integer((json_int_t)tw->stims_dropped));
    json_object_set_new(o, "stims_sham", json_integer((json_int_t)tw->shams));
    json_object_set_new(o, "stim_input_spikes", json_integer((json_int_t)tw->stim_forced));
    json_object_set_new(o, "stim_input_missed", json_integer((json_int_t)tw->stim_force_missed));
    json_object_set_new(o, "stop_reason", json_string(tw->failed ? "failed"
                                                      : tw->stop_reason[0] ? tw->stop_reason : "t_stop"));
    if (tw->link) {
      const ntw_bio_stats *ls = ntw_biolink_stats(tw->link);
      double off = NAN, drift = NAN;
      int nhb = ntw_biolink_clock_estimate(tw->link, &off, &drift);
      json_object_set_new(o, "clock", json_pack("{s:o,s:o,s:I,s:i,s:o,s:o,s:o}",
                                                "offset_us", num_or_null(tw->clk_offset),
                                                "drift_ppm", num_or_null(tw->clk_drift * 1e6),
                                                "heartbeats", (json_int_t)ls->heartbeats_rx,
                                                "link_fit_heartbeats", nhb,
                                                "link_fit_offset_us", num_or_null(off),
                                                "link_fit_drift_ppm", num_or_null(drift),
                                                "rtt_mean_us", num_or_null(ls->rtt_mean_us)));
      json_t *l = json_object();
      json_object_set_new(l, "messages", json_integer((json_int_t)ls->msgs_rx));
      json_object_set_new(l, "events", json_integer((json_int_t)ls->events_rx));
      json_object_set_new(l, "malformed", json_integer((json_int_t)ls->malformed));
      json_object_set_new(l, "wrong_version", json_integer((json_int_t)ls->wrong_version));
      json_object_set_new(l, "oversized", json_integer((json_int_t)ls->oversized));
      json_object_set_new(l, "unknown_channel", json_integer((json_int_t)ls->unknown_channel));
      json_object_set_new(l, "non_monotonic", json_integer((json_int_t)ls->non_monotonic));
      json_object_set_new(l, "watermark_backwards",
                          json_integer((json_int_t)ls->watermark_backwards));
      json_object_set_new(l, "after_watermark", json_integer((json_int_t)ls->after_watermark));
      json_object_set_new(l, "lost", json_integer((json_int_t)ls->lost));
      json_object_set_new(l, "sessions", json_integer((json_int_t)ls->sessions));
      json_object_set_new(o, "link", l);
    }
    burst_rates(tw, t0, t_end, o);
    *report = o;
    if (!tw->quiet) {
      json_t *lg = json_object_get(o, "lag_ms"), *lt = json_object_get(o, "latency_ms");
      json_t *br = json_object_get(o, "burst_rate_hz");
      fprintf(stderr,
              "ntwin twin: %s, %u channels, %" PRIu64 " recorded spikes in, %zu predicted\n"
              "  fidelity  Gamma %.3f, rate corr %.3f (steady: after t = %.1f s)\n"
              "  timing    lag p50 %.2f / p99 %.2f / max %.2f ms, %" PRIu64 " deadline misses,"
              " %" PRIu64 " late events (%s)\n"
              "  loop      %" PRIu64 " stimulations, latency p50 %.2f / p99 %.2f ms;"
              " bursts %.3f Hz closed / %.3f Hz open loop\n"
              "  output    %s/twin.h5\n",
              ntw_regime_name(tc->regime), tw->nch, tw->injected, (size_t)tw->predicted,
              gn ? gs / gn : NAN, cn ? cs / cn : NAN, (t0 + (t_end - t0) / 3.0) * 1e-3,
              json_real_value(json_object_get(lg, "p50")), json_real_value(json_object_get(lg, "p99")),
              json_real_value(json_object_get(lg, "max")), tw->misses, tw->late,
              json_string_value(json_object_get(o, "late_policy")), tw->stims_sent,
              json_real_value(json_object_get(lt, "p50")), json_real_value(json_object_get(lt, "p99")),
              json_real_value(json_object_get(br, "closed_loop")),
              json_real_value(json_object_get(br, "open_loop")), tw->outdir);
    }
  }
  int bad[2] = {err != 0, tw->failed};
  MPI_Bcast(bad, 2, MPI_INT, 0, MPI_COMM_WORLD);
  if (bad[0]) return tw->rank == 0 ? err : NTW_ERR(NTW_ERR_REMOTE, "twin: rank 0 failed");
  if (bad[1]) {
    return NTW_ERR(NTW_ERR_IO, "%s", tw->rank == 0 ? tw->fail_msg
                                                   : "twin: stopped by rank 0 (late_policy abort)");
  }
  return 0;
}

const char *ntw_twin_stop_reason(const ntw_twin *tw) { return tw->stop_reason; }

bool ntw_twin_paced(const ntw_twin *tw) { return tw && tw->paced; }

void ntw_twin_destroy(ntw_twin **ptw) {
  if (!ptw || !*ptw) return;
  ntw_twin *tw = *ptw;
  if (tw->link) {
    ntw_biolink_send_bye(tw->link, tw->failed ? 1 : 0);
    ntw_biolink_close(&tw->link);
  }
  ntw_bio_msg_free(&tw->msg);
  ntw_recording_destroy(&tw->rec);
  free(tw->W), free(tw->W_applied), free(tw->ctl_buf), free(tw->gbuf), free(tw->gall), free(tw->force_gid),
      free(tw->force_stamp), free(tw->gcounts), free(tw->gdispl);
  free(tw->idx_of_id), free(tw->label), free(tw->x_um), free(tw->y_um), free(tw->ch_id);
  free(tw->pending.v), free(tw->win_bio.v), free(tw->win_us.v), free(tw->stim_force.v), free(tw->bio.v), free(tw->bio_us.v);
  free(tw->pred.v), free(tw->stims.v), free(tw->lag_ms.v), free(tw->lat_ms.v),
      free(tw->ready_ms.v), free(tw->run_ms.v), free(tw->fid_t.v);
  free(tw->fid_gamma.v), free(tw->fid_corr.v), free(tw->fid_gamma_sym.v), free(tw->fid_gamma_ch.v);
  free(tw->fid_nbio.v), free(tw->fid_npred.v), free(tw->W_hist.v);
  free(tw->clk_t.v), free(tw->clk_off.v), free(tw->clk_drift_hist.v);
  free(tw->dW), free(tw->xs), free(tw->act_ring), free(tw->env_t.v), free(tw->env_y.v);
  free(tw);
  *ptw = NULL;
}

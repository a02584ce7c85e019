/* tests/test_culture_stim.c - `ntwin culture` seen from a twin, over real
 * ZeroMQ (ipc) sockets: the twin side is io/biolink's own
 * ntw_biolink_open_twin, the culture is the ntwin executable in a child
 * process (paced, --wait-peer).
 *  - the culture waits for the twin's heartbeat, sends a HELLO with the
 *    60-electrode MCS layout, then SPIKES every window;
 *  - STIM commands (800 mV, 30 ms ahead of the culture clock) on the 5
 *    electrodes that were most active during the first 2 s evoke a spike on
 *    the same electrode 0.5-5 ms later in >= 60 % of trials, and at least
 *    4x as often as a random 4.5 ms window holds one before stimulation;
 *  - a STIM for a channel that is not in the layout is dropped and counted
 *    (unknown_channel), a STIM whose time has passed is applied and counted
 *    late;
 *  - the twin vanishing for a second does not stop the culture; a new twin
 *    connects, SIGTERM ends the culture with status 0, a BYE to the new
 *    twin, culture.h5 and a report that counts what was sent.
 * Usage: test_culture_stim NTWIN CULTURE.json WORK_DIR. Every wait has a
 * deadline: the test fails, never hangs. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/biolink.h"

#define FAIL(...)                                      \
  do {                                                 \
    fprintf(stderr, "FAIL: " __VA_ARGS__);             \
    fputc('\n', stderr);                               \
    if (child > 0) kill(child, SIGKILL);               \
    exit(1);                                           \
  } while (0)

static pid_t child = -1;

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define MAX_EV 2000000
static ntw_bio_event ev[MAX_EV];
static size_t nev;

#define NSTIM 24

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s NTWIN CULTURE.json WORK_DIR\n", argv[0]);
    return 2;
  }
  const char *ntwin = argv[1], *config = argv[2], *work = argv[3];
  char cmd[512], evp[512], cmdp[512], out[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", work, work);
  if (system(cmd) != 0) FAIL("cannot create %s", work);
  snprintf(evp, sizeof evp, "ipc://%s/events", work);
  snprintf(cmdp, sizeof cmdp, "ipc://%s/commands", work);
  snprintf(out, sizeof out, "%s/out", work);

  ntw_bio_endpoints ep = {evp, cmdp};
  ntw_bio_opts o;
  ntw_bio_opts_default(&o);
  ntw_biolink *link = NULL;
  if (ntw_biolink_open_twin(&ep, &o, &link)) FAIL("cannot open the twin side");

  child = fork();
  if (child == 0) {
    execl(ntwin, ntwin, "culture", config, "--out", out, "--t-stop", "60", "--events", evp,
          "--commands", cmdp, "--wait-peer", "20", "--quiet", (char *)NULL);
    perror("execl");
    _exit(127);
  }
  if (child < 0) FAIL("fork: %s", strerror(errno));

  ntw_bio_msg msg = {0};
  const double t_end = mono_s() + 60.0;
  double last_hb = 0;
  uint64_t t_now = 0, t_next_stim = 0;
  bool hello = false, bye = false, term_sent = false, extras_sent = false;
  int chosen[5] = {-1, -1, -1, -1, -1};
  uint64_t pre_count[60] = {0};
  int nstim = 0;
  ntw_bio_stim sent[NSTIM];
  double term_at = 0;
  while (!bye) {
    if (mono_s() > t_end) FAIL("no end after 60 s (culture at t = %.3f s)", t_now * 1e-6);
    if (mono_s() - last_hb >= 0.1) {
      ntw_biolink_send_heartbeat(link);
      last_hb = mono_s();
    }
    int got = ntw_biolink_poll(link, 10, &msg);
    if (got < 0) FAIL("poll failed");
    if (got == 0) continue;
    if (msg.type == NTW_BIO_HELLO && !hello) {
      hello = true;
      if (msg.hello.n_channels != 60) FAIL("HELLO has %u channels, not 60", msg.hello.n_channels);
      if (msg.hello.stim_unit != NTW_BIO_UNIT_MV) FAIL("HELLO stim unit is not mV");
      if (strcmp(msg.hello.channels[0].label, "12") || strcmp(msg.hello.channels[59].label, "87"))
        FAIL("HELLO labels: channel 0 '%s', 59 '%s' (want 12, 87)",
             msg.hello.channels[0].label, msg.hello.channels[59].label);
    } else if (msg.type == NTW_BIO_BYE) {
      bye = true;
    } else if (msg.type == NTW_BIO_SPIKES) {
      t_now = msg.t_sent_us;
      for (uint32_t k = 0; k < msg.spikes.n && nev < MAX_EV; k++) {
        ev[nev++] = msg.spikes.events[k];
        if (msg.spikes.events[k].t_us < 2000000) pre_count[msg.spikes.events[k].channel]++;
      }
    }
    if (t_now >= 2000000 && chosen[0] < 0) {
      /* The 5 electrodes that saw the most during the first 2 s: they have
       * neurons under them. */
      for (int k = 0; k < 5; k++) {
        int best = -1;
        for (int c = 0; c < 60; c++) {
          bool used = false;
          for (int q = 0; q < k; q++) used |= chosen[q] == c;
          if (!used && (best < 0 || pre_count[c] > pre_count[best])) best = c;
        }
        chosen[k] = best;
      }
      t_next_stim = t_now;
      fprintf(stderr, "stimulating channels %d %d %d %d %d (pre-counts %lu %lu %lu %lu %lu)\n",
              chosen[0], chosen[1], chosen[2], chosen[3], chosen[4],
              (unsigned long)pre_count[chosen[0]], (unsigned long)pre_count[chosen[1]],
              (unsigned long)pre_count[chosen[2]], (unsigned long)pre_count[chosen[3]],
              (unsigned long)pre_count[chosen[4]]);
    }
    if (chosen[0] >= 0 && nstim < NSTIM && t_now >= t_next_stim) {
      ntw_bio_stim s = {(uint16_t)chosen[nstim % 5], t_now + 30000, 800.0f, 200};
      if (ntw_biolink_send_stim(link, &s, 1) != 0) FAIL("STIM %d not queued", nstim);
      sent[nstim++] = s;
      t_next_stim = t_now + 250000;
    }
    if (nstim == NSTIM && !extras_sent && t_now > sent[NSTIM - 1].t_us + 200000) {
      /* One unknown channel, one command already in the past. */
      ntw_bio_stim bad = {999, t_now + 10000, 800.0f, 200};
      ntw_bio_stim late = {(uint16_t)chosen[0], t_now > 500000 ? t_now - 500000 : 0, 100.0f, 200};
      ntw_biolink_send_stim(link, &bad, 1);
      ntw_biolink_send_stim(link, &late, 1);
      extras_sent = true;
      term_at = mono_s() + 0.3;
    }
    if (extras_sent && !term_sent && mono_s() >= term_at) {
      /* The twin vanishes for a second (no BYE): the culture goes on.
       * Then a new twin connects and the culture is stopped by SIGTERM:
       * the new twin gets its BYE. */
      ntw_biolink_close(&link);
      usleep(1000000);
      if (waitpid(child, &(int){0}, WNOHANG) != 0) FAIL("the culture stopped when the twin vanished");
      if (ntw_biolink_open_twin(&ep, &o, &link)) FAIL("cannot reopen the twin side");
      usleep(300000);
      kill(child, SIGTERM);
      term_sent = true;
    }
  }
  int status = 0;
  const double wait_end = mono_s() + 20;
  pid_t w;
  while ((w = waitpid(child, &status, WNOHANG)) == 0 && mono_s() < wait_end) usleep(20000);
  if (w != child) FAIL("the culture did not exit within 20 s of SIGTERM");
  child = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    FAIL("the culture exited with status %d after SIGTERM (want 0)",
         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  if (!hello) FAIL("no HELLO received");

  /* Evoked responses. */
  int hits = 0;
  for (int i = 0; i < NSTIM; i++) {
    bool hit = false;
    for (size_t k = 0; k < nev && !hit; k++)
      hit = ev[k].channel == sent[i].channel && ev[k].t_us >= sent[i].t_us + 500 &&
            ev[k].t_us <= sent[i].t_us + 5000;
    hits += hit;
  }
  /* Chance: share of 4.5 ms windows on a 1 ms grid over the first 2 s that
   * hold a spike of the channel. */
  double chance = 0;
  for (int q = 0; q < 5; q++) {
    int with = 0, all = 0;
    for (uint64_t t0 = 0; t0 + 4500 <= 2000000; t0 += 1000, all++) {
      bool any = false;
      for (size_t k = 0; k < nev && ev[k].t_us <= t0 + 4500 && !any; k++)
        any = ev[k].channel == chosen[q] && ev[k].t_us >= t0;
      with += any;
    }
    double p = (double)with / all;
    if (p > chance) chance = p;
  }
  double frac = (double)hits / NSTIM;
  fprintf(stderr, "evoked: %d of %d stimulations (%.2f); chance at most %.3f\n", hits, NSTIM,
          frac, chance);
  if (frac < 0.6) FAIL("only %d of %d stimulations evoked a spike within 0.5-5 ms", hits, NSTIM);
  if (frac < 4 * chance) FAIL("response %.2f is not 4x above chance %.3f", frac, chance);

  /* The culture's own account. */
  char path[600];
  snprintf(path, sizeof path, "%s/culture.h5", out);
  struct stat sb;
  if (stat(path, &sb) != 0) FAIL("%s missing after SIGTERM", path);
  snprintf(path, sizeof path, "%s/culture_report.json", out);
  json_error_t je;
  json_t *r = json_load_file(path, 0, &je);
  if (!r) FAIL("%s: %s", path, je.text);
  json_t *st = json_object_get(r, "stimulation"), *bl = json_object_get(r, "biolink");
  long long received = json_integer_value(json_object_get(st, "received"));
  long long late = json_integer_value(json_object_get(st, "late"));
  long long unknown = json_integer_value(json_object_get(bl, "unknown_channel"));
  long long sig = json_integer_value(json_object_get(r, "stopped_by_signal"));
  fprintf(stderr, "report: received %lld, late %lld, unknown_channel %lld, signal %lld\n",
          received, late, unknown, sig);
  if (received != NSTIM + 1) FAIL("culture received %lld stims, want %d", received, NSTIM + 1);
  if (late != 1) FAIL("culture counted %lld late stims, want 1", late);
  if (unknown != 1) FAIL("culture counted %lld unknown-channel stims, want 1", unknown);
  if (sig != SIGTERM) FAIL("stopped_by_signal %lld, want %d", sig, SIGTERM);
  json_decref(r);
  ntw_bio_msg_free(&msg);
  ntw_biolink_close(&link);
  fprintf(stderr, "ok\n");
  return 0;
}

/* engine_impl.h - private to the engine (engine.c, synapses.c): the
 * layout of ntw_engine and its synapse stores. */
#ifndef NTW_ENGINE_IMPL_H
#define NTW_ENGINE_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "model.h"

#define NTW_KEY_GID_BITS 48
#define NTW_KEY_GID_MASK ((UINT64_C(1) << NTW_KEY_GID_BITS) - 1)
/* syn_d holds the delay in steps (15 bits) and the receptor port (bit 15). */
#define NTW_MAX_DELAY_STEPS 32767
#define NTW_PORT_BIT 15
#define NTW_DELAY_MASK 0x7fff
#define NTW_MAX_HOOKS 16

typedef struct {
  const ntw_model_ops *ops;
  void *state;
  uint64_t lo, n; /* local index range */
  int pop;
} pop_block;

typedef struct {
  int stim;          /* config index */
  uint64_t lo, n;    /* local targets */
  int64_t start, stop;
  double weight;
  int port;          /* receptor port of the targets (by the weight's sign) */
  uint32_t *cdf;     /* Poisson CDF as 32-bit thresholds (of the block mean
                      * 16 lambda with the block method, else of lambda) */
  int ncdf;
  uint8_t guide[1024]; /* first candidate count per top 10 bits of u */
  /* Block method (small lambda, engine.c): counts[q * n + i] is the count
   * of target i in step 16 cblock + q; a cache of the pure function of
   * (seed, stim, gid, block), so it is not checkpointed. */
  bool block;
  uint8_t *counts;
  int64_t cblock; /* -1: nothing cached */
} poisson_dev;

typedef struct {
  int64_t step;
  uint64_t lo, n;
  double delta; /* pA added to i_ext */
} dc_event;

/* An Ornstein-Uhlenbeck current on the local targets of one stimulus,
 * active in steps [start, stop). */
typedef struct {
  int stim;
  uint64_t lo, n;
  int64_t start, stop;
  double mean, std;
  double decay, kick; /* e^{-dt/tau}, std sqrt(1 - e^{-2 dt/tau}) */
  double *I;          /* pA per target: the current of the last active step */
} noise_dev;

typedef struct {
  ntw_hook_fn fn;
  void *ctx;
} hook;

typedef struct {
  int64_t step; /* spike stamp - 1: the step in which it is emitted */
  uint32_t lidx;
} forced_spike;

#define NTW_EXP_TABLE 4096

typedef enum {
  NTW_SYN_STATIC = 0,
  NTW_SYN_STDP,         /* all-to-all pairing, weight dependence mu_plus/mu_minus */
  NTW_SYN_STDP_NN_SYMM, /* symmetric nearest-spike pairing */
  NTW_SYN_STDP_PL_HOM,  /* power-law STDP of NEST's hpc_benchmark */
  NTW_SYN_TSODYKS2      /* Tsodyks-Markram short-term plasticity */
} syn_kind;

/* A synapse store: CSR by source over the source range [src_first,
 * src_first + src_n). Store 0 holds every static projection; each plastic
 * projection has its own, with its parameters and per-source state. */
typedef struct {
  syn_kind kind;
  int proj; /* config index of a plastic projection; -1 for store 0 */
  uint64_t src_first, src_n;
  uint64_t *row; /* src_n + 1 */
  uint32_t *tgt;
  float *w;
  uint16_t *d; /* delay in steps | port << NTW_PORT_BIT */
  uint64_t nsyn;
  /* parameters */
  double tau_plus, lambda, alpha, mu_plus, mu_minus, Wmax;
  double U, tau_rec, tau_fac;
  int post_block; /* block of the targets (STDP) */
  /* e^{-k dt / tau_plus} and e^{-k dt / tau_minus} for k < NTW_EXP_TABLE:
   * every time difference in STDP is whole steps (computed with the very
   * expression used beyond the table, so results are unchanged) */
  double *exp_plus, *exp_minus;
  /* Store 0 only: for each static projection k whose weights are recorded,
   * seg[k] holds 2 * src_n offsets: source i's synapses of projection k are
   * [seg[k][i], seg[k][src_n + i]) (a store's rows are filled projection by
   * projection, so they are contiguous). NULL for other projections. */
  uint64_t **seg;
  /* per-source state, indexed by gid - src_first */
  double *kplus;
  int64_t *t_last; /* stamp of the source's last spike */
  double *u, *x;
} syn_store;

/* History of post-synaptic spikes of one neuron, for STDP (as NEST's
 * ArchivingNode): stamps, the post trace just after each spike, and how
 * many incoming synapses have read the entry. */
typedef struct {
  int64_t *t;
  double *K;
  uint32_t *cnt;
  uint32_t head, len, cap;
} post_hist;

typedef struct {
  double tau_minus;
  bool nearest;
  uint32_t *n_in; /* incoming STDP synapses per neuron of the block */
  post_hist *h;
} post_trace;

struct ntw_engine {
  const ntw_config *cfg;
  ntw_comm *comm;
  const ntw_part *part;
  int rank, nranks;
  double dt;

  uint64_t n_global, n_local;
  uint64_t *gids; /* local index -> gid */

  size_t nblocks;
  pop_block *blocks;
  post_trace **post; /* per block, NULL without STDP input */

  /* Incoming synapses of local neurons: store 0 static, then plastic. */
  size_t nstores;
  syn_store *stores;
  uint64_t nsyn;

  forced_spike *forced; /* spike_times stimuli, sorted by step */
  size_t nforced, next_forced;
  /* Spikes forced at run time (ntw_engine_force_spikes: the twin's bio
   * events, a culture's stimulation), sorted by step; [next_live, nlive)
   * are still to come. */
  forced_spike *live;
  size_t nlive, next_live, live_cap;

  /* For each local neuron, the ranks holding targets of it (CSR). */
  uint64_t *trow;
  int32_t *tranks;

  /* Delay ring: ring[port * ring_port + (step & ring_mask) * n_local + i]. */
  double *ring;
  size_t ring_port; /* elements per port */
  int nports;
  int64_t ring_mask;
  int D, dmax, dmin_built;

  /* External current seen by the models, pA per local neuron: the DC sum
   * i_dc plus the active noise currents. Without noise stimuli i_dc is
   * i_ext itself; with them, i_ext is refreshed each step on the noise
   * targets only (and on a DC event's range). */
  double *i_ext;
  double *i_dc;
  noise_dev *noise;
  size_t nnoise;
  dc_event *dc;
  size_t ndc, next_dc;
  poisson_dev *poisson;
  size_t npoisson;

  /* Spikes of the current window. */
  uint32_t *win_lidx;
  uint64_t *win_gid;
  int64_t *win_step;
  size_t win_n, win_cap;
  uint32_t *upd_buf; /* per-block spike output */

  /* Exchange buffers. */
  int *send_counts, *send_offs;
  uint64_t *send_buf;
  size_t send_cap;
  uint64_t *recv_sorted;
  size_t recv_cap;

  hook hooks[2][NTW_MAX_HOOKS];
  int nhooks[2];

  /* Overlap (engine.h): each window is computed as two epochs, the first
   * ep_first steps long; the exchange of an epoch travels while the next
   * one is computed. pend_t0 is the first step of the epoch whose exchange
   * is in flight (ntw_comm_pending). */
  bool overlap;
  int ep_first;
  int64_t pend_t0;
  /* Every spike emitted in a step < delivered_to has been delivered (the
   * horizon of the post-history pruning). */
  int64_t delivered_to;

  uint64_t *pop_spikes;
  int64_t step;
  bool stop_requested;
  ntw_engine_stats st;
};


/* synapses.c */
int ntw_syn_setup(ntw_engine *e, syn_store *st, int proj);
int ntw_syn_post_setup(ntw_engine *e);
void ntw_syn_free(syn_store *st, size_t nprojs);
void ntw_syn_post_free(ntw_engine *e);
/* Record a post-synaptic spike (stamp) of local neuron li in block b. */
int ntw_syn_post_spike(ntw_engine *e, size_t b, uint64_t li, int64_t stamp);
/* Forget every post-history entry no delivery from delivered_to on can
 * read: the same entries whatever the windows, epochs and pruning so far,
 * so that checkpoints hold a canonical history. */
void ntw_syn_post_prune(ntw_engine *e);
/* Deliver the spike of source g emitted in step s through store st;
 * returns the number of synaptic events. */
uint64_t ntw_syn_deliver(ntw_engine *e, syn_store *st, uint64_t g, int64_t s);

#endif

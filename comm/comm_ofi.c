/* comm_ofi.c - spike exchange on libfabric tagged messages (RDM endpoint).
 *
 * Setup (collective): one provider is chosen on rank 0 and used by all
 * (FI_PROVIDER if set, else "shm" when all ranks share a node, else
 * libfabric's first choice); fabric, domain, RDM endpoint, one CQ, an
 * FI_AV_TABLE address vector. Endpoint names are exchanged once with
 * MPI_Allgather and all inserted, so fi_addr_t == rank.
 *
 * Window w: one message per peer, tag = (w mod 2^16, source rank, part).
 * Part 0 is [header, keys...] where header = count | capacity << 32: count is
 * the number of keys for the receiver this window, capacity is how many
 * words the sender has posted for the receiver's message of window w + 1.
 * Receives for windows w and w + 1 are always pre-posted (two slot sets,
 * chosen by window parity): a peer can be at most one window ahead, because
 * it cannot finish window w + 1 without our message of w + 1. If the keys do
 * not fit the receiver's slot, the rest travels as part 1, which the receiver
 * posts once it has read the header; the receiver then grows that slot for
 * later windows (advertised in its next header), so overflow is rare in a
 * steady state. Self keys are copied. Received keys are gathered in rank
 * order into one buffer that stays valid until the next exchange.
 *
 * The split exchange: ofi_start posts window w's sends (keys copied into
 * our staging buffers) and returns; ofi_wait is the rest (headers, overflow
 * parts, send completions, gather, re-post). With one exchange in flight at
 * a time a peer is still at most one window ahead, so the pre-posted slot
 * sets suffice.
 *
 * Every operation's context is a struct fi_context2 we own, so providers that
 * need FI_CONTEXT/FI_CONTEXT2 are served; -FI_EAGAIN on a post means "drive
 * progress (read the CQ) and retry"; CQ errors are read with fi_cq_readerr.
 * Buffers are registered when the provider asks for FI_MR_LOCAL.
 *
 * Watchdog: every blocking wait (a window's messages and send completions,
 * a post retried on -FI_EAGAIN) fails with one error naming the ranks it
 * waits for when no completion arrives for NTW_COMM_TIMEOUT seconds
 * (default 60; 0 = never), plus 2 s per rank up to rank 8 so that the
 * lowest waiting rank reports and its abort stops the others. Time spent
 * outside waits (computing) does not count. */
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "comm/comm_impl.h"
#include "core/ntw_error.h"

#define OFI_VERSION FI_VERSION(1, 10)
#define OFI_SLOT_DEFAULT 1024        /* words per pre-posted slot */
#define OFI_SLOT_MAX ((size_t)1 << 24) /* growth stops here (128 MB) */
#define OFI_NAME_MAX 256
#define OFI_TIMEOUT_DEFAULT 60.0 /* s without progress before a wait fails */
#define OFI_TIMEOUT_STAGGER 2.0  /* s more per rank (up to rank 8), so that */
#define OFI_TIMEOUT_STAGGER_MAX 8 /* one rank reports and aborts the rest */

/* Translate a libfabric return code at the boundary. */
#define OFI_CHECK(s, call)                                                    \
  do {                                                                        \
    int ofi_rc_ = (int)(call);                                                \
    if (NTW_UNLIKELY(ofi_rc_ < 0))                                            \
      return ntw_error_set(NTW_ERR_MPI, __FILE__, __LINE__,                   \
                           "comm ofi (provider %s): %s: %s", (s)->prov, #call, \
                           fi_strerror(-ofi_rc_));                            \
  } while (0)

typedef struct {
  void *p;
  size_t cap; /* bytes */
  struct fid_mr *mr;
} ofi_buf;

enum { OP_SEND, OP_RECV, OP_OVF };

/* The context of one posted operation; fi_context2 first so the completion's
 * op_context is a pointer to it. */
typedef struct {
  struct fi_context2 ctx;
  int kind, peer, set;
  bool done;
} ofi_op;

typedef struct {
  ofi_buf buf;      /* posted receive: header + inline keys */
  size_t words;     /* its size in words */
  ofi_op op;
  bool done;
  size_t len;       /* bytes received */
} ofi_slot;

typedef struct {
  char prov[64];
  bool auto_progress; /* the provider's own thread moves data (see ofi_choose) */
  struct fi_info *info;
  struct fid_fabric *fabric;
  struct fid_domain *domain;
  struct fid_ep *ep;
  struct fid_av *av;
  struct fid_cq *cq;
  fi_addr_t *addr;
  bool mr_local;
  size_t max_words; /* largest message, in words */
  bool grow;
  uint64_t window;
  ofi_slot *slot[2];   /* [window parity][peer] */
  size_t *peer_words;  /* the peer's slot size for our next message */
  ofi_buf *sbuf;       /* [peer]: staged header + keys */
  size_t *peer_next;   /* ... as advertised in this window's header */
  size_t *n, *soff;    /* [peer]: keys received, offset of keys sent */
  ofi_op *sop;         /* [peer][2]: send contexts */
  ofi_buf *obuf;       /* [peer]: overflow part */
  ofi_op *oop;         /* [peer] */
  int ndone[2];        /* slots of each set completed */
  unsigned idle;       /* consecutive empty CQ reads */
  ofi_buf self;        /* this window's keys for ourselves */
  size_t self_n;
  uint64_t *out;
  size_t out_cap;
  int pending_sends, pending_recvs, pending_ovf;
  uint64_t overflows;
  /* The watchdog: a blocking wait with no completion for `limit` seconds
   * fails (0 = never); `stall_t0` is when the current stretch without
   * completions began (0 = not waiting), `ncomp` counts completions. */
  double limit, limit_set, stall_t0; /* limit_set: NTW_COMM_TIMEOUT */
  double probe_t; /* when we last looked for a peer's give-up notice */
  int notice;     /* our give-up notice (our rank): outlives its sends */
  uint64_t ncomp;
  long fault_rank, fault_exchange; /* NTW_FAULT_OFI_STALL, tests only */
} ofi_state;

/* ---- buffers ---- */

static int buf_reserve(ofi_state *s, ofi_buf *b, size_t bytes) {
  if (bytes <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < bytes) cap *= 2;
  if (b->mr) fi_close(&b->mr->fid), b->mr = NULL;
  free(b->p);
  b->p = NULL;
  b->cap = 0;
  if (posix_memalign(&b->p, 64, cap) != 0) b->p = NULL;
  NTW_ALLOC_CHECK(b->p);
  b->cap = cap;
  if (s->mr_local)
    OFI_CHECK(s, fi_mr_reg(s->domain, b->p, cap, FI_SEND | FI_RECV, 0, 0, 0,
                           &b->mr, NULL));
  return 0;
}

static void buf_free(ofi_buf *b) {
  if (b->mr) fi_close(&b->mr->fid);
  free(b->p);
  memset(b, 0, sizeof *b);
}

static void *buf_desc(const ofi_buf *b) { return b->mr ? fi_mr_desc(b->mr) : NULL; }

/* ---- tags ---- */

static uint64_t ofi_tag(uint64_t window, int src, int part) {
  return (window & 0xffff) << 32 | (uint64_t)src << 1 | (uint64_t)part;
}

/* ---- progress ---- */

static int on_completion(ofi_state *s, const struct fi_cq_tagged_entry *e) {
  ofi_op *op = e->op_context;
  op->done = true;
  s->ncomp++;
  if (op->kind == OP_SEND) {
    s->pending_sends--;
  } else if (op->kind == OP_RECV) {
    ofi_slot *sl = &s->slot[op->set][op->peer];
    sl->done = true;
    sl->len = e->len;
    s->ndone[op->set]++;
  } else {
    s->pending_ovf--;
  }
  return 0;
}

/* Read what the CQ has; never blocks. After a run of empty reads it yields
 * the core: with more ranks than cores (tests, laptops) a spinning rank
 * would otherwise starve the peer it waits for, and shm progresses only
 * when the peer reads its CQ. With automatic progress our read moves no
 * data at all, the provider's thread does: yield after every empty read. */
static int ofi_progress(ofi_state *s) {
  struct fi_cq_tagged_entry e[16];
  const unsigned yield_after = s->auto_progress ? 1 : 32;
  for (;;) {
    ssize_t n = fi_cq_read(s->cq, e, 16);
    if (n == -FI_EAGAIN) {
      if (++s->idle >= yield_after) {
        s->idle = 0;
        sched_yield();
      }
      return 0;
    }
    s->idle = 0;
    if (n == -FI_EAVAIL) {
      struct fi_cq_err_entry err = {0};
      char buf[256];
      fi_cq_readerr(s->cq, &err, 0);
      const char *what = fi_cq_strerror(s->cq, err.prov_errno, err.err_data,
                                        buf, sizeof buf);
      ofi_op *op = err.op_context;
      return NTW_ERR(NTW_ERR_MPI,
                     "comm ofi (provider %s): %s with rank %d failed: %s (%s)",
                     s->prov,
                     !op ? "operation"
                     : op->kind == OP_SEND ? "send"
                                           : "receive",
                     op ? op->peer : -1, fi_strerror(err.err), what ? what : "");
    }
    if (n < 0)
      return NTW_ERR(NTW_ERR_MPI, "comm ofi (provider %s): fi_cq_read: %s",
                     s->prov, fi_strerror((int)-n));
    for (ssize_t i = 0; i < n; i++) NTW_TRY(on_completion(s, &e[i]));
    if (n < 16) return 0;
  }
}

static double ofi_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Appends peer p to the list b (at most 8 named, then "..."). */
static void add_peer(char *b, size_t cap, int p, int *count) {
  size_t len = strlen(b);
  if (++*count <= 8)
    snprintf(b + len, cap - len, "%s%d", *count > 1 ? ", " : "", p);
  else if (*count == 9)
    snprintf(b + len, cap - len, ", ...");
}

/* The watchdog's verdict, naming the ranks whose messages or send
 * completions this rank is still waiting for. */
static int ofi_stalled(ntw_comm *c, ofi_state *s, double waited, const char *what) {
  char peers[128] = "";
  int n = 0;
  const int set = (int)(s->window & 1);
  for (int p = 0; p < c->size; p++) {
    bool open = p != c->rank && !s->slot[set][p].done;
    open |= !s->sop[2 * p].done || !s->sop[2 * p + 1].done || !s->oop[p].done;
    if (open) add_peer(peers, sizeof peers, p, &n);
  }
  return NTW_ERR(NTW_ERR_MPI,
                 "comm ofi (provider %s): no progress for %.0f s in exchange %llu "
                 "on rank %d, %s%s%s: a rank is stuck or the fabric stalled "
                 "(NTW_COMM_TIMEOUT=%g s; 0 = wait forever)",
                 s->prov, waited, (unsigned long long)s->window, c->rank, what,
                 n ? (n > 1 ? " for ranks " : " for rank ") : "", peers, s->limit_set);
}

/* The give-up notice. The rank whose watchdog fires first tells every
 * other rank over MPI (a channel apart from the fabric) before it reports
 * and aborts. A rank that finds the notice while it waits stops quietly
 * (NTW_ERR_PEER_STOP: the run's one error line is the giver's), so one
 * line says what happened even when the runtime is slow to deliver the
 * abort; the later ranks' longer limits (OFI_TIMEOUT_STAGGER) are then
 * only the fallback for a notice that cannot arrive. */
#define OFI_TAG_GAVE_UP 0x4e54 /* on the comm's own duplicate of WORLD */
#define OFI_NOTICE_AFTER 0.5   /* s of stall before we look for notices */
#define OFI_NOTICE_EVERY 0.05  /* s between looks */

static void ofi_send_gave_up(ntw_comm *c, ofi_state *s) {
  MPI_Request *req = malloc((size_t)c->size * sizeof *req);
  if (!req) return; /* the staggered limits still stop the others */
  int n = 0, flag = 0;
  s->notice = c->rank;
  for (int p = 0; p < c->size; p++)
    if (p != c->rank && MPI_Isend(&s->notice, 1, MPI_INT, p, OFI_TAG_GAVE_UP, c->mpi,
                                  &req[n]) == MPI_SUCCESS)
      n++;
  /* Small and eager: done at once on shared memory; give a network a
   * moment, then leave the rest to MPI (the abort follows). */
  const double t0 = ofi_now();
  while (!flag && ofi_now() - t0 < 0.2) MPI_Testall(n, req, &flag, MPI_STATUSES_IGNORE);
  for (int i = 0; !flag && i < n; i++)
    if (req[i] != MPI_REQUEST_NULL) MPI_Request_free(&req[i]);
  free(req);
}

/* The rank that gave up, or -1. */
static int ofi_peer_gave_up(ntw_comm *c) {
  int flag = 0, who = -1;
  MPI_Status st;
  if (MPI_Iprobe(MPI_ANY_SOURCE, OFI_TAG_GAVE_UP, c->mpi, &flag, &st) != MPI_SUCCESS ||
      !flag)
    return -1;
  MPI_Recv(&who, 1, MPI_INT, st.MPI_SOURCE, OFI_TAG_GAVE_UP, c->mpi, MPI_STATUS_IGNORE);
  return who;
}

/* One step of a blocking wait: read the CQ; if nothing has completed for
 * longer than the limit, tell the others (above) and fail. While stalled,
 * look now and then for another rank's notice. The caller sets
 * s->stall_t0 = 0 when it starts waiting (time spent computing is no
 * stall). */
static int ofi_block(ntw_comm *c, ofi_state *s, const char *what) {
  const uint64_t seen = s->ncomp;
  NTW_TRY(ofi_progress(s));
  if (s->limit <= 0) return 0;
  const double now = ofi_now();
  if (s->ncomp != seen || s->stall_t0 == 0) {
    s->stall_t0 = now;
    return 0;
  }
  const bool over = now - s->stall_t0 >= s->limit;
  if (now - s->stall_t0 >= OFI_NOTICE_AFTER &&
      (over || now - s->probe_t >= OFI_NOTICE_EVERY)) {
    s->probe_t = now;
    const int who = ofi_peer_gave_up(c);
    if (who >= 0)
      return NTW_ERR(NTW_ERR_PEER_STOP,
                     "comm ofi: rank %d gave up waiting in exchange %llu and stops the run",
                     who, (unsigned long long)s->window);
  }
  if (!over) return 0;
  ofi_send_gave_up(c, s);
  return ofi_stalled(c, s, now - s->stall_t0, what);
}

/* Post with flow control: -FI_EAGAIN means the provider is out of resources
 * until we drain completions, so progress and retry. */
#define OFI_POST(c, s, what, call)                                           \
  do {                                                                       \
    ssize_t ofi_prc_;                                                        \
    (s)->stall_t0 = 0;                                                       \
    while ((ofi_prc_ = (call)) == -FI_EAGAIN)                                \
      NTW_TRY(ofi_block(c, s, "retrying " what " (-FI_EAGAIN)"));            \
    if (ofi_prc_ < 0)                                                        \
      return NTW_ERR(NTW_ERR_MPI, "comm ofi (provider %s): %s: %s", (s)->prov, \
                     what, fi_strerror((int)-ofi_prc_));                     \
  } while (0)

static int post_slot(ntw_comm *c, ofi_state *s, int set, int p, uint64_t window) {
  ofi_slot *sl = &s->slot[set][p];
  NTW_TRY(buf_reserve(s, &sl->buf, sl->words * sizeof(uint64_t)));
  sl->done = false;
  sl->len = 0;
  sl->op = (ofi_op){.kind = OP_RECV, .peer = p, .set = set};
  OFI_POST(c, s, "fi_trecv", fi_trecv(s->ep, sl->buf.p, sl->words * sizeof(uint64_t),
                                   buf_desc(&sl->buf), FI_ADDR_UNSPEC,
                                   ofi_tag(window, p, 0), 0, &sl->op.ctx));
  return 0;
}

/* ---- setup ---- */

/* All ranks return the same result; a failing rank's message is copied to
 * all, so whichever rank prints, it prints the real cause. */
static int ofi_agree(ntw_comm *c, int err) {
  int mine = err ? c->rank : c->size, first;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, c->mpi);
  if (first == c->size) return 0;
  char msg[512];
  int code = err;
  snprintf(msg, sizeof msg, "%s", ntw_error_msg());
  MPI_Bcast(msg, sizeof msg, MPI_CHAR, first, c->mpi);
  MPI_Bcast(&code, 1, MPI_INT, first, c->mpi);
  return ntw_error_set(code, __FILE__, __LINE__, "%s", msg);
}

static struct fi_info *ofi_hints(const char *prov, enum fi_progress progress) {
  struct fi_info *h = fi_allocinfo();
  if (!h) return NULL;
  h->ep_attr->type = FI_EP_RDM;
  h->caps = FI_TAGGED | FI_SEND | FI_RECV;
  h->mode = FI_CONTEXT | FI_CONTEXT2;
  h->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_ALLOCATED | FI_MR_VIRT_ADDR |
                            FI_MR_PROV_KEY;
  h->domain_attr->threading = FI_THREAD_DOMAIN;
  h->tx_attr->msg_order = FI_ORDER_NONE;
  h->domain_attr->data_progress = progress;
  if (prov) h->fabric_attr->prov_name = strdup(prov);
  return h;
}

/* Rank 0 picks the provider and its progress model; every rank then asks
 * for exactly that pair.
 *
 * Progress: manual whenever the provider offers it. With automatic data
 * progress (the sockets provider's default; tcp and shm default to manual)
 * a provider thread per rank moves the data and busy-polls for
 * FI_SOCKETS_PE_WAITTIME (10 ms) after every wake-up, while our wait loop
 * polls a CQ whose reads advance nothing: with more busy threads than cores
 * a window's exchange took 20-110 ms instead of about 1 ms (tcp), which
 * made 4-rank runs look hung (brunel-small, 1 s: 75 s on 4 ranks). With
 * manual progress our CQ reads do the work, as with tcp and shm, and the
 * provider starts no thread. The provider itself is chosen without
 * this constraint, so that a cluster's first choice stays the choice.
 * NTW_OFI_PROGRESS=auto|manual forces one (tests, experiments). */
static int ofi_choose(ntw_comm *c, ofi_state *s) {
  const char *env = getenv("FI_PROVIDER");
  const char *want = getenv("NTW_OFI_PROGRESS");
  if (want && !*want) want = NULL;
  char chosen[64] = "";
  int err = 0, nnode, progress = FI_PROGRESS_UNSPEC;
  MPI_Comm node;
  MPI_Comm_split_type(c->mpi, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &nnode);
  MPI_Comm_free(&node);
  if (c->rank == 0) {
    /* shm only when every rank is on this node; FI_PROVIDER filters inside
     * libfabric, so with it set we take its first match. */
    const char *try[2] = {NULL, NULL};
    int ntry = 0, rc = -FI_ENODATA;
    if (!env && nnode == c->size) try[ntry++] = "shm";
    try[ntry++] = NULL;
    for (int i = 0; i < ntry && !chosen[0]; i++) {
      struct fi_info *h = ofi_hints(try[i], FI_PROGRESS_UNSPEC), *info = NULL;
      rc = h ? fi_getinfo(OFI_VERSION, NULL, NULL, 0, h, &info) : -FI_ENOMEM;
      fi_freeinfo(h);
      if (rc == 0 && info)
        snprintf(chosen, sizeof chosen, "%s", info->fabric_attr->prov_name);
      fi_freeinfo(info);
    }
    if (!chosen[0])
      err = NTW_ERR(NTW_ERR_NOTSUP,
                    "comm ofi: no usable libfabric provider (FI_PROVIDER=%s): "
                    "fi_getinfo(FI_EP_RDM, FI_TAGGED): %s",
                    env ? env : "unset", fi_strerror(-rc));
    if (!err && want && strcmp(want, "auto") && strcmp(want, "manual"))
      err = NTW_ERR(NTW_ERR_ARG, "comm ofi: NTW_OFI_PROGRESS must be 'auto' or "
                                 "'manual' (got '%s')", want);
    if (!err) {
      int ask = !want                      ? FI_PROGRESS_MANUAL
                : !strcmp(want, "manual") ? FI_PROGRESS_MANUAL
                                          : FI_PROGRESS_AUTO;
      struct fi_info *h = ofi_hints(chosen, ask), *info = NULL;
      int rc2 = h ? fi_getinfo(OFI_VERSION, NULL, NULL, 0, h, &info) : -FI_ENOMEM;
      fi_freeinfo(h);
      fi_freeinfo(info);
      if (rc2 == 0)
        progress = ask;
      else if (want) /* forced and not offered */
        err = NTW_ERR(NTW_ERR_NOTSUP,
                      "comm ofi: provider %s does not offer %s data progress "
                      "(NTW_OFI_PROGRESS=%s): fi_getinfo: %s",
                      chosen, want, want, fi_strerror(-rc2));
    }
  }
  NTW_TRY(ofi_agree(c, err));
  MPI_Bcast(chosen, sizeof chosen, MPI_CHAR, 0, c->mpi);
  MPI_Bcast(&progress, 1, MPI_INT, 0, c->mpi);
  snprintf(s->prov, sizeof s->prov, "%s", chosen);
  struct fi_info *h = ofi_hints(chosen, (enum fi_progress)progress);
  if (!h) return NTW_ERR(NTW_ERR_NOMEM, "out of memory for fi_allocinfo");
  int rc = fi_getinfo(OFI_VERSION, NULL, NULL, 0, h, &s->info);
  fi_freeinfo(h);
  if (rc != 0 || !s->info)
    return NTW_ERR(NTW_ERR_NOTSUP,
                   "comm ofi: provider %s (chosen on rank 0) is not usable on "
                   "rank %d: fi_getinfo: %s",
                   chosen, c->rank, fi_strerror(-rc));
  s->auto_progress = s->info->domain_attr->data_progress == FI_PROGRESS_AUTO;
  return 0;
}

/* Fabric objects of this rank; no communication. */
static int ofi_open(ntw_comm *c, ofi_state *s) {
  struct fi_info *fi = s->info;
  s->mr_local = (fi->domain_attr->mr_mode & FI_MR_LOCAL) != 0;
  s->max_words = fi->ep_attr->max_msg_size / sizeof(uint64_t);
  OFI_CHECK(s, fi_fabric(fi->fabric_attr, &s->fabric, NULL));
  OFI_CHECK(s, fi_domain(s->fabric, fi, &s->domain, NULL));
  struct fi_cq_attr cqa = {.format = FI_CQ_FORMAT_TAGGED, .wait_obj = FI_WAIT_NONE};
  OFI_CHECK(s, fi_cq_open(s->domain, &cqa, &s->cq, NULL));
  struct fi_av_attr ava = {.type = FI_AV_TABLE, .count = (size_t)c->size};
  OFI_CHECK(s, fi_av_open(s->domain, &ava, &s->av, NULL));
  OFI_CHECK(s, fi_endpoint(s->domain, fi, &s->ep, NULL));
  OFI_CHECK(s, fi_ep_bind(s->ep, &s->av->fid, 0));
  OFI_CHECK(s, fi_ep_bind(s->ep, &s->cq->fid, FI_TRANSMIT | FI_RECV));
  OFI_CHECK(s, fi_enable(s->ep));
  return 0;
}

/* Collective: every rank's endpoint name, once, through MPI. */
static int ofi_addresses(ntw_comm *c, ofi_state *s) {
  char name[OFI_NAME_MAX] = {0};
  size_t len = sizeof name;
  int err = 0;
  int rc = fi_getname(&s->ep->fid, name, &len);
  if (rc != 0)
    err = NTW_ERR(NTW_ERR_MPI, "comm ofi (provider %s): fi_getname: %s%s",
                  s->prov, fi_strerror(-rc),
                  rc == -FI_ETOOSMALL ? " (name longer than 256 bytes)" : "");
  NTW_TRY(ofi_agree(c, err));
  char *all = malloc((size_t)c->size * OFI_NAME_MAX);
  s->addr = malloc((size_t)c->size * sizeof *s->addr);
  err = all && s->addr ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory for addresses");
  NTW_TRY(ofi_agree(c, err));
  MPI_Allgather(name, OFI_NAME_MAX, MPI_BYTE, all, OFI_NAME_MAX, MPI_BYTE, c->mpi);
  /* One insert per rank: providers disagree on how several names are packed
   * (shm names are strings of varying length), one at a time is unambiguous.
   * With FI_AV_TABLE, rank r becomes fi_addr_t r. */
  for (int r = 0; r < c->size && !err; r++) {
    rc = fi_av_insert(s->av, all + (size_t)r * OFI_NAME_MAX, 1, &s->addr[r], 0, NULL);
    if (rc != 1)
      err = NTW_ERR(NTW_ERR_MPI,
                    "comm ofi (provider %s): fi_av_insert of rank %d's address "
                    "failed%s%s",
                    s->prov, r, rc < 0 ? ": " : "", rc < 0 ? fi_strerror(-rc) : "");
  }
  free(all);
  return ofi_agree(c, err);
}

static int ofi_buffers(ntw_comm *c, ofi_state *s) {
  const size_t P = (size_t)c->size;
  /* The first two windows use this size on both sides: take rank 0's. */
  long words = OFI_SLOT_DEFAULT, grow = 1;
  const char *v = getenv("NTW_OFI_SLOT_WORDS");
  if (v && atol(v) >= 2) words = atol(v);
  if ((v = getenv("NTW_OFI_GROW"))) grow = atol(v) != 0;
  /* The watchdog's limit, seconds; -1 = a bad value (all ranks fail). */
  double limit = OFI_TIMEOUT_DEFAULT;
  if ((v = getenv("NTW_COMM_TIMEOUT")) && *v) {
    char *end;
    limit = strtod(v, &end);
    if (*end || !(limit >= 0 && limit < 1e9)) limit = -1;
  }
  long cfg[2] = {words, grow};
  MPI_Bcast(cfg, 2, MPI_LONG, 0, c->mpi);
  MPI_Bcast(&limit, 1, MPI_DOUBLE, 0, c->mpi);
  NTW_CHECK(limit >= 0, NTW_ERR_ARG,
            "comm ofi: NTW_COMM_TIMEOUT must be a number of seconds >= 0 "
            "(0 = no watchdog), got '%s' on rank 0", c->rank ? "?" : v);
  /* Later ranks give up a little later (2 s per rank, up to rank 8): the
   * first to give up reports and its MPI_Abort stops the others (Open MPI
   * sends SIGTERM, which ntwin catches, and SIGKILL a second later), so
   * one line says what happened. */
  s->limit_set = limit;
  s->limit = limit > 0 ? limit + OFI_TIMEOUT_STAGGER *
                                     (c->rank < OFI_TIMEOUT_STAGGER_MAX
                                          ? c->rank : OFI_TIMEOUT_STAGGER_MAX)
                       : 0;
  if ((size_t)cfg[0] > s->max_words) cfg[0] = (long)s->max_words;
  s->grow = cfg[1] != 0;
  s->slot[0] = calloc(P, sizeof(ofi_slot));
  s->slot[1] = calloc(P, sizeof(ofi_slot));
  s->peer_words = calloc(P, sizeof(size_t));
  s->peer_next = calloc(P, sizeof(size_t));
  s->n = calloc(P, sizeof(size_t));
  s->soff = calloc(P, sizeof(size_t));
  s->sbuf = calloc(P, sizeof(ofi_buf));
  s->obuf = calloc(P, sizeof(ofi_buf));
  s->sop = calloc(2 * P, sizeof(ofi_op));
  s->oop = calloc(P, sizeof(ofi_op));
  NTW_CHECK(s->slot[0] && s->slot[1] && s->peer_words && s->peer_next && s->n &&
                s->soff && s->sbuf && s->obuf && s->sop && s->oop,
            NTW_ERR_NOMEM, "out of memory for comm ofi buffers");
  for (size_t i = 0; i < 2 * P; i++) s->sop[i].done = true; /* none open */
  for (size_t i = 0; i < P; i++) s->oop[i].done = true;
  /* Tests of the watchdog: NTW_FAULT_OFI_STALL=RANK:EXCHANGE makes that
   * rank stop for good before it posts that exchange. */
  s->fault_rank = -1;
  if ((v = getenv("NTW_FAULT_OFI_STALL")) &&
      sscanf(v, "%ld:%ld", &s->fault_rank, &s->fault_exchange) != 2)
    s->fault_rank = -1;
  for (int p = 0; p < c->size; p++) {
    s->peer_words[p] = (size_t)cfg[0];
    if (p == c->rank) continue;
    for (int set = 0; set < 2; set++) {
      s->slot[set][p].words = (size_t)cfg[0];
      NTW_TRY(post_slot(c, s, set, p, (uint64_t)set));
    }
  }
  return 0;
}

static void ofi_release(ofi_state *s, int P) {
  if (s->ep) fi_close(&s->ep->fid); /* cancels the pre-posted receives */
  for (int p = 0; p < P; p++) {
    if (s->slot[0]) buf_free(&s->slot[0][p].buf);
    if (s->slot[1]) buf_free(&s->slot[1][p].buf);
    if (s->sbuf) buf_free(&s->sbuf[p]);
    if (s->obuf) buf_free(&s->obuf[p]);
  }
  buf_free(&s->self);
  if (s->av) fi_close(&s->av->fid);
  if (s->cq) fi_close(&s->cq->fid);
  if (s->domain) fi_close(&s->domain->fid);
  if (s->fabric) fi_close(&s->fabric->fid);
  if (s->info) fi_freeinfo(s->info);
  free(s->slot[0]), free(s->slot[1]), free(s->peer_words), free(s->peer_next);
  free(s->n), free(s->soff), free(s->sbuf), free(s->obuf), free(s->sop);
  free(s->oop), free(s->addr), free(s->out);
  free(s);
}

static int ofi_init(ntw_comm *c) {
  ofi_state *s = calloc(1, sizeof *s);
  int err = s ? 0 : NTW_ERR(NTW_ERR_NOMEM, "out of memory for comm ofi");
  NTW_TRY(ofi_agree(c, err));
  snprintf(s->prov, sizeof s->prov, "?");
  err = ofi_choose(c, s);
  if (!err) err = ofi_agree(c, ofi_open(c, s));
  if (!err) err = ofi_addresses(c, s);
  if (!err) err = ofi_agree(c, ofi_buffers(c, s));
  if (err) {
    ofi_release(s, c->size);
    return err;
  }
  c->data = s;
  return 0;
}

/* Collective: the barrier makes sure no peer still needs our endpoint (all
 * messages of the last window were received) before it is closed. */
static void ofi_fini(ntw_comm *c) {
  ofi_state *s = c->data;
  if (!s) return;
  MPI_Barrier(c->mpi);
  ofi_release(s, c->size);
  c->data = NULL;
}

/* ---- one window ---- */

/* Start of window w: stage and post the sends (keys are copied, so the
 * caller's buffer is free again at return) and return. */
static int ofi_start(ntw_comm *c, const uint64_t *send, const int *counts) {
  ofi_state *s = c->data;
  const int P = c->size, me = c->rank;
  const uint64_t w = s->window;
  const int set = (int)(w & 1), next = set ^ 1;
  size_t off = 0;
  if (NTW_UNLIKELY(s->fault_rank == me && (long)w == s->fault_exchange))
    for (;;) pause(); /* a stuck rank, for the watchdog's tests */
  for (int r = 0; r < P; r++) {
    NTW_CHECK(counts[r] >= 0, NTW_ERR_ARG, "comm ofi: negative count for rank %d", r);
    s->soff[r] = off;
    off += (size_t)counts[r];
  }

  /* Sends, starting after ourselves so that not every rank hits rank 0 first. */
  for (int k = 1; k < P; k++) {
    int p = (me + k) % P;
    size_t n = (size_t)counts[p];
    size_t inl = n < s->peer_words[p] - 1 ? n : s->peer_words[p] - 1;
    NTW_TRY(buf_reserve(s, &s->sbuf[p], (1 + n) * sizeof(uint64_t)));
    uint64_t *b = s->sbuf[p].p;
    b[0] = (uint64_t)n | (uint64_t)s->slot[next][p].words << 32;
    if (n) memcpy(b + 1, send + s->soff[p], n * sizeof *b);
    s->sop[2 * p] = (ofi_op){.kind = OP_SEND, .peer = p};
    OFI_POST(c, s, "fi_tsend", fi_tsend(s->ep, b, (1 + inl) * sizeof *b,
                                     buf_desc(&s->sbuf[p]), s->addr[p],
                                     ofi_tag(w, me, 0), &s->sop[2 * p].ctx));
    s->pending_sends++;
    if (n > inl) {
      NTW_CHECK(n - inl <= s->max_words, NTW_ERR_NOTSUP,
                "comm ofi (provider %s): %zu keys for rank %d exceed the "
                "provider's largest message (%zu words)",
                s->prov, n, p, s->max_words);
      s->sop[2 * p + 1] = (ofi_op){.kind = OP_SEND, .peer = p};
      OFI_POST(c, s, "fi_tsend", fi_tsend(s->ep, b + 1 + inl, (n - inl) * sizeof *b,
                                       buf_desc(&s->sbuf[p]), s->addr[p],
                                       ofi_tag(w, me, 1), &s->sop[2 * p + 1].ctx));
      s->pending_sends++;
    }
  }
  /* Self keys are copied too: the caller may reuse `send` before wait. */
  size_t nself = (size_t)counts[me];
  NTW_TRY(buf_reserve(s, &s->self, (nself + 1) * sizeof(uint64_t)));
  if (nself) memcpy(s->self.p, send + s->soff[me], nself * sizeof(uint64_t));
  s->self_n = nself;
  return 0;
}

/* Reads completions only; a posted window moves on while we compute. Once
 * our sends and every peer's header of the window in flight are complete
 * there is nothing left to move before the wait, so no CQ read: on tcp
 * each read is a poll of the sockets, and the engine calls this every step
 * (about 7 us a read, 0.07 s of a 1.2 s 2-rank brunel.json run). */
static int ofi_progress_op(ntw_comm *c) {
  ofi_state *s = c->data;
  if (s->pending_sends == 0 && s->ndone[s->window & 1] == c->size - 1) return 0;
  return ofi_progress(s);
}

/* End of window w: wait for every peer's header (and overflow part), for
 * our sends, gather in rank order and re-post this slot set for w + 2. */
static int ofi_wait(ntw_comm *c, const uint64_t **recv, size_t *nrecv) {
  ofi_state *s = c->data;
  const int P = c->size, me = c->rank;
  const uint64_t w = s->window;
  const int set = (int)(w & 1);

  /* All headers of this window (completions of window w + 1 may come too). */
  s->stall_t0 = 0;
  while (s->ndone[set] < P - 1) NTW_TRY(ofi_block(c, s, "waiting"));
  size_t total = s->self_n;
  for (int p = 0; p < P; p++) {
    if (p == me) continue;
    ofi_slot *sl = &s->slot[set][p];
    NTW_CHECK(sl->len >= sizeof(uint64_t), NTW_ERR_INTERNAL,
              "comm ofi: empty message from rank %d", p);
    uint64_t h = ((const uint64_t *)sl->buf.p)[0];
    size_t n = (size_t)(h & 0xffffffffu);
    size_t inl = n < sl->words - 1 ? n : sl->words - 1;
    NTW_CHECK(sl->len == (1 + inl) * sizeof(uint64_t), NTW_ERR_INTERNAL,
              "comm ofi: rank %d sent %zu bytes for %zu keys (slot %zu words)",
              p, sl->len, n, sl->words);
    s->n[p] = n;
    s->peer_next[p] = (size_t)(h >> 32);
    total += n;
    if (n > inl) { /* the rest follows as part 1 */
      NTW_TRY(buf_reserve(s, &s->obuf[p], (n - inl) * sizeof(uint64_t)));
      s->oop[p] = (ofi_op){.kind = OP_OVF, .peer = p};
      OFI_POST(c, s, "fi_trecv", fi_trecv(s->ep, s->obuf[p].p, (n - inl) * sizeof(uint64_t),
                                       buf_desc(&s->obuf[p]), FI_ADDR_UNSPEC,
                                       ofi_tag(w, p, 1), 0, &s->oop[p].ctx));
      s->pending_ovf++;
      s->overflows++;
    }
  }
  s->stall_t0 = 0;
  while (s->pending_sends > 0 || s->pending_ovf > 0) NTW_TRY(ofi_block(c, s, "waiting"));

  /* Gather in rank order. */
  if (total > s->out_cap) {
    size_t cap = s->out_cap ? s->out_cap : 1024;
    while (cap < total) cap *= 2;
    uint64_t *nb = realloc(s->out, cap * sizeof *nb);
    NTW_ALLOC_CHECK(nb);
    s->out = nb;
    s->out_cap = cap;
  }
  size_t o = 0;
  for (int r = 0; r < P; r++) {
    if (r == me) {
      if (s->self_n) memcpy(s->out + o, s->self.p, s->self_n * 8);
      o += s->self_n;
      continue;
    }
    ofi_slot *sl = &s->slot[set][r];
    size_t n = s->n[r], inl = n < sl->words - 1 ? n : sl->words - 1;
    if (inl) memcpy(s->out + o, (const uint64_t *)sl->buf.p + 1, inl * 8);
    if (n > inl) memcpy(s->out + o + inl, s->obuf[r].p, (n - inl) * 8);
    o += n;
  }

  /* This slot set now serves window w + 2: grow it where this window
   * overflowed (advertised in our next header), and re-post. */
  s->ndone[set] = 0;
  size_t limit = s->max_words < OFI_SLOT_MAX ? s->max_words : OFI_SLOT_MAX;
  for (int p = 0; p < P; p++) {
    if (p == me) continue;
    ofi_slot *sl = &s->slot[set][p];
    if (s->grow && s->n[p] + 1 > sl->words) {
      size_t words = sl->words;
      while (words < s->n[p] + 1 && words < limit) words *= 2;
      sl->words = words < limit ? words : limit;
    }
    NTW_TRY(post_slot(c, s, set, p, w + 2));
    s->peer_words[p] = s->peer_next[p];
  }
  s->window++;
  *recv = s->out;
  *nrecv = total;
  return 0;
}

static int ofi_exchange(ntw_comm *c, const uint64_t *send, const int *counts,
                        const uint64_t **recv, size_t *nrecv) {
  NTW_TRY(ofi_start(c, send, counts));
  return ofi_wait(c, recv, nrecv);
}

uint64_t ntw_comm_ofi_overflows(const ntw_comm *c) {
  const ofi_state *s = c->ops == &ntw_comm_ofi_ops ? c->data : NULL;
  return s ? s->overflows : 0;
}

const char *ntw_comm_ofi_provider(const ntw_comm *c) {
  const ofi_state *s = c->ops == &ntw_comm_ofi_ops ? c->data : NULL;
  return s ? s->prov : NULL;
}

const char *ntw_comm_ofi_progress(const ntw_comm *c) {
  const ofi_state *s = c->ops == &ntw_comm_ofi_ops ? c->data : NULL;
  return !s ? NULL : s->auto_progress ? "auto" : "manual";
}

const ntw_comm_ops ntw_comm_ofi_ops = {
    .size = sizeof(ntw_comm_ops),
    .name = "ofi",
    .init = ofi_init,
    .exchange = ofi_exchange,
    .fini = ofi_fini,
    .start = ofi_start,
    .progress = ofi_progress_op,
    .wait = ofi_wait,
};

/* io/biolink.h - the bio link: the live protocol between the biology (an MEA
 * acquisition system, a replayed recording, or `ntwin culture`) and the twin
 * (rank 0). The wire format, every byte of it, and the reasons for the
 * socket types are in io/BIOLINK.md; this header is the C interface.
 *
 * Two layers:
 *  - a pure codec (ntw_bio_encode / ntw_bio_decode) over byte buffers, with
 *    no ZeroMQ and no state, so it can be unit-tested and fuzzed;
 *  - a link (ntw_biolink) that owns two ZeroMQ sockets, numbers what it
 *    sends, validates what it receives against the peer's HELLO (channels,
 *    per-channel monotonic time, sequence gaps), keeps statistics and fits
 *    the peer's clock against the local one.
 *
 * Units: times in microseconds (µs); positions in micrometres (µm);
 * stimulation amplitude in µA or mV as the HELLO's stim_unit says.
 * A link is used by one thread at a time (ZeroMQ sockets are not thread-safe).
 * Nothing here is collective: only rank 0 opens a link. */
#ifndef NTW_IO_BIOLINK_H
#define NTW_IO_BIOLINK_H

#include <stddef.h>
#include <stdint.h>

#define NTW_BIO_VERSION 2u
#define NTW_BIO_MAGIC "NTWB"
#define NTW_BIO_HEADER_BYTES 28u
#define NTW_BIO_MAX_MSG_DEFAULT (1u << 20) /* 1 MiB, header included */
#define NTW_BIO_LABEL_MAX 63u              /* bytes of a channel label */
#define NTW_BIO_MAX_CHANNELS 65536u        /* channel ids are uint16 */
#define NTW_BIO_NO_ECHO UINT64_MAX         /* heartbeat: nothing to echo */
#define NTW_BIO_EVENTS_DEFAULT "tcp://127.0.0.1:5557"   /* bio -> twin */
#define NTW_BIO_COMMANDS_DEFAULT "tcp://127.0.0.1:5559" /* twin -> bio */

typedef enum {
  NTW_BIO_HELLO = 1,     /* bio -> twin: layout, clock rate, units */
  NTW_BIO_SPIKES = 2,    /* bio -> twin: a time-sorted batch of spike events */
  NTW_BIO_STIM = 3,      /* twin -> bio: a time-sorted batch of stim commands */
  NTW_BIO_HEARTBEAT = 4, /* both ways: liveness, clock fit, round trip */
  NTW_BIO_BYE = 5        /* both ways: the sender is leaving */
} ntw_bio_type;

typedef enum { NTW_BIO_UNIT_UA = 0, NTW_BIO_UNIT_MV = 1 } ntw_bio_unit;

/* Why a frame was rejected (one counter each in ntw_bio_stats). */
typedef enum {
  NTW_BIO_ACCEPTED = 0,
  NTW_BIO_MALFORMED,     /* bad magic, type, length, count, field value */
  NTW_BIO_WRONG_VERSION, /* header.version != NTW_BIO_VERSION */
  NTW_BIO_OVERSIZED      /* frame larger than the configured maximum */
} ntw_bio_reject;

typedef struct {
  uint16_t id;      /* the channel number used in SPIKES and STIM */
  float x_um, y_um; /* electrode position, finite */
  char label[NTW_BIO_LABEL_MAX + 1]; /* NUL-terminated, printable ASCII/UTF-8 */
} ntw_bio_channel;

typedef struct {
  uint16_t channel;
  uint64_t t_us; /* sender's clock, µs since the sender's start */
} ntw_bio_event;

typedef struct {
  uint16_t channel;
  uint64_t t_us;        /* when to stimulate, in the BIOLOGY's clock (µs) */
  float amplitude;      /* µA or mV (HELLO.stim_unit), finite */
  uint32_t duration_us;
} ntw_bio_stim;

/* Storage the decoder owns and reuses from call to call (freed by
 * ntw_bio_msg_free). A message you fill by hand for ntw_bio_encode leaves it
 * zeroed and points the arrays below at your own memory. */
typedef struct {
  ntw_bio_channel *channels;
  size_t channels_cap;
  ntw_bio_event *events;
  size_t events_cap;
  ntw_bio_stim *stims;
  size_t stims_cap;
} ntw_bio_store;

/* One message. Only the part matching `type` is meaningful. */
typedef struct {
  uint16_t version;
  uint16_t type;       /* ntw_bio_type */
  uint64_t seq;        /* per sender, +1 per message it tried to send */
  uint64_t t_sent_us;  /* sender's clock when it encoded the message */
  uint32_t payload_len;
  uint64_t t_recv_us;  /* local clock at reception (set by the link) */
  struct {
    uint16_t version;   /* protocol version the biology speaks (= header) */
    uint16_t stim_unit; /* ntw_bio_unit */
    uint64_t session;   /* changes when the biology restarts */
    double sampling_hz; /* acquisition sampling clock, > 0 */
    uint32_t n_channels;
    ntw_bio_channel *channels;
  } hello;
  struct {
    uint64_t complete_us; /* watermark: every event with t_us < complete_us
                             has been sent, in this batch or an earlier one
                             (0 = no promise) */
    uint32_t n;
    ntw_bio_event *events;
  } spikes;
  struct {
    uint32_t n;
    ntw_bio_stim *stims;
  } stim;
  struct {
    uint64_t echo_t_us; /* t_sent_us of the last heartbeat received from the
                           peer, or NTW_BIO_NO_ECHO */
    uint64_t hold_us;   /* sender's µs between receiving that heartbeat and
                           sending this one */
  } heartbeat;
  struct {
    uint32_t reason; /* 0 = normal end, 1 = error; others: application's */
  } bye;
  ntw_bio_store store_;
} ntw_bio_msg;

/* ---- codec: pure functions over byte buffers ---------------------------- */

/* Bytes ntw_bio_encode will write for msg (header + payload), 0 if msg->type
 * is unknown. */
size_t ntw_bio_encoded_size(const ntw_bio_msg *msg);

/* Encode msg (version is always NTW_BIO_VERSION; payload_len is computed)
 * into buf[0..cap). *len gets the frame size. Fails with NTW_ERR_ARG if msg
 * breaks a rule the decoder enforces (unsorted batch, duplicate channel,
 * label too long, non-finite value, ...) or cap is too small. */
int ntw_bio_encode(const ntw_bio_msg *msg, void *buf, size_t cap, size_t *len);

/* Decode and validate one frame of len bytes. max_bytes bounds the frame
 * (0 = NTW_BIO_MAX_MSG_DEFAULT). On success returns 0 with *why =
 * NTW_BIO_ACCEPTED and out filled (arrays in out->store_). On failure returns
 * NTW_ERR_FORMAT (or NTW_ERR_NOMEM), *why says which counter it belongs to,
 * and ntw_error_msg() is one line naming the field ("header.magic: ...").
 * Never reads outside buf; out is always safe to reuse and to free. Checks
 * everything that needs no state: magic, version, type, payload_len against
 * the frame, counts against payload_len, sorted batches, HELLO layout
 * (duplicate ids, label length and bytes, finite numbers), finite stims. */
int ntw_bio_decode(const void *buf, size_t len, size_t max_bytes,
                   ntw_bio_msg *out, ntw_bio_reject *why);

/* Free what the decoder allocated in msg->store_ and zero it. NULL-safe. */
void ntw_bio_msg_free(ntw_bio_msg *msg);

const char *ntw_bio_type_name(int type);

/* ---- link ---------------------------------------------------------------- */

typedef struct ntw_biolink ntw_biolink;

typedef enum { NTW_BIO_SIDE_BIO = 0, NTW_BIO_SIDE_TWIN = 1 } ntw_bio_side;

/* ZeroMQ endpoints, as the biology binds them (NULL = the default). A port
 * of "*" (tcp, e.g. tcp://127.0.0.1:<star>) or an ipc path of "*" binds to a
 * free port/path; read the result back with ntw_biolink_endpoint(). */
typedef struct {
  const char *events;   /* bio PUSH (bind) -> twin PULL (connect) */
  const char *commands; /* twin PUSH (connect) -> bio PULL (bind) */
} ntw_bio_endpoints;

typedef struct {
  size_t max_msg_bytes; /* larger frames are dropped as oversized; 0 = 1 MiB */
  int hwm;              /* ZeroMQ send and receive high-water marks, messages;
                           0 = 1000 */
  int linger_ms;        /* how long close may wait to flush; < 0 = 200 */
  /* Local clock, µs. NULL = CLOCK_MONOTONIC since the link was opened. It
   * stamps sent messages and received ones (t_recv_us). */
  uint64_t (*clock)(void *ctx);
  void *clock_ctx;
  /* Where the link's log lines go (one line each, no newline). NULL =
   * stderr as "ntwin: biolink: <line>". */
  void (*log)(void *ctx, const char *line);
  void *log_ctx;
  /* > 0: the link's I/O thread runs SCHED_FIFO at this priority. A paced
   * process gives it one above its own (README "Real-time priority"): a
   * message must get through even while the process's real-time compute
   * threads hold every core. 0 = as the creating thread. */
  int io_rt_priority;
} ntw_bio_opts;

void ntw_bio_opts_default(ntw_bio_opts *opts);

typedef struct {
  uint64_t msgs_rx, events_rx, bytes_rx; /* accepted; events = spikes on the
                                            twin, stim commands on the bio */
  uint64_t msgs_tx, events_tx, bytes_tx; /* queued by ZeroMQ */
  uint64_t malformed, wrong_version, oversized; /* whole frames dropped */
  uint64_t wrong_direction; /* valid message of a type this side never gets
                               (also counted in malformed) */
  uint64_t unknown_channel; /* events dropped: channel not in the layout */
  uint64_t non_monotonic;   /* events dropped: time <= the channel's last */
  uint64_t watermark_us;    /* highest SPIKES.complete_us of the session:
                               every event before it has arrived */
  uint64_t watermark_backwards; /* batches whose complete_us went back */
  uint64_t after_watermark; /* events (kept) stamped before a watermark
                               already received: the peer broke its promise */
  uint64_t lost;            /* sequence numbers skipped by the peer */
  uint64_t seq_resets;      /* sequence went backwards without a new session */
  uint64_t sessions;        /* HELLOs that started a new session */
  uint64_t dropped;         /* messages this side could not queue (HWM
                               reached or no peer); they show as `lost` at
                               the peer */
  uint64_t dropped_events;  /* events/commands in those messages */
  uint64_t hellos_rx, heartbeats_rx, byes_rx;
  int have_heartbeat;
  uint64_t last_heartbeat_us; /* local clock at the last heartbeat received */
  uint64_t last_rx_us;        /* local clock at the last valid message */
  int64_t rtt_last_us, rtt_min_us; /* round trip from heartbeat echoes, -1 =
                                      unknown */
  double rtt_mean_us;               /* mean over rtt_count samples */
  uint64_t rtt_count;
  int bye_received;
} ntw_bio_stats;

/* The biology's side: binds ep->events (PUSH) and ep->commands (PULL).
 * Errors name the endpoint ("biolink: bind tcp://...: Address in use"). */
int ntw_biolink_open_bio(const ntw_bio_endpoints *ep, const ntw_bio_opts *opts,
                         ntw_biolink **out);
/* The twin's side (rank 0): connects ep->events (PULL) and ep->commands
 * (PUSH). Connecting succeeds before the biology is up; ZeroMQ reconnects. */
int ntw_biolink_open_twin(const ntw_bio_endpoints *ep, const ntw_bio_opts *opts,
                          ntw_biolink **out);
/* A link without sockets: frames go in through ntw_biolink_feed (replay of a
 * frame log, tests, fuzzing); sends are counted as dropped. */
int ntw_biolink_open_detached(ntw_bio_side side, const ntw_bio_opts *opts,
                              ntw_biolink **out);
/* Closes the sockets (waiting at most linger_ms) and frees. NULL-safe;
 * sets *link = NULL. Does not send BYE: call ntw_biolink_send_bye first. */
void ntw_biolink_close(ntw_biolink **link);

/* The endpoint actually bound/connected (after "*" was resolved). */
const char *ntw_biolink_endpoint(const ntw_biolink *link, int commands);

/* Sends never block. Each returns 0 when ZeroMQ queued the message, 1 when it
 * was dropped (high-water mark reached or no peer connected; counted in
 * stats.dropped, and the sequence number is spent so the peer counts it as
 * lost), or a negative ntw_err (bad arguments: unsorted batch, unknown type
 * for this side, too large for max_msg_bytes; or a ZeroMQ failure).
 * send_hello (bio only) also makes `layout` the one this side checks STIM
 * channels against; its session is the link's own. */
int ntw_biolink_send_hello(ntw_biolink *link, double sampling_hz,
                           ntw_bio_unit stim_unit, const ntw_bio_channel *layout,
                           uint32_t n_channels);
/* complete_us: the watermark (see SPIKES in io/BIOLINK.md), 0 = none. */
int ntw_biolink_send_spikes(ntw_biolink *link, const ntw_bio_event *ev,
                            uint32_t n, uint64_t complete_us); /* bio only;
                                                              sorted by t_us */
int ntw_biolink_send_stim(ntw_biolink *link, const ntw_bio_stim *st,
                          uint32_t n); /* twin only; sorted by t_us */
int ntw_biolink_send_heartbeat(ntw_biolink *link);
int ntw_biolink_send_bye(ntw_biolink *link, uint32_t reason);
/* Sends len bytes as one frame, unchecked and without a sequence number:
 * for fault injection in tests and tools (a malformed, wrong-version or
 * oversized frame). Same return values as the sends above. */
int ntw_biolink_send_raw(ntw_biolink *link, const void *buf, size_t len);

/* Wait up to timeout_ms (0 = do not wait, < 0 = forever) for one valid
 * message. Returns 1 with *out filled, 0 on timeout, negative on a ZeroMQ
 * failure. Frames that fail validation are counted, logged (the 1st, 10th,
 * 100th, ... of each kind, one line naming the field) and skipped whole;
 * events with an unknown channel or a time not after the channel's last are
 * removed from the batch and counted. out is reused between calls; free it
 * with ntw_bio_msg_free. */
int ntw_biolink_poll(ntw_biolink *link, int timeout_ms, ntw_bio_msg *out);

/* What poll does with one received frame: decode, validate, update state and
 * stats. Returns 1 if out holds a valid message, 0 if the frame was dropped,
 * negative only on NTW_ERR_NOMEM. */
int ntw_biolink_feed(ntw_biolink *link, const void *frame, size_t len,
                     ntw_bio_msg *out);

const ntw_bio_stats *ntw_biolink_stats(const ntw_biolink *link);

/* The last HELLO received (twin) or sent (bio), NULL if none yet. */
const ntw_bio_msg *ntw_biolink_hello(const ntw_biolink *link);

/* True (1) if nothing valid has come from the peer for more than timeout_us
 * of local clock before now_us (counting from the open if nothing ever came),
 * or the peer said BYE. */
int ntw_biolink_peer_silent(const ntw_biolink *link, uint64_t now_us,
                            uint64_t timeout_us);

/* Local clock of the link, µs (the clock the stamps use). */
uint64_t ntw_biolink_now(const ntw_biolink *link);

/* The peer's clock s against the local clock r, fitted over the last
 * NTW_BIO_CLOCK_WINDOW heartbeats of the current session:
 *     s ~ offset_us + (1 + drift_ppm * 1e-6) * r
 * Least squares, then one pass that drops heartbeats whose residual is more
 * than 3 scaled MADs from the median (delays are heavy-tailed: a preempted
 * thread adds milliseconds) and fits again; offset_us then gets half the
 * median round trip added (the fit sees offset minus one-way delay). See
 * BIOLINK.md for the assumptions. Returns the number of heartbeats in the
 * final fit: >= 2 gives both values, 1 an offset with drift 0, 0 leaves them
 * untouched. Cached: recomputed only after a new heartbeat. */
int ntw_biolink_clock_estimate(ntw_biolink *link, double *offset_us, double *drift_ppm);

/* The estimator alone, for tests and offline use: add (peer clock, local
 * clock) pairs and read the fit back (no round-trip correction). */
#define NTW_BIO_CLOCK_WINDOW 4096
typedef struct {
  uint64_t n_total; /* pairs ever added */
  uint32_t n, head; /* pairs in the window; next slot */
  uint64_t r[NTW_BIO_CLOCK_WINDOW]; /* local clock */
  int64_t y[NTW_BIO_CLOCK_WINDOW];  /* peer - local */
} ntw_bio_clockfit;
void ntw_bio_clockfit_reset(ntw_bio_clockfit *f);
void ntw_bio_clockfit_add(ntw_bio_clockfit *f, uint64_t peer_us, uint64_t local_us);
int ntw_bio_clockfit_get(const ntw_bio_clockfit *f, double *offset_us,
                         double *drift_ppm);

#endif

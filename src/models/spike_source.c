/* spike_source.c - neurons without dynamics: they spike only when told to
 * (spike_times stimuli, later the bio link), like NEST's parrot neurons fed
 * by a spike_generator. Input is ignored. */
#include <stdlib.h>

#include "core/ntw_error.h"
#include "model.h"

typedef struct {
  size_t n;
} src_state;

static int src_create(const ntw_model_init *mi, void **out) {
  NTW_TRY(ntw_model_check_params(mi, NULL, 0, NULL));
  src_state *s = calloc(1, sizeof *s);
  NTW_ALLOC_CHECK(s);
  s->n = mi->n;
  *out = s;
  return 0;
}

static void src_update(void *st, const double *const *syn_in,
                       const double *restrict i_ext, uint32_t *restrict spiked,
                       size_t *nspiked) {
  *nspiked = 0;
}

static double src_get_v(const void *st, size_t i) { return 0.0; }

static void src_destroy(void *st) { free(st); }

const ntw_model_ops ntw_model_spike_source = {
    .size = sizeof(ntw_model_ops),
    .name = "spike_source",
    .nports = 1,
    .create = src_create,
    .update = src_update,
    .get_v = src_get_v,
    .destroy = src_destroy,
};

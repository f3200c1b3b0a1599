/* What checkpoint.c (saving, arguments, names) and checkpoint_load.c share: a checkpoint holds
 * one to NB_CKPT_MAX_PARTS parts, each a model's tensors under "<prefix>." (no prefix: the
 * state_dict names as they are) and its optimizer's state under "_nabla.optim.<prefix>.". */
#ifndef NABLA_CHECKPOINT_IMPL_H
#define NABLA_CHECKPOINT_IMPL_H

#include "internal.h"

#include "nabla/checkpoint.h"

#define NB_CKPT_MAX_PARTS 8
#define NB_CKPT_PREFIX_MAX 64  /* characters of a part's prefix */
#define NB_CKPT_NAME_MAX 1024  /* bytes of a full tensor name, '\0' included */
#define NB_CKPT_KEY_MAX 160    /* bytes of an optimizer key: "_nabla.optim.<prefix>.<state>" */

/* A part's prefix, "" for none (NULL or ""). */
static inline const char *nb__ckpt_prefix(const nb_checkpoint_part *p) { return p->prefix ? p->prefix : ""; }

/* Checks fn's arguments: a path, 1..NB_CKPT_MAX_PARTS parts with a model each, prefixes of
 * [A-Za-z0-9_.-] not starting or ending with '.' (nor holding ".."), distinct, none a dotted
 * prefix of another, an empty one only for a single part, and every full name under
 * NB_CKPT_NAME_MAX. NB_ERR_ARG naming fn and the problem. */
nb_status nb__ckpt_check_parts(const char *fn, const char *path, int n, const nb_checkpoint_part *parts);

/* A tensor's name in the file: "<pfx>.<name>" in buf (NB_CKPT_NAME_MAX bytes), or name itself
 * when pfx is "". nb__ckpt_check_parts has checked that it fits. */
const char *nb__ckpt_name(char *buf, const char *pfx, const char *name);

/* A per-part key: "<base>.<pfx>" (or base when pfx is "") followed by ".<tail>" when tail is
 * given: "_nabla.optimizer.generator", "_nabla.optim.generator.exp_avg", "_nabla.optim.steps". */
const char *nb__ckpt_key(char buf[NB_CKPT_KEY_MAX], const char *base, const char *pfx, const char *tail);

static inline bool nb__ckpt_is_nabla_state(const char *name) { return strncmp(name, "_nabla.", 7) == 0; }

#endif

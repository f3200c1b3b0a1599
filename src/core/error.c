/* Status codes and the thread-local last-error message. */
#include "internal.h"

#include <stdarg.h>

static _Thread_local char g_msg[1024];

nb_status nb__err(nb_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return s;
}

nb_status nb_set_error(nb_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (fmt) vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    else g_msg[0] = '\0';
    va_end(ap);
    return s;
}

/* A NULL argument is most often the result of a call that failed just before (an op whose
 * shapes did not fit, feeding the next op): its message is the cause, so it stays first. */
nb_status nb__err_null(const char *fn, const char *what) {
    if (!g_msg[0]) return nb__err(NB_ERR_ARG, "%s: %s is NULL", fn, what);
    char cause[sizeof g_msg];
    memcpy(cause, g_msg, sizeof cause);
    return nb__err(NB_ERR_ARG, "%s; %s got NULL %s", cause, fn, what);
}

const char *nb_last_error(void) { return g_msg; }

void nb_clear_error(void) { g_msg[0] = '\0'; }

const char *nb_status_name(nb_status s) {
    switch (s) {
    case NB_OK: return "ok";
    case NB_ERR_ARG: return "bad argument";
    case NB_ERR_SHAPE: return "shape mismatch";
    case NB_ERR_DTYPE: return "wrong dtype";
    case NB_ERR_MEM: return "out of memory";
    case NB_ERR_IO: return "i/o error";
    case NB_ERR_FORMAT: return "malformed file";
    case NB_ERR_STATE: return "bad state";
    }
    return "unknown status";
}

const char *nb__shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "(");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, ")");
    return buf;
}

/* nabla modules: layers that own parameters, composed into models. Included by nabla.h. */
#ifndef NABLA_NN_H
#define NABLA_NN_H

#include <stdint.h>

#include "nabla.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif

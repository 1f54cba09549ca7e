/* The small framework our own FMUs are written against: one model file
 * (equations, start values) plus fmi3_glue.c or fmi2_glue.c gives one FMU
 * binary, so each model's equations are shared by its FMI 3.0 and FMI 2.0
 * builds.
 *
 * Value references use disjoint ranges per type, which satisfies FMI 3.0
 * (unique over all variables) and FMI 2.0 (unique per base type):
 *   Float64 0..99 -> r[vr] (r[0] is time), Int32 100..199 -> i[vr - 100],
 *   Boolean 200..299 -> b[vr - 200], String 300..399 -> s[vr - 300]. */
#ifndef TWIN_FMU_MODEL_H
#define TWIN_FMU_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#define MODEL_MAX_REAL 32
#define MODEL_MAX_INT 8
#define MODEL_MAX_BOOL 8
#define MODEL_MAX_STRING 4
#define MODEL_STRING_LEN 128

#define VR_INT 100u
#define VR_BOOL 200u
#define VR_STRING 300u

/* Outcome of a model function, mapped onto fmi3Status / fmi2Status. */
typedef enum { model_ok, model_warning, model_discard, model_error, model_fatal } model_status;

typedef struct model {
  double r[MODEL_MAX_REAL];
  int32_t i[MODEL_MAX_INT];
  bool b[MODEL_MAX_BOOL];
  char s[MODEL_MAX_STRING][MODEL_STRING_LEN];
  /* Model-private state (integrators, previous errors, step counters). */
  double x[8];
  long steps;
  /* The text of the last warning or error, logged by the glue. */
  char message[256];
} model;

/* Provided by each model. */
extern const int model_n_real, model_n_int, model_n_bool, model_n_string;
/* Start values of every variable. */
void model_defaults(model* m);
/* At exit of initialization mode: check parameters, compute outputs. */
model_status model_initialize(model* m);
/* One communication step [t, t + h] with the inputs held constant. */
model_status model_step(model* m, double t, double h);

#endif
